"""The core sub-commands: run, db upgrade, staff add|list|remove."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings


def add_core_commands(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the helpdesk: web chat and console (and Telegram when a token is set)")
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply the schema migrations (also done automatically at start)")
    up.set_defaults(func=cmd_db_upgrade)
    db.set_defaults(func=lambda args: (db.print_help(), 2)[1])

    staff = sub.add_parser("staff", help="staff console accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", metavar="ACTION")
    add = staff_sub.add_parser("add", help="create an account (the password is asked for, or read from $HELPDESK_PASSWORD)")
    add.add_argument("username")
    add.add_argument("--role", choices=("staff", "admin"), default="staff")
    add.add_argument("--name", default="", help="display name shown to colleagues")
    add.add_argument("--telegram-id", type=int, help="the person's Telegram user id, to act in the staff group")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_staff_add)
    ls = staff_sub.add_parser("list", help="list active accounts")
    ls.set_defaults(func=cmd_staff_list)
    rm = staff_sub.add_parser("remove", help="deactivate an account (its ticket history stays)")
    rm.add_argument("username")
    rm.set_defaults(func=cmd_staff_remove)
    staff.set_defaults(func=lambda args: (staff.print_help(), 2)[1])


def _settings(args: argparse.Namespace) -> Settings:
    from bot.cli import settings_from

    return settings_from(args)


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.general.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the main job until interrupted."""
    from bot.runtime import serve

    settings = _settings(args)
    setup_logging(settings)

    async def main() -> int:
        await serve(settings)
        return 0

    return _one_line_errors(main, "cannot start: ", lambda exc: _describe_os_error(exc, settings))


def _describe_os_error(exc: OSError, settings: Settings) -> str:
    if "address already in use" in str(exc).lower():
        return f"port {settings.web.port} on {settings.web.host} is in use (set web.port or HELPDESK_WEB_PORT)"
    if "connect" in str(exc).lower():
        return f"the database is unreachable: {exc.strerror or exc}"
    return str(exc)


def _with_db(args: argparse.Namespace, work) -> int:
    """Open the database (migrated), run `work(sessions)`, and turn known errors into one line."""
    from bot.db.engine import make_engine, make_sessionmaker
    from bot.db.migrate import upgrade

    settings = _settings(args)

    async def main() -> int:
        engine = make_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await work(make_sessionmaker(engine)) or 0
        finally:
            await engine.dispose()

    return _one_line_errors(main, "", lambda exc: f"the database is unreachable: {exc.strerror or exc}")


def _one_line_errors(main: Callable[[], Awaitable[int]], prefix: str, os_error: Callable[[OSError], str]) -> int:
    """Run `main()`; known failures (bad state, database away, port taken) become one line and exit 1."""
    from bot.db.migrate import SchemaError
    from bot.errors import HelpdeskError
    from bot.services import StartupError

    try:
        return asyncio.run(main()) or 0
    except (HelpdeskError, StartupError, SchemaError) as exc:
        message = str(exc)
    except OSError as exc:
        message = os_error(exc)
    except SQLAlchemyError as exc:
        message = f"database error: {_first_line(exc)}"
    print(f"helpdesk: {prefix}{message}", file=sys.stderr)
    return 1


def _first_line(exc: SQLAlchemyError) -> str:
    """The driver's own message, first line only (SQLAlchemy appends the statement and a link)."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0][:300] if str(orig).strip() else type(orig).__name__


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    async def work(_sessions) -> int:
        print("database schema is up to date")
        return 0

    return _with_db(args, work)


def cmd_staff_add(args: argparse.Namespace) -> int:
    from bot.staff_accounts import add_staff

    password = os.environ.get("HELPDESK_PASSWORD")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        if not sys.stdin.isatty():
            print("helpdesk: give the password on a terminal, with --password-stdin or in $HELPDESK_PASSWORD", file=sys.stderr)
            return 2
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat: "):
            print("helpdesk: the passwords differ", file=sys.stderr)
            return 1

    async def work(sessions) -> int:
        staff = await add_staff(sessions, args.username, password, args.role, args.name, args.telegram_id)
        print(f"added {staff.role} {staff.username}")
        return 0

    return _with_db(args, work)


def cmd_staff_list(args: argparse.Namespace) -> int:
    from bot.staff_accounts import list_staff

    async def work(sessions) -> int:
        for s in await list_staff(sessions):
            tg = f" telegram:{s.telegram_user_id}" if s.telegram_user_id else ""
            print(f"{s.username}\t{s.role}\t{s.display_name}{tg}")
        return 0

    return _with_db(args, work)


def cmd_staff_remove(args: argparse.Namespace) -> int:
    from bot.staff_accounts import remove_staff

    async def work(sessions) -> int:
        await remove_staff(sessions, args.username)
        print(f"removed {args.username}")
        return 0

    return _with_db(args, work)
