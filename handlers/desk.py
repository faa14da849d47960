"""The staff group's side of the queue: cards, relayed user messages, reminders and failures.

Queue events arrive from the services (often inside a user's handler); the listener only puts a
job on an in-memory queue and one task sends them. So the staff group's 20-messages-a-minute limit
(enforced by the rate limiter) delays cards, never a user's answer. Card refreshes for the same
ticket that are still waiting are merged into one edit.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.db.models import CLOSED
from bot.errors import NotFound
from bot.events import Event
from bot.services import Services
from handlers import store
from handlers.membership import StaffGroupMembers
from handlers.render import clip, esc, render_card, render_relay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    kind: str  # card | refresh | relay | notice
    ticket_id: int | None = None
    text: str = ""
    admin: bool = False


class StaffDesk:
    """Owns everything the bot posts to the staff group and the admin chat."""

    def __init__(self, services: Services, bot: Bot):
        self.services, self.bot = services, bot
        tg = services.settings.telegram
        self.staff_chat, self.admin_chat, self.use_topics = tg.staff_chat_id, tg.admin_chat_id, tg.use_topics
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self._refresh_queued: set[int] = set()
        self._relayed_up_to: dict[int, int] = {}  # ticket -> last user Message.id shown in the group
        self._closed = False
        self.members = StaffGroupMembers(bot, tg.staff_chat_id)

    def close(self) -> None:
        """Stop taking jobs (the event bus has no unsubscribe; at shutdown we simply ignore events)."""
        self._closed = True

    # ---- what the services tell us --------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        """Turn a queue event into a job; never blocks and never sends from the caller's task."""
        if self._closed or not self.staff_chat or event.ticket_id is None:
            return
        if event.kind == "ticket.created":
            self.queue.put_nowait(Job("card", event.ticket_id))
        elif event.kind == "ticket.message":
            if event.data.get("direction") != "out":
                self.queue.put_nowait(Job("relay", event.ticket_id))
            self._refresh(event.ticket_id)
        elif event.kind == "ticket.updated":
            self._refresh(event.ticket_id)
        elif event.kind == "ticket.reminder":
            # Payload from bot/reminders.py: level staff|admin, kind unclaimed|unanswered, minutes of working time.
            what = "nobody has claimed it" if event.data.get("kind") == "unclaimed" else "it has no answer yet"
            minutes = int(event.data.get("minutes") or 0)
            self.notice(f"⏰ Ticket #{event.ticket_id} is waiting: {what} ({minutes} working minutes).",
                        admin=event.data.get("level") == "admin", ticket_id=event.ticket_id)
        elif event.kind == "outbox.failed":
            reason = esc(str(event.data.get("reason", "")))
            self.notice(f"⚠️ The reply on ticket #{event.ticket_id} could not be delivered: {reason}. "
                        "The user may have blocked the bot.", ticket_id=event.ticket_id)
            self._refresh(event.ticket_id)

    async def on_faq_reload(self, result) -> None:
        """Post a rejected FAQ change (and its errors) to the admin chat."""
        if result.ok:
            return
        lines = [esc(result.summary())] + [esc(str(p)) for p in result.errors[:20]]
        self.notice("\n".join(lines), admin=True)

    def notice(self, html_text: str, admin: bool = False, ticket_id: int | None = None) -> None:
        if self._closed:
            return
        self.queue.put_nowait(Job("notice", ticket_id, html_text, admin))

    def _refresh(self, ticket_id: int) -> None:
        if ticket_id not in self._refresh_queued:
            self._refresh_queued.add(ticket_id)
            self.queue.put_nowait(Job("refresh", ticket_id))

    # ---- the sending task ------------------------------------------------------------------
    async def run(self) -> None:
        """Send jobs one at a time until cancelled; a failed job is logged and skipped."""
        while True:
            job = await self.queue.get()
            try:
                await self.handle(job)
            except asyncio.CancelledError:
                raise
            except NotFound:
                pass  # the ticket was deleted (/forget) before we got to it
            except Exception:
                log.exception("staff desk job %s for ticket %s failed", job.kind, job.ticket_id)
            finally:
                self.queue.task_done()

    async def drain(self) -> None:
        await self.queue.join()

    async def handle(self, job: Job) -> None:
        if job.kind == "card":
            await self._post_card(job.ticket_id)
        elif job.kind == "refresh":
            self._refresh_queued.discard(job.ticket_id)
            await self._edit_card(job.ticket_id)
        elif job.kind == "relay":
            await self._relay(job.ticket_id)
        elif job.kind == "notice":
            await self._notice(job)

    async def _post_card(self, ticket_id: int) -> None:
        if await store.card_of(self.services.sessions, ticket_id, self.staff_chat):
            return
        view = await self.services.tickets.get(ticket_id)
        text, markup = render_card(view)
        topic_id = None
        if self.use_topics:
            topic = await self.bot.create_forum_topic(self.staff_chat, clip(f"#{ticket_id} {view.user.display_name}", 120))
            topic_id = topic.message_thread_id
        sent = await self.bot.send_message(self.staff_chat, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                           message_thread_id=topic_id)
        await store.link(self.services.sessions, ticket_id, self.staff_chat, sent.message_id,
                         "topic" if topic_id else "card", topic_id)
        # The card shows the opening question; anything the user sent after it is relayed by its own job.
        self._relayed_up_to[ticket_id] = min((m.id for m in view.messages if m.direction == "in"), default=0)

    async def _edit_card(self, ticket_id: int) -> None:
        card = await store.card_of(self.services.sessions, ticket_id, self.staff_chat)
        if card is None:
            view = await self.services.tickets.get(ticket_id)
            if view.ticket.status != CLOSED:  # opened before this process was watching: post it now
                await self._post_card(ticket_id)
            return
        view = await self.services.tickets.get(ticket_id)
        text, markup = render_card(view)
        try:
            await self.bot.edit_message_text(text, self.staff_chat, card.staff_message_id, parse_mode=ParseMode.HTML,
                                             reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def _relay(self, ticket_id: int) -> None:
        """Show the user's new messages (text, or a copy of their file) as replies to the card."""
        card = await store.card_of(self.services.sessions, ticket_id, self.staff_chat)
        if card is None:
            return  # the card job will show the question
        view = await self.services.tickets.get(ticket_id)
        incoming = [m for m in view.messages if m.direction == "in"]
        done = self._relayed_up_to.get(ticket_id)
        if done is None:  # this process has not seen the ticket yet: show only the newest message
            done = incoming[-2].id if len(incoming) > 1 else 0
        for m in (m for m in incoming if m.id > done):
            if m.kind == "file" and m.meta.get("chat_id") and m.meta.get("message_id"):
                sent = await self.bot.copy_message(self.staff_chat, m.meta["chat_id"], m.meta["message_id"],
                                                   reply_to_message_id=card.staff_message_id, message_thread_id=card.topic_id)
            else:
                sent = await self.bot.send_message(self.staff_chat, render_relay(view, m.text), parse_mode=ParseMode.HTML,
                                                   reply_to_message_id=card.staff_message_id, message_thread_id=card.topic_id)
            await store.link(self.services.sessions, ticket_id, self.staff_chat, sent.message_id, "relay", card.topic_id)
            self._relayed_up_to[ticket_id] = m.id

    async def _notice(self, job: Job) -> None:
        chat = self.admin_chat if job.admin and self.admin_chat else self.staff_chat
        reply_to = thread = None
        if job.ticket_id is not None and chat == self.staff_chat:
            card = await store.card_of(self.services.sessions, job.ticket_id, chat)
            if card is not None:
                reply_to, thread = card.staff_message_id, card.topic_id
        try:
            await self.bot.send_message(chat, clip(job.text), parse_mode=ParseMode.HTML, reply_to_message_id=reply_to,
                                        message_thread_id=thread)
        except TelegramError:
            log.warning("could not post a notice to chat %s", chat)
