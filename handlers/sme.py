"""SMEs in a private chat: commands, questions, files and buttons. Each handler parses, calls a service, replies."""

from __future__ import annotations

import unicodedata

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from bot.conversation import Reply
from bot.db.models import User
from bot.texts import t
from handlers import store
from handlers.context import CustomContext
from handlers.phrases import lang_of, p
from handlers.render import Callback, clean, confirm_keyboard, esc, lang_keyboard, parse_callback, render_reply

CHANNEL = "telegram"


def _who(update: Update) -> tuple[str, str, str]:
    """(external id, display name, interface language) of the private chat's user."""
    user, chat = update.effective_user, update.effective_chat
    name = clean(user.full_name if user else "")
    return str(chat.id), name, lang_of(user.language_code if user else None)


async def _user(update: Update, context: CustomContext) -> tuple[User, str]:
    external_id, name, ui_lang = _who(update)
    user = await context.services.conversation.user(CHANNEL, external_id, name)
    return user, user.lang or ui_lang


async def _say(update: Update, context: CustomContext, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Send to the user directly (not through a queue), so answers never wait behind staff traffic."""
    await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                   disable_web_page_preview=True)


async def _send_reply(update: Update, context: CustomContext, reply: Reply) -> None:
    text, markup = render_reply(reply)
    await _say(update, context, text, markup)


# ---- commands ---------------------------------------------------------------------------------
async def start(update: Update, context: CustomContext) -> None:
    """Welcome the user in their language; any deep-link argument is ignored."""
    _, lang = await _user(update, context)
    await _say(update, context, p("welcome", lang, name=esc(update.effective_user.first_name)))


async def help_command(update: Update, context: CustomContext) -> None:
    """List the commands."""
    _, lang = await _user(update, context)
    await _say(update, context, esc(p("help", lang)))


async def lang(update: Update, context: CustomContext) -> None:
    """Offer the answer languages as buttons (or set one given as `/lang en`)."""
    _, ui = await _user(update, context)
    choice = (context.args or [""])[0].lower()
    if choice in ("zh", "en", "auto"):
        await _set_lang(update, context, choice)
        return
    await _say(update, context, p("lang_prompt", ui), lang_keyboard())


async def human(update: Update, context: CustomContext) -> None:
    """Hand the conversation to a person (with the text after /human, or the last question)."""
    user, lang = await _user(update, context)
    text = clean(" ".join(context.args or [])).strip() or None
    if text and len(text) > context.services.conversation.max_chars:
        text = None
    reply = await context.services.conversation.request_human(user, text, lang)
    await _send_reply(update, context, reply)


async def status(update: Update, context: CustomContext) -> None:
    """Tell the user where their ticket stands."""
    user, lang = await _user(update, context)
    services = context.services
    await _say(update, context, esc(await services.tickets.status_for_user(user.id, lang, services.settings.tz)))


async def cancel(update: Update, context: CustomContext) -> None:
    """Ask before withdrawing the user's open ticket."""
    user, lang = await _user(update, context)
    ticket = await context.services.tickets.active_ticket(user.id)
    if ticket is None:
        await _say(update, context, esc(t("no_ticket", lang)))
        return
    await _say(update, context, p("cancel_confirm", lang, ticket=ticket.id), confirm_keyboard("w", lang))


async def forget(update: Update, context: CustomContext) -> None:
    """Ask before deleting everything stored about the user."""
    _, lang = await _user(update, context)
    await _say(update, context, p("forget_confirm", lang), confirm_keyboard("d", lang))


async def unknown_command(update: Update, context: CustomContext) -> None:
    """An unknown /command: point at /help instead of treating it as a question."""
    _, lang = await _user(update, context)
    await _say(update, context, p("unknown_command", lang))


# ---- messages ---------------------------------------------------------------------------------
def _has_words(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


async def text(update: Update, context: CustomContext) -> None:
    """A question (or a follow-up to an open ticket) -> answer, choices, or a ticket."""
    message = update.effective_message
    external_id, name, _ = _who(update)
    question = clean(message.text)
    if not _has_words(question):
        _, lang = await _user(update, context)
        await _say(update, context, esc(t("empty", lang)))
        return
    reply = await context.services.conversation.ask(CHANNEL, external_id, question, name)
    await _send_reply(update, context, reply)


FILE_KINDS = ("photo", "document", "voice", "audio", "video", "video_note")


async def media(update: Update, context: CustomContext) -> None:
    """Anything that is not text: say what is supported; with an open ticket, pass files to the staff."""
    message = update.effective_message
    user, lang = await _user(update, context)
    kind = next((k for k in FILE_KINDS if getattr(message, k, None)), None)
    if kind is not None:
        ticket = await context.services.tickets.add_user_message(
            user.id, clean(message.caption) or f"[{kind}]", kind="file",
            meta={"chat_id": message.chat_id, "message_id": message.message_id, "type": kind})
        if ticket is not None:
            await _say(update, context, p("file_passed", lang, ticket=ticket.id))
            return
    await _say(update, context, p("unsupported", lang))


async def edited(update: Update, context: CustomContext) -> None:
    """Edits are not re-answered (the first version was); ask for a new message instead."""
    _, lang = await _user(update, context)
    await _say(update, context, p("edited", lang))


# ---- buttons ----------------------------------------------------------------------------------
async def button(update: Update, context: CustomContext) -> None:
    """A button in the private chat: pick an entry, feedback, a person, language, confirmations, rating."""
    query = update.callback_query
    cb = parse_callback(query.data)
    if cb is None or update.effective_chat is None or update.effective_chat.type != "private":
        await query.answer(p("stale_button", "en"), show_alert=True)
        return
    handler = _BUTTONS.get(cb.action)
    if handler is None:
        await query.answer(p("stale_button", "en"), show_alert=True)
        return
    await handler(update, context, cb)


async def _pick(update: Update, context: CustomContext, cb: Callback) -> None:
    await update.callback_query.answer()
    user, lang = await _user(update, context)
    reply = await context.services.conversation.choose(CHANNEL, user.external_id, cb.arg, lang)
    await _send_reply(update, context, reply)


async def _feedback(update: Update, context: CustomContext, cb: Callback) -> None:
    user, lang = await _user(update, context)
    reply = await context.services.conversation.feedback(CHANNEL, user.external_id, cb.num, cb.arg == "1")
    await update.callback_query.answer(p("thanks", lang))
    if reply is not None:
        await _send_reply(update, context, reply)


async def _human(update: Update, context: CustomContext, cb: Callback) -> None:
    await update.callback_query.answer()
    user, lang = await _user(update, context)
    await _send_reply(update, context, await context.services.conversation.request_human(user, None, lang))


async def _set_lang(update: Update, context: CustomContext, choice: str) -> None:
    external_id, _, _ = _who(update)
    row = await context.services.conversation.set_lang(CHANNEL, external_id, None if choice == "auto" else choice)
    text = p("lang_set_auto", lang_of(update.effective_user.language_code)) if row.lang is None else p("lang_set", row.lang)
    await _say(update, context, text)


async def _lang(update: Update, context: CustomContext, cb: Callback) -> None:
    await update.callback_query.answer()
    await _set_lang(update, context, cb.arg)


async def _forget(update: Update, context: CustomContext, cb: Callback) -> None:
    await update.callback_query.answer()
    _, lang = await _user(update, context)
    if cb.arg == "y":
        await context.services.conversation.forget(CHANNEL, str(update.effective_chat.id))
        await update.callback_query.edit_message_text(esc(t("forgotten", lang)), parse_mode=ParseMode.HTML)
    else:
        await update.callback_query.edit_message_text(p("kept", lang))


async def _withdraw(update: Update, context: CustomContext, cb: Callback) -> None:
    await update.callback_query.answer()
    user, lang = await _user(update, context)
    if cb.arg != "y":
        await update.callback_query.edit_message_text(p("kept", lang))
        return
    ticket = await context.services.tickets.withdraw(user.id)
    text = t("withdrawn", lang, ticket=ticket.id) if ticket else t("no_ticket", lang)
    await update.callback_query.edit_message_text(esc(text), parse_mode=ParseMode.HTML)


async def _rate(update: Update, context: CustomContext, cb: Callback) -> None:
    user, lang = await _user(update, context)
    stored = await store.rate(context.services.sessions, cb.num, user.id, int(cb.arg))
    await update.callback_query.answer(p("rated" if stored else "stale_button", lang), show_alert=not stored)
    if stored:
        await update.callback_query.edit_message_reply_markup(None)


_BUTTONS = {"pick": _pick, "feedback": _feedback, "human": _human, "lang": _lang, "forget": _forget,
            "withdraw": _withdraw, "rate": _rate}
