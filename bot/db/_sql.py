"""Small dialect helpers shared by the repositories (portable INSERT … ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The ``INSERT`` construct of ``dialect`` (``"postgresql"`` or ``"sqlite"``) that knows
    ``ON CONFLICT``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


def _insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    return dialect_insert(conn.dialect.name, table)


def insert_ignore(
    conn: AsyncConnection, table: Table, values: Mapping[str, Any], conflict: Sequence[str]
) -> Insert:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` for the connection's dialect."""
    return _insert(conn, table).values(dict(values)).on_conflict_do_nothing(index_elements=list(conflict))


def upsert(
    conn: AsyncConnection,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    keep: Sequence[str] = (),
) -> Insert:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE`` setting every column of ``values`` except ``keep``."""
    stmt = _insert(conn, table).values(dict(values))
    update = {k: stmt.excluded[k] for k in values if k not in conflict and k not in keep}
    return stmt.on_conflict_do_update(index_elements=list(conflict), set_=update)
