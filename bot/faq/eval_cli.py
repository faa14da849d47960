"""`helpdesk ask` and `helpdesk faq eval`: argparse glue around the matcher and `bot.faq.evaluate`.

Every failure an administrator can cause (missing directory, broken FAQ, bad JSONL line)
prints what to fix on stderr and exits 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from bot.faq.evaluate import OUTCOMES, Miss, QueryFileError, Report, evaluated, misses, read_queries
from bot.faq.loader import FaqError, load_faq
from bot.faq.matcher import Decision, Matcher


def add_ask_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="show how the bot would answer a question",
                       description="Run the matcher on one question (or one per stdin line with --jsonl).")
    p.add_argument("--faq", metavar="DIR", help="FAQ directory (default: the configured one)")
    p.add_argument("--lang", choices=("zh", "en"), help="the user's chosen language (default: detected)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the decision as one JSON object")
    out.add_argument("--jsonl", action="store_true",
                     help='questions on stdin, one per line (plain text or {"text": ...}); one JSON object per output line')
    p.add_argument("text", nargs="?", metavar="TEXT", help="the question")
    p.set_defaults(func=run_ask)


def add_faq_eval_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score the matcher on labelled questions",
                       description='FILE is JSONL: {"text": str, "expected": entry id or null (out of scope)} per line.')
    p.add_argument("--faq", metavar="DIR", help="FAQ directory (default: the configured one)")
    p.add_argument("--queries", metavar="FILE", required=True, help="labelled questions (JSONL)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--misses", action="store_true",
                   help="also list every question not handled as labelled (wrong answers first)")
    p.set_defaults(func=run_eval)


def _matcher(args: argparse.Namespace) -> Matcher | None:
    from bot.cli import settings_from  # late: bot.cli imports this module

    settings = settings_from(args)
    directory = Path(args.faq) if args.faq else settings.faq_path
    try:
        faq = load_faq(directory)
    except FaqError as exc:
        print(f"helpdesk: cannot load the FAQ in {directory}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None
    return Matcher.build(faq, settings.matcher)


def run_ask(args: argparse.Namespace) -> int:
    """Print the matcher's decision for one question, or for every stdin line with --jsonl."""
    if args.jsonl and args.text is not None:
        print("helpdesk ask: give TEXT or --jsonl (questions on stdin), not both", file=sys.stderr)
        return 2
    if not args.jsonl and args.text is None:
        print("helpdesk ask: missing the question (TEXT), or use --jsonl to read questions from stdin", file=sys.stderr)
        return 2
    matcher = _matcher(args)
    if matcher is None:
        return 2
    if args.jsonl:
        return _ask_lines(matcher, sys.stdin, args.lang)
    decision = matcher.decide(args.text, args.lang)
    if args.json:
        print(json.dumps(decision.to_json(), ensure_ascii=False))
    else:
        print(format_decision(decision))
    return 0


def _ask_lines(matcher: Matcher, stream: TextIO, lang: str | None) -> int:
    for line in stream:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if text.lstrip().startswith("{"):
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                text = obj["text"]
        print(json.dumps(matcher.decide(text, lang).to_json(), ensure_ascii=False), flush=True)
    return 0


def format_decision(d: Decision) -> str:
    """A short human-readable account: the action, the answer if any, and the top guesses."""
    lines = [f"question: {d.query}", f"language: {d.lang}", f"action:   {d.action} (score {d.score:.1f})"]
    if d.action == "answer":
        lines += [f"entry:    {d.entry_id}", "answer:", *(f"  {line}" for line in (d.answer or "").splitlines())]
    if d.suggestions:
        lines.append("top guesses:")
        lines += [f"  {i}. {s.entry_id}  {s.score:5.1f}  {s.question}" for i, s in enumerate(d.suggestions, 1)]
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    """Score the matcher on a labelled JSONL file and print the figures."""
    try:
        queries = read_queries(args.queries)
    except QueryFileError as exc:
        print(f"helpdesk faq eval: {exc}", file=sys.stderr)
        return 2
    matcher = _matcher(args)
    if matcher is None:
        return 2
    report, decisions = evaluated(matcher, queries)
    missed = sorted(misses(queries, decisions), key=lambda m: OUTCOMES.index(m.outcome)) if args.misses else []
    if args.json:
        out = report.to_json()
        if args.misses:
            out["misses"] = [m.to_json() for m in missed]
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(format_report(report))
        if args.misses:
            print(format_misses(missed))
    if report.unknown_expected:
        print(f"warning: expected ids not in the FAQ: {', '.join(report.unknown_expected)}", file=sys.stderr)
    return 0


def format_misses(missed: list[Miss]) -> str:
    """One line per miss: outcome, score, expected -> best guess, the question (shortened)."""
    if not missed:
        return "\nmisses: none"
    lines = [f"\nmisses ({len(missed)}):"]
    for m in missed:
        text = " ".join(m.query.text.split())  # one line per miss, whatever the question's line breaks
        text = text if len(text) <= 80 else text[:79] + "…"
        lines.append(f"  {m.outcome:<27} {m.decision.score:5.1f}  {m.query.expected or '(out of scope)'} -> "
                     f"{m.best or '-'}  | {text}")
    return "\n".join(lines)


def format_report(r: Report) -> str:
    pct = "{:6.1%}".format
    return "\n".join([
        f"questions:              {r.questions} ({r.in_scope} in scope, {r.out_of_scope} out of scope)",
        f"in-scope accuracy:      {pct(r.in_scope_accuracy)}  (answered with the right entry)",
        f"top-1 accuracy:         {pct(r.top1_accuracy)}  (right entry ranked first, any action)",
        f"out-of-scope recall:    {pct(r.oos_recall)}  (escalated; answered: {pct(r.oos_answered).strip()})",
        f"suggest rate:           {pct(r.suggest_rate)}  (right entry among them: {pct(r.suggest_with_right).strip()}, "
        f"not: {pct(r.suggest_without_right).strip()})",
        f"wrong-answer rate:      {pct(r.wrong_answer_rate)}",
        f"latency p50 / p99:      {r.latency_p50_ms:.2f} / {r.latency_p99_ms:.2f} ms",
    ])
