"""Read an FAQ directory (YAML topic files, CSV sheets, the synonyms file) into a `Faq`.

Every problem is reported as `file:line: message`; the loader never lets a parser
traceback through, whatever the input, so administrators see what to fix and where
and a hot reload can reject a bad edit instead of crashing. Only the parsing lives
here; the content rules (both languages, phrasing counts, review dates...) are in
`bot.faq.check`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.faq.model import LANGS, Entry, Faq, LangText, Origin
from bot.faq.normalize import normalize

SYNONYMS_FILE = "synonyms.yaml"
FILE_KEYS = {"topic", "entries"}
ENTRY_KEYS = {"id", "reviewed", "facts", "sources", "related", "handoff", *LANGS}
TEXT_KEYS = {"question", "answer", "phrasings"}
# Ids travel in whitespace-separated CSV lists, callback data and URLs: keep them plain ASCII.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
URL_RE = re.compile(r"^https?://\S+$")
LINE = "__line__"
CSV_REQUIRED = ("id", "lang", "question", "answer")
CSV_OPTIONAL = ("topic", "reviewed", "facts", "sources", "related", "handoff")
CSV_META = ("topic", "reviewed", "facts", "sources", "related", "handoff")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the FAQ, at a place in a file."""

    origin: Origin
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.origin}: {self.severity}: {self.message}"


class HasProblems:
    """Mixin for results that carry `problems`: split them into errors and warnings."""

    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


class FaqError(Exception):
    """The FAQ cannot be loaded; `problems` says why, one line each."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineList(list):
    """A YAML sequence that remembers the line it started on."""

    line = 0


class _LineLoader(yaml.SafeLoader):
    """A safe loader that keeps line numbers and notices duplicate keys (PyYAML silently keeps the last)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                if key_node.value in seen:
                    self.duplicate_keys.append((key_node.start_mark.line + 1, key_node.value))
                seen.add(key_node.value)
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        return mapping


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Any:
    data = _LineList()
    data.line = node.start_mark.line + 1
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    # An impossible date (2026-02-30) would raise a bare ValueError with no line; keep it as text
    # so the entry's own check reports it where it is.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return node.value


_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def load_faq(directory: str | Path) -> Faq:
    """Load every FAQ file under `directory`; raise FaqError listing all errors."""
    faq, problems = read_faq(directory)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FaqError(errors)
    return faq


def faq_files(root: Path) -> list[Path]:
    """The files the loader reads, in load order (also what the hot-reload watcher polls)."""
    files = [p for p in root.iterdir() if p.suffix in (".yaml", ".yml", ".csv") and not p.name.startswith(".")]
    return sorted(files)


def read_faq(directory: str | Path) -> tuple[Faq, list[Problem]]:
    """Load what can be loaded and return it with every problem found on the way."""
    root = Path(directory)
    problems: list[Problem] = []
    try:
        files = faq_files(root)
    except OSError as exc:
        why = "does not exist" if not root.exists() else f"cannot be read ({exc.strerror or exc})"
        return Faq(entries=(), source=str(root)), [Problem(Origin(str(root)), f"FAQ directory {why}")]
    entries: list[Entry] = []
    for path in files:
        if path.name == SYNONYMS_FILE:
            continue
        if path.suffix == ".csv":
            entries.extend(_read_csv(path, problems))
        else:
            entries.extend(_read_yaml(path, problems))
    synonyms = _read_synonyms(root / SYNONYMS_FILE, problems)
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in seen:
            problems.append(Problem(entry.origin, f"duplicate id {entry.id!r} (first at {seen[entry.id].origin})"))
        else:
            seen[entry.id] = entry
    if not entries and not any(p.severity == "error" for p in problems):
        problems.append(Problem(Origin(str(root)), "no FAQ entries found (*.yaml, *.csv)"))
    problems.sort(key=lambda p: (p.origin.path, p.origin.line))
    return Faq(entries=tuple(seen.values()), synonyms=synonyms, source=str(root)), problems


