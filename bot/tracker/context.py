"""Settings and shared plumbing for the tracker's parts: leases, backoff, deadlines, log tails."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from bot.db import Clock, Database, Task
from bot.observe import NoObserver, Observer
from bot.outbox import Outbox
from bot.proxmox import ProxmoxError, TaskListItem, Upid
from bot.tracker.backoff import Backoff
from bot.tracker.kinds import DEFAULT_DEADLINE, TASK_TYPES, TaskKind
from bot.tracker.proxmox import CountingProxmox
from bot.tracker.results import LOG_TAIL_LINES

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TrackerConfig:
    """Tunables of the tracker (see :class:`bot.tracker.Tracker` for what each one does)."""

    concurrency: int = 5
    sweep_interval: float = 3.0
    lease_seconds: float = 120.0
    create_deadline: timedelta = timedelta(minutes=30)
    ui_url: str = ""
    address_attempts: int = 10
    batch_size: int = 500
    submit_grace: float = 60.0
    lookup_margin: float = 600.0
    parallel: int = 10
    deadlines: dict[str, timedelta] = field(default_factory=dict)
    poll_backoff: Backoff | None = None
    error_backoff: Backoff | None = None
    address_backoff: Backoff | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.address_attempts < 1 or self.batch_size < 1:
            raise ValueError("concurrency, address_attempts and batch_size must be at least 1")
        if self.lease_seconds <= 0 or self.sweep_interval <= 0:
            raise ValueError("lease_seconds and sweep_interval must be positive")

    def deadline(self, kind: TaskKind) -> timedelta:
        """How long a task of ``kind`` may run before it is reported as timed out."""
        if kind in self.deadlines:
            return self.deadlines[kind]
        if kind == TaskKind.CREATE:
            return self.create_deadline
        if kind == TaskKind.CREATE_IP:
            return timedelta(hours=1)
        return DEFAULT_DEADLINE


def submitted_at(task: Task) -> int:
    """When ``task`` was submitted, in Unix seconds: its ``started_at``, else when its row was created."""
    return task.started_at or int(task.created_at.timestamp())


def describe(exc: ProxmoxError, *, hint: bool = True) -> str:
    """A Proxmox error for people: what happened, the per-parameter messages, and what to do."""
    text = exc.what
    detail = "; ".join(f"{k}: {v.strip()}" for k, v in sorted(exc.errors.items()))
    if detail and detail not in text:
        text = f"{text} ({detail})"
    return f"{text}\n{exc.hint}" if hint and exc.hint else text


class LeaseLost(Exception):
    """Our lease on a row ran out and another worker took it; drop this piece of work."""


@dataclass
class Ctx:
    """What every part of the tracker shares."""

    db: Database
    px: CountingProxmox
    outbox: Outbox
    owner: str
    clock: Clock
    config: TrackerConfig
    poll_backoff: Backoff
    error_backoff: Backoff
    address_backoff: Backoff
    observer: Observer = field(default_factory=NoObserver)

    def now(self) -> datetime:
        return self.clock()

    def epoch(self) -> int:
        """Now as Unix seconds (Proxmox's ``since``/``starttime`` unit)."""
        return int(self.clock().timestamp())

    async def reschedule(self, task: Task, delay: float, error: str | None = None) -> bool:
        """Release ``task`` until ``delay`` seconds from now (counting an error when given). Fenced."""
        now = self.now()
        async with self.db.transaction() as tx:
            ok = await tx.ledger.reschedule(
                task.id, self.owner, now=now, next_poll_at=now + timedelta(seconds=delay), error=error
            )
        if not ok:
            log.warning("tracker.lease_lost", task_id=task.id, kind=task.kind, vmid=task.vmid)
        return ok

    async def still_running(self, task: Task, polls: int | None = None) -> bool:
        """Proxmox says "running": poll again after the backoff for this many earlier polls. Fenced."""
        n = max(task.attempts - 1, 0) if polls is None else polls
        now = self.now()
        nxt = now + timedelta(seconds=self.poll_backoff.delay(n))
        async with self.db.transaction() as tx:
            return await tx.ledger.record_poll(task.id, self.owner, now=now, next_poll_at=nxt)

    async def retry_after_error(self, task: Task, exc: BaseException) -> bool:
        """A transient failure: count it, back off by the error streak, and try again later."""
        log.warning(
            "tracker.transient_error",
            task_id=task.id,
            kind=task.kind,
            vmid=task.vmid,
            upid=task.upid,
            error=str(exc),
            streak=task.consecutive_errors + 1,
        )
        return await self.reschedule(task, self.error_backoff.delay(task.consecutive_errors), str(exc))

    async def lookup_submitted(self, task: Task, kind: TaskKind) -> list[TaskListItem]:
        """The ``kind`` tasks Proxmox lists for ``task``'s container since shortly before ``task`` was
        submitted (at most 5): did a submission whose answer was lost reach Proxmox?"""
        return await self.px.node_tasks(
            task.node,
            source="all",
            vmid=task.vmid,
            typefilter=TASK_TYPES[kind],
            since=int(submitted_at(task) - self.config.lookup_margin),
            limit=5,
        )

    def overdue(self, task: Task, what: str) -> str:
        """The error of a task past its deadline: ``<what> did not finish within <N> minutes``."""
        minutes = int(self.config.deadline(task.kind).total_seconds() // 60)
        return f"{what} did not finish within {minutes} minutes"

    async def log_tail(self, task: Task) -> list[str]:
        """The last lines of the task's Proxmox log, or ``[]`` when there is none or it cannot be read."""
        if task.upid is None:
            return []
        try:
            return await self.px.task_log_tail(Upid.parse(task.upid), LOG_TAIL_LINES)
        except ProxmoxError as exc:
            log.warning("tracker.log_unavailable", upid=task.upid, error=str(exc))
            return []
