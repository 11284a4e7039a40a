"""Migrations: an empty database reaches head, re-running is a no-op, and the schema equals tables.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.db import current_revision, head_revision, is_at_head, migrate, open_database
from bot.db.engine import build_engine
from bot.db.migrate import MIGRATIONS_DIR, alembic_config
from bot.db.tables import metadata
from tests.conftest import T0, DbTarget

TABLES = {t.name for t in metadata.sorted_tables}


def _schema_diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


async def _table_names(target: DbTarget) -> set[str]:
    engine = build_engine(target.url, schema=target.schema, pooled=False)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


class TestMigrate:
    async def test_empty_database_is_not_at_head(self, db_target: DbTarget) -> None:
        """A database never migrated has no revision, so /readyz would report it not ready."""
        assert await current_revision(db_target.url, schema=db_target.schema) is None
        assert not await is_at_head(db_target.url, schema=db_target.schema)

    async def test_migrate_creates_every_table_and_reaches_head(self, db_target: DbTarget) -> None:
        """Migrating an empty database creates every table of tables.py and records the head revision."""
        await migrate(db_target.url, schema=db_target.schema)

        assert await _table_names(db_target) >= TABLES
        assert await current_revision(db_target.url, schema=db_target.schema) == head_revision()
        assert await is_at_head(db_target.url, schema=db_target.schema)

    async def test_migrating_again_is_a_no_op_that_keeps_data(self, db_target: DbTarget) -> None:
        """A second migrate (every restart does one) changes nothing and loses no rows."""
        await migrate(db_target.url, schema=db_target.schema)
        db = await db_target.open()
        try:
            async with db.transaction() as tx:
                await tx.seen.first_time("Ev1", now=T0)
            await migrate(db_target.url, schema=db_target.schema)
            async with db.transaction() as tx:
                assert not await tx.seen.first_time("Ev1", now=T0)
        finally:
            await db.dispose()
        assert await is_at_head(db_target.url, schema=db_target.schema)

    async def test_migrated_schema_matches_tables_py(self, db_target: DbTarget) -> None:
        """Autogenerate finds nothing to do: the migrations build exactly the schema the code uses."""
        await migrate(db_target.url, schema=db_target.schema)
        engine = build_engine(db_target.url, schema=db_target.schema, pooled=False)
        try:
            async with engine.connect() as conn:
                assert await conn.run_sync(_schema_diff) == []
        finally:
            await engine.dispose()

    async def test_replicas_starting_together_migrate_once(self, db_target: DbTarget) -> None:
        """Three replicas migrating the same empty database at once all succeed and end at head."""
        await asyncio.gather(*(migrate(db_target.url, schema=db_target.schema) for _ in range(3)))

        assert await is_at_head(db_target.url, schema=db_target.schema)
        assert await _table_names(db_target) >= TABLES

    async def test_downgrade_then_upgrade_round_trip(self, db_target: DbTarget) -> None:
        """The initial migration can be reverted to an empty schema and applied again."""
        await migrate(db_target.url, schema=db_target.schema)
        await _alembic(db_target, "downgrade", "base")
        assert not (TABLES & await _table_names(db_target))

        await migrate(db_target.url, schema=db_target.schema)
        assert await is_at_head(db_target.url, schema=db_target.schema)


async def _alembic(db_target: DbTarget, step: str, revision: str) -> None:
    """Run ``alembic <step> <revision>`` (``upgrade``/``downgrade``) on the target."""
    engine = build_engine(db_target.url, schema=db_target.schema, pooled=False, sqlite_foreign_keys=False)
    cfg = alembic_config(db_target.url, schema=db_target.schema)

    def run(conn: Connection) -> None:
        with conn.begin():
            cfg.attributes["connection"] = conn
            getattr(command, step)(cfg, revision)

    try:
        async with engine.connect() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def test_requests_stored_before_the_quota_columns_get_their_claims(db_target: DbTarget) -> None:
    """Upgrading a database whose requests predate the quota columns fills them from each stored spec
    (memory; root disk plus volumes), so their containers keep counting against the quota."""
    await migrate(db_target.url, schema=db_target.schema)
    await _alembic(db_target, "downgrade", "0003")
    insert = text(
        "INSERT INTO container_request (id, requester, channel, spec, count, purpose, state, created_at,"
        " updated_at) VALUES (:id, 'U1', 'C1', :spec, 1, '', 'pending_approval', :now, :now)"
    )
    specs = {
        "r-volumes": '{"memory_mib": 2048, "disk_gib": 10, "mountpoints": [{"size_gib": 5}, {"size_gib": 7}]'
        "}",
        "r-plain": '{"memory_mib": 512, "disk_gib": 8}',
        "r-broken": '{"memory_mib": "lots"}',
    }
    engine = build_engine(db_target.url, schema=db_target.schema, pooled=False)
    try:
        async with engine.begin() as conn:
            for request_id, spec in specs.items():
                await conn.execute(insert, {"id": request_id, "spec": spec, "now": T0})
        await migrate(db_target.url, schema=db_target.schema)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT id, quota_memory_mib, quota_disk_gib FROM container_request ORDER BY id")
            )
            claims = {r[0]: (r[1], r[2]) for r in rows}
    finally:
        await engine.dispose()
    assert claims == {"r-broken": (0, 0), "r-plain": (512, 8), "r-volumes": (2048, 22)}


async def test_open_database_migrates_first(db_target: DbTarget) -> None:
    """``open_database`` on an empty database migrates it and returns a usable handle."""
    db = await open_database(db_target.url, schema=db_target.schema)
    try:
        assert await is_at_head(db.engine)
        async with db.transaction() as tx:
            assert await tx.seen.first_time("Ev1", now=T0)
    finally:
        await db.dispose()


def test_migrations_ship_inside_the_package() -> None:
    """The Alembic scripts live in the bot.db package (so an installed wheel can migrate)."""
    cfg = alembic_config()
    assert Path(cfg.get_main_option("script_location") or "") == MIGRATIONS_DIR
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))


async def test_sqlite_file_gets_its_directory_and_pragmas(tmp_path: Path) -> None:
    """A SQLite URL in a missing folder works; connections use WAL and foreign keys, and SQLite's busy
    handler is off: waits for a lock are async pauses (tests/db/test_sqlite_cursor.py)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'dir' / 'cardinal.db'}"
    await migrate(url)
    engine = build_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 0
    finally:
        await engine.dispose()
    assert (tmp_path / "new" / "dir" / "cardinal.db").is_file()
