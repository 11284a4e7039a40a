"""Slack event de-duplication: Slack (and Socket Mode across replicas) may deliver an event twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db._sql import insert_ignore
from bot.db.tables import slack_event_seen as t


class SeenEventRepo:
    """Reads and writes ``slack_event_seen``."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def first_time(self, event_id: str, *, now: datetime) -> bool:
        """True the first time ``event_id`` is seen (and remember it); False for every repeat."""
        stmt = insert_ignore(self._conn, t, {"event_id": event_id, "seen_at": now}, ["event_id"])
        return (await self._conn.execute(stmt.returning(t.c.event_id))).first() is not None

    async def prune(self, older_than: datetime) -> int:
        """Forget events seen before ``older_than``; returns how many were removed."""
        result = await self._conn.execute(delete(t).where(t.c.seen_at < older_than))
        return result.rowcount
