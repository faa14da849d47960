"""Text normalisation and tokens shared by the matcher and the checker.

Users type the same question in many surface forms: full-width digits from a Chinese IME,
traditional characters from Hong Kong or Taiwan, upper case, odd punctuation. Everything is
folded to one form first, so the matcher only has to deal with wording, not typing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

import opencc

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_CJK_RUN = re.compile(f"[{_CJK_CLASS}]+")
# Anything that is neither a letter/digit nor a CJK character separates words; the
# apostrophe is dropped inside words so "don't" and "dont" meet.
_APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")
# One pattern for every run of separators (whitespace included), so no second pass squeezes spaces.
_NON_WORD = re.compile(r"[\W_]+")
# A CJK run next to Latin letters or digits gets a space, so "申请pct专利" tokenises as 申请 / pct / 专利.
_CJK_EDGE = re.compile(f"(?<=[{_CJK_CLASS}])(?=[^{_CJK_CLASS}\\s])|(?<=[^{_CJK_CLASS}\\s])(?=[{_CJK_CLASS}])")
_TOKEN = re.compile(f"[{_CJK_CLASS}]+|[^\\s{_CJK_CLASS}]+")

# OpenCC's C++ converter: phrase-aware (e.g. 乾燥 -> 干燥 but 乾隆 stays), ~2 µs per question.
_T2S = opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), case-fold, traditional to simplified, punctuation to spaces, one space between words.

    Text without Chinese skips the conversion and the CJK-edge pass (round 5: 10 -> 4 µs per
    text, the same output on 34,500 benchmark, FAQ and question texts).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    cjk = _CJK.search(text) is not None
    if cjk:
        text = _T2S.convert(text)
    text = _APOSTROPHE.sub("", text)
    text = _NON_WORD.sub(" ", text)
    if cjk:  # the edge pattern needs a CJK character on one side
        text = _CJK_EDGE.sub(" ", text)
    return text.strip()


def detect_lang(text: str) -> str:
    """'zh' when Chinese characters make up a real part of the letters, else 'en'.

    One Chinese character in an English sentence (a name, say) does not make it Chinese,
    but a Chinese question with an English acronym (PCT, WIPO) is still Chinese.
    """
    cjk = len(_CJK.findall(text))
    if not cjk:
        return "en"
    latin_words = len(re.findall(r"[A-Za-z]{2,}", text))
    return "zh" if cjk >= latin_words else "en"


def is_cjk(token: str) -> bool:
    return bool(_CJK.match(token))


def tokens(normalized: str) -> list[str]:
    """Words of a normalised text: Latin words and digit runs, and whole CJK runs (split further by `features`)."""
    return _TOKEN.findall(normalized)


_SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    """A deliberately light English stemmer: strip one inflection so "fees"/"fee" and "filing"/"file" meet."""
    if len(word) <= 3 or not word.isascii() or not word.isalpha():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix == "s" and base.endswith(("s", "u", "i")):  # "process", "status", "analysis"
                return word
            return base
    return word


def features(normalized: str, char_ngrams: Sequence[int] = (3,)) -> list[str]:
    """The lexical features of a normalised text, with repeats (the caller counts them).

    Latin words give the stemmed word, the next-word bigram and character n-grams of the
    word with boundary marks (typo tolerance, shared stems). Chinese has no spaces, so each
    CJK run gives its characters and character bigrams, which works about as well as a word
    segmenter for short questions and needs no dictionary.
    """
    out: list[str] = []
    prev: str | None = None
    ngrams = tuple(char_ngrams)
    for tok in tokens(normalized):
        head, tail, own = _token_features(tok, ngrams)
        if prev is not None:
            out.append(f"b:{prev} {head}")
        out.extend(own)
        prev = tail
    return out


@functools.lru_cache(maxsize=1 << 16)
def _token_features(tok: str, char_ngrams: tuple[int, ...]) -> tuple[str, str, tuple[str, ...]]:
    """(what a bigram with the previous token starts with, what the next one's starts with, the token's own features).

    Cached: an FAQ of 15,000 phrasings repeats its words many times, and this was a fifth of the build.
    """
    if is_cjk(tok):
        return tok[0], tok[-1], (*tok, *("b:" + tok[i: i + 2] for i in range(len(tok) - 1)))
    word = stem(tok)
    padded = f"<{tok}>"
    grams = ["c:" + padded[i: i + n] for n in char_ngrams if len(padded) > n for i in range(len(padded) - n + 1)]
    return word, word, (word, *grams)


def trie_regex(words: Iterable[str], end: str = "") -> str:
    """A regular expression matching any of `words`, the longest first, written as a character trie.

    It matches what the plain alternation of the words sorted longest first matches, but the regex engine
    follows one path per position instead of trying every word there: with the shipped FAQ's ~420 synonyms
    the plain alternation took ~0.1 ms per text, a third of the FAQ's build and a sixth of a question's time
    (round 9). `end`, if given, must hold after a word (e.g. a word boundary); a longer word that fails it
    gives way to a shorter one, as in the alternation.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in node.items() if ch]
        if not branches:
            return end
        alt = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return alt
        return f"(?:{alt}|{end})" if end else f"(?:{alt})?"  # greedy: the longer word first

    return emit(trie) if trie else "(?!)"


def words_pattern(words: Iterable[str]) -> str:
    """A regular expression for any of these normalised words, the longest first: Chinese words anywhere (Chinese
    has no word boundaries), the others (Latin, digits, mixed) only as whole words ("ip" must not match in "zip")."""
    chinese = [w for w in words if w and is_cjk(w[0]) and is_cjk(w[-1])]
    latin = [w for w in words if w and not (is_cjk(w[0]) and is_cjk(w[-1]))]
    parts = []
    if chinese:
        parts.append(trie_regex(chinese))
    if latin:
        parts.append(r"(?<![^\W_])" + trie_regex(latin, end=r"(?![^\W_])"))
    return "|".join(parts) if parts else "(?!)"


class Synonyms:
    """Rewrites every word of a synonym group to the group's first word, in phrasings and questions alike.

    Applied to normalised text. Latin synonyms match whole words only ("ip" must not
    rewrite "zip"); Chinese synonyms match anywhere, since Chinese has no word boundaries.
    Longer synonyms win over shorter ones ("实用新型专利" before "专利").
    """

    def __init__(self, groups: Iterable[Sequence[str]]):
        mapping: dict[str, str] = {}
        for group in groups:
            words = [normalize(w) for w in group if normalize(w)]
            if len(words) < 2:
                continue
            for word in words[1:]:
                mapping.setdefault(word, words[0])
        self._map = mapping
        self._pattern = re.compile(words_pattern(mapping)) if mapping else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def apply(self, normalized: str) -> str:
        if self._pattern is None:
            return normalized
        return self._pattern.sub(lambda m: self._map[m.group(0)], normalized)
