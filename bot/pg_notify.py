"""Several processes on one PostgreSQL: queue events cross processes with LISTEN/NOTIFY.

Every process forwards its own queue events (ticket.*, chat.*, outbox.*, user.*) with
`pg_notify('helpdesk_events', json)` and listens on a dedicated asyncpg connection, re-publishing
the other processes' events on its local EventBus. So a ticket created by the process that runs
Telegram appears within a second on a console page served by another one. When the connection
drops, the bridge reconnects (events published meanwhile are queued, up to a bound).
NOTIFY is delivered only to sessions listening at the time: pages also reload their lists from
the database when they (re)connect, so a missed event is never a lost ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid

import asyncpg

from bot.events import Event, EventBus

log = logging.getLogger(__name__)

CHANNEL = "helpdesk_events"
FORWARDED_PREFIXES = ("ticket.", "chat.", "outbox.", "user.")
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more


def asyncpg_dsn(url: str) -> str:
    """SQLAlchemy's postgresql+asyncpg:// URL as asyncpg wants it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PgEventBridge:
    """Forward local events to other processes and theirs to us; run() until cancelled."""

    def __init__(self, url: str, events: EventBus, channel: str = CHANNEL, backlog: int = 1000,
                 reconnect_delay: float = 0.5, health_interval: float = 5.0):
        self.dsn, self.events, self.channel = asyncpg_dsn(url), events, channel
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.outgoing: asyncio.Queue[str] = asyncio.Queue(backlog)
        self.reconnect_delay, self.health_interval = reconnect_delay, health_interval
        self.connected = asyncio.Event()  # set while listening (tests wait on it)
        self.connections = 0  # listening sessions started so far (1 + reconnects)
        self._relaying: set[int] = set()  # ids of remote events being re-published: never echo them back
        self._tasks: set[asyncio.Task] = set()
        events.subscribe(self._forward)

    async def _forward(self, event: Event) -> None:
        if id(event) in self._relaying or not event.kind.startswith(FORWARDED_PREFIXES):
            return
        body = json.dumps({"origin": self.origin, "kind": event.kind, "ticket_id": event.ticket_id, "data": event.data},
                          ensure_ascii=False, default=str)
        if len(body.encode()) > MAX_PAYLOAD:
            body = json.dumps({"origin": self.origin, "kind": event.kind, "ticket_id": event.ticket_id, "data": {}})
        if self.outgoing.full():  # a long outage: drop the oldest; pages reload from the database anyway
            self.outgoing.get_nowait()
        self.outgoing.put_nowait(body)

    def _received(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            msg = json.loads(payload)
            if msg.get("origin") == self.origin:
                return
            event = Event(str(msg["kind"]), msg.get("ticket_id"), dict(msg.get("data") or {}))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed %s notification", self.channel)
            return
        task = asyncio.get_running_loop().create_task(self._republish(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _republish(self, event: Event) -> None:
        self._relaying.add(id(event))
        try:
            await self.events.publish(event)
        finally:
            self._relaying.discard(id(event))

    async def run(self) -> None:
        delay = self.reconnect_delay
        while True:
            try:
                await self._session()
                delay = self.reconnect_delay
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("event bridge connection lost (%s: %s); reconnecting in %.1fs", type(exc).__name__, exc, delay)
            finally:
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _session(self) -> None:
        """One connection's life: listen, send what is queued, check health; return or raise when it dies."""
        conn = await asyncpg.connect(self.dsn, timeout=10, server_settings={"application_name": "helpdesk-events"})
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        try:
            await conn.add_listener(self.channel, self._received)
            self.connections += 1
            self.connected.set()
            log.info("event bridge listening on %s as %s", self.channel, self.origin)
            while not lost.is_set():
                getter = asyncio.ensure_future(self.outgoing.get())
                waiter = asyncio.ensure_future(lost.wait())
                done, _ = await asyncio.wait({getter, waiter}, timeout=self.health_interval,
                                             return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if getter in done:
                    body = getter.result()
                    try:
                        await conn.execute("SELECT pg_notify($1, $2)", self.channel, body)
                    except BaseException:
                        self._requeue(body)
                        raise
                else:
                    getter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await getter
                    if getter.done() and not getter.cancelled():  # it completed while being cancelled
                        self._requeue(getter.result())
                    if not done:  # quiet for a while: make sure the connection is still alive
                        await conn.execute("SELECT 1")
            raise ConnectionResetError("listen connection terminated")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    def _requeue(self, body: str) -> None:
        # Put back at the front would need a deque; order across a reconnect is best effort.
        if not self.outgoing.full():
            self.outgoing.put_nowait(body)
