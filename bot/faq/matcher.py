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
from rapidfuzz import fuzz

from bot.faq.index import TfidfIndex
from bot.faq.loader import iter_phrasings
from bot.faq.model import Faq
from bot.faq.normalize import Synonyms, detect_lang, features, normalize

MAX_QUERY_CHARS = 1000  # longer messages are letters, not questions: score their start only


@dataclass(frozen=True)
class MatchSettings:
    """The decision bands on the 0-100 score scale, and the matcher's few knobs (defaults tuned in docs/matcher.md)."""

    answer_threshold: float = 40.0
    suggest_threshold: float = 25.0
    margin: float = 4.0
    suggestions: int = 3
    neighbours: int = 3  # phrasings per entry whose similarities are averaged (k of k-NN)
    fuzzy_weight: float = 0.2  # share of the rapidfuzz re-score in the final score
    rerank: int = 10  # entries re-scored with rapidfuzz
    bayes_weight: float = 0.05  # weight of the naive-Bayes log posterior (a penalty for entries the model finds unlikely)

    def __post_init__(self) -> None:
        for name in ("answer_threshold", "suggest_threshold", "margin", "fuzzy_weight", "bayes_weight"):
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
                 groups: np.ndarray, index: TfidfIndex):
        self.faq, self.settings = faq, settings
        self._synonyms, self._texts, self._groups, self._index = synonyms, texts, groups, index
        self._bounds = np.searchsorted(groups, np.arange(len(faq.entries) + 1))
        self._sizes = np.diff(self._bounds)  # an entry with two phrasings is judged on those two, not padded with zeros
        self._exact: dict[str, list[int]] = {}
        for text, g in zip(texts, groups.tolist(), strict=True):
            self._exact.setdefault(text, []).append(g)

    @classmethod
    def build(cls, faq: Faq, settings: MatchSettings | None = None) -> Matcher:
        """Normalise every phrasing (with synonyms) and index it; identical phrasings of one entry count once."""
        synonyms = Synonyms(faq.synonyms)
        position = {e.id: i for i, e in enumerate(faq.entries)}
        seen: set[tuple[int, str]] = set()
        texts: list[str] = []
        groups: list[int] = []
        for entry, _lang, text in iter_phrasings(faq):
            norm = synonyms.apply(normalize(text))
            key = (position[entry.id], norm)
            if norm and key not in seen:
                seen.add(key)
                texts.append(norm)
                groups.append(position[entry.id])
        index = TfidfIndex([features(t) for t in texts], groups, len(faq.entries))
        return cls(faq, settings or MatchSettings(), synonyms, texts, np.asarray(groups, dtype=np.int32), index)

    def scores(self, text: str) -> list[tuple[int, float]]:
        """(entry position, score 0-100) for the best entries, best first; ties keep FAQ order."""
        norm = self._synonyms.apply(normalize(text[:MAX_QUERY_CHARS]))
        ids, w = self._index.vector(features(norm))
        if not len(ids) or not self.faq.entries:
            return []
        s = self.settings
        doc = self._index.doc_scores(ids, w)
        lexical = 0.5 * self._index.group_scores(ids, w) + 0.5 * self._knn(doc, s.neighbours)
        if s.bayes_weight:
            lexical += s.bayes_weight * np.maximum(self._index.log_posterior(ids, w), -10.0)
        for g in self._exact.get(norm, ()):  # word for word one of the entry's phrasings: as sure as it gets
            lexical[g] = 1.0
        n = min(len(lexical), max(s.rerank, s.suggestions + 1))
        top = np.argpartition(-lexical, n - 1)[:n] if n < len(lexical) else np.arange(len(lexical))
        scored = []
        for g in top.tolist():
            score = float(lexical[g])
            if s.fuzzy_weight:
                score = (1 - s.fuzzy_weight) * score + s.fuzzy_weight * self._fuzzy(norm, doc, g) / 100
            scored.append((g, 100.0 * min(1.0, max(0.0, score))))
        scored.sort(key=lambda gs: (-gs[1], gs[0]))
        return scored

    def _knn(self, doc: np.ndarray, k: int) -> np.ndarray:
        """Per entry, the mean of its k best phrasing similarities (missing ones count as 0)."""
        m = min(len(doc), 64 * k)
        best = np.argpartition(-doc, m - 1)[:m] if m < len(doc) else np.arange(len(doc))
        best = best[np.argsort(-doc[best], kind="stable")]
        out = np.zeros(self._index.n_groups)
        taken = np.zeros(self._index.n_groups, dtype=np.int32)
        for j in best.tolist():
            g = self._groups[j]
            if taken[g] < k:
                out[g] += doc[j]
                taken[g] += 1
        return out / np.maximum(1, np.minimum(k, self._sizes))

    def _fuzzy(self, norm: str, doc: np.ndarray, g: int) -> float:
        """rapidfuzz token_set_ratio against the entry's three lexically closest phrasings."""
        lo, hi = self._bounds[g], self._bounds[g + 1]  # an entry's phrasings are contiguous
        rows = lo + np.argsort(-doc[lo:hi], kind="stable")[:3]
        return max((fuzz.token_set_ratio(norm, self._texts[r]) for r in rows.tolist()), default=0.0)

    def decide(self, text: str, lang: str | None = None) -> Decision:
        """Answer when the best entry scores high and clearly above the next; suggest in the middle band; else escalate."""
        lang = lang if lang in ("zh", "en") else detect_lang(text)
        s = self.settings
        ranked = self.scores(text)
        suggestions = tuple(
            Suggestion(self.faq.entries[g].id, self.faq.entries[g].text(lang).question, round(score, 2))
            for g, score in ranked[: s.suggestions]
        )
        top = round(ranked[0][1], 2) if ranked else 0.0
        margin = round(top - ranked[1][1], 2) if len(ranked) > 1 else top
        if top >= s.answer_threshold and margin >= s.margin:
            entry = self.faq.entries[ranked[0][0]]
            return Decision(text, lang, "answer", entry.id, top, entry.text(lang).answer, suggestions, margin)
        action = "suggest" if top >= s.suggest_threshold else "escalate"
        return Decision(text, lang, action, None, top, None, suggestions, margin)
