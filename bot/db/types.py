"""Column types and time helpers shared by every table: timestamps are always timezone-aware UTC.

SQLite has no timestamp-with-time-zone type, so :class:`UtcDateTime` stores naive UTC there and hands
back aware UTC datetimes on both backends. Binding a naive datetime is refused: it is always a bug
(a local time sneaking in), and refusing it early keeps comparisons in SQL correct.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator

Clock = Callable[[], datetime]
"""A source of "now" (aware UTC). Pass ``now`` into storage calls; tests use a fixed or stepped clock."""


def utc_now() -> datetime:
    """The current time as an aware UTC datetime (the production :data:`Clock`)."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """``value`` converted to UTC; raise ``ValueError`` for a naive datetime."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value.isoformat()} given where an aware UTC time is required")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (UTC), on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = ensure_utc(value)
        # SQLite stores text; keep it naive UTC so lexical order equals time order.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
