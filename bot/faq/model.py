"""The FAQ as immutable values, shared by the loader, the checker and the matcher."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

LANGS: tuple[str, ...] = ("zh", "en")


@dataclass(frozen=True)
class Origin:
    """Where a piece of the FAQ was read from, for `file:line` messages."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class LangText:
    """One entry's text in one language."""

    question: str
    answer: str
    phrasings: tuple[str, ...] = ()

    @property
    def all_questions(self) -> tuple[str, ...]:
        """The title first, then the phrasings, without repeats."""
        return tuple(dict.fromkeys((self.question, *self.phrasings)))


@dataclass(frozen=True)
class Entry:
    """One FAQ entry: an answer in up to two languages and the ways people ask for it."""

    id: str
    texts: Mapping[str, LangText]
    topic: str = ""
    reviewed: date | None = None
    facts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    handoff: bool = False
    origin: Origin = field(default=Origin("?"), compare=False)

    def text(self, lang: str) -> LangText:
        """The text in `lang`, falling back to the other language when it is missing."""
        if lang in self.texts:
            return self.texts[lang]
        return next(iter(self.texts.values()))


@dataclass(frozen=True)
class Faq:
    """A whole FAQ: its entries in file order and the synonym groups."""

    entries: tuple[Entry, ...]
    synonyms: tuple[tuple[str, ...], ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {e.id: e for e in self.entries})

    def get(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def phrasing_count(self) -> int:
        return sum(len(t.all_questions) for e in self.entries for t in e.texts.values())
