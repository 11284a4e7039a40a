"""SQLite mode: write transactions hold the file's write lock from BEGIN; read-only ones do not."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.db import Database
from bot.db.errors import StorageError
from tests.conftest import T0


@contextmanager
def _raw(db: Database) -> Iterator[sqlite3.Connection]:
    path = db.engine.url.database
    assert path
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


async def test_write_transaction_takes_the_write_lock_at_begin(sqlite_db: Database) -> None:
    """A transaction holds the write lock before its first statement, so read-then-write cannot race."""
    async with sqlite_db.transaction():
        with _raw(sqlite_db) as other, pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    with _raw(sqlite_db) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")


async def test_readonly_transaction_leaves_writers_free(sqlite_db: Database) -> None:
    """A read-only block does not take the write lock and still reads committed data."""
    async with sqlite_db.transaction() as tx:
        await tx.outbox.claim_post("k", "C1", now=T0)
    async with sqlite_db.transaction(readonly=True) as tx:
        stored = await tx.outbox.get("k")
        with _raw(sqlite_db) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    assert stored is not None
    assert stored.channel == "C1"


async def test_concurrent_writers_take_turns_holding_one_connection(sqlite_db: Database) -> None:
    """Ten writers at once all commit, one after the other, each holding a pooled connection only while it
    writes: the others wait on the event loop, not in SQLite's busy handler with a connection (and its
    thread) each."""
    held: list[int] = []

    async def write(i: int) -> None:
        async with sqlite_db.transaction() as tx:
            held.append(sqlite_db.engine.pool.checkedout())  # type: ignore[attr-defined]
            await tx.outbox.claim_post(f"k{i}", "C1", now=T0)
            await asyncio.sleep(0)  # let the other writers run meanwhile

    await asyncio.gather(*(write(i) for i in range(10)))
    assert held == [1] * 10
    async with sqlite_db.transaction(readonly=True) as tx:
        assert all([await tx.outbox.get(f"k{i}") for i in range(10)])


async def test_a_write_transaction_inside_another_fails_at_once(sqlite_db: Database) -> None:
    """SQLite has one writer: a write transaction opened inside another can never begin, so it fails with
    a clear error instead of waiting for itself."""
    async with sqlite_db.transaction():
        with pytest.raises(StorageError, match="inside another"):
            async with sqlite_db.transaction():
                pass
    async with sqlite_db.transaction(readonly=True), sqlite_db.transaction():  # a write inside a read: fine
        pass


async def test_a_writer_kept_waiting_too_long_gets_a_clear_error(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write transaction that waits longer than the busy timeout for the process's other writers fails
    with a storage error saying so (the holder here never lets go until it has seen that)."""
    monkeypatch.setattr("bot.db.database.WRITER_WAIT", 0.01)
    refused = asyncio.Event()

    async def holder() -> None:
        async with sqlite_db.transaction():
            await refused.wait()

    async def waiter() -> None:
        try:
            with pytest.raises(StorageError, match="busy with other writes"):
                async with sqlite_db.transaction():
                    pass
        finally:
            refused.set()

    await asyncio.gather(holder(), waiter())