def read_text(path: Path, problems: list[Problem]) -> str | None:
    """The file as text (a UTF-8 BOM is allowed), or None with a problem saying where it is not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(Origin(str(path), 1), f"cannot read the file: {exc.strerror or exc}"))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.append(Problem(Origin(str(path), line), "not UTF-8 text (save the file as UTF-8)"))
        return None
    if "\x00" in text:
        problems.append(Problem(Origin(str(path), text.count("\n", 0, text.index("\x00")) + 1), "NUL character in text"))
        return None
    if not text.strip():
        problems.append(Problem(Origin(str(path), 1), "empty file"))
        return None
    return text


def _parse_yaml(path: Path, problems: list[Problem]) -> Any:
    text = read_text(path, problems)
    if text is None:
        return None
    loader = None
    try:
        loader = _LineLoader(text)
        data = loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        problems.append(Problem(Origin(str(path), line), f"character {exc.character!r} is not allowed in YAML"))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        why = exc.problem or exc.context
        if exc.problem and exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            why += f", {exc.context} that starts at line {exc.context_mark.line + 1}"
        problems.append(Problem(Origin(str(path), line), f"bad YAML: {why} (check the indentation and quoting)"))
        return None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        problems.append(Problem(Origin(str(path), 1), f"bad YAML: {exc}"))
        return None
    finally:
        if loader is not None:
            loader.dispose()
    for line, key in loader.duplicate_keys:
        problems.append(Problem(Origin(str(path), line), f"key {key!r} given twice in the same mapping"))
    return data


def _keys(raw: dict) -> list[str]:
    return sorted(str(k) for k in raw if k != LINE)


def _read_yaml(path: Path, problems: list[Problem]) -> list[Entry]:
    data = _parse_yaml(path, problems)
    if data is None:
        return []
    where = Origin(str(path), data.get(LINE, 1) if isinstance(data, dict) else 1)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        problems.append(Problem(where, "expected a mapping with 'topic:' and an 'entries:' list"))
        return []
    for key in sorted(set(_keys(data)) - FILE_KEYS):
        problems.append(Problem(where, f"unknown key {key!r} at the top of the file (expected topic, entries)"))
    topic = data.get("topic", path.stem)
    if not isinstance(topic, str) or not topic.strip():
        problems.append(Problem(where, "'topic' must be a non-empty name"))
        topic = path.stem
    entries = []
    for raw in data["entries"]:
        entry = _entry_from_yaml(raw, topic.strip(), path, data["entries"].line, problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry_from_yaml(raw: Any, topic: str, path: Path, line: int, problems: list[Problem]) -> Entry | None:
    if not isinstance(raw, dict):
        problems.append(Problem(Origin(str(path), line), "each item of 'entries' must be a mapping (id:, zh:, en:, ...)"))
        return None
    origin = Origin(str(path), raw.get(LINE, line))
    before = len(problems)
    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not ID_RE.match(entry_id.strip()):
        problems.append(Problem(origin, f"'id' must be a name made of letters, digits, '-', '_' or '.', got {entry_id!r}"))
        return None
    entry_id = entry_id.strip()
    name = f"entry {entry_id!r}"
    for key in sorted(set(_keys(raw)) - ENTRY_KEYS):
        problems.append(Problem(origin, f"{name}: unknown key {key!r} (expected one of {', '.join(sorted(ENTRY_KEYS))})"))
    texts: dict[str, LangText] = {}
    for lang in LANGS:
        if lang in raw:
            text = _text_from_yaml(raw[lang], name, lang, origin, problems)
            if text is not None:
                texts[lang] = text
    if not any(lang in raw for lang in LANGS):
        problems.append(Problem(origin, f"{name} has no text: give 'zh:' and 'en:'"))
    reviewed = parse_date(raw.get("reviewed"))
    if reviewed is False:
        problems.append(Problem(origin, f"{name}: 'reviewed' must be a date like 2026-01-31, got {raw.get('reviewed')!r}"))
    handoff = raw.get("handoff", False)
    if handoff is None:
        handoff = False
    if not isinstance(handoff, bool):
        problems.append(Problem(origin, f"{name}: 'handoff' must be true or false, got {handoff!r}"))
    lists = {k: str_list(raw.get(k), f"{name}: '{k}'", origin, problems) for k in ("facts", "sources", "related")}
    check_list_items(lists, name, origin, problems)
    if any(p.severity == "error" for p in problems[before:]):
        return None
    return Entry(id=entry_id, texts=texts, topic=topic, reviewed=reviewed or None, handoff=handoff, origin=origin, **lists)


def parse_date(value: Any) -> dt.date | bool | None:
    """A date from YAML or CSV; None when absent, False when it is not a valid date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return False
    return False


