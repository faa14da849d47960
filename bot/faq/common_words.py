"""How much a Chinese question's unknown characters should count: everyday filler little, content fully.

A question's features that the FAQ never uses count in its norm at the FAQ's highest idf
(bot.faq.index), so "我想问一下那个..." or "老板让我问" dilute the cosine of a question the FAQ
knows and push it under the raw-similarity floors (docs/matcher.md, "Round 5", item 3).
Out-of-scope questions are also made of unknown words, but there the words are the content
(专利奖, 二手车), and they must keep their weight. What tells the two apart is how common a word
is in the language at large: its Zipf frequency (log10 of occurrences per billion words).

A word's multiplier is 1 up to Zipf `LO`, 0 from Zipf `HI` on, linear in between. A character
gets its own as a one-character word; a character bigram its own when it is a word of the list,
else the larger of its two characters' (我想, 问一: filler; 个专: content). A bigram across two
tokens gets the larger of the two tokens' edge multipliers. Only Chinese: on the English side
the filler ("what", "my", "please") is mostly known to the FAQ already, and unknown English words
of everyday frequency are as often the content of an out-of-scope question ("good name for my
brand"): counting English too answered an out-of-scope dev question (docs/matcher.md, "Round 6").

The table (`common_zh.tsv`, ~13,500 lines) is derived from the `wordfreq` package's small
Chinese list (data CC BY-SA 4.0, by Robyn Speer and contributors; https://github.com/rspeer/wordfreq);
`python -m bot.faq.common_words` rebuilds it (needs `pip install wordfreq`, not a dependency).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path

from bot.faq.normalize import _CJK, _token_features, is_cjk, tokens

TABLE = Path(__file__).with_name("common_zh.tsv")
LO, HI = 4.5, 5.5  # Zipf frequencies, tuned on the patent dev half only (docs/matcher.md, "Round 6")
TABLE_MIN = LO  # the table keeps characters above this Zipf (a lower LO needs a rebuild)


class CommonWords:
    """Multipliers (< 1) for a question's everyday Chinese features, from general-language Zipf frequencies."""

    def __init__(self, zipf: Mapping[str, float], lo: float = LO, hi: float = HI):
        self.lo, self.hi = lo, hi
        self._mult = {w: self.multiplier(z) for w, z in zipf.items()}
        self._token = functools.lru_cache(maxsize=1 << 14)(self._token_weights)

    def multiplier(self, z: float) -> float:
        if z <= self.lo:
            return 1.0
        if z >= self.hi:
            return 0.0
        return (self.hi - z) / (self.hi - self.lo)

    def _token_weights(self, tok: str) -> tuple[float, float, tuple[tuple[str, float], ...]]:
        """(multiplier of the token's first and last character for bigrams across tokens, (feature, multiplier) of its own)."""
        if not is_cjk(tok):
            return 1.0, 1.0, ()
        get = self._mult.get
        chars = [get(c, 1.0) for c in tok]
        out = list(zip(tok, chars, strict=True))
        for i in range(len(tok) - 1):
            m = get(tok[i: i + 2])
            out.append(("b:" + tok[i: i + 2], max(chars[i], chars[i + 1]) if m is None else m))
        return chars[0], chars[-1], tuple(out)

    def weights(self, normalized: str) -> dict[str, float]:
        """Feature -> multiplier (< 1) for the features of a normalised question; {} when it has no Chinese.

        A feature produced twice (by filler and by content) keeps the larger multiplier.
        """
        if _CJK.search(normalized) is None:
            return {}
        out: dict[str, float] = {}
        prev: tuple[str, float] | None = None
        for tok in tokens(normalized):
            first, last, own = self._token(tok)
            head, tail, _ = _token_features(tok, (3,))
            for f, w in own:
                out[f] = max(w, out.get(f, 0.0))
            if prev is not None:
                key = f"b:{prev[0]} {head}"
                out[key] = max(prev[1], first, out.get(key, 0.0))
            prev = (tail, last)
        return {f: w for f, w in out.items() if w < 1.0}


@functools.cache
def load() -> CommonWords:
    """The shipped table (read once per process, ~10 ms)."""
    zipf = {}
    with TABLE.open(encoding="utf-8") as fh:
        for line in fh:
            word, z = line.split("\t")
            zipf[word] = float(z)
    return CommonWords(zipf)


def build_table(path: Path = TABLE) -> int:
    """Write the table from wordfreq's small Chinese list: characters above Zipf TABLE_MIN, and the two-character
    words whose own multiplier differs from what their characters would give them at some LO >= TABLE_MIN."""
    from wordfreq import get_frequency_dict

    from bot.faq.normalize import normalize

    zipf: dict[str, float] = {}
    for word, freq in get_frequency_dict("zh", "small").items():
        key = normalize(word)  # traditional to simplified, as questions are
        if key and len(key) <= 2 and all(is_cjk(c) for c in key):
            zipf[key] = max(zipf.get(key, -1.0), math.log10(freq) + 9.0)
    chars = {w: z for w, z in zipf.items() if len(w) == 1 and z > TABLE_MIN}
    pairs = {w: z for w, z in zipf.items() if len(w) == 2 and (z > TABLE_MIN or (w[0] in chars and w[1] in chars))}
    rows = sorted({**chars, **pairs}.items())
    path.write_text("".join(f"{w}\t{z:.2f}\n" for w, z in rows), encoding="utf-8")
    return len(rows)


if __name__ == "__main__":
    print(build_table(), "lines written to", TABLE)
