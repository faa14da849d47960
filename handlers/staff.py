"""Staff in the staff group: card buttons, answering by replying, /queue, /mine, /note.

Only staff act: Telegram ids in settings (a Staff row is made on their first action), members of
the staff group when `telegram.staff_group_members` is on, or Staff accounts that carry a
telegram_user_id. Anyone else's press is refused and changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ParseMode

from bot.db.models import Staff
from bot.errors import AlreadyClaimed, HelpdeskError
from handlers import store
from handlers.context import CustomContext
from handlers.render import clean, esc, parse_callback, render_queue

NOT_STAFF = "Only helpdesk staff can do this."


async def staff_member(update: Update, context: CustomContext) -> Staff | None:
    """The acting Staff row, created on first use for a configured Telegram id; None for anyone else."""
    user = update.effective_user
    if user is None:
        return None
    tg = context.services.settings.telegram
    staff_ids = tg.staff_user_ids
    if (tg.staff_group_members and user.id not in staff_ids and user.id not in tg.admin_user_ids
            and await context.desk.members.includes(user.id)):
        staff_ids = [*staff_ids, user.id]
    return await store.staff_for_telegram(context.services.sessions, user.id, clean(user.full_name), staff_ids,
                                          tg.admin_user_ids)


StaffCommand = Callable[[Update, CustomContext, Staff], Awaitable[None]]


def staff_only(command: StaffCommand) -> Callable[[Update, CustomContext], Awaitable[None]]:
    """Run a staff command with the acting Staff row; refuse anyone else with one sentence."""

    @functools.wraps(command)
    async def guarded(update: Update, context: CustomContext) -> None:
        staff = await staff_member(update, context)
        if staff is None:
            await _say(update, context, NOT_STAFF)
            return
        await command(update, context, staff)

    return guarded


async def _say(update: Update, context: CustomContext, text: str) -> None:
    message = update.effective_message
    await context.bot.send_message(message.chat_id, text, parse_mode=ParseMode.HTML,
                                   reply_to_message_id=message.message_id, message_thread_id=message.message_thread_id)


async def button(update: Update, context: CustomContext) -> None:
    """Claim / Release / Close on a card; exactly one of two simultaneous claimers wins."""
    query = update.callback_query
    cb = parse_callback(query.data)
    chat = update.effective_chat
    if cb is None or chat is None or chat.id != context.services.settings.telegram.staff_chat_id:
        await query.answer("This button no longer works.", show_alert=True)
        return
    staff = await staff_member(update, context)
    if staff is None:
        await query.answer(NOT_STAFF, show_alert=True)
        return
    tickets = context.services.tickets
    try:
        if cb.action == "claim":
            await tickets.claim(cb.num, staff.id)
            await query.answer(f"You have ticket #{cb.num}.")
        elif cb.action == "release":
            await tickets.release(cb.num, staff.id)
            await query.answer(f"Released ticket #{cb.num}.")
        elif cb.action == "close":
            await tickets.close(cb.num, staff.id)
            await query.answer(f"Closed ticket #{cb.num}; the user is asked for a rating.")
    except AlreadyClaimed as exc:
        await query.answer(f"Ticket #{exc.ticket_id} is already claimed by {exc.holder}.", show_alert=True)
    except HelpdeskError as exc:
        await query.answer(str(exc), show_alert=True)


async def _ticket_of(update: Update, context: CustomContext) -> int | None:
    """The ticket a staff message belongs to: the card or relay it replies to, or the ticket's topic."""
    message = update.effective_message
    sessions, chat = context.services.sessions, message.chat_id
    reply_to = message.reply_to_message
    if reply_to is not None and not (message.is_topic_message and reply_to.message_id == message.message_thread_id):
        found = await store.ticket_for_message(sessions, chat, reply_to.message_id)
        if found is not None:
            return found
    if context.services.settings.telegram.use_topics and message.is_topic_message and message.message_thread_id:
        return await store.ticket_for_topic(sessions, chat, message.message_thread_id)
    return None


async def reply(update: Update, context: CustomContext) -> None:
    """A staff member's reply to a card (or in a ticket's topic) goes to the user through the outbox."""
    ticket_id = await _ticket_of(update, context)
    if ticket_id is None:
        return  # staff talking among themselves
    staff = await staff_member(update, context)
    if staff is None:
        await _say(update, context, NOT_STAFF)
        return
    message = update.effective_message
    try:
        await context.services.tickets.reply(ticket_id, staff.id, clean(message.text),
                                             meta={"telegram_message_id": message.message_id})
    except HelpdeskError as exc:
        await _say(update, context, esc(str(exc)))


@staff_only
async def queue(update: Update, context: CustomContext, staff: Staff) -> None:
    """List the open tickets, oldest first."""
    views = await context.services.tickets.list("all")
    await _say(update, context, render_queue(views, "Open tickets"))


@staff_only
async def mine(update: Update, context: CustomContext, staff: Staff) -> None:
    """List the tickets the sender has claimed."""
    views = await context.services.tickets.list("mine", staff_id=staff.id)
    await _say(update, context, render_queue(views, "Your tickets"))


@staff_only
async def note(update: Update, context: CustomContext, staff: Staff) -> None:
    """Add an internal note (never shown to the user) to the ticket whose card this replies to."""
    text = clean(" ".join(context.args or [])).strip()
    ticket_id = await _ticket_of(update, context)
    if ticket_id is None or not text:
        await _say(update, context, "Use /note &lt;text&gt; as a reply to a ticket's card.")
        return
    try:
        await context.services.tickets.add_note(ticket_id, staff.id, text)
    except HelpdeskError as exc:
        await _say(update, context, esc(str(exc)))
        return
    await _say(update, context, f"Note added to ticket #{ticket_id}.")
