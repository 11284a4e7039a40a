"""SQLite statements in one trip to aiosqlite's thread: active with the versions Cardinal ships, answering
exactly as the adapter's own cursors do, and stepping aside when a release moves the internals it uses."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.db.engine import build_engine
from bot.db.sqlite_cursor import OneTripCursor, _head, _retryable, supported, use_one_trip_cursors


async def _run_script(url: str) -> list[Any]:
    """The same statements through an engine: what the caller sees of each."""
    engine = build_engine(url)
    seen: list[Any] = []
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)"))
            result = await conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
            seen.append(("insert", result.rowcount, result.lastrowid))
            result = await conn.execute(
                text("INSERT INTO t (name, n) VALUES (:name, :n)"),
                [{"name": "b", "n": 2}, {"name": "c", "n": 3}],
            )
            seen.append(("executemany", result.rowcount))
            result = await conn.execute(text("UPDATE t SET n = n + 10 WHERE n >= 2"))
            seen.append(("update", result.rowcount))
            rows = (await conn.execute(text("SELECT name, n FROM t ORDER BY id"))).all()
            seen.append(("select", [tuple(r) for r in rows]))
            returned = (await conn.execute(text("DELETE FROM t WHERE name = 'a' RETURNING id, n"))).all()
            seen.append(("returning", [tuple(r) for r in returned]))
            empty = (await conn.execute(text("SELECT name FROM t WHERE n < 0"))).all()
            seen.append(("empty", empty))
            with pytest.raises(IntegrityError) as caught:
                await conn.execute(text("INSERT INTO t (name, n) VALUES ('b', 9)"))
            seen.append(("integrity", "UNIQUE" in str(caught.value.orig)))
            await conn.rollback()
    finally:
        await engine.dispose()
    return seen


async def test_cursors_make_one_trip_with_the_shipped_versions(tmp_path: Path) -> None:
    """With the pinned SQLAlchemy and aiosqlite, every SQLite connection of Cardinal uses the one-trip
    cursor (if this fails after an upgrade, the optimisation silently stepped aside: check the module)."""
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            cursor = raw.dbapi_connection.cursor()
            assert isinstance(cursor, OneTripCursor)
    finally:
        await engine.dispose()


async def test_one_trip_answers_as_the_adapter_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row counts, last row ids, rows, RETURNING, empty results and constraint errors are the same with
    and without the one-trip cursor."""
    fast = await _run_script(f"sqlite+aiosqlite:///{tmp_path / 'fast.db'}")
    monkeypatch.setattr("bot.db.engine.use_one_trip_cursors", lambda _conn: False)
    stock = await _run_script(f"sqlite+aiosqlite:///{tmp_path / 'stock.db'}")
    assert fast == stock
    assert ("select", [("a", 1), ("b", 12), ("c", 13)]) in fast
    assert ("integrity", True) in fast


async def test_a_rollback_with_nothing_open_is_harmless_and_an_open_transaction_is_undone(
    tmp_path: Path,
) -> None:
    """The pool resets each connection it takes back with a rollback: with nothing open that does nothing
    (no call at all), while a transaction left open is still rolled back."""
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path / 'reset.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        async with engine.connect() as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
            await conn.commit()
            await conn.run_sync(lambda sync: sync.connection.dbapi_connection.rollback())  # nothing open

            await conn.execute(text("INSERT INTO t (id) VALUES (2)"))
            await conn.rollback()
            assert [tuple(r) for r in await conn.execute(text("SELECT id FROM t"))] == [(1,)]
    finally:
        await engine.dispose()


def _count_trips(monkeypatch: pytest.MonkeyPatch, driver: Any) -> list[Any]:
    """Record every call handed to the driver's worker thread."""
    trips: list[Any] = []
    real = driver._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(driver, "_execute", counted)
    return trips


LONG_READ = (
    "SELECT (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) "
    "SELECT count(*) FROM c)"
)


async def test_cheap_statements_stay_on_the_loop_and_a_long_read_moves_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statements by key run on the event loop (no hand-off to the worker thread); a read past the budget
    is stopped and run again on the thread, with the same answer."""
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            trips = _count_trips(monkeypatch, raw.dbapi_connection._connection)
            await conn.execute(text("INSERT INTO t (id, n) VALUES (1, 10)"))
            assert (await conn.execute(text("SELECT n FROM t WHERE id = 1"))).scalar() == 10
            assert trips == []
            assert (await conn.execute(text(LONG_READ))).scalar() == 200000
            assert len(trips) == 1
    finally:
        await engine.dispose()


async def test_a_large_write_is_never_cut_short_and_its_transaction_holds(tmp_path: Path) -> None:
    """SQLite rolls back the whole transaction of an interrupted write, so writes run to the end: a write
    of 100,000 rows inside a transaction, then another statement, all commit."""
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path / 'big.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (0)"))
            await conn.execute(
                text(
                    "INSERT INTO t (id) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                    " WHERE x < 100000) SELECT x FROM c"
                )
            )
            await conn.execute(text("INSERT INTO t (id) VALUES (-1)"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 100002
    finally:
        await engine.dispose()


async def test_a_database_locked_elsewhere_is_waited_for_without_stalling_the_loop(tmp_path: Path) -> None:
    """Another process holds the write lock: Cardinal's write waits in async pauses — the event loop keeps
    running other work meanwhile — and goes through once the lock is released."""
    path = tmp_path / "locked.db"
    engine = build_engine(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        other.execute("BEGIN IMMEDIATE")
        beats = 0
        written = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal beats
            while not written.is_set():
                await asyncio.sleep(0)
                beats += 1
                if beats == 50:
                    other.execute("COMMIT")  # released only once the loop has run on while waiting

        async def write() -> None:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
            written.set()

        await asyncio.gather(heartbeat(), write())
        assert beats >= 50
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    finally:
        other.close()
        await engine.dispose()


class _MovedInternals:
    """A connection from an imagined release where the driver's internals moved."""

    _connection = object()


def test_a_release_that_moves_the_internals_keeps_the_stock_cursor() -> None:
    """Anything but the adapter class with every internal the module uses is left as it is."""
    conn = _MovedInternals()
    assert supported(conn) is False
    assert use_one_trip_cursors(conn) is False
    assert type(conn) is _MovedInternals


async def test_an_in_memory_database_works_from_the_loop_and_the_thread() -> None:
    """Statements run on the event loop's thread and on aiosqlite's: an in-memory database (whose
    connections SQLite would otherwise tie to the thread that opened them) answers from both."""
    engine = build_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
            assert (await conn.execute(text(LONG_READ))).scalar() == 200000  # on the worker thread
    finally:
        await engine.dispose()


def test_only_statements_that_did_nothing_when_refused_are_run_again() -> None:
    """A statement refused because another process holds the lock is run again only when being refused
    left nothing half done: BEGIN, COMMIT, a read, a lone statement outside a transaction."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("CREATE TABLE t (id INTEGER)")
        assert _retryable(conn, _head("BEGIN IMMEDIATE"), False)
        assert _retryable(conn, _head("INSERT INTO t (id) VALUES (1)"), False)
        assert not _retryable(conn, _head("INSERT INTO t (id) VALUES (?)"), True)  # a batch may be half done
        conn.execute("BEGIN")
        assert _retryable(conn, _head("  select id FROM t"), False)
        assert _retryable(conn, _head("COMMIT"), False)
        assert not _retryable(conn, _head("UPDATE t SET id = 2"), False)  # inside a transaction
    finally:
        conn.close()
