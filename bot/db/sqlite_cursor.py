"""SQLite statements run on the event loop when they are cheap, else in one trip to the driver's thread.

SQLAlchemy's aiosqlite adapter hands every operation to aiosqlite's worker thread: a queue put, a future,
a loop wake-up and two GIL hand-offs, four trips per ``SELECT`` (open a cursor, execute, fetch, close).
Measured on a create-form submission, those hand-offs (futex calls, context switches) cost more CPU than
SQLite spends running the statements. :func:`use_one_trip_cursors` changes a connection so that:

- A statement runs **inline**, on the event loop's thread. A ``SELECT`` runs under an instruction budget
  (SQLite's progress handler, :data:`INLINE_BUDGET` virtual-machine steps, well under a millisecond); one
  that runs past it is interrupted (a read leaves the transaction as it was) and runs again on the worker
  thread, where a long scan cannot stall the loop. Writes are by key or in bounded batches and always run
  inline (never interrupted: SQLite rolls back the whole transaction of an interrupted write). Either way
  it is one call that returns the description, the rows, ``rowcount`` and ``lastrowid`` together.
- ``COMMIT`` runs inline; the pool's reset ``ROLLBACK`` makes no call at all when no transaction is open.
- Nothing waits for a lock on the loop: the connection's busy timeout is 0, and a statement that finds the
  database locked by another process (or another connection's recovery) is tried again after an async
  pause, backing off as SQLite's busy handler does, for up to :data:`BUSY_WAIT` seconds — when it did
  nothing by being refused (:func:`_retryable`: BEGIN, COMMIT, a read, a single statement outside a
  transaction). Writers of this process never meet each other here: :class:`bot.db.database.Database`
  lets one write at a time.

What a statement does, its errors (raised through the adapter's ``_handle_exception``) and the
serialisation of statements on a connection (the adapter's mutex) are unchanged. Server-side cursors
(never used by Cardinal) keep the adapter's own class. Every internal this relies on is checked on each
connection (:func:`supported`); without them the connection keeps the adapter's behaviour and SQLite's own
busy timeout.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT, await_only

_Outcome = tuple[Any, list[Any], int, int | None]
T = TypeVar("T")

INLINE_BUDGET = 20_000
"""SQLite virtual-machine steps a statement may take on the event loop before it moves to the thread."""
_CHECK_EVERY = 1_000  # steps between two calls of the progress handler
BUSY_WAIT = 10.0
"""Seconds a statement keeps trying while the database is locked by another process."""
_SQLITE_BUSY = 5
_SQLITE_INTERRUPT = 9
_SQLITE_BUSY_SNAPSHOT = 517
_BACKOFF = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)  # SQLite's own


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """Open a cursor, execute, fetch every row, close: the statement's whole outcome in one call."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _busy(error: BaseException) -> bool:
    """SQLITE_BUSY waiting for a lock (not BUSY_SNAPSHOT, which waiting never cures)."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF == _SQLITE_BUSY
        and code != _SQLITE_BUSY_SNAPSHOT
    )


def _interrupted(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) and code == _SQLITE_INTERRUPT


def _run_inline(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool, *, read: bool
) -> _Outcome | None:
    """:func:`_run` on this thread. A ``read`` (``SELECT``) runs under :data:`INLINE_BUDGET` and gives
    ``None`` when it ran past it. Only a read is ever interrupted: SQLite answers an interrupted write
    inside a transaction by rolling the whole transaction back, so writes (``INSERT``/``UPDATE``/
    ``DELETE``, all by key or in bounded batches here) and transaction control run to completion."""
    if not read:
        return _run(conn, operation, parameters, many)
    steps = [0]

    def progress() -> int:
        steps[0] += _CHECK_EVERY
        return 1 if steps[0] > INLINE_BUDGET else 0

    conn.set_progress_handler(progress, _CHECK_EVERY)
    try:
        return _run(conn, operation, parameters, many)
    except sqlite3.OperationalError as error:
        if _interrupted(error) and steps[0] > INLINE_BUDGET:
            return None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _head(operation: str) -> str:
    """The statement's first keyword, upper case (enough to tell BEGIN, COMMIT and SELECT)."""
    return operation.lstrip()[:6].upper()


