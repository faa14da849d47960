"""`helpdesk faq check` and `helpdesk faq export`: the administrators' tools for the FAQ files.

Problems go to stdout one per line (`file:line: error|warning: message`) so editors and
CI can jump to them; the summary goes to stderr so it never pollutes that list.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from bot.faq.check import check_dir
from bot.faq.export import write_csv
from bot.faq.loader import FaqError, load_faq


def add_faq_admin_commands(sub: argparse._SubParsersAction) -> None:
    """Add `faq check` and `faq export` to the `faq` sub-command."""
    check = sub.add_parser("check", help="validate the FAQ files; exit 1 on errors, 0 when only warnings")
    check.add_argument("dir", nargs="?", metavar="DIR", help="FAQ directory (default: faq.dir from the config)")
    check.add_argument("-q", "--quiet", action="store_true", help="print errors only, not warnings")
    check.add_argument("--today", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                       help="judge review dates as of this day (default: today), for reproducible CI runs")
    check.set_defaults(func=run_check)
    export = sub.add_parser("export", help="write the whole FAQ as one CSV sheet (re-importable)")
    export.add_argument("--csv", action="store_true", required=True, help="CSV format (the only one so far)")
    export.add_argument("--faq", metavar="DIR", help="FAQ directory (default: faq.dir from the config)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    export.set_defaults(func=run_export)


def _faq_dir(args: argparse.Namespace, given: str | None) -> Path:
    if given:
        return Path(given)
    from bot.cli import settings_from  # late: bot.cli imports this module to build the parser

    return settings_from(args).faq_path


def run_check(args: argparse.Namespace) -> int:
    """Print every problem, then the summary; exit 1 when there is any error."""
    report = check_dir(_faq_dir(args, args.dir), args.today)
    for problem in report.problems:
        if problem.severity == "error" or not args.quiet:
            print(problem)
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def run_export(args: argparse.Namespace) -> int:
    """Export what the loader reads; refuse (exit 1) when the files do not load at all."""
    try:
        faq = load_faq(_faq_dir(args, args.faq))
    except FaqError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"not exported: {len(exc.problems)} errors", file=sys.stderr)
        return 1
    if not args.output:
        try:
            write_csv(faq, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader has what it wanted; say nothing more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            rows = write_csv(faq, out)
    except OSError as exc:
        print(f"{args.output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{len(faq)} entries, {rows} rows written to {args.output}", file=sys.stderr)
    return 0
