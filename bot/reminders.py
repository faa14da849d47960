"""Reminders: a ticket nobody takes, or nobody answers, comes back to staff and then to administrators.

Time counts in working minutes only (bot/office_hours.py). Each ticket's `reminder_level` records
what was already sent during the current wait (0 none, 1 staff, 2 admin); it is raised with a
conditional UPDATE, so with several processes exactly one of them publishes each reminder.
Claiming, replying and the user speaking again reset the level (bot/tickets.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import QueueSettings
from bot.db.models import CLAIMED, OPEN, Ticket, TicketEvent, utcnow
from bot.events import Event, EventBus
from bot.office_hours import OfficeHours, as_utc

log = logging.getLogger(__name__)

STAFF, ADMIN = 1, 2


class Reminders:
    """check() is one pass (tests drive it with a fake clock); run() repeats it every `interval` seconds."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventBus, queue: QueueSettings,
                 clock: Callable[[], datetime] = utcnow, interval: float = 60.0):
        self.sessions, self.events, self.queue, self.clock, self.interval = sessions, events, queue, clock, interval
        self.hours = OfficeHours(queue, clock)

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reminder pass failed")
            await asyncio.sleep(self.interval)

    def thresholds(self, ticket: Ticket) -> tuple[str, datetime, int, int] | None:
        """(kind, waiting since, staff minutes, admin minutes) for a ticket waiting on staff, else None."""
        q = self.queue
        if ticket.status == OPEN and ticket.claimed_by is None:
            return "unclaimed", as_utc(ticket.waiting_since), q.remind_unclaimed_minutes, q.alert_admin_unclaimed_minutes
        if ticket.status in (OPEN, CLAIMED):
            # The owner's clock starts when they took it, or when the user last spoke, whichever is later.
            since = max(as_utc(ticket.waiting_since), as_utc(ticket.claimed_at or ticket.waiting_since))
            return "unanswered", since, q.remind_unanswered_minutes, q.alert_admin_unanswered_minutes
        return None

    async def check(self) -> list[Event]:
        """Publish the reminders that are due now; return them."""
        now = self.clock()
        async with self.sessions() as s:
            tickets = (await s.scalars(select(Ticket).where(Ticket.status.in_((OPEN, CLAIMED)),
                                                            Ticket.reminder_level < ADMIN))).all()
        due = []
        for ticket in tickets:
            rule = self.thresholds(ticket)
            if rule is None:
                continue
            kind, since, staff_after, admin_after = rule
            waited = self.hours.working_minutes_between(since, now)
            level = ADMIN if waited >= admin_after else STAFF if waited >= staff_after else 0
            if level > ticket.reminder_level:
                due.append((ticket, kind, level, waited))
        published = []
        for ticket, kind, level, waited in due:
            if not await self._raise_level(ticket, level, kind, waited, now):
                continue  # another process sent it, or the ticket moved on meanwhile
            for step in range(ticket.reminder_level + 1, level + 1):
                event = Event("ticket.reminder", ticket.id, {
                    "level": "staff" if step == STAFF else "admin", "kind": kind,
                    "staff_id": ticket.claimed_by, "minutes": round(waited)})
                await self.events.publish(event)
                published.append(event)
        return published

    async def _raise_level(self, ticket: Ticket, level: int, kind: str, waited: float, now: datetime) -> bool:
        async with self.sessions.begin() as s:
            result = await s.execute(
                update(Ticket).where(Ticket.id == ticket.id, Ticket.reminder_level == ticket.reminder_level,
                                     Ticket.status == ticket.status, Ticket.waiting_since == ticket.waiting_since)
                .values(reminder_level=level).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return False
            s.add(TicketEvent(ticket_id=ticket.id, kind="reminded", created_at=now,
                              detail={"level": "staff" if level == STAFF else "admin", "kind": kind,
                                      "minutes": round(waited)}))
        return True
