"""Apply Alembic migrations from code, and refuse a database that is newer than the code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaError(Exception):
    """The database schema cannot be used by this version of the code."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade(engine: AsyncEngine) -> str:
    """Bring the schema to the newest revision; return it. Refuses unknown (newer) revisions."""
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    head = script.get_current_head()
    current = await current_revision(engine)
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaError(
            f"the database is at schema revision {current}, which this version of the code does not know "
            f"(newest known: {head}); upgrade the code, or restore a backup made for this version"
        )
    if current != head:
        async with engine.begin() as conn:
            await conn.run_sync(_run_upgrade, engine)
    return head or ""


def _run_upgrade(sync_conn, engine: AsyncEngine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
