"""The :class:`Database` handle every service gets, and :func:`open_database` to make one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import BUSY_TIMEOUT_MS, create_engine, in_memory
from bot.db.errors import StorageError
from bot.db.migrate import migrate
from bot.db.tx import Tx

WRITER_WAIT = BUSY_TIMEOUT_MS / 1000
"""Seconds a SQLite write transaction waits for this process's other writers (as long as SQLite's busy
handler waits for other processes)."""


class Database:
    """An engine; work happens in short :meth:`transaction` blocks on a pooled connection.

    Example::

        async with db.transaction() as tx:
            won = await tx.approvals.decide(approval_id, approve=True, by=user, reason=None, now=now)
    """

    def __init__(self, engine: AsyncEngine, reader: AsyncEngine | None = None) -> None:
        self.engine = engine
        #: The engine of read-only transactions: on SQLite its own pool, whose transactions begin DEFERRED
        #: (they neither wait for nor hold the write lock); else the same engine.
        self.reader = reader or engine
        # SQLite takes one writer at a time. Writers of this process queue here, on the event loop,
        # instead of each holding a pooled connection (and its thread) in SQLite's busy handler, which
        # polls with sleeps of up to 100 ms: that cost a thread wake-up per poll and tens of ms of latency
        # per write under load. Other processes on the same file still meet the busy handler.
        self._writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._writing: asyncio.Task[Any] | None = None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Tx]:
        """One transaction: commit when the block ends, roll back if it raises.

        On SQLite it starts with ``BEGIN IMMEDIATE`` (write lock up front), or with a plain deferred
        ``BEGIN`` when ``readonly=True`` — use that only for blocks that never write. The process's write
        transactions take turns (first come, first served) before they take a connection; one that waits
        more than :data:`WRITER_WAIT` seconds, or is opened inside another, raises
        :class:`~bot.db.errors.StorageError`.

        A Core connection, not an ORM session: every repository speaks Core, and a session's own
        bookkeeping cost about 0.15 ms of CPU per transaction.
        """
        if readonly or self._writer is None:
            async with (self.reader if readonly else self.engine).connect() as conn, conn.begin():
                yield Tx(conn)
            return
        me = asyncio.current_task()
        if me is not None and self._writing is me:
            raise StorageError("A write transaction was opened inside another one on SQLite (a bug).")
        try:
            async with asyncio.timeout(WRITER_WAIT):
                await self._writer.acquire()
        except TimeoutError:
            raise StorageError(f"The database stayed busy with other writes for {WRITER_WAIT:g} s.") from None
        self._writing = me
        try:
            async with self.engine.connect() as conn, conn.begin():
                yield Tx(conn)
        finally:
            self._writing = None
            self._writer.release()

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises if the database cannot be reached (for ``/readyz``)."""
        async with self.transaction(readonly=True) as tx:
            await tx.conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection (at shutdown)."""
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()


async def open_database(url: str, *, migrate_first: bool = True, schema: str | None = None) -> Database:
    """A :class:`Database` for ``url``, after bringing the schema to the newest migration (under a lock).

    ``schema`` (PostgreSQL only) keeps Cardinal's tables in that schema (tests use one per test).
    """
    if migrate_first:
        await migrate(url, schema=schema)
    engine = create_engine(url, schema=schema)
    if engine.dialect.name != "sqlite" or in_memory(url):
        return Database(engine)
    return Database(engine, create_engine(url, readonly=True))
