"""In-process publish/subscribe of queue events, for live console pages and the Telegram staff cards.

Across processes on PostgreSQL the queue forwards the same events with LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str  # ticket.created | ticket.updated | ticket.message | faq.reloaded | ...
    ticket_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], Awaitable[None]]


class EventBus:
    """Fan-out to async listeners and to queues (one per live web page)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queues: set[asyncio.Queue[Event]] = set()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def open_queue(self, maxsize: int = 100) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._queues.add(queue)
        return queue

    def close_queue(self, queue: asyncio.Queue[Event]) -> None:
        self._queues.discard(queue)

    async def publish(self, event: Event) -> None:
        for queue in list(self._queues):
            if queue.full():  # a slow page loses old events, never blocks the bot
                queue.get_nowait()
            queue.put_nowait(event)
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:
                log.exception("event listener failed for %s", event.kind)
