"""The content rules behind `helpdesk faq check`, also the gate a hot reload must pass.

Errors make the FAQ unfit to serve (a broken file, a missing translation, a link to
nothing, two entries the matcher cannot tell apart); warnings are editorial debt that
must not block a deploy (few phrasings, stale reviews, long answers, missing sources).

Near-duplicate phrasings: every title and phrasing is normalised as the matcher does
(`normalize()`, then the synonym groups, so 小专利 and 实用新型 count as the same word)
and compared, per language, with every phrasing of every *other* entry using
`rapidfuzz.fuzz.ratio` (edit-distance similarity, 0-100). A pair scoring
`SIMILAR_THRESHOLD` (92) or more is an error. Why 92: `fuzz.ratio` is an insert/delete
similarity, so 92 means the two differ by at most 8% of their combined length: an added
particle or article (年费多少钱一年啊 ~ 年费多少钱一年, 93), a plural, a typo in a long sentence. Such
phrasings ask the same question, so whatever its scorer the matcher has no ground to
prefer one entry: it would answer from either at random or, by its margin rule, from
neither. One changed character in a short phrasing stays below on purpose (年费多少 ~
官费多少 scores 75): in Chinese one character is often the whole difference, and
"how much to renew patent china" ~ "how much to file patent china" (88) differ in the
one word that matters.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.faq.loader import HasProblems, Problem, read_faq
from bot.faq.model import LANGS, Entry, Faq
from bot.faq.normalize import Synonyms, normalize

SIMILAR_THRESHOLD = 92.0
MIN_PHRASINGS = 6
MAX_EN_WORDS = 120
MAX_ZH_CHARS = 250
REVIEW_MONTHS = 12
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CheckReport(HasProblems):
    """The FAQ as loaded and every problem found, errors and warnings, in file order."""

    faq: Faq
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return f"{len(self.faq)} entries, {len(self.errors)} errors, {len(self.warnings)} warnings"


def check_dir(directory: str | Path, today: dt.date | None = None) -> CheckReport:
    """Load `directory` and apply every rule; never raises for bad content."""
    faq, problems = read_faq(directory)
    problems.extend(check_faq(faq, today or dt.date.today()))
    ordered = sorted(problems, key=lambda p: (p.origin.path, p.origin.line, p.severity != "error"))
    return CheckReport(faq, tuple(ordered))


def check_faq(faq: Faq, today: dt.date) -> list[Problem]:
    """The content rules on an FAQ that loaded (the loader already reported what could not)."""
    problems: list[Problem] = []
    for entry in faq.entries:
        problems.extend(_entry_problems(entry, faq, today))
    problems.extend(clashing_phrasings(faq))
    return problems


def _entry_problems(entry: Entry, faq: Faq, today: dt.date) -> list[Problem]:
    found: list[Problem] = []
    stale_before = _months_before(today, REVIEW_MONTHS)
    name = f"entry {entry.id!r}"

    def warn(message: str) -> None:
        found.append(Problem(entry.origin, message, "warning"))

    for lang in LANGS:
        text = entry.texts.get(lang)
        if text is None:
            found.append(Problem(entry.origin, f"{name} has no {lang} translation (the FAQ needs both zh and en)"))
            continue
        if len(text.phrasings) < MIN_PHRASINGS:
            warn(f"{name} has {len(text.phrasings)} {lang} phrasings (write at least {MIN_PHRASINGS})")
        size, limit, unit = _answer_size(lang, text.answer)
        if size > limit:
            warn(f"{name}: {lang} answer is {size} {unit} long (keep it to {limit})")
        repeats = len(text.phrasings) - len({normalize(p) for p in text.phrasings})
        if repeats:
            warn(f"{name}: {repeats} {lang} phrasing(s) repeat another one of the same entry")
    for target in entry.related:
        if target == entry.id:
            warn(f"{name} lists itself in 'related'")
        elif faq.get(target) is None:
            found.append(Problem(entry.origin, f"{name}: related entry {target!r} does not exist"))
    if entry.reviewed is None:
        warn(f"{name} has no 'reviewed' date")
    elif entry.reviewed < stale_before:
        warn(f"{name} was last reviewed on {entry.reviewed} (over {REVIEW_MONTHS} months ago)")
    elif entry.reviewed > today:
        warn(f"{name}: 'reviewed' date {entry.reviewed} is in the future")
    if entry.facts and not entry.sources:
        warn(f"{name} rests on facts {', '.join(entry.facts)} but gives no sources")
    return found


def _answer_size(lang: str, answer: str) -> tuple[int, int, str]:
    """English answers are measured in words, Chinese ones in characters (spaces not counted)."""
    if lang == "zh":
        return len(_SPACE.sub("", answer)), MAX_ZH_CHARS, "characters"
    return len(answer.split()), MAX_EN_WORDS, "words"


def _months_before(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def clashing_phrasings(faq: Faq, threshold: float = SIMILAR_THRESHOLD) -> list[Problem]:
    """Phrasings that two entries share, or so close the matcher cannot separate the entries; one line per pair."""
    worst: dict[tuple[str, str], tuple[float, str, str]] = {}
    synonyms = Synonyms(faq.synonyms)
    for lang in LANGS:
        texts: list[str] = []
        owners: list[Entry] = []
        originals: list[str] = []
        for entry in faq.entries:
            if lang in entry.texts:
                for q in entry.texts[lang].all_questions:
                    texts.append(synonyms.apply(normalize(q)))
                    owners.append(entry)
                    originals.append(q)
        if not texts:
            continue
        # One C++ pass over all pairs; scores below the cutoff come back as 0, so only clashes remain.
        scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=threshold, dtype="uint8", workers=-1)
        for i, j in zip(*scores.nonzero(), strict=True):
            a, b = owners[i], owners[j]
            if i >= j or a.id == b.id:
                continue
            key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
            score = 100.0 if texts[i] == texts[j] else float(fuzz.ratio(texts[i], texts[j]))
            if score < threshold:  # the uint8 matrix rounds; decide on the exact score
                continue
            if key not in worst or score > worst[key][0]:
                worst[key] = (score, originals[i], originals[j]) if a.id < b.id else (score, originals[j], originals[i])
    problems = []
    for (first, second), (score, q1, q2) in worst.items():
        a, b = faq.get(first), faq.get(second)
        if score >= 100:
            message = f"entries {first!r} and {second!r} share the phrasing {q1!r} (other entry at {b.origin})"
        else:
            message = (f"entries {first!r} and {second!r} have phrasings too close to tell apart "
                       f"({score:.0f}/100): {q1!r} ~ {q2!r} (other entry at {b.origin})")
        problems.append(Problem(a.origin, message))
    return problems
