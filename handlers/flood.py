"""Slow down a user who floods the bot: more than N messages in a window -> one polite notice, then silence.

The counts live in this process's memory (a deque of timestamps per user): with several bot
processes each one limits separately, which is fine for the purpose (protecting the matcher and
the staff queue from one runaway client), and nothing needs cleaning up in the database.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class FloodGuard:
    def __init__(self, max_messages: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.max, self.window, self.clock = max_messages, window_seconds, clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def check(self, user_id: int) -> str:
        """'ok' to process, 'warn' to send the notice once (and drop), 'drop' to ignore silently."""
        now = self.clock()
        seen = self._seen.setdefault(user_id, deque())
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        seen.append(now)
        if len(self._seen) > 50_000:  # forget idle users so memory stays bounded
            self._prune(now)
        if len(seen) <= self.max:
            return "ok"
        warned = self._warned.get(user_id)
        if warned is not None and now - warned < self.window:
            return "drop"
        self._warned[user_id] = now
        return "warn"

    def _prune(self, now: float) -> None:
        for uid in [u for u, s in self._seen.items() if not s or now - s[-1] >= self.window]:
            self._seen.pop(uid, None)
            self._warned.pop(uid, None)
