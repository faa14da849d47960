"""Which database errors keep an update for later (the database is away) and which are its own fault."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.pg_notify import asyncpg_dsn
from handlers.errors import retryable


async def _error_of(url: str, statement: str) -> DBAPIError:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    except DBAPIError as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError(f"{statement!r} did not fail")


async def test_a_database_refusing_connections_is_away_and_a_bad_statement_is_not(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("ALLOW_CONNECTIONS is PostgreSQL's; SQLite's lock errors are OperationalError")
    name = make_url(db_url).database
    admin = await asyncpg.connect(asyncpg_dsn(db_url).rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        refused = await _error_of(db_url, "SELECT 1")
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert "accepting connections" in str(refused.orig)
    assert retryable(refused)
    assert not retryable(await _error_of(db_url, "SELECT 1/0"))
    assert not retryable(await _error_of(db_url, "SELECT CAST('x' AS integer)"))
    assert retryable(await _error_of(db_url, "SELECT pg_terminate_backend(pg_backend_pid())"))
