"""The shared escalation queue: open, claim, reply, close. One user action is one transaction.

Handlers for Telegram and the web console both call these functions; they return values
and raise `bot.errors` exceptions, and publish events so every view updates live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import (
    ACTIVE_STATUSES,
    ANSWERED,
    CLAIMED,
    CLOSED,
    OPEN,
    Message,
    Outbox,
    Staff,
    Ticket,
    TicketEvent,
    User,
    utcnow,
)
from bot.errors import AlreadyClaimed, Forbidden, InvalidState, NotFound
from bot.events import Event, EventBus

Clock = Callable[[], datetime]
LIST_VIEWS = ("all", "mine", "unclaimed", "waiting", "closed")


@dataclass(frozen=True)
class TicketView:
    """A ticket with what the queue pages and cards show about it."""

    ticket: Ticket
    user: User
    claimed_by_name: str | None


@dataclass(frozen=True)
class TicketDetail(TicketView):
    messages: Sequence[Message]
    events: Sequence[TicketEvent]


class TicketService:
    """Queue operations; every method is one unit of work in its own session."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventBus, clock: Clock = utcnow):
        self.sessions, self.events, self.clock = sessions, events, clock

    # ---- user side -------------------------------------------------------------------------
    async def escalate(
        self, user_id: int, question: str, lang: str, reason: str, guesses: list[dict[str, Any]] | None = None,
        message_kind: str = "text",
    ) -> tuple[Ticket, bool]:
        """Open a ticket for the user, or add the question to their active one; return (ticket, created).

        `message_kind="context"` marks a question the user asked earlier and that is already stored
        (a "not helpful" answer, a handoff entry, "ask a person"): it is copied onto the ticket so
        staff see it, without counting as a new message from the user.
        """
        for attempt in range(3):
            try:
                return await self._escalate(user_id, question, lang, reason, guesses, message_kind)
            except IntegrityError:
                # Two messages of one user escalated at once: the partial unique index let one ticket in;
                # the other retries and now joins it.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _escalate(self, user_id: int, question: str, lang: str, reason: str,
                        guesses: list[dict[str, Any]] | None, message_kind: str) -> tuple[Ticket, bool]:
        async with self.sessions.begin() as s:
            ticket, created = await self.escalate_in(s, user_id, question, lang, reason, guesses, message_kind)
        await self.events.publish(Event("ticket.created" if created else "ticket.message", ticket.id))
        return ticket, created

    async def escalate_in(self, s: AsyncSession, user_id: int, question: str, lang: str, reason: str,
                          guesses: list[dict[str, Any]] | None = None, message_kind: str = "text") -> tuple[Ticket, bool]:
        """`escalate` inside the caller's transaction; the caller publishes the event after commit."""
        now = self.clock()
        ticket = await self._active_ticket(s, user_id)
        created = ticket is None
        if ticket is None:
            user = await s.get_one(User, user_id)
            ticket = Ticket(
                user_id=user_id, channel=user.channel, lang=lang, question=question, reason=reason,
                guesses=guesses or [], status=OPEN, created_at=now, updated_at=now, waiting_since=now,
            )
            s.add(ticket)
            await s.flush()
            s.add(TicketEvent(ticket_id=ticket.id, kind="created", detail={"reason": reason}, created_at=now))
        else:
            self._user_spoke(ticket, now)
        s.add(Message(user_id=user_id, ticket_id=ticket.id, direction="in", sender="user", kind=message_kind,
                      text=question, created_at=now))
        return ticket, created

    async def add_user_message(self, user_id: int, text: str, kind: str = "text", meta: dict | None = None) -> Ticket | None:
        """Join a follow-up message to the user's active ticket, if there is one."""
        async with self.sessions.begin() as s:
            ticket = await self.join_in(s, user_id, text, kind, meta)
        if ticket is not None:
            await self.events.publish(Event("ticket.message", ticket.id))
        return ticket

    async def join_in(self, s: AsyncSession, user_id: int, text: str, kind: str = "text",
                      meta: dict | None = None) -> Ticket | None:
        """`add_user_message` inside the caller's transaction; the caller publishes the event after commit."""
        now = self.clock()
        ticket = await self._active_ticket(s, user_id)
        if ticket is None:
            return None
        self._user_spoke(ticket, now)
        s.add(Message(user_id=user_id, ticket_id=ticket.id, direction="in", sender="user", kind=kind,
                      text=text, meta=meta or {}, created_at=now))
        return ticket

    async def active_ticket(self, user_id: int) -> Ticket | None:
        async with self.sessions() as s:
            return await self._active_ticket(s, user_id)

    async def withdraw(self, user_id: int) -> Ticket | None:
        """The user closes their own ticket."""
        ticket = await self.active_ticket(user_id)
        if ticket is None:
            return None
        return await self._close(ticket.id, staff_id=None, kind="withdrawn")

    # ---- staff side ------------------------------------------------------------------------
    async def list(self, view: str = "all", staff_id: int | None = None, include_closed: bool = False,
                   search: str | None = None, limit: int = 200) -> list[TicketView]:
        """Tickets oldest first; view is all | mine | unclaimed | waiting (ball on staff's side) | closed."""
        if view not in LIST_VIEWS:
            raise InvalidState(f"Unknown list view {view!r}; use one of {', '.join(LIST_VIEWS)}.")
        async with self.sessions() as s:
            q = (select(Ticket, User, Staff.display_name, Staff.username)
                 .join(User, User.id == Ticket.user_id).outerjoin(Staff, Staff.id == Ticket.claimed_by))
            if view == "closed":
                q = q.where(Ticket.status == CLOSED)
            elif not include_closed:
                q = q.where(Ticket.status != CLOSED)
            if view == "waiting":
                q = q.where(Ticket.status.in_((OPEN, CLAIMED)))
            if view == "mine":
                q = q.where(Ticket.claimed_by == staff_id)
            elif view == "unclaimed":
                q = q.where(Ticket.claimed_by.is_(None))
            if search:
                like = "%" + search.replace("%", "\\%").replace("_", "\\_") + "%"
                sub = select(Message.ticket_id).where(Message.text.ilike(like, escape="\\"))
                q = q.where(or_(Ticket.question.ilike(like, escape="\\"), Ticket.id.in_(sub),
                                User.display_name.ilike(like, escape="\\")))
            rows = (await s.execute(q.order_by(Ticket.created_at, Ticket.id).limit(limit))).all()
        return [TicketView(t, u, dn or un) for t, u, dn, un in rows]

    async def get(self, ticket_id: int) -> TicketDetail:
        async with self.sessions() as s:
            row = (await s.execute(
                select(Ticket, User, Staff.display_name, Staff.username).join(User, User.id == Ticket.user_id)
                .outerjoin(Staff, Staff.id == Ticket.claimed_by).where(Ticket.id == ticket_id))).first()
            if row is None:
                raise NotFound(f"No ticket #{ticket_id}.")
            messages = (await s.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id))).all()
            events = (await s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                      .order_by(TicketEvent.id))).all()
        t, u, dn, un = row
        return TicketDetail(t, u, dn or un, messages, events)

    async def claim(self, ticket_id: int, staff_id: int) -> Ticket:
        """Take the ticket; exactly one of several simultaneous claimers wins (a conditional UPDATE)."""
        now = self.clock()
        async with self.sessions.begin() as s:
            result = await s.execute(
                update(Ticket).where(Ticket.id == ticket_id, Ticket.claimed_by.is_(None), Ticket.status != CLOSED)
                .values(claimed_by=staff_id, claimed_at=now, updated_at=now, reminder_level=0,
                        status=CLAIMED)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                ticket = await s.get(Ticket, ticket_id)
                if ticket is None:
                    raise NotFound(f"No ticket #{ticket_id}.")
                if ticket.status == CLOSED:
                    raise InvalidState(f"Ticket #{ticket_id} is closed.")
                if ticket.claimed_by == staff_id:
                    return ticket
                holder = await s.get(Staff, ticket.claimed_by)
                raise AlreadyClaimed(ticket_id, (holder.display_name or holder.username) if holder else "someone")
            s.add(TicketEvent(ticket_id=ticket_id, kind="claimed", staff_id=staff_id, created_at=now))
            ticket = await s.get_one(Ticket, ticket_id, populate_existing=True)
        await self.events.publish(Event("ticket.updated", ticket_id, {"change": "claimed", "staff_id": staff_id}))
        return ticket

    async def release(self, ticket_id: int, staff_id: int) -> Ticket:
        now = self.clock()
        async with self.sessions.begin() as s:
            ticket = await self._for_staff(s, ticket_id, staff_id)
            ticket.claimed_by, ticket.claimed_at, ticket.updated_at = None, None, now
            if ticket.status == CLAIMED:
                ticket.status = OPEN
            s.add(TicketEvent(ticket_id=ticket_id, kind="released", staff_id=staff_id, created_at=now))
        await self.events.publish(Event("ticket.updated", ticket_id, {"change": "released"}))
        return ticket

    async def transfer(self, ticket_id: int, staff_id: int, to_staff_id: int) -> Ticket:
        now = self.clock()
        async with self.sessions.begin() as s:
            ticket = await self._for_staff(s, ticket_id, staff_id, allow_unclaimed=True)
            target = await s.get(Staff, to_staff_id)
            if target is None or not target.active:
                raise NotFound("No such active staff member.")
            ticket.claimed_by, ticket.claimed_at, ticket.updated_at = to_staff_id, now, now
            ticket.reminder_level = 0  # the new owner's reminder clock starts now
            if ticket.status == OPEN:
                ticket.status = CLAIMED
            s.add(TicketEvent(ticket_id=ticket_id, kind="transferred", staff_id=staff_id,
                              detail={"to": to_staff_id}, created_at=now))
        await self.events.publish(Event("ticket.updated", ticket_id, {"change": "transferred", "to": to_staff_id}))
        return ticket

    async def reply(self, ticket_id: int, staff_id: int, text: str, meta: dict | None = None) -> Message:
        """Record a staff answer and queue it for delivery to the user on their own channel."""
        text = text.strip()
        if not text:
            raise InvalidState("An empty reply cannot be sent.")
        now = self.clock()
        async with self.sessions.begin() as s:
            ticket = await self._for_staff(s, ticket_id, staff_id, allow_unclaimed=True)
            if ticket.status == CLOSED:
                raise InvalidState(f"Ticket #{ticket_id} is closed; reopen it first.")
            if ticket.claimed_by is None:
                ticket.claimed_by, ticket.claimed_at = staff_id, now
            user = await s.get_one(User, ticket.user_id)
            message = Message(user_id=user.id, ticket_id=ticket_id, direction="out", sender="staff", staff_id=staff_id,
                              text=text, meta=meta or {}, created_at=now)
            s.add(message)
            await s.flush()
            s.add(Outbox(channel=user.channel, destination=user.external_id, ticket_id=ticket_id, message_id=message.id,
                         staff_id=staff_id, payload={"text": text, "kind": "staff_reply", "lang": ticket.lang},
                         created_at=now, next_attempt_at=now))
            ticket.status, ticket.updated_at, ticket.reminder_level = ANSWERED, now, 0
            ticket.first_response_at = ticket.first_response_at or now
            s.add(TicketEvent(ticket_id=ticket_id, kind="replied", staff_id=staff_id, created_at=now))
        await self.events.publish(Event("ticket.message", ticket_id, {"direction": "out", "message_id": message.id}))
        return message

    async def add_note(self, ticket_id: int, staff_id: int, text: str) -> Message:
        """An internal note: kept with the ticket, never shown to the user."""
        now = self.clock()
        async with self.sessions.begin() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"No ticket #{ticket_id}.")
            note = Message(user_id=ticket.user_id, ticket_id=ticket_id, direction="internal", sender="staff",
                           staff_id=staff_id, kind="note", text=text.strip(), created_at=now)
            s.add(note)
        await self.events.publish(Event("ticket.updated", ticket_id, {"change": "note"}))
        return note

    async def close(self, ticket_id: int, staff_id: int) -> Ticket:
        """Close the ticket and tell the user (through the outbox)."""
        return await self._close(ticket_id, staff_id, kind="closed")

    async def reopen(self, ticket_id: int, staff_id: int) -> Ticket:
        now = self.clock()
        async with self.sessions.begin() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"No ticket #{ticket_id}.")
            if ticket.status != CLOSED:
                raise InvalidState(f"Ticket #{ticket_id} is not closed.")
            if await self._active_ticket(s, ticket.user_id) is not None:
                raise InvalidState("This user already has another open ticket.")
            ticket.status, ticket.closed_at, ticket.updated_at, ticket.waiting_since = OPEN, None, now, now
            ticket.claimed_by, ticket.claimed_at, ticket.reminder_level = None, None, 0
            s.add(TicketEvent(ticket_id=ticket_id, kind="reopened", staff_id=staff_id, created_at=now))
        await self.events.publish(Event("ticket.updated", ticket_id, {"change": "reopened"}))
        return ticket

    async def rate(self, ticket_id: int, user_id: int, stars: int) -> Ticket:
        """The user's 1-5 star rating of their closed ticket (the last rating counts)."""
        if not 1 <= stars <= 5:
            raise InvalidState("A rating is 1 to 5 stars.")
        now = self.clock()
        async with self.sessions.begin() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None or ticket.user_id != user_id:
                raise NotFound(f"No ticket #{ticket_id}.")
            if ticket.status != CLOSED:
                raise InvalidState(f"Ticket #{ticket_id} is not closed yet.")
            ticket.rating = stars
            s.add(TicketEvent(ticket_id=ticket_id, kind="rated", detail={"stars": stars}, created_at=now))
        await self.events.publish(Event("ticket.updated", ticket_id, {"change": "rated", "stars": stars}))
        return ticket

    async def status_for_user(self, user_id: int, lang: str, tz: tzinfo = UTC) -> str:
        """The sentence a user sees for "/status": their active ticket, else that they have none."""
        from bot.texts import t

        ticket = await self.active_ticket(user_id)
        return t("no_ticket", lang) if ticket is None else status_text(ticket, lang, tz)


    # ---- helpers ---------------------------------------------------------------------------
    async def _close(self, ticket_id: int, staff_id: int | None, kind: str) -> Ticket:
        from bot.texts import t

        now = self.clock()
        async with self.sessions.begin() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"No ticket #{ticket_id}.")
            if ticket.status == CLOSED:
                raise InvalidState(f"Ticket #{ticket_id} is already closed.")
            ticket.status, ticket.closed_at, ticket.updated_at = CLOSED, now, now
            s.add(TicketEvent(ticket_id=ticket_id, kind=kind, staff_id=staff_id, created_at=now))
            if kind == "closed":
                user = await s.get_one(User, ticket.user_id)
                text = t("closed", ticket.lang, ticket=ticket_id)
                s.add(Message(user_id=user.id, ticket_id=ticket_id, direction="out", sender="system", kind="closed",
                              text=text, created_at=now))
                s.add(Outbox(channel=user.channel, destination=user.external_id, ticket_id=ticket_id, staff_id=staff_id,
                             payload={"text": text, "kind": "ticket_closed", "lang": ticket.lang, "ticket_id": ticket_id},
                             created_at=now, next_attempt_at=now))
        await self.events.publish(Event("ticket.updated", ticket_id, {"change": kind}))
        return ticket

    @staticmethod
    async def _active_ticket(s: AsyncSession, user_id: int) -> Ticket | None:
        return await s.scalar(select(Ticket).where(Ticket.user_id == user_id, Ticket.status.in_(ACTIVE_STATUSES)))

    @staticmethod
    def _user_spoke(ticket: Ticket, now: datetime) -> None:
        if ticket.status == ANSWERED:  # the ball is back on staff's side
            ticket.status = CLAIMED if ticket.claimed_by else OPEN
            ticket.waiting_since, ticket.reminder_level = now, 0
        ticket.updated_at = now

    @staticmethod
    async def _for_staff(s: AsyncSession, ticket_id: int, staff_id: int, allow_unclaimed: bool = False) -> Ticket:
        ticket = await s.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound(f"No ticket #{ticket_id}.")
        if ticket.claimed_by is None and allow_unclaimed:
            return ticket
        if ticket.claimed_by != staff_id:
            staff = await s.get(Staff, staff_id)
            if staff is None or staff.role != "admin":
                raise Forbidden(f"Ticket #{ticket_id} is not yours; claim it first.")
        return ticket


def status_text(ticket: Ticket, lang: str, tz: tzinfo = UTC) -> str:
    """"Ticket #N: <status>, opened <local time>." in the user's language and the helpdesk's time zone."""
    from bot.texts import t

    created = ticket.created_at if ticket.created_at.tzinfo else ticket.created_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    opened = created.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return t("status", lang, ticket=ticket.id, status=t(f"status_{ticket.status}", lang), opened=opened)
