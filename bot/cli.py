"""The `helpdesk` command line: one parser, sub-commands delegated to the modules that own them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.config import ConfigError, Settings, load_settings

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Build the whole command tree; each feature module adds its own sub-commands."""
    from bot.commands import add_core_commands
    from bot.faq.admin_cli import add_faq_admin_commands
    from bot.faq.eval_cli import add_ask_command, add_faq_eval_command

    parser = argparse.ArgumentParser(
        prog="helpdesk",
        description="Patent helpdesk bot for SMEs: web chat, staff console and (with a token) Telegram.",
    )
    parser.add_argument(
        "-c", "--config", metavar="FILE",
        help="TOML config file (default: $HELPDESK_CONFIG, else ./config.toml if present, else built-in defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_core_commands(sub)
    add_ask_command(sub)
    faq = sub.add_parser("faq", help="check, export and evaluate the FAQ")
    faq_sub = faq.add_subparsers(dest="faq_command", metavar="ACTION")
    faq.set_defaults(func=lambda args: _print_help(faq))
    add_faq_admin_commands(faq_sub)
    add_faq_eval_command(faq_sub)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Load the settings named by `--config` (cached on the namespace)."""
    if getattr(args, "_settings", None) is None:
        args._settings = load_settings(args.config)
    return args._settings


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; configuration errors print one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        return _print_help(parser)
    try:
        return func(args)
    except ConfigError as exc:
        print(f"helpdesk: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
