"""The append-only audit trail: who did what, to which container/request/task, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.records import AuditEvent
from bot.db.tables import audit_event as t

SYSTEM_ACTOR = "cardinal"
"""The actor for things Cardinal does by itself (expiry, reconcile, task outcomes)."""


_APPEND = insert(t).returning(*t.c)  # built once (building it per event costs more than running it)


class AuditRepo:
    """Writes and reads ``audit_event``. Rows are never updated or deleted here."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(
        self,
        actor: str,
        action: str,
        *,
        now: datetime,
        vmid: int | None = None,
        request_id: str | None = None,
        upid: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Record one event (``action`` is a dotted name, e.g. ``container.stopped``); return it."""
        values = {
            "at": now,
            "actor": actor,
            "action": action,
            "vmid": vmid,
            "request_id": request_id,
            "upid": upid,
            "detail": dict(detail or {}),
        }
        row = (await self._conn.execute(_APPEND, values)).one()
        return AuditEvent.from_row(row)

    async def recent(
        self,
        *,
        vmid: int | None = None,
        actor: str | None = None,
        request_id: str | None = None,
        limit: int = 20,
    ) -> list[AuditEvent]:
        """The newest events first, optionally only those about ``vmid``, by ``actor`` or for a request."""
        stmt = select(t)
        if vmid is not None:
            stmt = stmt.where(t.c.vmid == vmid)
        if actor is not None:
            stmt = stmt.where(t.c.actor == actor)
        if request_id is not None:
            stmt = stmt.where(t.c.request_id == request_id)
        stmt = stmt.order_by(t.c.at.desc(), t.c.id.desc()).limit(limit)
        return [AuditEvent.from_row(r) for r in await self._conn.execute(stmt)]
