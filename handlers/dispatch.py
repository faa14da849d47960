"""Process freshly stored updates at once, one chat in order, many chats concurrently.

The inbox workers (bot/inbox.py `Inbox.run`) would find these rows too, but only by polling the
table; handing the row ids over directly saves that round trip and the wait. Each row still goes
through `Inbox.process_row` (lease, exactly-once stamp, done/retry), so a row is never run twice;
a row stored by `Inbox.accept_many` is already leased to us, and a row we will not run is released.
If a row has to be retried, later rows of that chat are left to the inbox workers for a while,
because those keep each chat's order across retries and this shortcut would not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from bot.inbox import Handler, Inbox

log = logging.getLogger(__name__)
FINAL = ("done", "recovered", "failed")
DEFER_SECONDS = 120.0


class Dispatcher:
    def __init__(self, inbox: Inbox, handler: Handler, concurrency: int):
        self.inbox, self.handler = inbox, handler
        self._limit = asyncio.Semaphore(concurrency)
        self._queues: dict[str, deque[int]] = {}
        self._deferred: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()

    def submit(self, key: str | None, row_id: int) -> None:
        """Queue a stored row; a chat's rows run one after another in the order submitted."""
        if key is not None and self._deferred.get(key, 0.0) > time.monotonic():
            self._spawn(self._release([row_id]))  # the inbox workers have this chat for now
            return
        if key is None:
            self._spawn(self._run_one(row_id))
            return
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(row_id)
            return
        self._queues[key] = deque([row_id])
        self._spawn(self._drain(key))

    def idle(self) -> bool:
        return not self._tasks

    async def wait_idle(self) -> None:
        """Let the rows already handed over finish (used at shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, row_ids: list[int]) -> None:
        try:
            await self.inbox.release(row_ids)
        except Exception:  # the database is away: the rows come free when their lease ends
            log.warning("could not release %d inbox rows", len(row_ids))

    async def _run_one(self, row_id: int) -> str:
        async with self._limit:
            return (await self.inbox.process_row(row_id, self.handler)).status

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                if await self._run_one(queue.popleft()) not in FINAL:
                    self._deferred[key] = time.monotonic() + DEFER_SECONDS
                    await self._release(list(queue))  # leased at accept time: let the inbox workers take them
                    queue.clear()
        finally:
            del self._queues[key]
