"""Write a whole FAQ as one CSV sheet that the loader reads back to the same entries.

The sheet is for administrators who prefer a spreadsheet and for labelled data sets:
one row per title or phrasing; the entry's answer and its metadata (topic, reviewed,
facts, sources, related, handoff) sit on its first row per language only, so the
sheet stays readable and a re-import cannot meet two answers that disagree.
Synonyms are not part of the sheet: they live in `synonyms.yaml`.
"""

from __future__ import annotations

import csv
from typing import TextIO

from bot.faq.loader import CSV_OPTIONAL, CSV_REQUIRED
from bot.faq.model import LANGS, Entry, Faq

COLUMNS = (*CSV_REQUIRED, *CSV_OPTIONAL)


def write_csv(faq: Faq, out: TextIO) -> int:
    """Write every entry of `faq` to `out`; return the number of rows written (without the header)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for entry in faq.entries:
        for row in entry_rows(entry):
            writer.writerow(row)
            count += 1
    return count


def entry_rows(entry: Entry) -> list[tuple[str, ...]]:
    """The rows of one entry: per language the title (with answer and metadata), then one row per phrasing."""
    meta = (
        entry.topic, entry.reviewed.isoformat() if entry.reviewed else "", " ".join(entry.facts),
        " ".join(entry.sources), " ".join(entry.related), "true" if entry.handoff else "false",
    )
    rows = []
    for lang in (lang for lang in (*LANGS, *entry.texts) if lang in entry.texts):
        if any(r[1] == lang for r in rows):
            continue
        text = entry.texts[lang]
        rows.append((entry.id, lang, text.question, text.answer, *meta))
        rows.extend((entry.id, lang, p, "", *[""] * len(meta)) for p in text.phrasings)
    return rows
