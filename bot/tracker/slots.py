"""Leader-only periodic work without leader election: each job runs once per time slot across replicas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from bot.db import Clock, Database, utc_now

log = structlog.get_logger(__name__)


async def claim_slot(
    db: Database, job: str, slot: str, owner: str, *, now: datetime, lease_seconds: float
) -> bool:
    """True if ``owner`` won ``job``'s ``slot`` (the first replica wins; a finished slot is never won again,
    an unfinished one whose lease ran out may be taken over once)."""
    async with db.transaction() as tx:
        return await tx.jobs.try_start_slot(job, slot, owner, now=now, lease_seconds=lease_seconds)


async def finish_slot(
    db: Database, job: str, slot: str, owner: str, *, now: datetime, result: dict[str, Any] | None
) -> None:
    """Mark ``owner``'s claimed ``slot`` done with a JSON ``result``."""
    async with db.transaction() as tx:
        await tx.jobs.finish_slot(job, slot, owner, now=now, result=result)


async def run_once_per_slot(
    db: Database,
    job: str,
    slot: str,
    owner: str,
    fn: Callable[[], Awaitable[dict[str, Any] | None]],
    *,
    clock: Clock = utc_now,
    lease_seconds: float = 600.0,
) -> bool:
    """Run ``fn`` if ``owner`` wins ``job``'s ``slot`` (e.g. ``daily_digest``/``2026-11-26``); True if it ran.

    The first replica to insert the slot row wins; the others return False at once. When ``fn`` returns,
    the slot is finished with its result (a JSON object or ``None``). When ``fn`` raises, the slot stays
    unfinished, so once its lease runs out another replica may take it over (once); the error propagates.
    """
    if not await claim_slot(db, job, slot, owner, now=clock(), lease_seconds=lease_seconds):
        return False
    log.info("job.slot_started", job=job, slot=slot, owner=owner)
    result = await fn()
    await finish_slot(db, job, slot, owner, now=clock(), result=result)
    return True
