"""Async engines for Cardinal's two backends, configured the way the ledger's concurrency needs.

SQLite (aiosqlite, the default): WAL, a 10 s busy timeout, foreign keys on, and every transaction opened
with ``BEGIN IMMEDIATE`` so a read-then-write transaction holds the write lock from its first statement
(the driver's own BEGIN handling is switched off, per SQLAlchemy's "Transactions with SQLite" recipe).
An engine built ``readonly`` opens its transactions with a plain deferred ``BEGIN`` instead. The BEGIN is
the dialect's own ``do_begin``, not a ``begin`` event listener: any engine event listener makes every
statement dispatch through SQLAlchemy's event machinery (a tenth of a statement's CPU).
PostgreSQL (asyncpg): a pre-pinged pool; an optional ``schema`` becomes the connection's search_path.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool
from sqlalchemy.util import await_only

from bot.db.sqlite_cursor import BUSY_TIMEOUT_PRAGMA, use_one_trip_cursors
from bot.errors import ConfigError

BUSY_TIMEOUT_MS = 10_000

_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def create_engine(url: str, *, schema: str | None = None, readonly: bool = False) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``.

    For a SQLite file, its parent directory is created when missing. ``schema`` (PostgreSQL only)
    puts Cardinal's tables in that schema by setting the connections' ``search_path``. ``readonly``
    (SQLite): transactions begin DEFERRED, for blocks that never write.
    """
    return build_engine(url, schema=schema, readonly=readonly)


def build_engine(
    url: str,
    *,
    schema: str | None = None,
    pooled: bool = True,
    sqlite_foreign_keys: bool = True,
    readonly: bool = False,
) -> AsyncEngine:
    """:func:`create_engine` with the knobs migrations need (no pool; SQLite FKs off during DDL)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if not pooled:
        kwargs["poolclass"] = NullPool
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername != "sqlite+aiosqlite":
            raise ConfigError([f"DATABASE_URL: use the sqlite+aiosqlite driver, not {parsed.drivername}"])
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Statements run on the event loop's thread or on aiosqlite's (sqlite_cursor): a connection is
        # used from both, one statement at a time (the adapter's mutex). pysqlite's dialect would ask
        # for same-thread checks on an in-memory database.
        engine = create_async_engine(parsed, connect_args={"check_same_thread": False}, **kwargs)
        begin = "BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE"
        _install_sqlite_hooks(engine, foreign_keys=sqlite_foreign_keys, begin=begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername != "postgresql+asyncpg":
            raise ConfigError([f"DATABASE_URL: use the postgresql+asyncpg driver, not {parsed.drivername}"])
        server_settings = {"application_name": "cardinal"}
        if schema is not None:
            if not _SCHEMA_RE.match(schema):
                raise ConfigError([f"database schema {schema!r} is not a plain SQL identifier"])
            server_settings["search_path"] = schema
        return create_async_engine(
            parsed, pool_pre_ping=True, connect_args={"server_settings": server_settings}, **kwargs
        )
    raise ConfigError(["DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg://"])


WAL_ATTEMPTS = 50
"""How often a new connection tries to switch a fresh database file to WAL while another holds it."""


def _ensure_wal(cursor: Any) -> None:
    """Put the database in WAL mode (persistent in the file, so only its first connection changes it).

    Switching needs the file to itself, and SQLite answers "database is locked" at once — without the
    busy handler — when replicas open a fresh file together and one of them is already migrating it.
    So: nothing to do when the file is already in WAL mode, else retry for a few seconds.
    """
    for attempt in range(WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()
            if mode is not None and str(mode[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # sqlite3.OperationalError through the driver's adapter
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            # This hook runs in SQLAlchemy's greenlet on the event loop: wait without blocking the loop,
            # so the connection that holds the file (maybe in this very process) can finish.
            await_only(asyncio.sleep(0.02 * (attempt + 1)))


def in_memory(url: str) -> bool:
    """True for a SQLite database that lives only in its connection (each engine would get its own)."""
    parsed = make_url(url)
    database = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in database or parsed.query.get("mode") == "memory"
    )


def _install_sqlite_hooks(engine: AsyncEngine, *, foreign_keys: bool, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")  # a pool event: statements do not dispatch it
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Cheap statements on the loop, long ones in one trip to the driver's thread; waits for locks
        # are async pauses then, not SQLite's busy handler (which would sleep on the loop).
        changed = use_one_trip_cursors(dbapi_connection)
        # Take BEGIN out of the driver's hands; _do_begin emits our own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(BUSY_TIMEOUT_PRAGMA if changed else f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _ensure_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    def _do_begin(dbapi_connection: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(begin)
        finally:
            cursor.close()

    engine.sync_engine.dialect.do_begin = _do_begin  # type: ignore[method-assign]