def check_list_items(lists: dict[str, tuple[str, ...]], name: str, origin: Origin, problems: list[Problem]) -> None:
    """Lists are written space-separated in CSV, so no item may hold a space; sources must be links."""
    for key, items in lists.items():
        for item in items:
            if key == "sources" and not URL_RE.match(item):
                problems.append(Problem(origin, f"{name}: source {item!r} is not an http(s) link"))
            elif key != "sources" and not ID_RE.match(item):
                problems.append(Problem(origin, f"{name}: {key} item {item!r} is not a plain id"))


def _text_from_yaml(raw: Any, name: str, lang: str, origin: Origin, problems: list[Problem]) -> LangText | None:
    if not isinstance(raw, dict):
        what = "is empty" if raw is None else "must be a mapping"
        problems.append(Problem(origin, f"{name}: '{lang}' {what} (give question, answer, phrasings)"))
        return None
    where = Origin(origin.path, raw.get(LINE, origin.line))
    for key in sorted(set(_keys(raw)) - TEXT_KEYS):
        problems.append(Problem(where, f"{name}: unknown key {lang}.{key} (expected question, answer, phrasings)"))
    values = {}
    for key in ("question", "answer"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(where, f"{name}: missing or empty {lang}.{key} (text)"))
        else:
            values[key] = value.strip()
    phrasings = str_list(raw.get("phrasings"), f"{name}: {lang}.phrasings", where, problems)
    if len(values) < 2:
        return None
    return LangText(question=values["question"], answer=values["answer"], phrasings=phrasings)


def str_list(value: Any, what: str, origin: Origin, problems: list[Problem]) -> tuple[str, ...]:
    """A list of non-empty strings; numbers and yes/no are refused because YAML would change them (3.10 -> 3.1)."""
    if value is None:
        return ()
    line = getattr(value, "line", origin.line)
    if not isinstance(value, list):
        problems.append(Problem(Origin(origin.path, line), f"{what} must be a list, got {type(value).__name__}"))
        return ()
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        problems.append(Problem(Origin(origin.path, line), f"{what}: {bad[0]!r} is not text (put it in double quotes)"))
        return ()
    return tuple(s for s in (v.strip() for v in value) if s)


def _read_csv(path: Path, problems: list[Problem]) -> list[Entry]:
    """One row per phrasing; an entry's first row per language is its title, its answer may be on that row only."""
    text = read_text(path, problems)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: dict[str, list[tuple[int, dict[str, str]]]] = {}
    try:
        header = [h.strip().lower() for h in next(reader)]
        for problem in _csv_header_problems(header, path):
            problems.append(problem)
            if problem.severity == "error":
                return []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                problems.append(Problem(Origin(str(path), line), f"{len(cells)} fields but the header has {len(header)}"))
                continue
            row = {h: c.strip() for h, c in zip(header, cells, strict=False)}
            if not ID_RE.match(row.get("id", "")):
                bad_id = f"id must be a name of letters, digits, '-', '_', '.', got {row.get('id')!r}"
                problems.append(Problem(Origin(str(path), line), bad_id))
                continue
            rows.setdefault(row["id"], []).append((line, row))
    except csv.Error as exc:
        problems.append(Problem(Origin(str(path), reader.line_num or 1), f"bad CSV: {exc}"))
        return []
    return [e for e in (_entry_from_csv(i, r, path, problems) for i, r in rows.items()) if e is not None]


def _csv_header_problems(header: list[str], path: Path) -> list[Problem]:
    where = Origin(str(path), 1)
    found = []
    if len(set(header)) < len(header):
        found.append(Problem(where, "a column name appears twice in the header"))
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        found.append(Problem(where, f"missing column(s) {', '.join(missing)} (need {','.join(CSV_REQUIRED)})"))
    for extra in [h for h in header if h not in CSV_REQUIRED + CSV_OPTIONAL]:
        found.append(Problem(where, f"unknown column {extra!r} is ignored (optional: {','.join(CSV_OPTIONAL)})", "warning"))
    return found


