"""The inbox: an incoming user message is written to the database before it is acknowledged.

A channel stores each incoming message with `Inbox.accept` (idempotent on its dedupe key, e.g.
`tg:<update_id>`) and only then acknowledges it (moves the Telegram offset, answers the webhook
or the web chat's HTTP request). Processing takes pending rows in id order, one chat at a time
in order (`order_key`), under a lease so two processes never run one row together.

Exactly once: while a row's handler runs, every `Message` it writes is stamped with
`meta["inbound_id"]` (a mapper hook, active only inside the processor). If a process dies after
the handler's first write but before the row is marked done, the retry sees the stamped message
and only marks the row done instead of processing it again. A handler whose effects are one
transaction (Conversation.ask) marks the row done inside it (`mark_done_in`), so effects and
done-mark commit together and the separate done commit is skipped. See docs/queue.md.

A channel that receives updates in batches (Telegram's getUpdates) stores a whole batch in one
transaction with `accept_many`, already leased to this Inbox, so processing the row needs no
separate lease commit while that lease lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.db.models import Inbound, Message, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Handler = Callable[[dict[str, Any]], Awaitable[Any]]
PENDING, DONE, FAILED = "pending", "done", "failed"

# The inbound row whose handler is running in this task (None outside the processor).
current_inbound_id: ContextVar[int | None] = ContextVar("current_inbound_id", default=None)


@dataclass
class Run:
    """One processing run of an inbound row: its lease (attempt), and whether its done-mark has committed."""

    id: int
    attempt: int
    done: bool = False


# The same row's lease (attempt) and whether the handler's own transaction already marked it done.
_current_run: ContextVar[Run | None] = ContextVar("inbox_current_run", default=None)


def current_run() -> Run | None:
    """The row whose handler is running in this task (None outside the processor), to hand to another task."""
    return _current_run.get()


@contextlib.contextmanager
def acting_for(run: Run | None) -> Iterator[None]:
    """Stamp the Messages flushed inside this block with `run`'s row (a group commit writes for several rows)."""
    token = current_inbound_id.set(run.id if run is not None else None)
    try:
        yield
    finally:
        current_inbound_id.reset(token)


async def mark_done_in(session: AsyncSession, run: Run | None = None) -> None:
    """Mark the row being processed done inside the handler's own transaction (no-op outside the processor).

    The mark is conditional on this worker's lease (the attempt number), so a worker whose lease
    was taken over changes nothing; the processor skips its own done commit only once this
    session has committed with the mark in it. `run` (from `current_run`) names the row when the
    transaction runs in another task than the handler (a group commit); by default it is this task's.
    """
    run = run if run is not None else _current_run.get()
    if run is None or run.done:
        return
    result = await session.execute(
        update(Inbound).where(Inbound.id == run.id, Inbound.status == PENDING, Inbound.attempts == run.attempt)
        .values(status=DONE, processed_at=utcnow(), locked_until=None).execution_options(synchronize_session=False))
    if result.rowcount == 1:
        def committed(_session) -> None:
            run.done = True
        event.listen(session.sync_session, "after_commit", committed, once=True)


async def mark_many_done_in(session: AsyncSession, runs: list[Run]) -> None:
    """`mark_done_in` for several rows with one statement (a group commit); each is conditional on its own lease."""
    runs = [run for run in runs if not run.done]
    if not runs:
        return
    by_id = {run.id: run for run in runs}
    by_attempt: dict[int, list[int]] = {}
    for run in runs:
        by_attempt.setdefault(run.attempt, []).append(run.id)
    marked = set(await session.scalars(
        update(Inbound).where(Inbound.status == PENDING,
                              or_(*(and_(Inbound.id.in_(ids), Inbound.attempts == attempt)
                                    for attempt, ids in by_attempt.items())))
        .values(status=DONE, processed_at=utcnow(), locked_until=None).returning(Inbound.id)
        .execution_options(synchronize_session=False)))
    if marked:
        def committed(_session) -> None:
            for row_id in marked:
                by_id[row_id].done = True
        event.listen(session.sync_session, "after_commit", committed, once=True)


def stamp_new_messages(session: AsyncSession, run: Run | None) -> None:
    """Stamp the session's unflushed Messages with `run`'s row, unless stamped already (see `acting_for`)."""
    if run is None:
        return
    for obj in session.new:
        if isinstance(obj, Message) and "inbound_id" not in (obj.meta or {}):
            obj.meta = {**(obj.meta or {}), "inbound_id": run.id}


def _stamp_message(_mapper, _connection, target: Message) -> None:
    inbound_id = current_inbound_id.get()
    if inbound_id is not None and "inbound_id" not in (target.meta or {}):
        target.meta = {**(target.meta or {}), "inbound_id": inbound_id}


def install_effect_stamp() -> None:
    """Stamp the Messages written while a handler runs (installed once, on first use, not at import)."""
    if not event.contains(Message, "before_insert", _stamp_message):
        event.listen(Message, "before_insert", _stamp_message)


