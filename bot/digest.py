"""The digest: a periodic summary per configured channel, and ``/lxc digest`` on demand.

:func:`build_digest` collects containers per owner, those expiring in the next 48 h, pending approvals and
their age, tasks that failed in the last 24 h and per-node capacity. :class:`DigestJob` posts it on each
configured cron schedule (5-field cron in the schedule's time zone, computed with APScheduler's
``CronTrigger``) exactly once per slot across replicas (``job_run`` slot ``digest:<channel>`` /
``<slot iso>``), and stays quiet when nothing changed since the previous slot if the schedule says so
(:func:`digest_fingerprint` ignores ages and small capacity moves).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog
from apscheduler.triggers.cron import CronTrigger

from bot.db import Database
from bot.db.enums import ContainerState
from bot.db.types import Clock
from bot.events import (
    Digest,
    DigestContainer,
    DigestReady,
    Event,
    FailedTaskLine,
    NodeCapacity,
    OwnerContainers,
    PendingApprovalLine,
)
from bot.policy import DigestSchedule, Policy
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError
from bot.tracker.slots import claim_slot, finish_slot

__all__ = [
    "EXPIRING_WINDOW",
    "FAILED_WINDOW",
    "Deliverer",
    "Digest",
    "DigestContainer",
    "DigestJob",
    "DigestReady",
    "DigestRun",
    "FailedTaskLine",
    "NodeCapacity",
    "OwnerContainers",
    "PendingApprovalLine",
    "build_digest",
    "digest_fingerprint",
    "latest_due_slot",
]

log = structlog.get_logger(__name__)

EXPIRING_WINDOW = timedelta(hours=48)
FAILED_WINDOW = timedelta(hours=24)


class Deliverer(Protocol):
    """Posts an event at most once per ``key`` and returns the message ``ts`` (``bot.outbox.Outbox``)."""

    async def deliver(
        self, *, key: str, channel: str, thread_ts: str | None, event: Event | DigestReady
    ) -> str:
        """Post ``event`` unless a message with ``key`` was already posted; return its ``ts``."""
        ...


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What :meth:`DigestJob.run_due` did for one schedule's due slot."""

    channel: str
    slot: str
    posted: bool
    reason: str  # "posted" | "unchanged"
    ts: str | None = None


async def build_digest(db: Database, proxmox: ProxmoxClient, policy: Policy, now: datetime) -> Digest:
    """Collect the digest's content as of ``now`` (one read-only transaction and one Proxmox call)."""
    async with db.transaction(readonly=True) as tx:
        containers = await tx.containers.list_all()
        approvals = await tx.approvals.pending_approvals(now=now)
        failed = await tx.ledger.failed_since(now - FAILED_WINDOW)
    by_owner: dict[str, list[DigestContainer]] = {}
    expiring: list[DigestContainer] = []
    for c in containers:
        if c.state in (ContainerState.DESTROYED, ContainerState.FAILED):
            continue
        line = DigestContainer(c.vmid, c.hostname, c.owner, c.state.value, c.node, c.expires_at)
        by_owner.setdefault(c.owner, []).append(line)
        if c.expires_at is not None and now < c.expires_at <= now + EXPIRING_WINDOW:
            expiring.append(line)
    expiring.sort(key=lambda c: (c.expires_at or now, c.vmid))
    pending = tuple(
        PendingApprovalLine(
            approval_id=p.approval.id,
            request_id=p.request.id,
            requester=p.request.requester,
            hostname=p.request.spec.hostname,
            count=p.request.count,
            age=p.age,
        )
        for p in approvals
    )
    failed_lines = tuple(
        FailedTaskLine(t.id, t.kind, t.vmid, t.node, t.error or t.exitstatus, t.updated_at) for t in failed
    )
    capacity: tuple[NodeCapacity, ...] = ()
    capacity_error: str | None = None
    try:
        nodes = await proxmox.cluster_resources("node")
        capacity = tuple(
            NodeCapacity(
                node=n.node or n.id,
                status=n.status or "unknown",
                mem_used=n.mem or 0,
                mem_max=n.maxmem or 0,
                disk_used=n.disk or 0,
                disk_max=n.maxdisk or 0,
            )
            for n in sorted(nodes, key=lambda n: n.node or n.id)
            if n.type == "node" and policy.placement.node_allowed(n.node or "")
        )
    except ProxmoxError as exc:
        capacity_error = exc.what
    return Digest(
        generated_at=now,
        per_owner=tuple(OwnerContainers(o, tuple(cs)) for o, cs in sorted(by_owner.items())),
        expiring_soon=tuple(expiring),
        pending_approvals=pending,
        failed_tasks=failed_lines,
        capacity=capacity,
        capacity_error=capacity_error,
    )


def _bucket(fraction: float) -> int:
    """Capacity in 10 % steps, so the fingerprint ignores small moves."""
    return min(int(fraction * 10), 10)


