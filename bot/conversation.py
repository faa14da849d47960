"""The conversation with an SME, independent of the channel: Telegram and the web chat call these.

ask() is the path of a question: matcher -> answer, choices or ticket. Each call is one
unit of work: the user's message and the outcome are stored before the reply is returned.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Inbound, Message, Outbox, QuestionLog, Ticket, User, utcnow
from bot.events import Event, EventBus
from bot.faq.matcher import Decision, Matcher
from bot.faq.model import Entry
from bot.faq.normalize import detect_lang
from bot.inbox import mark_done_in, order_key_for
from bot.texts import t
from bot.tickets import TicketService

HUMAN_WORDS = re.compile(
    r"^\s*(/human|人工|人工服务|转人工|真人|客服|找人工|找客服|human|a human|real person|agent|"
    r"(i want to )?talk to (a )?(human|person|someone))\s*[!！?？.。]*\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reply:
    """What the bot says back; each channel renders it (buttons, links) its own way."""

    kind: str  # answer | suggest | escalated | joined | notice
    lang: str
    text: str
    entry_id: str | None = None
    sources: tuple[str, ...] = ()
    reviewed: date | None = None
    related: tuple[tuple[str, str], ...] = ()  # (entry_id, question) follow-ups
    choices: tuple[tuple[str, str], ...] = ()  # (entry_id, question) when unsure
    ticket_id: int | None = None
    log_id: int | None = None  # for "was this helpful?"
    handoff: bool = False


class Conversation:
    """One per process; holds no per-user state (it is all in the database)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], matcher: Callable[[], Matcher],
                 tickets: TicketService, events: EventBus, when_text: Callable[[str], str] | None = None,
                 max_chars: int = 4000):
        self.sessions, self._matcher, self.tickets, self.events = sessions, matcher, tickets, events
        self._when = when_text or (lambda lang: t("reply_soon", lang))
        self.max_chars = max_chars

    async def user(self, channel: str, external_id: str, display_name: str = "", lang: str | None = None) -> User:
        """Find or create the user of this chat; refresh the display name."""
        async with self.sessions.begin() as s:
            return await self._user_in(s, channel, external_id, display_name, lang)

    @staticmethod
    async def _user_in(s: AsyncSession, channel: str, external_id: str, display_name: str = "",
                       lang: str | None = None) -> User:
        user = await s.scalar(select(User).where(User.channel == channel, User.external_id == external_id))
        if user is None:
            user = User(channel=channel, external_id=external_id, display_name=display_name[:256], lang=lang)
            s.add(user)
            await s.flush()
        else:
            user.last_seen_at = utcnow()
            if display_name:
                user.display_name = display_name[:256]
        return user

    async def ask(self, channel: str, external_id: str, text: str, display_name: str = "", lang: str | None = None) -> Reply:
        """Answer, offer choices, or escalate one question from a user.

        One transaction: the user's message, the matcher's decision and its outcome (answer,
        choices or ticket) are committed together, so a crash or a database error leaves either
        all of it or none of it; events go out after the commit.
        """
        text = text.strip()
        for attempt in range(3):
            try:
                reply, events = await self._ask_once(channel, external_id, text, display_name, lang)
                break
            except IntegrityError:
                # The same user's first messages raced (user row) or escalated at once (one open
                # ticket per user): the loser retries and finds the winner's row.
                if attempt == 2:
                    raise
        if reply is None:  # the user asked for a person
            user = await self.user(channel, external_id, display_name)
            return await self.request_human(user, text, lang or user.lang or detect_lang(text))
        for event in events:
            await self.events.publish(event)
        return reply

    async def _ask_once(self, channel: str, external_id: str, text: str, display_name: str,
                        lang: str | None) -> tuple[Reply | None, list[Event]]:
        async with self.sessions.begin() as s:
            reply, events = await self._ask_in(s, channel, external_id, text, display_name, lang)
            if reply is not None:  # processed from the inbox: the row is done with these effects, atomically
                await mark_done_in(s)
            return reply, events

    async def _ask_in(self, s: AsyncSession, channel: str, external_id: str, text: str, display_name: str,
                      lang: str | None) -> tuple[Reply | None, list[Event]]:
        user = await self._user_in(s, channel, external_id, display_name)
        lang = lang or user.lang or detect_lang(text)
        if not text:
            return Reply("notice", lang, t("empty", lang)), []
        if len(text) > self.max_chars:
            return Reply("notice", lang, t("too_long", lang, n=len(text), max=self.max_chars)), []
        ticket = await self.tickets.join_in(s, user.id, text)
        if ticket is not None:  # while a ticket is open, everything the user says goes to staff
            reply = Reply("joined", lang, t("joined", lang, ticket=ticket.id), ticket_id=ticket.id)
            return reply, [Event("ticket.message", ticket.id)]
        if HUMAN_WORDS.match(text):
            return None, []
        matcher = self._matcher()
        started = time.perf_counter()
        decision = matcher.decide(text, lang=user.lang)
        log = QuestionLog(user_id=user.id, channel=user.channel, lang=decision.lang, text=text, action=decision.action,
                          entry_id=decision.entry_id, score=decision.score,
                          latency_ms=(time.perf_counter() - started) * 1000)
        s.add(log)
        entry = matcher.faq.get(decision.entry_id or "") if decision.action == "answer" else None
        if decision.action == "escalate" or (decision.action == "answer" and entry is None):
            guesses = [{"entry_id": g.entry_id, "question": g.question, "score": round(g.score, 1)}
                       for g in decision.suggestions]
            ticket, created = await self.tickets.escalate_in(s, user.id, text, lang, "no_match", guesses)
            log.ticket_id = ticket.id
            key = "escalated" if created else "joined"
            reply = Reply(key, lang, t(key, lang, ticket=ticket.id, when=self._when(lang)), ticket_id=ticket.id)
            return reply, [Event("ticket.created" if created else "ticket.message", ticket.id)]
        s.add(Message(user_id=user.id, direction="in", sender="user", text=text))
        await s.flush()
        if decision.action == "suggest":
            choices = tuple((g.entry_id, g.question) for g in decision.suggestions)
            s.add(Message(user_id=user.id, direction="out", sender="bot", kind="suggest", text=t("suggest", lang),
                          meta={"choices": [c[0] for c in choices]}))
            return Reply("suggest", lang, t("suggest", lang), choices=choices, log_id=log.id), []
        reply = self._entry_reply(entry, lang, log.id, matcher)
        s.add(Message(user_id=user.id, direction="out", sender="bot", kind="answer", text=reply.text,
                      meta={"entry_id": entry.id}))
        if not entry.handoff:
            return reply, []
        ticket, created = await self.tickets.escalate_in(
            s, user.id, text, lang, "handoff", [{"entry_id": entry.id, "question": entry.text(lang).question, "score": 100}],
            message_kind="context")
        log.ticket_id = ticket.id
        note = t("escalated", lang, ticket=ticket.id, when=self._when(lang))
        reply = dataclasses.replace(reply, ticket_id=ticket.id, text=f"{reply.text}\n\n{note}")
        return reply, [Event("ticket.created" if created else "ticket.message", ticket.id)]

    async def choose(self, channel: str, external_id: str, entry_id: str, lang: str | None = None) -> Reply:
        """The user picked one of the offered entries (or a follow-up)."""
        user = await self.user(channel, external_id)
        return await self._answer(user, entry_id, lang or user.lang or "zh", None, question=None)

    async def request_human(self, user: User, text: str | None, lang: str) -> Reply:
        """The user asked for a person: open (or join) a ticket with their last question."""
        if text and not HUMAN_WORDS.match(text):
            return await self._escalate(user, text, lang, "asked", None, None)
        last = await self._last_question(user)
        if last is None:
            return await self._escalate(user, text or "-", lang, "asked", None, None)
        reply = await self._escalate(user, last, lang, "asked", None, None, message_kind="context")
        if text:  # keep what the user typed ("人工", "/human") in the conversation as well
            await self.tickets.add_user_message(user.id, text)
        return reply

    async def feedback(self, channel: str, external_id: str, log_id: int, helpful: bool) -> Reply | None:
        """Record "was this helpful?"; a "no" hands the question to a person."""
        user = await self.user(channel, external_id)
        async with self.sessions.begin() as s:
            row = await s.get(QuestionLog, log_id)
            if row is None or row.user_id != user.id:
                return None
            row.helpful = helpful
        if helpful:
            return None
        return await self._escalate(user, row.text, row.lang, "not_helpful", None, log_id, message_kind="context")

    async def set_lang(self, channel: str, external_id: str, lang: str | None) -> User:
        """Fix the answer language ("zh" or "en"), or None to follow each message's language."""
        user = await self.user(channel, external_id)
        async with self.sessions.begin() as s:
            row = await s.get_one(User, user.id)
            row.lang = lang
        return row

    async def forget(self, channel: str, external_id: str) -> None:
        """Delete everything stored about this user (after the channel asked them to confirm)."""
        async with self.sessions.begin() as s:
            user = await s.scalar(select(User).where(User.channel == channel, User.external_id == external_id))
            if user is None:
                return
            await s.execute(delete(QuestionLog).where(QuestionLog.user_id == user.id))
            # Queued deliveries hold the user's chat id and text: drop them too (undelivered ones included).
            tickets = select(Ticket.id).where(Ticket.user_id == user.id).scalar_subquery()
            await s.execute(delete(Outbox).where(or_(Outbox.ticket_id.in_(tickets),
                                                     and_(Outbox.channel == channel, Outbox.destination == external_id))))
            await s.execute(delete(Inbound).where(Inbound.order_key == order_key_for(channel, external_id)))
            await s.execute(delete(Message).where(Message.user_id == user.id))
            await s.execute(delete(Ticket).where(Ticket.user_id == user.id))
            await s.execute(delete(User).where(User.id == user.id))
        await self.events.publish(Event("user.forgotten", None, {"channel": channel}))

    # ---- helpers ---------------------------------------------------------------------------
    async def _answer(self, user: User, entry_id: str | None, lang: str, log_id: int | None, question: str | None) -> Reply:
        matcher = self._matcher()
        entry = matcher.faq.get(entry_id or "")
        if entry is None:
            return Reply("notice", lang, t("empty", lang))
        text = entry.text(lang)
        reply = self._entry_reply(entry, lang, log_id, matcher)
        await self._bot_said(user, text.answer, "answer", {"entry_id": entry.id})
        if entry.handoff:
            ticket, _ = await self.tickets.escalate(user.id, question or text.question, lang, "handoff",
                                                    [{"entry_id": entry.id, "question": text.question, "score": 100}],
                                                    message_kind="context" if question else "text")
            note = t("escalated", lang, ticket=ticket.id, when=self._when(lang))
            reply = dataclasses.replace(reply, ticket_id=ticket.id, text=f"{text.answer}\n\n{note}")
        return reply

    @staticmethod
    def _entry_reply(entry: Entry, lang: str, log_id: int | None, matcher: Matcher) -> Reply:
        related = tuple((r, matcher.faq.get(r).text(lang).question) for r in entry.related if matcher.faq.get(r))
        return Reply("answer", lang, entry.text(lang).answer, entry_id=entry.id, sources=entry.sources,
                     reviewed=entry.reviewed, related=related, log_id=log_id, handoff=entry.handoff)

    async def _escalate(self, user: User, question: str, lang: str, reason: str, decision: Decision | None,
                        log_id: int | None, message_kind: str = "text") -> Reply:
        guesses = [{"entry_id": s.entry_id, "question": s.question, "score": round(s.score, 1)}
                   for s in (decision.suggestions if decision else ())]
        ticket, created = await self.tickets.escalate(user.id, question or "-", lang, reason, guesses, message_kind)
        if log_id is not None:
            async with self.sessions.begin() as s:
                await s.execute(update(QuestionLog).where(QuestionLog.id == log_id).values(ticket_id=ticket.id))
        key = "escalated" if created else "joined"
        return Reply("escalated" if created else "joined", lang, t(key, lang, ticket=ticket.id, when=self._when(lang)),
                     ticket_id=ticket.id)

    async def _bot_said(self, user: User, text: str, kind: str, meta: dict) -> None:
        async with self.sessions.begin() as s:
            s.add(Message(user_id=user.id, direction="out", sender="bot", kind=kind, text=text, meta=meta))

    async def _last_question(self, user: User) -> str | None:
        async with self.sessions() as s:
            return await s.scalar(select(QuestionLog.text).where(QuestionLog.user_id == user.id)
                                  .order_by(QuestionLog.id.desc()).limit(1))
