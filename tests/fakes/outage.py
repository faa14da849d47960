"""Make the test database really unavailable for a while (issue 8's outage tests)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import make_url

from bot.pg_notify import asyncpg_dsn


@contextlib.asynccontextmanager
async def database_away(services) -> AsyncIterator[None]:
    """PostgreSQL: the database refuses connections and its sessions are killed. SQLite: another connection
    holds an exclusive lock, so every write waits (busy_timeout) and then fails, as a stuck database would."""
    url = services.settings.database_url
    if services.engine.dialect.name == "postgresql":
        name = make_url(url).database
        admin = await asyncpg.connect(asyncpg_dsn(url).rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
    else:
        lock = sqlite3.connect(make_url(url).database, isolation_level=None, timeout=30, check_same_thread=False)
        # In a thread: the code under test may be inside a transaction that needs the event loop to finish.
        await asyncio.to_thread(lock.execute, "BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()
