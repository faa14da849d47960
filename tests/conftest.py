"""Shared fixtures: a real database (SQLite file always, PostgreSQL when reachable), wired services, and the
matcher tests' small bilingual FAQ."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import REPO_FAQ_DIR, Settings, load_settings
from bot.faq.loader import load_faq
from bot.faq.matcher import Matcher

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FAQ = ROOT / "tests" / "fixtures" / "sample_faq"
MATCHER_FAQ = ROOT / "tests" / "fixtures" / "matcher" / "faq"
DEFAULT_PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_admin(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(server_url), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    """The PostgreSQL database for this run: $HELPDESK_TEST_DATABASE_URL, else a fresh one on localhost, else None."""
    given = os.environ.get("HELPDESK_TEST_DATABASE_URL")
    if given:
        yield given
        return
    name = f"helpdesk_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(DEFAULT_PG_SERVER, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server here: PostgreSQL tests skip
        pytest_pg_unreachable.append(f"{type(exc).__name__}: {exc}")
        yield None
        return
    yield DEFAULT_PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_pg_admin(DEFAULT_PG_SERVER, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


pytest_pg_unreachable: list[str] = []


async def reset_postgres(url: str) -> None:
    """Empty every table (keeping the migrated schema) so each test starts clean."""
    from sqlalchemy import text

    from bot.db.engine import make_engine
    from bot.db.migrate import upgrade
    from bot.db.models import Base

    engine = make_engine(url)
    try:
        await upgrade(engine)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str | None) -> str:
    """A migrated, empty database URL: run once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}"
    if pg_url is None:
        if os.environ.get("HELPDESK_TEST_REQUIRE_POSTGRES"):
            pytest.fail("HELPDESK_TEST_REQUIRE_POSTGRES is set but PostgreSQL is not reachable")
        reason = pytest_pg_unreachable[0] if pytest_pg_unreachable else "no server"
        pytest.skip(f"PostgreSQL not reachable (set HELPDESK_TEST_DATABASE_URL): {reason}")
    await reset_postgres(pg_url)
    return pg_url


def make_settings(tmp_path: Path, db_url: str, faq_dir: Path = SAMPLE_FAQ, **sections: dict) -> Settings:
    """Settings for a test: the given database and FAQ, a fixed web secret, no file watching."""
    base = load_settings(None, env={})
    overrides = {
        "general": replace(base.general, data_dir=str(tmp_path / "data")),
        "database": replace(base.database, url=db_url),
        "faq": replace(base.faq, dir=str(faq_dir), watch=False),
        "web": replace(base.web, secret_key="test-secret-" + "x" * 40, port=0),
    }
    for name, values in sections.items():
        overrides[name] = replace(overrides.get(name, getattr(base, name)), **values)
    return replace(base, **overrides)


@pytest.fixture
async def services(tmp_path: Path, db_url: str) -> AsyncIterator:
    """Open services on the test database with the sample FAQ."""
    from bot.services import close_services, open_services

    svc = await open_services(make_settings(tmp_path, db_url))
    try:
        yield svc
    finally:
        await close_services(svc)


@pytest.fixture(scope="module")
def faq():
    """The matcher tests' small bilingual FAQ; a module that needs another FAQ defines its own `faq`."""
    return load_faq(MATCHER_FAQ)


@pytest.fixture(scope="module")
def matcher(faq):
    return Matcher.build(faq)


@pytest.fixture(scope="session")
def shipped_matcher():
    """A matcher over the shipped FAQ (faq/), built once: it is read-only."""
    return Matcher.build(load_faq(REPO_FAQ_DIR))
