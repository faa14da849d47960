"""The error handler: log what failed (never the token), tell the user briefly, never show a traceback.

A database outage is different from a bug: the update is kept in the inbox and tried again later,
so the handler flags it (`RETRY`) instead of telling the user something went wrong.
"""

from __future__ import annotations

import logging
import traceback
from contextvars import ContextVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from handlers.context import CustomContext
from handlers.phrases import lang_of, p

log = logging.getLogger("handlers.errors")

# Set by the error handler when the update should be processed again later (see telegram_app.process).
RETRY: ContextVar[list[BaseException] | None] = ContextVar("telegram_retry", default=None)


# PostgreSQL SQLSTATEs that mean "try again later", not "this update is bad": connection exceptions
# (08), insufficient resources such as too many connections (53), operator intervention such as a
# shutdown or restart (57P), serialization failure and deadlock (40001, 40P01).
_AWAY_SQLSTATES = ("08", "53", "57P", "40001", "40P01")


def retryable(error: BaseException) -> bool:
    """The database (or its connection) is away, as opposed to a bad value that will fail again."""
    if isinstance(error, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    if state.startswith(_AWAY_SQLSTATES):
        return True
    # 55000 is a broad class; only "database ... is not currently accepting connections" is an outage.
    return state == "55000" and "accepting connections" in str(orig)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


async def on_error(update: object, context: CustomContext) -> None:
    """Log the failure with the token removed; a user in a private chat hears a short apology."""
    error = context.error
    if error is None:
        return
    tg = context.services.settings.telegram
    secrets = [tg.token, tg.webhook_secret]
    retry = RETRY.get()
    if retry is not None and retryable(error):
        retry.append(error)
        log.warning("update will be retried: %s", redact(f"{type(error).__name__}: {error}", secrets))
        return
    detail = redact("".join(traceback.format_exception(error)), secrets)
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed:\n%s", update_id, detail)
    if not isinstance(update, Update):
        return
    lang = lang_of(update.effective_user.language_code if update.effective_user else None)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(p("error", lang), show_alert=True)
        elif update.effective_chat is not None and update.effective_chat.type == "private":
            await context.bot.send_message(update.effective_chat.id, p("error", lang), parse_mode=ParseMode.HTML)
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", redact(str(exc), secrets))
