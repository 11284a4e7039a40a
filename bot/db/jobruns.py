"""Run-once-per-slot for periodic jobs (digests) across replicas, without leader election.

Every replica tries :meth:`JobRunRepo.try_start_slot` for the due slot; the database lets exactly one
win. A winner that dies (lease expired, no ``finished_at``) can be taken over once by another replica.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db._sql import insert_ignore
from bot.db.records import JobRun
from bot.db.tables import job_run as t

MAX_TAKEOVERS = 1


class JobRunRepo:
    """Reads and writes ``job_run``."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def try_start_slot(
        self, job: str, slot: str, owner: str, *, now: datetime, lease_seconds: float
    ) -> bool:
        """True if ``owner`` should run ``job`` for ``slot`` now.

        ``INSERT … ON CONFLICT (job, slot) DO NOTHING``: the first replica wins. If the slot exists,
        is unfinished and its lease has run out, one takeover is allowed (its runner died).
        """
        lease_until = now + timedelta(seconds=lease_seconds)
        values = {
            "job": job,
            "slot": slot,
            "owner": owner,
            "started_at": now,
            "lease_until": lease_until,
            "takeovers": 0,
        }
        stmt = insert_ignore(self._conn, t, values, ["job", "slot"]).returning(t.c.id)
        if (await self._conn.execute(stmt)).first() is not None:
            return True
        result = await self._conn.execute(
            update(t)
            .where(
                t.c.job == job,
                t.c.slot == slot,
                t.c.finished_at.is_(None),
                t.c.lease_until < now,
                t.c.takeovers < MAX_TAKEOVERS,
            )
            .values(owner=owner, started_at=now, lease_until=lease_until, takeovers=t.c.takeovers + 1)
        )
        return result.rowcount == 1

    async def try_lease(self, job: str, key: str, owner: str, *, now: datetime, lease_seconds: float) -> bool:
        """True if ``owner`` holds ``job``'s lease on ``key`` until ``now + lease_seconds``.

        One row per ``(job, key)`` for good: the first call inserts it, later calls take it over only once
        the previous lease has run out. For work retried on every tick (resuming a stalled request), so
        retries do not leave a row per attempt.
        """
        lease_until = now + timedelta(seconds=lease_seconds)
        values = {
            "job": job,
            "slot": key,
            "owner": owner,
            "started_at": now,
            "lease_until": lease_until,
            "takeovers": 0,
        }
        stmt = insert_ignore(self._conn, t, values, ["job", "slot"]).returning(t.c.id)
        if (await self._conn.execute(stmt)).first() is not None:
            return True
        result = await self._conn.execute(
            update(t)
            .where(t.c.job == job, t.c.slot == key, t.c.lease_until <= now)
            .values(owner=owner, started_at=now, lease_until=lease_until, finished_at=None)
        )
        return result.rowcount == 1

    async def finish_slot(
        self, job: str, slot: str, owner: str, *, now: datetime, result: dict[str, Any] | None = None
    ) -> bool:
        """Mark the slot done (with an optional JSON result); only the current ``owner`` can."""
        res = await self._conn.execute(
            update(t)
            .where(t.c.job == job, t.c.slot == slot, t.c.owner == owner, t.c.finished_at.is_(None))
            .values(finished_at=now, result=result)
        )
        return res.rowcount == 1

    async def get_slot(self, job: str, slot: str) -> JobRun | None:
        """The run record of ``job`` for ``slot``, or ``None`` if nobody started it."""
        row = (await self._conn.execute(select(t).where(t.c.job == job, t.c.slot == slot))).first()
        return None if row is None else JobRun.from_row(row)
