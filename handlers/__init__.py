"""Telegram handlers (issue 6). `register` is THE routing table: private SME chats, the staff group, the admin chat.

Messages in any other group are ignored (no handler matches them).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import TelegramSettings
from handlers import admin, sme, staff
from handlers.context import CustomContext
from handlers.errors import on_error
from handlers.phrases import lang_of, p

SME_COMMANDS = {"start": sme.start, "help": sme.help_command, "lang": sme.lang, "human": sme.human,
                "status": sme.status, "cancel": sme.cancel, "forget": sme.forget}


async def flood_guard(update: Update, context: CustomContext) -> None:
    """Before anything else: a private-chat user over the flood limit is told once, then ignored for a while."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != "private" or update.callback_query is not None:
        return
    verdict = context.flood.check(user.id)
    if verdict == "ok":
        return
    if verdict == "warn":
        await context.bot.send_message(chat.id, p("slow_down", lang_of(user.language_code)))
    raise ApplicationHandlerStop


def build_handlers(tg: TelegramSettings) -> dict[int, list[BaseHandler]]:
    """Every handler by group; group -1 runs first (the flood guard)."""
    private = filters.ChatType.PRIVATE
    message = filters.UpdateType.MESSAGE
    handlers: list[BaseHandler] = [
        MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, sme.edited),
        *(CommandHandler(name, callback, filters=private & message) for name, callback in SME_COMMANDS.items()),
        MessageHandler(private & message & filters.COMMAND, sme.unknown_command),
        MessageHandler(private & message & filters.TEXT, sme.text),
        MessageHandler(private & message, sme.media),
        CallbackQueryHandler(staff.button, pattern=r"^s:"),
        CallbackQueryHandler(sme.button),
    ]
    if tg.staff_chat_id:
        group = filters.Chat(tg.staff_chat_id) & message
        handlers += [
            CommandHandler("queue", staff.queue, filters=group),
            CommandHandler("mine", staff.mine, filters=group),
            CommandHandler("note", staff.note, filters=group),
            MessageHandler(group & filters.TEXT & ~filters.COMMAND & (filters.REPLY | filters.IS_TOPIC_MESSAGE), staff.reply),
        ]
    if tg.admin_chat_id:
        admin_chat = filters.Chat(tg.admin_chat_id) & message
        handlers += [
            CommandHandler("reload", admin.reload, filters=admin_chat),
            CommandHandler("stats", admin.stats, filters=admin_chat),
        ]
    return {-1: [TypeHandler(Update, flood_guard)], 0: handlers}


def register(application: Application, tg: TelegramSettings) -> None:
    """Install the routing table and the error handler on the application."""
    for group, handlers in build_handlers(tg).items():
        application.add_handlers(handlers, group=group)
    application.add_error_handler(on_error)
