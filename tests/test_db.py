"""Storage: migrations apply on both databases, and a database newer than the code is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from bot.db.engine import make_engine
from bot.db.migrate import SchemaError, current_revision, upgrade
from bot.db.models import Base


async def test_upgrade_creates_every_table_and_is_idempotent(db_url):
    engine = make_engine(db_url)
    try:
        head = await upgrade(engine)
        assert await upgrade(engine) == head == await current_revision(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        assert set(Base.metadata.tables) <= tables
    finally:
        await engine.dispose()


async def test_a_database_newer_than_the_code_is_refused(db_url):
    engine = make_engine(db_url)
    head = await upgrade(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        with pytest.raises(SchemaError, match=r"9999_from_the_future.*does not know"):
            await upgrade(engine)
    finally:
        async with engine.begin() as conn:  # leave the shared PostgreSQL database usable for the next test
            await conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        await engine.dispose()
