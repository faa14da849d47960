"""Decide, for one question, whether to answer, suggest choices or escalate to a person.

A wrong confident answer is worse than an escalation, so the matcher gives one score on a
0-100 scale plus the gap to the next entry, and the bands in `MatchSettings` turn them into
an action. How the score is built, and what each part is worth on the benchmarks, is in
docs/matcher.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from bot.faq.calibration import PRIOR, Calibration, fit
from bot.faq.index import TfidfIndex, ranges
from bot.faq.linear import SoftmaxModel
from bot.faq.linear import fit as fit_linear
from bot.faq.loader import iter_phrasings
from bot.faq.model import Faq
from bot.faq.normalize import Synonyms, detect_lang, features, normalize
from bot.faq.smalltalk import SmallTalk

MAX_QUERY_CHARS = 1000  # longer messages are letters, not questions: score their start only
# Each held-out phrasing costs one question against the whole index, so the calibration sample
# shrinks on big FAQs to keep the build time bounded (15,000 phrasings: 150 held out; 200 until round 7, which
# changed nothing on the development sets: CLINC150's 150 and BANKING77's 77 titles are all held out either way).
CALIBRATION_WORK = 2_250_000
# Epochs of the fitted linear model shrink on big FAQs to bound the build (15,000 phrasings: 1; 8,000: 2; 1,500: 4).
LINEAR_WORK = 20_000
# Entries whose phrasing cosines (k-NN and the phrasings rapidfuzz re-scores) are computed for a question: the best
# by every other term (round 7; at least `rerank`). 12 gave the same results on the development sets as all entries.
CANDIDATES = 16
PRUNE_MIN_PHRASINGS = 4_000  # below this the pruning costs more than it saves (1,000 phrasings: p99 +0.1-0.2 ms)


@dataclass(frozen=True)
class MatchSettings:
    """The decision bands on the 0-100 score scale, and the matcher's few knobs (defaults tuned in docs/matcher.md).

    The score is a calibrated confidence (bot.faq.calibration), so the bands mean about the
    same on every FAQ; `min_raw` and `suggest_min_raw` are floors on the raw similarity,
    which is what tells an out-of-scope question (few shared words) from a doubtful one.
    """

    answer_threshold: float = 80.0  # on the calibrated confidence: P(best guess right) x 100
    suggest_threshold: float = 30.0
    margin: float = 2.0  # the best entry's confidence must lead the second's by this much (ties are never answered)
    suggestions: int = 3
    neighbours: int = 3  # phrasings per entry whose similarities are averaged (k of k-NN)
    fuzzy_weight: float = 0.2  # share of the rapidfuzz re-score in the final score
    rerank: int = 10  # entries re-scored with rapidfuzz
    bayes_weight: float = 0.05  # weight of the naive-Bayes log posterior (a penalty for entries the model finds unlikely)
    min_raw: float = 28.0  # raw similarity (0-100) below which nothing is answered, however confident
    suggest_min_raw: float = 25.0  # raw similarity below which the question is escalated
    # The same floors for questions written in Chinese (round 11): scored on characters and their bigrams, a
    # Chinese question has a lower raw similarity than an English one that matches as well. 25, not lower:
    # everyday "帮我写…" requests reach 24.1 and an out-of-scope dev question 22.9 (docs/matcher.md, round 11).
    min_raw_zh: float = 25.0
    suggest_min_raw_zh: float = 20.0
    calibration_sample: int = 400  # entry titles held out at build time to calibrate the scores (0: the built-in prior)
    linear_weight: float = 0.05  # weight of the log posterior of a logistic regression fitted at load time (0: not fitted)

    def __post_init__(self) -> None:
        for name in ("answer_threshold", "suggest_threshold", "margin", "fuzzy_weight", "bayes_weight", "min_raw",
                     "suggest_min_raw", "min_raw_zh", "suggest_min_raw_zh", "linear_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"{name} must be a number")
        if not 0 <= self.suggest_threshold <= self.answer_threshold <= 100:
            raise ValueError("need 0 <= suggest_threshold <= answer_threshold <= 100")
        if not 0 <= self.margin <= 100:
            raise ValueError("margin must be between 0 and 100")
        if not 1 <= self.suggestions <= 10:
            raise ValueError("suggestions must be between 1 and 10")
        if not 1 <= self.neighbours <= 20:
            raise ValueError("neighbours must be between 1 and 20")
        if not 0 <= self.fuzzy_weight <= 1:
            raise ValueError("fuzzy_weight must be between 0 and 1")
        if not 0 <= self.bayes_weight <= 1:
            raise ValueError("bayes_weight must be between 0 and 1")
        if not 1 <= self.rerank <= 100:
            raise ValueError("rerank must be between 1 and 100")
        if not 0 <= self.suggest_min_raw <= self.min_raw <= 100:
            raise ValueError("need 0 <= suggest_min_raw <= min_raw <= 100")
        if not 0 <= self.suggest_min_raw_zh <= self.min_raw_zh <= 100:
            raise ValueError("need 0 <= suggest_min_raw_zh <= min_raw_zh <= 100")
        if not 0 <= self.linear_weight <= 1:
            raise ValueError("linear_weight must be between 0 and 1")
        if not 0 <= self.calibration_sample <= 5000:
            raise ValueError("calibration_sample must be between 0 and 5000")


@dataclass(frozen=True)
class Suggestion:
    entry_id: str
    question: str
    score: float


@dataclass(frozen=True)
class Decision:
    """What to do with one question: answer, suggest or escalate."""

    query: str
    lang: str
    action: str  # "answer" | "suggest" | "escalate"
    entry_id: str | None
    score: float
    answer: str | None
    suggestions: tuple[Suggestion, ...]
    margin: float = 0.0  # score of the best entry minus the second (diagnostics; not in the JSON)
    raw: float = 0.0  # the best entry's raw similarity 0-100, before calibration (diagnostics; not in the JSON)

    def to_json(self) -> dict[str, Any]:
        """The exact object `helpdesk ask --json` prints."""
        return {
            "query": self.query, "lang": self.lang, "action": self.action, "entry_id": self.entry_id,
            "score": round(self.score, 2), "answer": self.answer,
            "suggestions": [{"entry_id": s.entry_id, "question": s.question, "score": round(s.score, 2)}
                            for s in self.suggestions],
        }


class Matcher:
    """An immutable index over every phrasing of every entry, in both languages.

    Building is CPU-bound and synchronous (the app runs it in a thread and swaps the new
    matcher in when ready); `decide` only reads, so one matcher serves many threads.
    """

    def __init__(self, faq: Faq, settings: MatchSettings, synonyms: Synonyms, texts: list[str],
                 groups: np.ndarray, index: TfidfIndex, calibration: Calibration = PRIOR,
                 model: SoftmaxModel | None = None, titles: np.ndarray | None = None):
        self.faq, self.settings, self.calibration, self.model = faq, settings, calibration, model
        self._titles = np.arange(0) if titles is None else titles  # rows that are an entry's own question (per language)
        self._synonyms, self._texts, self._groups, self._index = synonyms, texts, groups, index
        self._small_talk = SmallTalk()
        self._bounds = np.searchsorted(groups, np.arange(len(faq.entries) + 1))
        self._sizes = np.diff(self._bounds)  # an entry with two phrasings is judged on those two, not padded with zeros
        self._heldout_model: SoftmaxModel | None = None  # during the build: the model the calibration sample did not train
        self._exact: dict[str, list[int]] = {}
        for text, g in zip(texts, groups.tolist(), strict=True):
            self._exact.setdefault(text, []).append(g)

    @classmethod
    def build(cls, faq: Faq, settings: MatchSettings | None = None) -> Matcher:
        """Normalise every phrasing (with synonyms), index it, then calibrate the scores on the FAQ itself.

        Identical phrasings of one entry count once. Phrasings are grouped by entry (the
        index relies on an entry's phrasings being contiguous).
        """
        settings = settings or MatchSettings()
        synonyms = Synonyms(faq.synonyms)
        position = {e.id: i for i, e in enumerate(faq.entries)}
        seen: set[tuple[int, str]] = set()
        pairs: list[tuple[int, str, bool]] = []
        for entry, lang, text in iter_phrasings(faq):
            norm = synonyms.apply(normalize(text))
            key = (position[entry.id], norm)
            if norm and key not in seen:
                seen.add(key)
                pairs.append((*key, text == entry.texts[lang].question))
        pairs.sort(key=lambda p: p[0])  # stable: keeps each entry's own order
        texts = [t for _, t, _ in pairs]
        groups = np.asarray([g for g, _, _ in pairs], dtype=np.int32)
        titles = np.flatnonzero([title for _, _, title in pairs])
        index = TfidfIndex([features(t) for t in texts], groups, len(faq.entries))
        matcher = cls(faq, settings, synonyms, texts, groups, index, titles=titles)
        sample = matcher._calibration_rows()
        if settings.linear_weight and len(faq.entries) > 1:
            # The calibration sample is scored as unseen questions, so a model that never saw it scores it.
            # When the sample is a small share of the FAQ that one model also serves; else a second fit on all.
            epochs = int(np.clip(LINEAR_WORK // max(1, len(texts)), 1, 4))
            args = (*index.csr, groups, index.n_features, len(faq.entries))
            matcher._heldout_model = fit_linear(*args, epochs=epochs, skip=sample)
            big_sample = len(sample) > 0.05 * len(texts)
            matcher.model = fit_linear(*args, epochs=epochs) if big_sample else matcher._heldout_model
        matcher.calibration = matcher._calibrate(sample)
        matcher._heldout_model = None
        return matcher

    def _calibration_rows(self) -> np.ndarray:
        """The entries' own questions (titles, one per language) to hold out for the calibration (sorted row numbers).

        Why titles and not a random sample of phrasings (rounds 2-3): phrasings are written to be
        unlike their siblings, so a held-out phrasing is a harder question than users ask (on the
        shipped FAQ 64 % of them found their entry against 93 % of users' questions, and the
        confidence came out 20-35 points too low). A title is the plain, whole question an
        administrator wrote for the entry, which is what users' questions look like. A seeded
        sample when there are more than the budget; an entry's only phrasing cannot be held out.
        """
        n = min(self.settings.calibration_sample, max(100, CALIBRATION_WORK // max(1, len(self._texts))))
        eligible = self._titles[self._sizes[self._groups[self._titles]] >= 2]
        if n == 0 or len(eligible) == 0:
            return eligible[:0]
        rng = np.random.default_rng(20261121)
        return eligible if len(eligible) <= n else np.sort(rng.choice(eligible, n, replace=False))

    def _calibrate(self, rows: np.ndarray) -> Calibration:
        """Score the held-out phrasings leave-one-out and fit P(right | raw, margin)."""
        if len(rows) == 0:
            return PRIOR
        raw, margin, right = [], [], []
        for r in rows.tolist():
            text = self._texts[r]
            ids, w = self._index.vector(features(text))
            ranked = self._ranked(text, ids, w, leave_out=r)
            if not ranked:
                continue
            raw.append(ranked[0][1])
            margin.append(ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0))
            right.append(ranked[0][0] == self._groups[r])
        return fit(np.asarray(raw), np.asarray(margin), np.asarray(right))

    def _ranked(self, norm: str, ids: np.ndarray, w: np.ndarray, leave_out: int | None = None) -> list[tuple[int, float]]:
        """(entry position, raw similarity 0-1) for the best entries, best first; ties keep FAQ order.

        `leave_out`: the question is this phrasing; score it against the index without it.
        """
        s = self.settings
        own = None if leave_out is None else int(self._groups[leave_out])
        sizes = self._sizes
        centroid, bayes = self._index.entry_scores(ids, w, own)
        others = np.zeros(len(centroid))  # the terms besides the k-NN cosines
        if s.bayes_weight:
            others += s.bayes_weight * np.maximum(bayes, -10.0)
        model = self.model if leave_out is None else self._heldout_model  # which never saw the held-out phrasing
        if s.linear_weight and model is not None:
            others += s.linear_weight * np.maximum(model.log_posterior(ids, w), -10.0)
        exact = [g for g in self._exact.get(norm, ()) if g != own]
        # Phrasing cosines only for the candidate entries, the best by every other term (round 7). The others are
        # scored without their k-NN term, so they rank below every candidate: an approximation (an entry whose
        # other terms are all weaker but one of whose phrasings is very close is lost), which changed no
        # development figure at 12 candidates or more.
        n_cand = max(CANDIDATES, s.rerank, s.suggestions + 1) + len(exact)
        if n_cand < len(centroid) and len(self._groups) >= PRUNE_MIN_PHRASINGS:
            partial = 0.5 * centroid + others
            partial[exact] = np.inf
            cand = np.sort(np.argpartition(-partial, n_cand - 1)[:n_cand])
            rows = ranges(self._bounds[cand], self._bounds[cand + 1])
        else:
            rows = None
        doc = self._index.doc_scores(ids, w, rows)
        if leave_out is not None:
            doc[leave_out] = -1.0
            sizes = sizes.copy()
            sizes[own] -= 1
        knn = (self._knn(doc, s.neighbours, sizes, self._groups) if rows is None
               else self._knn(doc[rows], s.neighbours, sizes, self._groups[rows]))
        lexical = 0.5 * centroid + 0.5 * knn
        lexical += others
        for g in exact:  # word for word one of the entry's phrasings: as sure as it gets
            lexical[g] = 1.0
        n = min(len(lexical), max(s.rerank, s.suggestions + 1))
        top = np.argpartition(-lexical, n - 1)[:n] if n < len(lexical) else np.arange(len(lexical))
        raw = np.minimum(lexical[top], 1.0)
        if s.fuzzy_weight:
            raw = (1 - s.fuzzy_weight) * raw + s.fuzzy_weight * self._fuzzy(norm, doc, top) / 100
        # Rank before clipping at 0: with the model penalties several entries can fall below 0 and must not tie.
        order = np.lexsort((top, -raw))
        return list(zip(top[order].tolist(), np.clip(raw[order], 0.0, 1.0).tolist(), strict=True))

    def scores(self, text: str) -> list[tuple[int, float]]:
        """(entry position, raw similarity 0-100) for the best entries, best first; ties keep FAQ order."""
        return self._scores(normalize(text[:MAX_QUERY_CHARS]))

    def _scores(self, normalized: str) -> list[tuple[int, float]]:
        norm = self._synonyms.apply(normalized)
        ids, w = self._index.vector(features(norm))
        if not len(ids) or not self.faq.entries:
            return []
        return [(g, 100.0 * r) for g, r in self._ranked(norm, ids, w)]

    def _knn(self, doc: np.ndarray, k: int, sizes: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Per entry, the mean of its k best phrasing similarities (missing ones count as 0); `groups`: each value's entry."""
        m = min(len(doc), 64 * k)
        best = np.argpartition(-doc, m - 1)[:m] if m < len(doc) else np.arange(len(doc))
        g = groups[best]
        vals = doc[best]
        order = np.lexsort((-vals, g))  # by entry, best first within each entry
        g, vals = g[order], vals[order]
        # Sorted by entry: a value is among its entry's k best when the value k places back is another entry's.
        keep = vals > 0
        keep[k:] &= g[k:] != g[:-k]
        out = np.bincount(g[keep], weights=vals[keep], minlength=self._index.n_groups)
        return out / np.maximum(1, np.minimum(k, sizes))

    def _fuzzy(self, norm: str, doc: np.ndarray, top: np.ndarray) -> np.ndarray:
        """rapidfuzz token_set_ratio against each entry's three lexically closest phrasings (one C call)."""
        lo, hi = self._bounds[top], self._bounds[top + 1]  # an entry's phrasings are contiguous
        sizes = hi - lo
        pos = ranges(lo, hi)
        owner = np.repeat(np.arange(len(top)), sizes)
        # Best first within each entry (ties: the earlier phrasing), then each entry's first three, in one sort
        # rather than one argpartition per entry (round 5).
        order = np.lexsort((-doc[pos], owner))
        first3 = np.ones(len(pos), dtype=bool)  # owner is sorted: the first three of each entry, as in `_knn`
        first3[3:] = owner[3:] != owner[:-3]
        rows = pos[order[first3]]
        owner = owner[first3]
        live = doc[rows] > -1.0  # not the held-out phrasing
        rows, owner = rows[live], owner[live]
        out = np.zeros(len(top))
        if len(rows):
            ratios = process.cdist([norm], [self._texts[r] for r in rows.tolist()], scorer=fuzz.token_set_ratio,
                                   workers=1)[0]
            np.maximum.at(out, owner, ratios)
        return out

    def decide(self, text: str, lang: str | None = None) -> Decision:
        """Answer when the calibrated confidence is high, clearly above the next entry's and the raw
        similarity clears the floor; suggest in the middle band; else escalate.

        The question is scored without an opening greeting or closing thanks (bot.faq.smalltalk). When
        what is left says nothing the FAQ knows (escalate) and the whole message is answered, that answer
        stands, so "你好呀" and "好的，谢谢" still get the greeting and thanks entries.
        """
        written = detect_lang(text)  # the floors follow the script the question is written in (round 11)
        lang = lang if lang in ("zh", "en") else written
        s = self.settings
        floors = (s.min_raw_zh, s.suggest_min_raw_zh) if written == "zh" else (s.min_raw, s.suggest_min_raw)
        norm = normalize(text[:MAX_QUERY_CHARS])
        core = self._small_talk.strip(norm)
        decision = self._decide(text, lang, core, *floors)
        if core != norm and decision.action == "escalate":
            whole = self._decide(text, lang, norm, *floors)
            if whole.action == "answer":
                decision = whole
        return decision

    def _decide(self, text: str, lang: str, normalized: str, min_raw: float, suggest_min_raw: float) -> Decision:
        s = self.settings
        ranked = self._scores(normalized)
        if not ranked:
            return Decision(text, lang, "escalate", None, 0.0, None, (), 0.0)
        raws = np.array([r for _, r in ranked]) / 100.0
        gaps = raws - (raws[1] if len(raws) > 1 else 0.0)
        gaps[1:] = raws[1:] - raws[0]  # the others trail the best
        conf = self.calibration.confidence(raws, gaps)
        # Below the raw floor a question looks out of scope: its score is its raw similarity, not
        # the margin-driven confidence (on a tiny FAQ, one shared word can give a big margin).
        low = raws * 100 < suggest_min_raw
        conf = np.round(np.where(low, np.minimum(conf, raws * 100), conf), 2)
        suggestions = tuple(
            Suggestion(self.faq.entries[g].id, self.faq.entries[g].text(lang).question, float(c))
            for (g, _), c in zip(ranked[: s.suggestions], conf.tolist(), strict=False)
        )
        top = float(conf[0])
        margin = round(top - float(conf[1]), 2) if len(conf) > 1 else top
        raw = round(float(raws[0]) * 100, 2)
        if top >= s.answer_threshold and margin >= s.margin and raw >= min_raw:
            entry = self.faq.entries[ranked[0][0]]
            return Decision(text, lang, "answer", entry.id, top, entry.text(lang).answer, suggestions, margin, raw)
        action = "suggest" if top >= s.suggest_threshold and raw >= suggest_min_raw else "escalate"
        return Decision(text, lang, action, None, top, None, suggestions, margin, raw)
