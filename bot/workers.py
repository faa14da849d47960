"""The queue's background workers: outbox delivery, reminders, retention, and the PostgreSQL event bridge.

Each is one asyncio task that keeps going through database outages (it logs and tries again)
and stops when cancelled; the runtime cancels them at shutdown. The inbox processor is started
by the channel that owns the handler (Telegram: `Inbox(services.sessions).run(handler)`).
"""

from __future__ import annotations

import asyncio

from bot.db.engine import is_sqlite
from bot.outbox import OutboxWorker
from bot.reminders import Reminders
from bot.retention import run_daily
from bot.services import Services


async def start_workers(services: Services) -> list[asyncio.Task]:
    """Start the queue's long-lived tasks; return them so the runtime can cancel them at shutdown."""
    queue = services.settings.queue
    outbox = OutboxWorker(services.sessions, services.events, services.transports, max_attempts=queue.outbox_max_attempts)
    reminders = Reminders(services.sessions, services.events, queue)
    tasks = [
        asyncio.create_task(outbox.run(), name="outbox"),
        asyncio.create_task(reminders.run(), name="reminders"),
        asyncio.create_task(run_daily(services.sessions, queue.retention_days), name="retention"),
    ]
    if not is_sqlite(services.engine):
        from bot.pg_notify import PgEventBridge

        bridge = PgEventBridge(services.settings.database_url, services.events)
        tasks.append(asyncio.create_task(bridge.run(), name="pg-events"))
    return tasks


async def stop_workers(tasks: list[asyncio.Task]) -> None:
    """Cancel and wait for the tasks (what the runtime does at shutdown; tests use it too)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