def digest_fingerprint(digest: Digest) -> str:
    """A hash of what a reader would notice changing; ages, timestamps and small capacity moves are left
    out, so an unchanged cluster gives the same fingerprint slot after slot."""
    content = {
        "owners": [
            [
                o.owner,
                [
                    [c.vmid, c.state, c.node, c.expires_at.isoformat() if c.expires_at else None]
                    for c in o.containers
                ],
            ]
            for o in digest.per_owner
        ],
        "expiring": [c.vmid for c in digest.expiring_soon],
        "approvals": [p.approval_id for p in digest.pending_approvals],
        "failed": [t.task_id for t in digest.failed_tasks],
        "capacity": [
            [n.node, n.status, _bucket(n.mem_fraction), _bucket(n.disk_fraction)] for n in digest.capacity
        ],
        "capacity_error": digest.capacity_error is not None,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


_WINDOWS = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=4 * 366 + 1),
)


def latest_due_slot(schedule: DigestSchedule, now: datetime) -> datetime | None:
    """The latest fire time of ``schedule`` at or before ``now`` (aware, in the schedule's time zone)."""
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=ZoneInfo(schedule.timezone))
    for window in _WINDOWS:
        fire: datetime | None = trigger.get_next_fire_time(None, now - window)
        if fire is None or fire > now:
            continue
        while True:
            following: datetime | None = trigger.get_next_fire_time(None, fire + timedelta(seconds=1))
            if following is None or following > now:
                return fire
            fire = following
    return None


def _slot_key(slot: datetime) -> str:
    return slot.isoformat()


class DigestJob:
    """Posts the configured digests; call :meth:`run_due` every minute or so from every replica.

    ``owner`` identifies this replica for the ``job_run`` slots. A slot older than ``misfire_grace`` (all
    replicas were down at the time) is skipped rather than posted late.
    """

    def __init__(
        self,
        db: Database,
        proxmox: ProxmoxClient,
        outbox: Deliverer,
        policy: Policy,
        clock: Clock,
        owner: str,
        *,
        misfire_grace: timedelta = timedelta(hours=1),
        lease_seconds: float = 300.0,
    ) -> None:
        self.db = db
        self.proxmox = proxmox
        self.outbox = outbox
        self.policy = policy
        self.clock = clock
        self.owner = owner
        self.misfire_grace = misfire_grace
        self.lease_seconds = lease_seconds

    async def run_due(self, now: datetime | None = None) -> list[DigestRun]:
        """Post each schedule's latest due slot unless some replica already did (or it is stale).

        A failure after the slot was claimed leaves it unfinished: once its lease runs out, one more
        attempt is made (by any replica)."""
        now = now or self.clock()
        runs: list[DigestRun] = []
        for schedule in self.policy.digest:
            try:
                run = await self._run_schedule(schedule, now)
            except Exception:  # one channel's trouble must not stop the others; the slot is retried once
                log.exception("digest_failed", channel=schedule.channel)
                continue
            if run is not None:
                runs.append(run)
        return runs

    async def _run_schedule(self, schedule: DigestSchedule, now: datetime) -> DigestRun | None:
        slot = latest_due_slot(schedule, now)
        if slot is None or now - slot > self.misfire_grace:
            return None
        job, key = f"digest:{schedule.channel}", _slot_key(slot)
        if not await claim_slot(self.db, job, key, self.owner, now=now, lease_seconds=self.lease_seconds):
            return None  # done, or being done, by some replica
        digest = await build_digest(self.db, self.proxmox, self.policy, now)
        fingerprint = digest_fingerprint(digest)
        if schedule.quiet_when_unchanged:
            previous = latest_due_slot(schedule, slot - timedelta(seconds=1))
            if previous is not None:
                async with self.db.transaction(readonly=True) as tx:
                    before = await tx.jobs.get_slot(job, _slot_key(previous))
                if before is not None and before.result and before.result.get("fingerprint") == fingerprint:
                    await self._finish(job, key, {"fingerprint": fingerprint, "posted": False})
                    return DigestRun(schedule.channel, key, posted=False, reason="unchanged")
        ts = await self.outbox.deliver(
            key=f"{job}:{key}", channel=schedule.channel, thread_ts=None, event=DigestReady(digest)
        )
        await self._finish(job, key, {"fingerprint": fingerprint, "posted": True, "ts": ts})
        return DigestRun(schedule.channel, key, posted=True, reason="posted", ts=ts)

    async def _finish(self, job: str, slot: str, result: dict[str, object]) -> None:
        await finish_slot(self.db, job, slot, self.owner, now=self.clock(), result=result)

    async def current(self) -> Digest:
        """The digest as of now, to answer ``/lxc digest`` to the asker only (nothing is posted)."""
        return await build_digest(self.db, self.proxmox, self.policy, self.clock())

    async def post_now(self, channel: str) -> str:
        """``/lxc digest``: build and post the digest to ``channel`` now (once per channel and minute)."""
        now = self.clock()
        digest = await build_digest(self.db, self.proxmox, self.policy, now)
        minute = now.replace(second=0, microsecond=0).isoformat()
        return await self.outbox.deliver(
            key=f"digest:{channel}:now:{minute}", channel=channel, thread_ts=None, event=DigestReady(digest)
        )
