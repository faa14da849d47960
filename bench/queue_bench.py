"""Queue throughput: outbox rows delivered and inbox rows processed per second, on SQLite or PostgreSQL.

python -m bench.queue_bench sqlite+aiosqlite:////tmp/qbench.db      (or a postgresql+asyncpg:// URL of an empty database)
No-op transport and handler: this measures the queue's own database work, not Telegram.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Outbox, utcnow
from bot.events import EventBus
from bot.inbox import Inbox
from bot.outbox import OutboxWorker

ROWS, USERS = 2000, 200


class NoOp:
    async def deliver(self, row_payload, destination):
        return None


async def main(url: str) -> None:
    engine = make_engine(url, pool_size=10)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as s:
        now = utcnow()
        s.add_all(Outbox(channel="bench", destination=f"u{i % USERS}", payload={"text": f"m{i}"}, created_at=now,
                         next_attempt_at=now) for i in range(ROWS))
    worker = OutboxWorker(sessions, EventBus(), {"bench": NoOp()}, batch=100)
    started = time.perf_counter()
    while await worker.deliver_due():
        pass
    elapsed = time.perf_counter() - started
    print(f"outbox: {ROWS} rows to {USERS} destinations in {elapsed:.2f}s = {ROWS / elapsed:.0f} rows/s")

    inbox = Inbox(sessions)
    started = time.perf_counter()
    for i in range(ROWS):
        await inbox.accept("bench", f"bench:{time.time_ns()}:{i}", {"i": i}, order_key=f"u{i % USERS}")
    accepted = time.perf_counter() - started

    async def handler(payload):
        return None

    half = ROWS // 2
    started = time.perf_counter()
    done = await inbox.process_pending(handler, limit=half)
    one = done / (time.perf_counter() - started)
    started = time.perf_counter()
    done = sum(await asyncio.gather(*(inbox.process_pending(handler) for _ in range(8))))
    eight = done / (time.perf_counter() - started)
    print(f"inbox: accept {ROWS / accepted:.0f}/s; process {one:.0f}/s with one processor, {eight:.0f}/s with 8")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
