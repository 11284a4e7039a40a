"""Buttons that must act once: the first click claims a slot; later clicks learn who got there first.

Approval cards (destroy, resize) and confirmations are clicked by people who double-click, and may reach
several replicas. Each click claims ``(job, slot)`` in the job-run table; the winner acts and closes the slot
with its result, in the same transaction as the click's audit event when it has one.
"""

from __future__ import annotations

from typing import Any

from bot.db import Clock, Database
from bot.tracker.slots import claim_slot, finish_slot

CLICK_LEASE_SECONDS = 86400.0
"""How long a claimed click may run before another replica may take it over (the winner died)."""


class ClickLedger:
    """First-click-wins bookkeeping for buttons."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def claim(self, job: str, slot: str, owner: str) -> bool:
        """True when ``owner``'s click is the one that acts."""
        return await claim_slot(
            self.db, job, slot, owner, now=self.clock(), lease_seconds=CLICK_LEASE_SECONDS
        )

    async def finish(self, job: str, slot: str, owner: str, result: dict[str, Any]) -> None:
        """Close a claimed click with what it did (or the error it met)."""
        await finish_slot(self.db, job, slot, owner, now=self.clock(), result=result)

    async def who_claimed(self, job: str, slot: str) -> str | None:
        """Who won ``slot`` (for "already decided by …"), if anyone."""
        async with self.db.transaction(readonly=True) as tx:
            run = await tx.jobs.get_slot(job, slot)
        return run.owner if run is not None else None

    async def finish_audited(
        self,
        job: str,
        slot: str,
        owner: str,
        *,
        action: str,
        vmid: int,
        detail: dict[str, Any],
        result: dict[str, Any],
    ) -> None:
        """Close a claimed click and append its audit event in one transaction."""
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.audit.append(owner, action, now=now, vmid=vmid, detail=detail)
            await tx.jobs.finish_slot(job, slot, owner, now=now, result=result)
