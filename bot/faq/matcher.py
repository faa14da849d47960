"""Placeholder matcher with the final interface (issue 4 replaces the internals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from bot.faq.loader import iter_phrasings
from bot.faq.model import Faq
from bot.faq.normalize import detect_lang, normalize


@dataclass(frozen=True)
class MatchSettings:
    """The decision bands on the 0-100 score scale."""

    answer_threshold: float = 80.0
    suggest_threshold: float = 55.0
    margin: float = 8.0
    suggestions: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.suggest_threshold <= self.answer_threshold <= 100:
            raise ValueError("need 0 <= suggest_threshold <= answer_threshold <= 100")
        if not 0 <= self.margin <= 100:
            raise ValueError("margin must be between 0 and 100")
        if not 1 <= self.suggestions <= 10:
            raise ValueError("suggestions must be between 1 and 10")


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

    def to_json(self) -> dict[str, Any]:
        """The exact object `helpdesk ask --json` prints."""
        return {
            "query": self.query, "lang": self.lang, "action": self.action, "entry_id": self.entry_id,
            "score": round(self.score, 2), "answer": self.answer,
            "suggestions": [{"entry_id": s.entry_id, "question": s.question, "score": round(s.score, 2)}
                            for s in self.suggestions],
        }


class Matcher:
    """Scores a question against every phrasing and keeps the best per entry."""

    def __init__(self, faq: Faq, settings: MatchSettings, texts: list[str], owners: list[str]):
        self.faq, self.settings, self._texts, self._owners = faq, settings, texts, owners

    @classmethod
    def build(cls, faq: Faq, settings: MatchSettings | None = None) -> Matcher:
        texts, owners = [], []
        for entry, _lang, text in iter_phrasings(faq):
            texts.append(normalize(text))
            owners.append(entry.id)
        return cls(faq, settings or MatchSettings(), texts, owners)

    def decide(self, text: str, lang: str | None = None) -> Decision:
        lang = lang or detect_lang(text)
        best: dict[str, float] = {}
        for _, score, i in process.extract(normalize(text), self._texts, scorer=fuzz.token_set_ratio, limit=50):
            best[self._owners[i]] = max(best.get(self._owners[i], 0.0), score)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[: self.settings.suggestions]
        suggestions = tuple(Suggestion(e, self.faq.get(e).text(lang).question, s) for e, s in ranked)
        top = ranked[0][1] if ranked else 0.0
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        s = self.settings
        if top >= s.answer_threshold and top - second >= s.margin:
            entry = self.faq.get(ranked[0][0])
            return Decision(text, lang, "answer", entry.id, top, entry.text(lang).answer, suggestions)
        action = "suggest" if top >= s.suggest_threshold else "escalate"
        return Decision(text, lang, action, None, top, None, suggestions)