def _retryable(conn: sqlite3.Connection, head: str, many: bool) -> bool:
    """Whether a statement refused as busy may simply run again: one that opens or ends a transaction, a
    read, or a single statement outside a transaction — each did nothing when refused. (A write inside a
    transaction, or a batch, may have done part; in WAL mode, which Cardinal's databases use, such a
    statement never meets a lock anyway: the transaction took it at BEGIN IMMEDIATE.)"""
    return head.startswith(("BEGIN", "COMMIT", "SELECT")) or not (many or conn.in_transaction)


async def _patiently(attempt: Callable[[], Awaitable[T]], *, retry: bool = True) -> T:
    """Await ``attempt()`` again, after async pauses backing off as SQLite's busy handler does, while the
    database is locked elsewhere (for up to :data:`BUSY_WAIT` seconds); with ``retry`` false, once."""
    deadline = time.monotonic() + BUSY_WAIT
    tries = 0
    while True:
        try:
            return await attempt()
        except sqlite3.OperationalError as error:
            pause = _BACKOFF[min(tries, len(_BACKOFF) - 1)]
            if not retry or not _busy(error) or time.monotonic() + pause > deadline:
                raise
        tries += 1
        await asyncio.sleep(pause)


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """The adapter's cursor, with the statement's whole outcome fetched in one call: inline, or in one
    trip to the worker thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # Deliberately not the parent's __init__: it opens an aiosqlite cursor (a trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the worker thread between statements

    def close(self) -> None:
        self._rows.clear()

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        driver = self._connection
        head = _head(operation)

        async def attempt() -> _Outcome:
            outcome = _run_inline(driver._conn, operation, parameters, many, read=head == "SELECT")
            if outcome is None:  # a long one: on the worker thread, where it cannot stall the loop
                outcome = await driver._execute(_run, driver._conn, operation, parameters, many)
            return outcome

        async with self._adapt_connection._execute_mutex:
            retry = _retryable(driver._conn, head, many)
            outcome: _Outcome = await _patiently(attempt, retry=retry)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            await_only(self._trip(operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        return None

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            await_only(self._trip(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        return None


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        """Roll back, inline — or not at all when no transaction is open: the pool "resets" every
        connection it takes back with a rollback, after each commit too."""
        if not self._connection._connection:  # closed (as the adapter's own rollback checks)
            return
        raw = self._connection._conn
        if not raw.in_transaction:
            return
        try:
            raw.rollback()
        except Exception as error:
            self._handle_exception(error)

    def commit(self) -> None:
        """Commit inline (a WAL commit appends to the log; now and then it also checkpoints)."""
        try:
            await_only(_patiently(self._commit))
        except Exception as error:
            self._handle_exception(error)

    async def _commit(self) -> None:
        self._connection._conn.commit()


_ADAPTER_NEEDS = ("_connection", "_execute_mutex", "_handle_exception", "_cursor_cls")
_DRIVER_NEEDS = ("_execute", "_conn")


def supported(dbapi_connection: Any) -> bool:
    """True when ``dbapi_connection`` is SQLAlchemy's aiosqlite adapter with every internal this module
    relies on (checked on each connection, so a SQLAlchemy or aiosqlite release that moves them makes
    Cardinal fall back to the adapter's own cursors instead of failing)."""
    if type(dbapi_connection) is not AsyncAdapt_aiosqlite_connection:
        return False
    if not all(hasattr(dbapi_connection, name) for name in _ADAPTER_NEEDS):
        return False
    driver = dbapi_connection._connection
    return all(hasattr(driver, name) for name in _DRIVER_NEEDS) and callable(driver._execute)


def use_one_trip_cursors(dbapi_connection: Any) -> bool:
    """Make an aiosqlite connection (as SQLAlchemy's ``connect`` event hands it over) use
    :class:`OneTripCursor` when :func:`supported`; any other connection is left as it is. Returns
    whether it did."""
    if not supported(dbapi_connection):
        return False
    dbapi_connection.__class__ = _OneTripConnection
    return True


BUSY_TIMEOUT_PRAGMA = "PRAGMA busy_timeout = 0"
"""For connections changed by :func:`use_one_trip_cursors`: waits for locks happen in :func:`_patiently`."""