def order_key_for(channel: str, external_id: str) -> str:
    """The order key of one chat: its messages are processed one after another, and forgotten with it."""
    return f"{channel}:{external_id}"


@dataclass(frozen=True)
class Outcome:
    """What processing one row did: "done" (handler ran), "recovered" (its effects were already there),
    "failed" (gave up), "retry" (will try again), "busy" (already done or held by another worker)."""

    status: str
    row_id: int
    result: Any = None


async def accept(sessions: async_sessionmaker[AsyncSession], channel: str, dedupe_key: str, payload: dict[str, Any],
                 order_key: str | None = None) -> tuple[int, bool]:
    """Store an incoming message; return (row id, is_new). A repeat of a dedupe key returns the first row."""
    try:
        async with sessions.begin() as s:
            row = Inbound(channel=channel, dedupe_key=dedupe_key[:128], payload=payload, order_key=order_key,
                          status=PENDING, created_at=utcnow())
            s.add(row)
        return row.id, True
    except IntegrityError:
        async with sessions() as s:
            row_id = await s.scalar(select(Inbound.id).where(Inbound.dedupe_key == dedupe_key[:128]))
        if row_id is None:  # not a duplicate after all: some other constraint
            raise
        return row_id, False


class Inbox:
    """Accept incoming messages durably and process each exactly once (one per process, or several on PostgreSQL)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utcnow, lease_seconds: float = 60.0,
                 max_attempts: int = 5, poll_seconds: float = 1.0):
        self.sessions, self.clock = sessions, clock
        self.lease, self.max_attempts, self.poll = timedelta(seconds=lease_seconds), max_attempts, poll_seconds
        self._wake = asyncio.Event()
        self._held: dict[int, _Claimed] = {}  # rows accept_many leased to this Inbox, not yet processed
        self._held_until: dict[int, datetime] = {}
        install_effect_stamp()

    async def accept(self, channel: str, dedupe_key: str, payload: dict[str, Any],
                     order_key: str | None = None) -> tuple[int, bool]:
        """Store before acknowledging; `order_key` (e.g. "tg:<chat id>") keeps one chat's messages in order."""
        result = await accept(self.sessions, channel, dedupe_key, payload, order_key)
        self._wake.set()
        return result

    async def accept_many(self, items: list[tuple[str, str, dict[str, Any], str | None]]) -> list[tuple[int, bool]]:
        """Store a batch of (channel, dedupe key, payload, order key) in one transaction; [(row id, is_new)].

        New rows are leased to this Inbox (attempt 1) for twice the lease, so `process_row` can run
        them without a lease commit while at least one full lease is left. If any key of the batch
        was stored before, the batch falls back to one `accept` per item (unleased rows).
        """
        now = self.clock()
        until = now + 2 * self.lease
        unique: dict[str, tuple[str, dict[str, Any], str | None]] = {}
        for channel, key, payload, order in items:
            unique.setdefault(key[:128], (channel, payload, order))
        rows = [{"channel": channel, "dedupe_key": key, "payload": payload, "order_key": order, "status": PENDING,
                 "created_at": now, "attempts": 1, "locked_until": until}
                for key, (channel, payload, order) in unique.items()]
        try:
            async with self.sessions.begin() as s:
                # One INSERT ... RETURNING for the batch (the ORM would insert row by row on SQLite);
                # the ids are matched back by dedupe key, unique in the batch.
                # The table, not the ORM entity: a plain Core INSERT skips the ORM's bulk-insert bookkeeping.
                table = Inbound.__table__
                result = await s.execute(insert(table).returning(table.c.dedupe_key, table.c.id), rows)
                ids = dict(result.all())
        except IntegrityError:  # a repeat (e.g. after a restart): store one by one, repeats return their first row
            return [await self.accept(*item) for item in items]
        for key, (_, payload, _) in unique.items():
            self._held[ids[key]] = _Claimed(ids[key], dict(payload or {}), 1)
            self._held_until[ids[key]] = until
        self._wake.set()
        seen: set[str] = set()
        result = []
        for _, key, _, _ in items:
            result.append((ids[key[:128]], key[:128] not in seen))
            seen.add(key[:128])
        return result

    async def release(self, row_ids: list[int]) -> None:
        """Give back rows accept_many leased that this process will not run now (anyone may take them)."""
        mine = [i for i in row_ids if self._held.pop(i, None) is not None]
        for i in mine:
            self._held_until.pop(i, None)
        if not mine:
            return
        async with self.sessions.begin() as s:
            await s.execute(update(Inbound).where(Inbound.id.in_(mine), Inbound.status == PENDING, Inbound.attempts == 1)
                            .values(attempts=0, locked_until=None).execution_options(synchronize_session=False))

    async def release_held(self) -> None:
        """At shutdown: give back every row still held from accept_many, so a restart need not wait for the lease."""
        await self.release(list(self._held))

    async def handle(self, channel: str, dedupe_key: str, payload: dict[str, Any], handler: Handler,
                     order_key: str | None = None) -> Outcome:
        """Accept and process at once (the web chat answers in its HTTP response); a repeat is "busy"."""
        row_id, _ = await self.accept(channel, dedupe_key, payload, order_key)
        return await self.process_row(row_id, handler)

    async def run(self, handler: Handler) -> None:
        """Process pending rows until cancelled; what a crash left pending is picked up on start."""
        while True:
            try:
                await self.process_pending(handler)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a while: keep trying
                log.exception("inbox pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)

    async def process_pending(self, handler: Handler, limit: int | None = None) -> int:
        """Process claimable rows in id order until none is left (or `limit`); return how many were taken."""
        count = 0
        while limit is None or count < limit:
            row = await self._claim()
            if row is None:
                return count
            await self._process(row, handler)
            count += 1
        return count

    async def process_row(self, row_id: int, handler: Handler) -> Outcome:
        """Process this row now if it is pending and not held by another worker (or leased to us by accept_many)."""
        now = self.clock()
        held = self._held.pop(row_id, None)
        if held is not None:
            until = self._held_until.pop(row_id)
            if until - now < self.lease:  # not a full lease left: extend it, unless someone took the row over
                until = now + self.lease
                async with self.sessions.begin() as s:
                    result = await s.execute(
                        update(Inbound).where(Inbound.id == row_id, Inbound.status == PENDING, Inbound.attempts == held.attempt)
                        .values(locked_until=until).execution_options(synchronize_session=False))
                if result.rowcount != 1:
                    return Outcome("busy", row_id)
            return await self._process(held, handler)
        async with self.sessions.begin() as s:
            row = await s.scalar(select(Inbound).where(Inbound.id == row_id, Inbound.status == PENDING,
                                                       or_(Inbound.locked_until.is_(None), Inbound.locked_until < now))
                                 .with_for_update(skip_locked=True))
            if row is None:
                return Outcome("busy", row_id)
            claimed = self._lease(row, now)
        return await self._process(claimed, handler)

    async def pending(self) -> int:
        async with self.sessions() as s:
            return await s.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == PENDING)) or 0

    # ---- internals -------------------------------------------------------------------------
    async def _claim(self) -> _Claimed | None:
        now = self.clock()
        earlier = aliased(Inbound)
        blocked = exists().where(earlier.order_key == Inbound.order_key, earlier.status == PENDING, earlier.id < Inbound.id)
        q = (select(Inbound)
             .where(Inbound.status == PENDING, or_(Inbound.locked_until.is_(None), Inbound.locked_until < now),
                    or_(Inbound.order_key.is_(None), ~blocked))
             .order_by(Inbound.id).limit(1).with_for_update(skip_locked=True, of=Inbound))
        async with self.sessions.begin() as s:
            row = await s.scalar(q)
            return None if row is None else self._lease(row, now)

    def _lease(self, row: Inbound, now: datetime) -> _Claimed:
        row.attempts += 1
        row.locked_until = now + self.lease
        return _Claimed(row.id, dict(row.payload or {}), row.attempts)

    async def _process(self, row: _Claimed, handler: Handler) -> Outcome:
        if row.attempt > 1 and await self._has_effects(row.id):
            await self._finish(row, DONE)
            return Outcome("recovered", row.id)
        token = current_inbound_id.set(row.id)
        run = Run(row.id, row.attempt)
        run_token = _current_run.set(run)
        try:
            result = await handler(row.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("inbound row %s failed (attempt %d)", row.id, row.attempt)
            if row.attempt >= self.max_attempts:
                await self._finish(row, FAILED)
                return Outcome("failed", row.id)
            await self._postpone(row, min(60.0, 2.0 ** row.attempt), f"{type(exc).__name__}: {exc}")
            return Outcome("retry", row.id)
        finally:
            current_inbound_id.reset(token)
            _current_run.reset(run_token)
        if not run.done:  # the handler's transaction did not mark it (see mark_done_in)
            await self._finish(row, DONE)
        return Outcome("done", row.id, result)

    async def _has_effects(self, row_id: int) -> bool:
        async with self.sessions() as s:
            found = await s.scalar(select(Message.id).where(Message.meta["inbound_id"].as_integer() == row_id).limit(1))
        return found is not None

    async def _finish(self, row: _Claimed, status: str) -> None:
        async with self.sessions.begin() as s:
            await s.execute(update(Inbound).where(Inbound.id == row.id, Inbound.attempts == row.attempt)
                            .values(status=status, processed_at=self.clock(), locked_until=None)
                            .execution_options(synchronize_session=False))

    async def _postpone(self, row: _Claimed, delay: float, error: str) -> None:
        log.info("inbound row %s retries in %.0fs: %s", row.id, delay, error)
        async with self.sessions.begin() as s:
            await s.execute(update(Inbound).where(Inbound.id == row.id, Inbound.attempts == row.attempt)
                            .values(locked_until=self.clock() + timedelta(seconds=delay))
                            .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class _Claimed:
    id: int
    payload: dict[str, Any]
    attempt: int
