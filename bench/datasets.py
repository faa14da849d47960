"""Public intent data sets turned into FAQs through the CSV import, plus their labelled questions.

Every intent becomes one FAQ entry and its training utterances its phrasings, written as
a temporary `id,lang,question,answer` CSV and read back with `load_faq`, so the benchmark
exercises the same loader the administrators' sheets go through.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import tempfile
from collections import defaultdict
from pathlib import Path

from bot.faq.evaluate import Query
from bot.faq.loader import load_faq
from bot.faq.model import Faq

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def intent_id(intent: str) -> str:
    """An FAQ id for an intent name (ids are letters, digits, '-', '_', '.'; BANKING77 has "reverted_card_payment?")."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", intent)


def faq_from_pairs(pairs: list[tuple[str, str]], lang: str = "en") -> Faq:
    """Write (text, intent) pairs as an FAQ CSV in a temporary directory and load it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "intents.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["id", "lang", "question", "answer"])
            seen: set[str] = set()
            for text, intent in pairs:
                intent = intent_id(intent)
                answer = "" if intent in seen else f"(answer for {intent})"
                seen.add(intent)
                out.writerow([intent, lang, text, answer])
        return load_faq(tmp)


def _per_intent(pairs: list[tuple[str, str]], shots: int | None) -> list[tuple[str, str]]:
    if shots is None:
        return pairs
    kept: dict[str, int] = defaultdict(int)
    out = []
    for text, intent in pairs:
        if kept[intent] < shots:
            kept[intent] += 1
            out.append((text, intent))
    return out


def clinc(shots: int | None = None) -> tuple[Faq, list[Query]]:
    """CLINC150: FAQ from `train` (or its first `shots` per intent), questions from `val` + `oos_val`."""
    data = json.loads((DATA / "clinc150" / "clinc150_dev.json").read_text(encoding="utf-8"))
    faq = faq_from_pairs(_per_intent([(t, i) for t, i in data["train"]], shots))
    queries = [Query(t, intent_id(i)) for t, i in data["val"]] + [Query(t, None) for t, _ in data["oos_val"]]
    return faq, queries


def _banking_rows(name: str) -> list[tuple[str, str]]:
    with (DATA / "banking77" / name).open(encoding="utf-8", newline="") as fh:
        return [(r["text"], r["category"]) for r in csv.DictReader(fh)]


def banking(shots: int | None = None, holdout: float = 0.2, seed: int = 4) -> tuple[Faq, list[Query]]:
    """BANKING77 development split: a seeded `holdout` share of `train` becomes the questions.

    The official test split is not used for tuning; `banking_test` reports on it once.
    """
    rows = _banking_rows("train.csv")
    rng = random.Random(seed)
    rng.shuffle(rows)
    cut = int(len(rows) * holdout)
    held, kept = rows[:cut], rows[cut:]
    faq = faq_from_pairs(_per_intent(kept, shots))
    return faq, [Query(t, intent_id(i)) for t, i in held]


def banking_test(shots: int | None = None) -> tuple[Faq, list[Query]]:
    """BANKING77 as published: FAQ from all of `train`, questions from `test` (report only, never tune)."""
    faq = faq_from_pairs(_per_intent(_banking_rows("train.csv"), shots))
    return faq, [Query(t, intent_id(i)) for t, i in _banking_rows("test.csv")]


def scale_pairs(n: int) -> list[tuple[str, str]]:
    """`n` phrasings spread evenly over CLINC150 train+val and BANKING77 train+test (cycled, marked, beyond ~31,000)."""
    data = json.loads((DATA / "clinc150" / "clinc150_dev.json").read_text(encoding="utf-8"))
    pool = [(t, "clinc_" + i) for t, i in data["train"] + data["val"]]
    pool += [(t, "bank_" + i) for t, i in _banking_rows("train.csv") + _banking_rows("test.csv")]
    if n > len(pool):  # cycle with a marker so every phrasing stays distinct
        pool = [(f"{t} v{k}" if k else t, i) for k in range(n // len(pool) + 1) for t, i in pool]
    step = len(pool) / n  # spread over all intents rather than the first few
    return [pool[int(i * step)] for i in range(n)]


PATENT_QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "patent_questions.jsonl"
PATENT_FAQ = Path(__file__).resolve().parents[1] / "faq"


def patent_half(text: str) -> str:
    """'dev' or 'heldout' for one patent question: a seeded hash of its text, so the split does
    not move when questions are added to or reordered in the file (docs/matcher.md)."""
    digest = hashlib.sha256(f"patent-split-2026:{text}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "heldout"


def patent(half: str | None = None) -> tuple[Faq, list[Query]]:
    """The shipped FAQ and its labelled questions: all, or the 'dev' (tuning) or 'heldout' (report) half."""
    from bot.faq.evaluate import read_queries

    queries = read_queries(PATENT_QUESTIONS)
    if half is not None:
        queries = [q for q in queries if patent_half(q.text) == half]
    return load_faq(PATENT_FAQ), queries
