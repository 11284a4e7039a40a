"""Leader-only periodic work without leader election: each job runs once per time slot across replicas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from bot.db import Clock, Database, utc_now

log = structlog.get_logger(__name__)


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
    async with db.transaction() as tx:
        won = await tx.jobs.try_start_slot(job, slot, owner, now=clock(), lease_seconds=lease_seconds)
    if not won:
        return False
    log.info("job.slot_started", job=job, slot=slot, owner=owner)
    result = await fn()
    async with db.transaction() as tx:
        await tx.jobs.finish_slot(job, slot, owner, now=clock(), result=result)
    return True
