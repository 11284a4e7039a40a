"""A SQLite statement in one trip to the driver's thread, instead of four.

SQLAlchemy's aiosqlite adapter makes a separate round trip to aiosqlite's worker thread (a queue put, a
future, a loop wake-up) to open a cursor, to execute, to fetch the rows and to close the cursor: four per
``SELECT`` or ``RETURNING`` statement, three per other statement, each ≈ 25–30 µs of CPU on top of
SQLAlchemy's own work. :func:`use_one_trip_cursors` makes a connection's cursors do all of it in one
function run on the worker thread, returning the description, the rows, ``rowcount`` and ``lastrowid``
together, and skips the rollback trip of a connection with no transaction open (the pool's reset after
every commit). What the statement does, its errors (raised as before, through the adapter's
``_handle_exception``) and the serialisation of statements on the connection (the adapter's mutex) are
unchanged. Server-side cursors (never used by Cardinal) keep the adapter's own class.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT, await_only

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On the worker thread: open a cursor, execute, fetch every row, close."""
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


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """The adapter's cursor, with the statement's whole outcome fetched in one worker-thread trip."""

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
        async with self._adapt_connection._execute_mutex:
            driver = self._connection
            outcome: _Outcome = await driver._execute(_run, driver._conn, operation, parameters, many)
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
        """Roll back on the worker thread — unless no transaction is open. The pool "resets" every
        connection it takes back with a rollback, after each commit too: that was a trip per transaction
        for nothing. ``in_transaction`` is read straight off the idle sqlite3 connection."""
        if not self._connection._conn.in_transaction:
            return
        super().rollback()


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
