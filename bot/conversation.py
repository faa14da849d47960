"""The conversation with an SME, independent of the channel: Telegram and the web chat call these.

ask() is the path of a question: matcher -> answer, choices or ticket. Each call is one
unit of work: the user's message and the outcome are stored before the reply is returned.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, delete, insert, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ACTIVE_STATUSES, Inbound, Message, Outbox, QuestionLog, Ticket, User, utcnow
from bot.events import Event, EventBus
from bot.faq.matcher import Decision, Matcher
from bot.faq.model import Entry
from bot.faq.normalize import detect_lang
from bot.inbox import (
    Run,
    acting_for,
    current_inbound_id,
    current_run,
    mark_done_in,
    mark_many_done_in,
    order_key_for,
    stamp_new_messages,
)
from bot.texts import t
from bot.tickets import TicketService

logger = logging.getLogger(__name__)
GROUP_MAX = 100  # questions committed in one transaction at most

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


_Question = tuple[str, str, str, str, "str | None"]  # channel, external id, text, display name, lang
_Waiting = tuple[Run, _Question, asyncio.Future]


@dataclass
class _Known:
    """What a group commit looked up for one question beforehand."""

    user: User
    has_ticket: bool


@dataclass
class _Rows:
    """A group commit's question logs and messages as plain rows, written with one Core INSERT each.

    Why: building ORM objects, tracking them in the session and expunging them again before a bulk
    INSERT cost more than the INSERTs themselves; a row is a dict with the table's column names.
    """

    logs: list[dict] = dataclasses.field(default_factory=list)
    messages: list[dict] = dataclasses.field(default_factory=list)

    def message(self, **row) -> None:
        """A message of the question being answered, stamped with its inbox row (see `acting_for`)."""
        inbound_id = current_inbound_id.get()
        if inbound_id is not None:
            row["meta"] = {**row["meta"], "inbound_id": inbound_id}
        self.messages.append(row)


class Conversation:
    """One per process; holds no per-user state (it is all in the database)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], matcher: Callable[[], Matcher],
                 tickets: TicketService, events: EventBus, when_text: Callable[[str], str] | None = None,
                 max_chars: int = 4000):
        self.sessions, self._matcher, self.tickets, self.events = sessions, matcher, tickets, events
        self._when = when_text or (lambda lang: t("reply_soon", lang))
        self.max_chars = max_chars
        self._waiting: list[_Waiting] = []  # questions from the inbox waiting for the next group commit
        self._committer: asyncio.Task | None = None

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
        all of it or none of it; events go out after the commit. A question processed from the
        inbox joins a group commit (see `_commit_groups`): its transaction is shared with the other
        questions in flight at that moment, and marks its inbox row done.
        """
        question = (channel, external_id, text.strip(), display_name, lang)
        run = current_run()
        if run is not None:
            reply, events = await self._ask_grouped(run, question)
        else:
            reply, events = await self._ask_alone(None, question)
        if reply is None:  # the user asked for a person
            user = await self.user(channel, external_id, display_name)
            return await self.request_human(user, question[2], lang or user.lang or detect_lang(question[2]))
        for event in events:
            await self.events.publish(event)
        return reply

    async def _ask_alone(self, run: Run | None, question: _Question) -> tuple[Reply | None, list[Event]]:
        """The question in a transaction of its own (retried when it raced another for a unique row)."""
        for attempt in range(3):
            try:
                return await self._ask_once(run, question)
            except IntegrityError:
                # The same user's first messages raced (user row) or escalated at once (one open
                # ticket per user): the loser retries and finds the winner's row.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _ask_once(self, run: Run | None, question: _Question) -> tuple[Reply | None, list[Event]]:
        async with self.sessions.begin() as s:
            with acting_for(run):
                reply, events, _ = await self._ask_in(s, *question)
                await s.flush()
            if reply is not None:  # processed from the inbox: the row is done with these effects, atomically
                await mark_done_in(s, run)
            return reply, events

    async def _ask_grouped(self, run: Run, question: _Question) -> tuple[Reply | None, list[Event]]:
        """Queue the question for the next group commit and wait for its outcome."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting.append((run, question, future))
        if self._committer is None or self._committer.done():
            # A context of its own: it commits for many inbox rows, and must not inherit this one's.
            self._committer = asyncio.create_task(self._commit_groups(), name="conversation-group-commit",
                                                  context=contextvars.Context())
        return await future

    async def _commit_groups(self) -> None:
        """Commit the waiting questions in groups, one transaction per group, until none is waiting.

        Why: each commit is a write lock (SQLite) or a WAL flush (PostgreSQL), and one per question
        bounded the Telegram throughput. Questions arrive from different chats (one chat's updates
        run one after another, so a chat has at most one question waiting); whatever arrives while
        a group commits forms the next group. If a group's transaction fails, each of its questions
        is tried again in a transaction of its own, so one bad question cannot hold back the others.
        """
        group: list[_Waiting] = []
        try:
            while self._waiting:
                await asyncio.sleep(0)  # the questions already on their way join this group
                group, self._waiting = self._waiting[:GROUP_MAX], self._waiting[GROUP_MAX:]
                try:
                    outcomes = await self._commit_group(group)
                except Exception:
                    logger.warning("a group commit of %d questions failed; committing them one by one", len(group),
                                exc_info=True)
                    for run, question, future in group:
                        try:
                            outcome = await self._ask_alone(run, question)
                        except Exception as exc:
                            if not future.done():
                                future.set_exception(exc)
                        else:
                            if not future.done():
                                future.set_result(outcome)
                else:
                    for (_, _, future), outcome in zip(group, outcomes, strict=True):
                        if not future.done():
                            future.set_result(outcome)
                group = []
        finally:  # cancelled (shutdown): nobody is left waiting for an answer that will not come
            for _, _, future in group + self._waiting:
                if not future.done():
                    future.cancel()
            self._waiting = []

    async def _commit_group(self, group: list[_Waiting]) -> list[tuple[Reply | None, list[Event]]]:
        """The group's questions in one transaction, with a few statements for the whole group.

        The users and their open tickets are read with one query each, and the writes (question
        logs, messages, done-marks) go out together at the end, instead of about seven round
        trips per question. Each question's messages are stamped with its own inbox row.
        """
        done: list[tuple[Reply | None, list[Event], dict | None]] = []
        rows = _Rows()
        async with self.sessions.begin() as s:
            known = await self._known_in(s, [question for _, question, _ in group])
            for run, question, _ in group:
                with acting_for(run):  # stamps this row's messages (rows here, or ORM ones a new ticket flushes)
                    done.append(await self._ask_in(s, *question, known=known[question[:2]], rows=rows))
                if s.new:  # a ticket's messages, not flushed yet
                    stamp_new_messages(s, run)
            with s.no_autoflush:  # else the first INSERT would flush the rest the ORM way, row by row
                await self._insert_logs(s, rows)
                await self._insert_rows(s, rows)
                await self._insert_messages(s)
            await s.flush()
            await mark_many_done_in(s, [run for (run, _, _), (reply, _, _) in zip(group, done, strict=True)
                                        if reply is not None])
            outcomes = [(reply if log is None else dataclasses.replace(reply, log_id=log["id"]), events)
                        for reply, events, log in done]
        return outcomes

    @staticmethod
    async def _insert_rows(s: AsyncSession, rows: _Rows) -> None:
        """The group's messages so far, in one multi-row INSERT (in the order they were said)."""
        if rows.messages:
            await s.execute(insert(Message.__table__), rows.messages)
            rows.messages = []

    @staticmethod
    async def _insert_messages(s: AsyncSession) -> None:
        """Write the session's new Messages with one multi-row INSERT instead of one INSERT each.

        Why: to return their ids, the ORM inserts rows one at a time on SQLite, and nobody needs a
        message's id here. They are written in the order they were added (a chat's history is read
        in id order).
        """
        pending = sorted((obj for obj in s.new if isinstance(obj, Message)), key=lambda obj: inspect(obj).insert_order)
        if not pending:
            return
        columns = [c.key for c in Message.__table__.columns if c.key != "id"]
        rows = [{key: value for key in columns if (value := getattr(obj, key)) is not None} for obj in pending]
        for obj in pending:
            s.expunge(obj)
        await s.execute(insert(Message), rows)

    @staticmethod
    async def _insert_logs(s: AsyncSession, rows: _Rows) -> None:
        """Write the group's question logs with one INSERT ... RETURNING; each row gets its "id" (for the reply).

        The ids come back matched by user, which is unique within a group (one question per chat at a
        time); should a user appear twice, those logs are written one INSERT each.
        """
        table = QuestionLog.__table__
        if len({log["user_id"] for log in rows.logs}) == len(rows.logs):
            if rows.logs:
                ids = dict((await s.execute(insert(table).returning(table.c.user_id, table.c.id), rows.logs)).all())
                for log in rows.logs:
                    log["id"] = ids[log["user_id"]]
            return
        for log in rows.logs:
            log["id"] = await s.scalar(insert(table).values(log).returning(table.c.id))

    async def _known_in(self, s: AsyncSession, questions: list[_Question]) -> dict[tuple[str, str], _Known]:
        """The users of these questions (created if new) and whether each has an open ticket, in two or three queries."""
        keys = {(channel, external_id): display_name for channel, external_id, _, display_name, _ in questions}
        users: dict[tuple[str, str], User] = {}
        for channel in {channel for channel, _ in keys}:
            ids = [external_id for c, external_id in keys if c == channel]
            found = await s.scalars(select(User).where(User.channel == channel, User.external_id.in_(ids)))
            users.update({(channel, user.external_id): user for user in found})
        new = [User(channel=channel, external_id=external_id, display_name=name[:256])
               for (channel, external_id), name in keys.items() if (channel, external_id) not in users]
        if new:
            s.add_all(new)
            await s.flush()
            users.update({(user.channel, user.external_id): user for user in new})
        with_ticket = set(await s.scalars(select(Ticket.user_id).where(
            Ticket.user_id.in_([user.id for user in users.values()]), Ticket.status.in_(ACTIVE_STATUSES))))
        return {key: _Known(user, user.id in with_ticket) for key, user in users.items()}

    async def _ask_in(self, s: AsyncSession, channel: str, external_id: str, text: str, display_name: str,
                      lang: str | None, known: _Known | None = None,
                      rows: _Rows | None = None) -> tuple[Reply | None, list[Event], dict | None]:
        """The question inside the caller's transaction: (reply, events, log row whose id the reply still needs).

        With `known` and `rows` (a group commit looked the user and their open ticket up for the
        whole group, and writes its logs and messages at the end) nothing is read or flushed here
        (but for a new ticket), and the reply's log_id is filled in after the group's INSERTs.
        """
        if known is None:
            user = await self._user_in(s, channel, external_id, display_name)
        else:
            user = known.user
            user.last_seen_at = utcnow()
            if display_name:
                user.display_name = display_name[:256]
        lang = lang or user.lang or detect_lang(text)
        if not text:
            return Reply("notice", lang, t("empty", lang)), [], None
        if len(text) > self.max_chars:
            return Reply("notice", lang, t("too_long", lang, n=len(text), max=self.max_chars)), [], None
        ticket = await self.tickets.join_in(s, user.id, text) if known is None or known.has_ticket else None
        if ticket is not None:  # while a ticket is open, everything the user says goes to staff
            reply = Reply("joined", lang, t("joined", lang, ticket=ticket.id), ticket_id=ticket.id)
            return reply, [Event("ticket.message", ticket.id)], None
        if HUMAN_WORDS.match(text):
            return None, [], None
        matcher = self._matcher()
        started = time.perf_counter()
        decision = matcher.decide(text, lang=user.lang)
        row = {"user_id": user.id, "channel": user.channel, "lang": decision.lang, "text": text,
               "action": decision.action, "entry_id": decision.entry_id, "score": decision.score,
               "latency_ms": (time.perf_counter() - started) * 1000, "ticket_id": None, "created_at": utcnow()}
        if rows is None:
            log: QuestionLog | None = QuestionLog(**row)
            s.add(log)
        else:
            log = None
            rows.logs.append(row)

        def add_message(**message) -> None:
            if rows is None:
                s.add(Message(user_id=user.id, **message))
            else:
                rows.message(user_id=user.id, **message)

        def tie(ticket_id: int) -> None:
            row["ticket_id"] = ticket_id
            if log is not None:
                log.ticket_id = ticket_id

        entry = matcher.faq.get(decision.entry_id or "") if decision.action == "answer" else None
        if decision.action == "escalate" or (decision.action == "answer" and entry is None):
            guesses = [{"entry_id": g.entry_id, "question": g.question, "score": round(g.score, 1)}
                       for g in decision.suggestions]
            ticket, created = await self.tickets.escalate_in(s, user.id, text, lang, "no_match", guesses)
            tie(ticket.id)
            key = "escalated" if created else "joined"
            reply = Reply(key, lang, t(key, lang, ticket=ticket.id, when=self._when(lang)), ticket_id=ticket.id)
            return reply, [Event("ticket.created" if created else "ticket.message", ticket.id)], None
        # kind and meta spelled out: the same columns as the bot's reply below, so a group's messages
        # go out as one multi-row INSERT (rows of one INSERT need the same columns).
        add_message(direction="in", sender="user", kind="text", text=text, meta={})
        if log is not None:
            await s.flush()  # for log.id; a group commit fills it in after its INSERTs
        log_id, pending = (log.id, None) if log is not None else (None, row)
        if decision.action == "suggest":
            choices = tuple((g.entry_id, g.question) for g in decision.suggestions)
            add_message(direction="out", sender="bot", kind="suggest", text=t("suggest", lang),
                        meta={"choices": [c[0] for c in choices]})
            return Reply("suggest", lang, t("suggest", lang), choices=choices, log_id=log_id), [], pending
        reply = self._entry_reply(entry, lang, log_id, matcher)
        add_message(direction="out", sender="bot", kind="answer", text=reply.text, meta={"entry_id": entry.id})
        if not entry.handoff:
            return reply, [], pending
        if rows is not None:  # the ticket's context message comes after the question and answer
            await self._insert_rows(s, rows)
        ticket, created = await self.tickets.escalate_in(
            s, user.id, text, lang, "handoff", [{"entry_id": entry.id, "question": entry.text(lang).question, "score": 100}],
            message_kind="context")
        tie(ticket.id)
        note = t("escalated", lang, ticket=ticket.id, when=self._when(lang))
        reply = dataclasses.replace(reply, ticket_id=ticket.id, text=f"{reply.text}\n\n{note}")
        return reply, [Event("ticket.created" if created else "ticket.message", ticket.id)], pending

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
