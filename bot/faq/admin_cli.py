"""Placeholder for `helpdesk faq check|export` (issue 3)."""

from __future__ import annotations

import argparse


def add_faq_admin_commands(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("check", help="(not built yet) validate the FAQ files")
    sub.add_parser("export", help="(not built yet) export the FAQ as CSV")
