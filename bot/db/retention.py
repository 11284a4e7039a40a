"""Retention: finished records older than the policy's horizon are deleted, a bounded batch at a time.

What is pruned (``cutoff`` = now − ``policy.retention.horizon``):

- ``audit_event`` rows with ``at`` before the cutoff;
- ``tracked_task`` rows that are final *and* whose final message was delivered, unchanged since the cutoff;
- ``slack_message`` rows that were posted before the cutoff (an unposted intent is kept: the outbox still
  has to resolve it);
- ``job_run`` rows whose lease ran out before the cutoff (every slot that old is long decided);
- ``container_request`` rows in a final state, unchanged since the cutoff, with no container still
  alive and no task still open — together with their ``approval`` rows and VMID reservations.

Open and pending things — running tasks, undelivered finals, requests awaiting approval or creation,
pending approvals, unposted messages — are never pruned, whatever their age.

Each batch is one short transaction of at most ``batch`` rows (``DELETE … WHERE key IN (SELECT key …
LIMIT batch)``, which SQLite and PostgreSQL both run), so pruning a backlog never holds a long write lock;
a run stops after ``max_batches`` batches per table and the next run carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, not_, select

from bot.db.database import Database
from bot.db.enums import FINAL_TASK_STATUSES, ContainerState, NotifyState, OutboxState, RequestState
from bot.db.tables import (
    approval,
    audit_event,
    container,
    container_request,
    job_run,
    slack_message,
    tracked_task,
    vmid_reservation,
)

__all__ = ["FINISHED_REQUEST_STATES", "PruneReport", "Retention"]

log = structlog.get_logger("cardinal.retention")

FINISHED_REQUEST_STATES: tuple[RequestState, ...] = (
    RequestState.DENIED,
    RequestState.READY,
    RequestState.FAILED,
    RequestState.PARTIALLY_FAILED,
    RequestState.CANCELLED,
)
DEFAULT_BATCH = 500
DEFAULT_MAX_BATCHES = 20


@dataclass
class PruneReport:
    """Rows deleted per table in one run, and whether any table still had more to prune."""

    deleted: dict[str, int] = field(default_factory=dict)
    more: bool = False

    @property
    def total(self) -> int:
        """All rows deleted in the run."""
        return sum(self.deleted.values())


def _old_finished_request(cutoff: datetime) -> ColumnElement[bool]:
    r = container_request.c
    alive = (
        select(container.c.vmid)
        .where(container.c.request_id == r.id, container.c.state != ContainerState.DESTROYED.value)
        .correlate(container_request)
    )
    open_task = (
        select(tracked_task.c.id)
        .where(
            tracked_task.c.request_id == r.id,
            not_(
                and_(
                    tracked_task.c.status.in_([s.value for s in FINAL_TASK_STATUSES]),
                    tracked_task.c.notify_state == NotifyState.FINAL.value,
                )
            ),
        )
        .correlate(container_request)
    )
    return and_(
        r.state.in_([s.value for s in FINISHED_REQUEST_STATES]),
        r.updated_at < cutoff,
        not_(exists(alive)),
        not_(exists(open_task)),
    )


class Retention:
    """Prunes finished records older than ``horizon`` (from the policy's ``[retention] horizon``)."""

    def __init__(
        self,
        db: Database,
        horizon: timedelta,
        clock: Callable[[], datetime],
        *,
        batch: int = DEFAULT_BATCH,
        max_batches: int = DEFAULT_MAX_BATCHES,
    ) -> None:
        if batch < 1 or max_batches < 1:
            raise ValueError("batch and max_batches must be at least 1")
        self.db = db
        self.horizon = horizon
        self.clock = clock
        self.batch = batch
        self.max_batches = max_batches

    async def prune(self) -> PruneReport:
        """One run: every table in bounded batches. Safe on every replica at once (deletes are
        idempotent; two replicas at most delete the same rows once)."""
        cutoff = self.clock() - self.horizon
        report = PruneReport()
        tt, sm, jr = tracked_task.c, slack_message.c, job_run.c
        plans: list[tuple[Table, ColumnElement[bool]]] = [
            (audit_event, audit_event.c.at < cutoff),
            (
                tracked_task,
                and_(
                    tt.status.in_([s.value for s in FINAL_TASK_STATUSES]),
                    tt.notify_state == NotifyState.FINAL.value,
                    tt.updated_at < cutoff,
                ),
            ),
            (slack_message, and_(sm.state == OutboxState.POSTED.value, sm.posted_at < cutoff)),
            (job_run, jr.lease_until < cutoff),
        ]
        for table, where in plans:
            report.deleted[table.name], more = await self._prune_table(table, where)
            report.more = report.more or more
        report.deleted["container_request"], more = await self._prune_requests(cutoff)
        report.more = report.more or more
        if report.total:
            log.info("retention.pruned", cutoff=cutoff.isoformat(), more=report.more, **report.deleted)
        return report

    async def _prune_table(self, table: Table, where: ColumnElement[bool]) -> tuple[int, bool]:
        key = next(iter(table.primary_key.columns))
        deleted = 0
        for _ in range(self.max_batches):
            ids = select(key).where(where).limit(self.batch).scalar_subquery()
            async with self.db.transaction() as tx:
                n = (await tx.conn.execute(delete(table).where(key.in_(ids)))).rowcount
            deleted += n
            if n < self.batch:
                return deleted, False
        return deleted, True

    async def _prune_requests(self, cutoff: datetime) -> tuple[int, bool]:
        deleted = 0
        for _ in range(self.max_batches):
            async with self.db.transaction() as tx:
                ids = list(
                    (
                        await tx.conn.execute(
                            select(container_request.c.id)
                            .where(_old_finished_request(cutoff))
                            .limit(self.batch)
                        )
                    ).scalars()
                )
                if ids:
                    # Children first: SQLite without foreign keys (migrations) would not cascade.
                    await tx.conn.execute(delete(approval).where(approval.c.request_id.in_(ids)))
                    await tx.conn.execute(
                        delete(vmid_reservation).where(vmid_reservation.c.request_id.in_(ids))
                    )
                    await tx.conn.execute(delete(container_request).where(container_request.c.id.in_(ids)))
            deleted += len(ids)
            if len(ids) < self.batch:
                return deleted, False
        return deleted, True

    async def sizes(self) -> dict[str, int]:
        """Row counts of the tables retention keeps flat (for benchmarks and operators)."""
        out: dict[str, int] = {}
        async with self.db.transaction(readonly=True) as tx:
            for table in (audit_event, tracked_task, slack_message, job_run, container_request, approval):
                out[table.name] = int(
                    (await tx.conn.execute(select(func.count()).select_from(table))).scalar_one()
                )
        return out
