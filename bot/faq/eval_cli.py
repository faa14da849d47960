"""Placeholder for `helpdesk ask` and `helpdesk faq eval` (issue 4)."""

from __future__ import annotations

import argparse


def add_ask_command(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("ask", help="(not built yet) show how the bot would answer a question")


def add_faq_eval_command(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("eval", help="(not built yet) score the matcher on labelled questions")
