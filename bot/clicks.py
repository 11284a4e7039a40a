"""Buttons that must act once: the first click claims a slot; later clicks learn who got there first.

Confirmations (destroy, rollback) and Extend buttons are clicked by people who double-click, and may reach
several replicas. Each click claims ``(job, slot)`` in the job-run table; the winner acts and closes the slot
with its result. Approval cards are not clicks of this kind: their decisions are records of their own
(:mod:`bot.approvals`).
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
