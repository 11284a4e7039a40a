"""Schema migrations (Alembic), run safely when several replicas start at once.

The Alembic configuration is built in code and points at this package's ``migrations`` folder, so it
works from an installed wheel; there is no ``alembic.ini``. :func:`migrate` serialises concurrent
upgrades: on PostgreSQL with ``pg_advisory_lock`` on a dedicated, unpooled connection (closed after, so
the lock can never leak into a pool); on SQLite the whole upgrade runs in one ``BEGIN IMMEDIATE``
transaction, whose write lock does the same.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import build_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_KEY = 0x43617264696E616C  # "Cardinal" as a signed 64-bit advisory-lock key


def alembic_config(url: str | None = None, *, schema: str | None = None) -> Config:
    """An Alembic :class:`Config` for Cardinal's migrations (``script_location`` = the package folder)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this version of Cardinal."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found in the package"
    return head


def _upgrade(sync_conn: Connection, cfg: Config) -> None:
    # One transaction around everything: on SQLite its BEGIN IMMEDIATE is the migration lock, and
    # Alembic, seeing an external transaction, runs every step inside it.
    with sync_conn.begin():
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")


async def migrate(url: str, *, schema: str | None = None) -> None:
    """Bring the database at ``url`` to the newest revision; a no-op when it is already there.

    Safe to call from several processes at once: one migrates, the others wait and find nothing to do.
    """
    cfg = alembic_config(url, schema=schema)
    engine = build_engine(url, schema=schema, pooled=False, sqlite_foreign_keys=False)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
                await conn.commit()
                try:
                    await conn.run_sync(_upgrade, cfg)
                finally:
                    await conn.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
                    await conn.commit()
            else:
                await conn.run_sync(_upgrade, cfg)
    finally:
        await engine.dispose()


async def current_revision(target: str | AsyncEngine, *, schema: str | None = None) -> str | None:
    """The revision the database is at, or ``None`` for a database never migrated.

    ``target`` is a URL (a short-lived engine is made) or an existing engine (e.g. ``Database.reader``,
    cheaper for ``/readyz``).
    """
    if isinstance(target, str):
        engine = build_engine(target, schema=schema, pooled=False, readonly=True)
    else:
        engine = target
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    finally:
        if isinstance(target, str):
            await engine.dispose()


async def is_at_head(target: str | AsyncEngine, *, schema: str | None = None) -> bool:
    """True when the database is at the newest revision shipped with this code (for ``/readyz``)."""
    return await current_revision(target, schema=schema) == head_revision()
