"""Read an FAQ directory (YAML topic files, CSV sheets, the synonyms file) into a `Faq`.

Every problem is reported as `file:line: message`; the loader never lets a parser
traceback through, so administrators see what to fix and where.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.faq.model import LANGS, Entry, Faq, LangText, Origin

SYNONYMS_FILE = "synonyms.yaml"
ENTRY_KEYS = {"id", "reviewed", "facts", "sources", "related", "handoff", *LANGS}
TEXT_KEYS = {"question", "answer", "phrasings"}
CSV_REQUIRED = ("id", "lang", "question", "answer")
CSV_OPTIONAL = ("topic", "reviewed", "facts", "sources", "related", "handoff")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the FAQ, at a place in a file."""

    origin: Origin
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.origin}: {self.severity}: {self.message}"


class FaqError(Exception):
    """The FAQ cannot be loaded; `problems` says why, one line each."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping as `__line__`."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def load_faq(directory: str | Path) -> Faq:
    """Load every FAQ file under `directory`; raise FaqError listing all errors."""
    faq, problems = read_faq(directory)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FaqError(errors)
    return faq


def read_faq(directory: str | Path) -> tuple[Faq, list[Problem]]:
    """Load what can be loaded and return it with every problem found on the way."""
    root = Path(directory)
    problems: list[Problem] = []
    if not root.is_dir():
        return Faq(entries=(), source=str(root)), [Problem(Origin(str(root)), "not a directory")]
    entries: list[Entry] = []
    for path in sorted(root.iterdir()):
        if path.name == SYNONYMS_FILE or path.name.startswith("."):
            continue
        if path.suffix in (".yaml", ".yml"):
            entries.extend(_read_yaml(path, problems))
        elif path.suffix == ".csv":
            entries.extend(_read_csv(path, problems))
    synonyms = _read_synonyms(root / SYNONYMS_FILE, problems)
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in seen:
            problems.append(
                Problem(entry.origin, f"duplicate id {entry.id!r} (first at {seen[entry.id].origin})")
            )
        else:
            seen[entry.id] = entry
    if not entries and not any(p.severity == "error" for p in problems):
        problems.append(Problem(Origin(str(root)), "no FAQ entries found (*.yaml, *.csv)"))
    return Faq(entries=tuple(seen.values()), synonyms=synonyms, source=str(root)), problems


def _parse_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506
    except UnicodeDecodeError:
        problems.append(Problem(Origin(str(path), 1), "not UTF-8 text"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(Origin(str(path), line), f"bad YAML: {exc.problem or exc.context}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(Origin(str(path), 1), f"bad YAML: {exc}"))
    return None


def _read_yaml(path: Path, problems: list[Problem]) -> list[Entry]:
    data = _parse_yaml(path, problems)
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        problems.append(Problem(Origin(str(path), 1), "expected a mapping with an 'entries' list"))
        return []
    topic = str(data.get("topic") or path.stem)
    entries = []
    for raw in data["entries"]:
        entry = _entry_from_yaml(raw, topic, path, data.get("__line__", 1), problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry_from_yaml(raw: Any, topic: str, path: Path, line: int, problems: list[Problem]) -> Entry | None:
    if not isinstance(raw, dict):
        problems.append(Problem(Origin(str(path), line), "an entry must be a mapping"))
        return None
    origin = Origin(str(path), raw.get("__line__", line))
    before = len(problems)
    for key in sorted(set(raw) - ENTRY_KEYS - {"__line__"}):
        problems.append(Problem(origin, f"unknown key {key!r} (expected one of {', '.join(sorted(ENTRY_KEYS))})"))
    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not entry_id.strip():
        problems.append(Problem(origin, "missing 'id' (a non-empty string)"))
        return None
    texts: dict[str, LangText] = {}
    for lang in LANGS:
        if lang in raw:
            text = _text_from_yaml(raw[lang], entry_id, lang, origin, problems)
            if text is not None:
                texts[lang] = text
    if not texts:
        problems.append(Problem(origin, f"entry {entry_id!r} has no text (give 'zh' and/or 'en')"))
    reviewed = raw.get("reviewed")
    if reviewed is not None and not isinstance(reviewed, dt.date):
        problems.append(Problem(origin, f"entry {entry_id!r}: 'reviewed' must be a date like 2026-01-31"))
        reviewed = None
    handoff = raw.get("handoff", False)
    if not isinstance(handoff, bool):
        problems.append(Problem(origin, f"entry {entry_id!r}: 'handoff' must be true or false"))
    lists = {k: _str_list(raw.get(k), f"entry {entry_id!r}: '{k}'", origin, problems) for k in ("facts", "sources", "related")}
    if len(problems) > before and any(p.severity == "error" for p in problems[before:]):
        return None
    return Entry(
        id=entry_id.strip(), texts=texts, topic=topic, reviewed=reviewed, handoff=bool(handoff),
        origin=origin, **lists,
    )


def _text_from_yaml(raw: Any, entry_id: str, lang: str, origin: Origin, problems: list[Problem]) -> LangText | None:
    where = Origin(origin.path, raw.get("__line__", origin.line)) if isinstance(raw, dict) else origin
    if not isinstance(raw, dict):
        problems.append(Problem(where, f"entry {entry_id!r}: '{lang}' must be a mapping with question, answer, phrasings"))
        return None
    for key in sorted(set(raw) - TEXT_KEYS - {"__line__"}):
        problems.append(Problem(where, f"entry {entry_id!r}: unknown key {lang}.{key}"))
    question, answer = raw.get("question"), raw.get("answer")
    ok = True
    for name, value in (("question", question), ("answer", answer)):
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(where, f"entry {entry_id!r}: missing or empty {lang}.{name}"))
            ok = False
    phrasings = _str_list(raw.get("phrasings"), f"entry {entry_id!r}: {lang}.phrasings", where, problems)
    if not ok:
        return None
    return LangText(question=question.strip(), answer=answer.strip(), phrasings=phrasings)


def _str_list(value: Any, what: str, origin: Origin, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        problems.append(Problem(origin, f"{what} must be a list of strings"))
        return ()
    return tuple(s for s in (str(v).strip() for v in value) if s)


def _read_csv(path: Path, problems: list[Problem]) -> list[Entry]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        problems.append(Problem(Origin(str(path), 1), "not UTF-8 text"))
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        problems.append(Problem(Origin(str(path), 1), f"missing column(s) {', '.join(missing)} (need {','.join(CSV_REQUIRED)})"))
        return []
    rows: dict[str, list[tuple[int, dict[str, str]]]] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                problems.append(Problem(Origin(str(path), line), "too many fields in this row"))
                continue
            if not (row.get("id") or "").strip():
                problems.append(Problem(Origin(str(path), line), "empty id"))
                continue
            rows.setdefault(row["id"].strip(), []).append((line, row))
    except csv.Error as exc:
        problems.append(Problem(Origin(str(path), reader.line_num), f"bad CSV: {exc}"))
        return []
    return [e for e in (_entry_from_csv(i, r, path, problems) for i, r in rows.items()) if e is not None]


def _entry_from_csv(entry_id: str, rows: list[tuple[int, dict[str, str]]], path: Path, problems: list[Problem]) -> Entry | None:
    origin = Origin(str(path), rows[0][0])
    by_lang: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in rows:
        lang = (row.get("lang") or "").strip()
        if lang not in LANGS:
            problems.append(Problem(Origin(str(path), line), f"lang must be one of {', '.join(LANGS)}, not {lang!r}"))
            return None
        by_lang.setdefault(lang, []).append((line, row))
    texts = {}
    for lang, lang_rows in by_lang.items():
        questions = [q for q in ((r.get("question") or "").strip() for _, r in lang_rows) if q]
        answers = [a for a in ((r.get("answer") or "").strip() for _, r in lang_rows) if a]
        if not questions:
            problems.append(Problem(Origin(str(path), lang_rows[0][0]), f"entry {entry_id!r}: no {lang} question"))
            return None
        texts[lang] = LangText(question=questions[0], answer=answers[0] if answers else "", phrasings=tuple(questions[1:]))
    first = rows[0][1]
    reviewed = None
    if (first.get("reviewed") or "").strip():
        try:
            reviewed = dt.date.fromisoformat(first["reviewed"].strip())
        except ValueError:
            problems.append(Problem(origin, f"entry {entry_id!r}: reviewed must be a date like 2026-01-31"))
    return Entry(
        id=entry_id, texts=texts, topic=(first.get("topic") or path.stem).strip(), reviewed=reviewed,
        facts=_split(first.get("facts")), sources=_split(first.get("sources")), related=_split(first.get("related")),
        handoff=(first.get("handoff") or "").strip().lower() in ("1", "true", "yes"), origin=origin,
    )


def _split(value: str | None) -> tuple[str, ...]:
    return tuple((value or "").split())


def _read_synonyms(path: Path, problems: list[Problem]) -> tuple[tuple[str, ...], ...]:
    if not path.exists():
        return ()
    data = _parse_yaml(path, problems)
    if data is None:
        return ()
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        problems.append(Problem(Origin(str(path), 1), "expected a mapping with a 'groups' list"))
        return ()
    result = []
    for i, group in enumerate(groups):
        if not isinstance(group, list) or len(group) < 2:
            problems.append(Problem(Origin(str(path), 1), f"group {i + 1} must list at least two words"))
            continue
        result.append(tuple(str(w).strip() for w in group if str(w).strip()))
    return tuple(result)


def iter_phrasings(faq: Faq) -> Iterable[tuple[Entry, str, str]]:
    """Yield (entry, lang, text) for every title and phrasing in the FAQ."""
    for entry in faq.entries:
        for lang, text in entry.texts.items():
            for q in text.all_questions:
                yield entry, lang, q
