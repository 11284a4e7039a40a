"""SQLite mode: write transactions hold the file's write lock from BEGIN; read-only ones do not."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.db import Database
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