def _entry_from_csv(entry_id: str, rows: list[tuple[int, dict[str, str]]], path: Path, problems: list[Problem]) -> Entry | None:
    origin = Origin(str(path), rows[0][0])
    name = f"entry {entry_id!r}"
    before = len(problems)
    by_lang: dict[str, list[tuple[int, dict[str, str]]]] = {}
    meta: dict[str, str] = {}
    for line, row in rows:
        where = Origin(str(path), line)
        lang = row.get("lang", "").lower()
        if lang not in LANGS:
            problems.append(Problem(where, f"{name}: lang must be one of {', '.join(LANGS)}, not {lang!r}"))
            continue
        if not row.get("question"):
            problems.append(Problem(where, f"{name}: empty question"))
            continue
        by_lang.setdefault(lang, []).append((line, row))
        for key in CSV_META:
            value = row.get(key, "")
            if value and meta.setdefault(key, value) != value:
                problems.append(Problem(where, f"{name}: {key} {value!r} differs from an earlier row ({meta[key]!r})"))
    texts = {}
    for lang in (lang for lang in LANGS if lang in by_lang):
        lang_rows = by_lang[lang]
        answers = list(dict.fromkeys(r["answer"] for _, r in lang_rows if r.get("answer")))
        where = Origin(str(path), lang_rows[0][0])
        if not answers:
            problems.append(Problem(where, f"{name}: no {lang} answer (put it on the entry's first {lang} row)"))
        elif len(answers) > 1:
            problems.append(Problem(where, f"{name}: different {lang} answers on different rows (give it once)"))
        else:
            questions = [r["question"] for _, r in lang_rows]
            texts[lang] = LangText(question=questions[0], answer=answers[0], phrasings=tuple(questions[1:]))
    reviewed = parse_date(meta.get("reviewed"))
    if reviewed is False:
        problems.append(Problem(origin, f"{name}: reviewed must be a date like 2026-01-31, got {meta['reviewed']!r}"))
    handoff = meta.get("handoff", "false").lower()
    if handoff not in ("true", "false", "yes", "no", "1", "0"):
        problems.append(Problem(origin, f"{name}: handoff must be true or false, got {meta['handoff']!r}"))
    lists = {k: tuple(meta.get(k, "").split()) for k in ("facts", "sources", "related")}
    check_list_items(lists, name, origin, problems)
    if any(p.severity == "error" for p in problems[before:]) or not texts:
        return None
    return Entry(
        id=entry_id, texts=texts, topic=meta.get("topic", path.stem), reviewed=reviewed or None,
        handoff=handoff in ("true", "yes", "1"), origin=origin, **lists,
    )


def _read_synonyms(path: Path, problems: list[Problem]) -> tuple[tuple[str, ...], ...]:
    """Synonym groups; a word in two groups is an error since the matcher could not know which to use."""
    if not path.exists():
        return ()
    data = _parse_yaml(path, problems)
    if data is None:
        return ()
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        problems.append(Problem(Origin(str(path), 1), "expected a mapping with a 'groups:' list of word lists"))
        return ()
    for key in sorted(set(_keys(data)) - {"groups"}):
        problems.append(Problem(Origin(str(path), data[LINE]), f"unknown key {key!r} (expected groups)"))
    result = []
    first_seen: dict[str, int] = {}
    for i, group in enumerate(groups, 1):
        line = getattr(group, "line", groups.line + i - 1)
        words = str_list(group, f"synonym group {i}", Origin(str(path), line), problems)
        if len(set(words)) < 2:
            problems.append(Problem(Origin(str(path), line), f"synonym group {i} must list at least two different words"))
            continue
        for word in words:
            key = normalize(word)
            if key in first_seen and first_seen[key] != line:
                problems.append(Problem(Origin(str(path), line), f"{word!r} is also in the group at line {first_seen[key]}"))
            first_seen.setdefault(key, line)
        result.append(tuple(dict.fromkeys(words)))
    return tuple(result)


def iter_phrasings(faq: Faq) -> Iterable[tuple[Entry, str, str]]:
    """Yield (entry, lang, text) for every title and phrasing in the FAQ."""
    for entry in faq.entries:
        for lang, text in entry.texts.items():
            for q in text.all_questions:
                yield entry, lang, q
