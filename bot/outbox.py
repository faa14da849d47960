"""The outbox: staff replies (and other messages to users) delivered once, in order, with retries.

A reply is written as an `outbox` row in the same transaction as the ticket change (bot/tickets.py);
this worker delivers the rows through `services.transports[channel]`. Guarantees (docs/queue.md):

- in order per destination: only the oldest pending row of a (channel, destination) is ever picked,
  so row N+1 waits while row N is retrying;
- never sent by two workers at once: a row is claimed with a lease (`locked_until`), under
  `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL and `BEGIN IMMEDIATE` on SQLite;
- at least once: the row is marked sent right after the transport returns; a crash in the few
  milliseconds between the Bot API accepting a message and that commit re-sends it once the lease
  expires. We choose that over at-most-once because a lost answer is worse than a rare duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.db.models import Message, Outbox, Ticket, User, utcnow
from bot.events import Event, EventBus

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PENDING, SENT, FAILED = "pending", "sent", "failed"
UNCERTAIN = ("delivery uncertain: the process stopped while sending this reply; "
             "check with the user and send it again if it did not arrive")


class TransientDeliveryError(Exception):
    """Try again later: a network error, a timeout, a 5xx, or a 429 (then `retry_after` seconds)."""

    def __init__(self, message: str = "temporary delivery failure", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    """Never going to work: the user blocked the bot, the chat does not exist."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Transport(Protocol):
    """Sends one outbox payload ({"text", "kind", "lang", ...}) to one destination on its channel."""

    async def deliver(self, row_payload: dict, destination: str) -> None: ...


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds the lease on; `attempt` is the lease token (the row's attempts value)."""

    id: int
    channel: str
    destination: str
    payload: dict
    ticket_id: int | None
    staff_id: int | None
    attempt: int


class WebTransport:
    """The web chat reads its messages from the `messages` table, so delivering is telling the page."""

    def __init__(self, events: EventBus):
        self.events = events

    async def deliver(self, row_payload: dict, destination: str) -> None:
        await self.events.publish(Event("chat.message", row_payload.get("ticket_id"),
                                        {"visitor": destination, "kind": row_payload.get("kind", "")}))


def backoff_seconds(attempt: int, retry_after: float | None = None, cap: float = 300.0, scale: float = 1.0) -> float:
    """Exponential backoff with jitter (1, 2, 4 ... s, capped); a 429's retry_after wins when given."""
    if retry_after is not None:
        return max(0.0, float(retry_after)) + 0.1
    base = min(cap, 2.0 ** max(0, attempt - 1))
    return base * random.uniform(0.8, 1.2) * scale


class OutboxWorker:
    """Delivers due outbox rows; run() loops until cancelled, deliver_due() is one pass (tests call it)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventBus, transports: Mapping[str, Transport],
                 max_attempts: int = 12, lease_seconds: float = 120.0, batch: int = 50, poll_seconds: float = 1.0,
                 clock: Clock = utcnow, backoff_scale: float = 1.0):
        self.sessions, self.events, self.transports = sessions, events, transports
        self.max_attempts, self.lease, self.batch, self.poll = max_attempts, timedelta(seconds=lease_seconds), batch, poll_seconds
        self.clock, self.backoff_scale = clock, backoff_scale
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Deliver forever; wake early when a ticket event says a reply may be waiting."""
        self.events.subscribe(self._on_event)
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a while: keep trying
                log.exception("outbox pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)

    async def _on_event(self, event: Event) -> None:
        if event.kind.startswith("ticket.") or event.kind == "outbox.queued":
            self._wake.set()

    async def deliver_due(self) -> int:
        """Claim the due head-of-line rows and deliver them concurrently; return how many were attempted."""
        rows = await self.claim()
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def claim(self) -> list[Claimed]:
        """Take leases on up to `batch` due rows, at most one per destination (the oldest pending one)."""
        now = self.clock()
        earlier = aliased(Outbox)
        blocked_by_earlier = exists().where(
            earlier.channel == Outbox.channel, earlier.destination == Outbox.destination,
            earlier.status == PENDING, earlier.id < Outbox.id)
        q = (select(Outbox)
             .where(Outbox.status == PENDING, Outbox.next_attempt_at <= now,
                    or_(Outbox.locked_until.is_(None), Outbox.locked_until < now), ~blocked_by_earlier)
             .order_by(Outbox.id).limit(self.batch)
             .with_for_update(skip_locked=True, of=Outbox))
        claimed, uncertain = [], []
        async with self.sessions.begin() as s:
            for row in (await s.scalars(q)).all():
                if row.channel not in self.transports:
                    continue  # that channel is not running in this process; another one will deliver it
                # A lease that ran out means the worker holding it died while sending (a failed send
                # clears the lease): the message may or may not have reached the user.
                crashed = row.locked_until is not None
                row.attempts += 1
                row.locked_until = now + self.lease
                item = Claimed(row.id, row.channel, row.destination, dict(row.payload or {}), row.ticket_id,
                               row.staff_id, row.attempts)
                (uncertain if crashed else claimed).append(item)
        for item in uncertain:
            # Never send twice: rather than guess, hand the row to the staff member to check and resend.
            await self._fail(item, UNCERTAIN, user_blocked=False)
        return claimed

    async def _deliver(self, row: Claimed) -> None:
        payload = {**row.payload, "ticket_id": row.payload.get("ticket_id", row.ticket_id), "outbox_id": row.id}
        try:
            await self.transports[row.channel].deliver(payload, row.destination)
        except TransientDeliveryError as exc:
            if row.attempt >= self.max_attempts:
                await self._fail(row, f"gave up after {row.attempt} attempts: {exc}", user_blocked=False)
            else:
                await self._retry(row, str(exc), backoff_seconds(row.attempt, exc.retry_after, scale=self.backoff_scale))
        except PermanentDeliveryError as exc:
            await self._fail(row, exc.reason, user_blocked=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a transport must not stop the queue: treat as transient
            log.exception("transport %s failed on outbox row %s", row.channel, row.id)
            await self._retry(row, f"{type(exc).__name__}: {exc}", backoff_seconds(row.attempt, scale=self.backoff_scale))
        else:
            await self._mark_sent(row)

    async def _mark_sent(self, row: Claimed) -> None:
        # Committed right after the send: the only window for a duplicate is a crash between the two.
        async with self.sessions.begin() as s:
            await s.execute(update(Outbox).where(Outbox.id == row.id, Outbox.attempts == row.attempt)
                            .values(status=SENT, sent_at=self.clock(), locked_until=None, last_error=None)
                            .execution_options(synchronize_session=False))

    async def _retry(self, row: Claimed, error: str, delay: float) -> None:
        log.info("outbox row %s (%s) will retry in %.1fs: %s", row.id, row.channel, delay, error)
        async with self.sessions.begin() as s:
            await s.execute(update(Outbox).where(Outbox.id == row.id, Outbox.attempts == row.attempt)
                            .values(next_attempt_at=self.clock() + timedelta(seconds=delay), locked_until=None,
                                    last_error=error[:1000])
                            .execution_options(synchronize_session=False))

    async def _fail(self, row: Claimed, reason: str, user_blocked: bool) -> None:
        """Give the row up, flag the ticket (and the user if they are unreachable), tell the staff member."""
        log.warning("outbox row %s (%s) failed: %s", row.id, row.channel, reason)
        async with self.sessions.begin() as s:
            await s.execute(update(Outbox).where(Outbox.id == row.id, Outbox.attempts == row.attempt)
                            .values(status=FAILED, locked_until=None, last_error=reason[:1000])
                            .execution_options(synchronize_session=False))
            if row.ticket_id is not None:
                await s.execute(update(Ticket).where(Ticket.id == row.ticket_id).values(delivery_failed=True)
                                .execution_options(synchronize_session=False))
            if user_blocked:
                await s.execute(update(User).where(User.channel == row.channel, User.external_id == row.destination)
                                .values(blocked=True).execution_options(synchronize_session=False))
        await self.events.publish(Event("outbox.failed", row.ticket_id,
                                        {"staff_id": row.staff_id, "reason": reason, "outbox_id": row.id}))


async def pending_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Rows still waiting for delivery (health checks and tests)."""
    from sqlalchemy import func

    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == PENDING)) or 0


async def delivered_messages(sessions: async_sessionmaker[AsyncSession], ticket_id: int) -> list[Message]:
    """Outgoing messages of a ticket whose outbox row was sent (what the user has really received)."""
    async with sessions() as s:
        q = (select(Message).join(Outbox, and_(Outbox.message_id == Message.id, Outbox.status == SENT))
             .where(Message.ticket_id == ticket_id).order_by(Message.id))
        return list((await s.scalars(q)).all())
