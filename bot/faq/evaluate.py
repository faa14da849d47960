"""Score a matcher on labelled questions: the figures `helpdesk faq eval` and the benchmarks print.

Pure functions over a `Matcher` and a list of `Query`, so the CLI, the benchmarks and the
tests all compute the same numbers the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.faq.matcher import Decision, Matcher


@dataclass(frozen=True)
class Query:
    """One labelled question; `expected` None means out of scope (should be escalated)."""

    text: str
    expected: str | None
    lang: str | None = None


class QueryFileError(Exception):
    """A labelled-questions file cannot be read; the message is `file:line: what is wrong`."""


def read_queries(path: str | Path) -> list[Query]:
    """Read JSONL lines `{"text": str, "expected": id | null}` (blank lines skipped)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QueryFileError(f"{p}: file not found") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise QueryFileError(f"{p}: cannot read: {exc}") from None
    return list(parse_queries(lines, str(p)))


def parse_queries(lines: Iterable[str], name: str = "<input>") -> Iterable[Query]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QueryFileError(f"{name}:{n}: not valid JSON: {exc.msg}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise QueryFileError(f'{name}:{n}: expected an object with "text" (a string) and "expected" (an id or null)')
        expected = obj.get("expected")
        if expected is not None and not isinstance(expected, str):
            raise QueryFileError(f'{name}:{n}: "expected" must be an entry id (string) or null')
        lang = obj.get("lang")
        if lang is not None and lang not in ("zh", "en"):
            raise QueryFileError(f'{name}:{n}: "lang" must be "zh" or "en"')
        yield Query(obj["text"], expected, lang)


@dataclass(frozen=True)
class Report:
    """The evaluation figures; rates are fractions of the group named in the docstring of `evaluate`."""

    questions: int
    in_scope: int
    out_of_scope: int
    in_scope_accuracy: float
    top1_accuracy: float
    oos_recall: float
    oos_answered: float
    suggest_rate: float
    suggest_with_right: float
    suggest_without_right: float
    wrong_answer_rate: float
    escalated_in_scope: float
    latency_p50_ms: float
    latency_p99_ms: float
    unknown_expected: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["unknown_expected"] = list(self.unknown_expected)
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def run(matcher: Matcher, queries: Sequence[Query]) -> tuple[list[Decision], list[float]]:
    """Decide every question, timing each call (seconds)."""
    decisions, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        decisions.append(matcher.decide(q.text, q.lang))
        times.append(time.perf_counter() - t0)
    return decisions, times


def summarize(queries: Sequence[Query], decisions: Sequence[Decision], times: Sequence[float], known: set[str]) -> Report:
    """Figures from decisions already made.

    in_scope_accuracy: in-scope questions answered with the right entry. top1_accuracy:
    in-scope questions whose best guess is right, whatever the action. oos_recall:
    out-of-scope questions escalated; oos_answered: answered (the dangerous case).
    suggest_*: share of all questions that got choices, split by whether the right entry
    was among them (out-of-scope ones count as "without"). wrong_answer_rate: all
    questions answered with a wrong entry or answered although out of scope.
    """
    n = len(queries)
    ins = [(q, d) for q, d in zip(queries, decisions, strict=True) if q.expected is not None]
    oos = [d for q, d in zip(queries, decisions, strict=True) if q.expected is None]
    suggest = [(q, d) for q, d in zip(queries, decisions, strict=True) if d.action == "suggest"]
    with_right = sum(1 for q, d in suggest if q.expected in {s.entry_id for s in d.suggestions})
    wrong = sum(1 for q, d in zip(queries, decisions, strict=True) if d.action == "answer" and d.entry_id != q.expected)
    unknown = sorted({q.expected for q, _ in ins} - known)
    return Report(
        questions=n,
        in_scope=len(ins),
        out_of_scope=len(oos),
        in_scope_accuracy=_share(sum(d.action == "answer" and d.entry_id == q.expected for q, d in ins), len(ins)),
        top1_accuracy=_share(sum(bool(d.suggestions) and d.suggestions[0].entry_id == q.expected for q, d in ins), len(ins)),
        oos_recall=_share(sum(d.action == "escalate" for d in oos), len(oos)),
        oos_answered=_share(sum(d.action == "answer" for d in oos), len(oos)),
        suggest_rate=_share(len(suggest), n),
        suggest_with_right=_share(with_right, n),
        suggest_without_right=_share(len(suggest) - with_right, n),
        wrong_answer_rate=_share(wrong, n),
        escalated_in_scope=_share(sum(d.action == "escalate" for _, d in ins), len(ins)),
        latency_p50_ms=percentile(times, 50) * 1000,
        latency_p99_ms=percentile(times, 99) * 1000,
        unknown_expected=tuple(unknown),
    )


def evaluate(matcher: Matcher, queries: Sequence[Query]) -> Report:
    """Run the matcher on every question and summarise."""
    return evaluated(matcher, queries)[0]


def evaluated(matcher: Matcher, queries: Sequence[Query]) -> tuple[Report, list[Decision]]:
    """`evaluate`, with the decisions it summarised (for `misses`)."""
    decisions, times = run(matcher, queries)
    return summarize(queries, decisions, times, {e.id for e in matcher.faq.entries}), decisions


# How a question can miss, in the order an administrator fixes them: confident mistakes first, then near misses.
OUTCOMES = ("wrong answer", "out of scope answered", "choices with the right one", "choices without it", "escalated")


@dataclass(frozen=True)
class Miss:
    """A question the matcher did not handle as labelled: `outcome` (one of OUTCOMES) says how."""

    outcome: str
    query: Query
    decision: Decision

    @property
    def best(self) -> str | None:
        """The entry answered, else the first choice: what the matcher took the question for."""
        d = self.decision
        return d.entry_id or (d.suggestions[0].entry_id if d.suggestions else None)

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "text": self.query.text, "expected": self.query.expected,
                "action": self.decision.action, "entry_id": self.best, "score": round(self.decision.score, 2)}


def misses(queries: Sequence[Query], decisions: Sequence[Decision]) -> list[Miss]:
    """Every question not handled as labelled (an out-of-scope one that is suggested counts as handled:
    the user still reaches a person), in file order; what an administrator reads to improve the FAQ."""
    out = []
    for q, d in zip(queries, decisions, strict=True):
        if q.expected is None:
            outcome = "out of scope answered" if d.action == "answer" else None
        elif d.action == "answer":
            outcome = None if d.entry_id == q.expected else "wrong answer"
        elif d.action == "suggest":
            right = q.expected in {s.entry_id for s in d.suggestions}
            outcome = "choices with the right one" if right else "choices without it"
        else:
            outcome = "escalated"
        if outcome:
            out.append(Miss(outcome, q, d))
    return out


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation, so p99 is a time that really happened)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, -(-len(ordered) * pct // 100) - 1))
    return ordered[int(k)]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
