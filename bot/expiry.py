"""Container expiry: reminders before, stop at expiry, destroy after the grace period.

:meth:`ExpiryService.tick` is called periodically by every replica. Each step for a container happens
exactly once across replicas: the step is claimed as a ``job_run`` slot (job ``expiry``, slot
``<vmid>:<step>:<expiry>``) before anything is sent or done, and finished afterwards; messages also go
through the outbox with the same key. Because the slot names the expiry time, ``/lxc extend`` (a new
expiry) starts a fresh schedule.

* reminders: at each policy offset before expiry (default 24 h and 1 h) the owner is told in the
  container's thread (or by DM) with an *Extend 3d* button. If several offsets are due at once (Cardinal
  was down) only the nearest one is sent.
* at expiry: the container is stopped (a ``vzstop`` task, followed) and the owner told.
* at expiry + grace, when the policy says ``stop_then_destroy``: destroyed (``force=1``, ``purge=1``,
  ``destroy-unreferenced-disks=1``) and the owner told.

A step that fails after being claimed (Proxmox unreachable) is left unfinished; once its lease runs out
another tick takes it over once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from bot.containers.context import TaskFollower
from bot.containers.service import ContainerService
from bot.db import Database
from bot.db.audit import SYSTEM_ACTOR
from bot.db.enums import ContainerState
from bot.db.records import Container
from bot.db.types import Clock
from bot.digest import Deliverer
from bot.events import Notice
from bot.ownership import format_expiry
from bot.policy import Policy, format_duration
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxConflictError, ProxmoxError
from bot.tracker.slots import claim_slot, finish_slot

__all__ = ["EXTEND_ACTION_ID", "EXTEND_BY", "ExpiryReport", "ExpiryService"]

EXPIRY_JOB = "expiry"
EXTEND_ACTION_ID = "lxc_extend"
EXTEND_BY = "3d"
log = structlog.get_logger(__name__)
_ACTIVE_STATES = (ContainerState.RUNNING, ContainerState.STOPPED, ContainerState.UNKNOWN)


@dataclass
class ExpiryReport:
    """What one :meth:`ExpiryService.tick` did (by this replica)."""

    reminded: list[tuple[int, timedelta]] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    destroyed: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _extend_button(vmid: int) -> tuple[tuple[str, str, str], ...]:
    return ((EXTEND_ACTION_ID, f"Extend {EXTEND_BY}", f"{vmid}:{EXTEND_BY}"),)


class ExpiryService:
    """Runs the expiry schedule; ``owner`` identifies this replica for the ``job_run`` slots."""

    def __init__(
        self,
        db: Database,
        proxmox: ProxmoxClient,
        outbox: Deliverer,
        follower: TaskFollower,
        policy: Policy,
        clock: Clock,
        owner: str,
        *,
        lease_seconds: float = 120.0,
    ) -> None:
        self.db = db
        self.proxmox = proxmox
        self.outbox = outbox
        self.follower = follower
        self.policy = policy
        self.clock = clock
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._containers = ContainerService(db, proxmox, follower, policy, clock)

    async def tick(self, now: datetime | None = None) -> ExpiryReport:
        """Do every expiry step due at ``now`` that no replica has done yet."""
        now = now or self.clock()
        report = ExpiryReport()
        horizon = now + max(self.policy.expiry.reminders, default=timedelta(0))
        async with self.db.transaction(readonly=True) as tx:
            candidates = await tx.containers.expiring_before(horizon)
        for container in candidates:
            if container.state not in _ACTIVE_STATES or container.expires_at is None:
                continue
            try:
                await self._container_step(container, container.expires_at, now, report)
            except ProxmoxError as exc:
                report.errors.append(f"{container.vmid}: {exc.what}")
                log.warning("expiry_step_failed", vmid=container.vmid, error=exc.what)
            except Exception as exc:  # one container's trouble (e.g. Slack) must not stop the others
                report.errors.append(f"{container.vmid}: {type(exc).__name__}: {exc}")
                log.exception("expiry_step_failed", vmid=container.vmid)
        return report

    async def _container_step(
        self, c: Container, expires_at: datetime, now: datetime, report: ExpiryReport
    ) -> None:
        exp = format_expiry(expires_at)
        if now < expires_at:
            due = [o for o in self.policy.expiry.reminders if expires_at - o <= now]
            if due:
                await self._remind(c, min(due), exp, now, report)
            return
        destroy_at = expires_at + self.policy.expiry.grace
        if self.policy.expiry.action == "stop_then_destroy" and now >= destroy_at:
            # Cardinal was down through the grace period: no separate stop (the destroy stops it).
            stop_slot = f"{c.vmid}:stop:{exp}"
            if await self._claim(stop_slot, now):
                await self._finish(stop_slot, {"skipped": "destroy due"})
            await self._destroy(c, exp, now, report)
        else:
            await self._stop(c, exp, destroy_at, now, report)

    # --- slots ---------------------------------------------------------------------------------------

    async def _claim(self, slot: str, now: datetime) -> bool:
        lease = self.lease_seconds
        return await claim_slot(self.db, EXPIRY_JOB, slot, self.owner, now=now, lease_seconds=lease)

    async def _finish(self, slot: str, result: dict[str, object]) -> None:
        await finish_slot(self.db, EXPIRY_JOB, slot, self.owner, now=self.clock(), result=result)

    async def _tell(self, c: Container, slot: str, text: str, *, button: bool) -> str:
        # In the container's thread, or else a direct message to its owner: the outbox opens the DM
        # (conversations.open) and posts to, records and later searches its D… id, never the user id.
        in_thread = c.thread_channel is not None
        return await self.outbox.deliver(
            key=f"{EXPIRY_JOB}:{slot}",
            channel=c.thread_channel if c.thread_channel is not None else c.owner,
            thread_ts=c.thread_ts if in_thread else None,
            event=Notice(text=text, actions=_extend_button(c.vmid) if button else ()),
        )

    async def _audit(self, c: Container, action: str, now: datetime, detail: dict[str, object]) -> None:
        async with self.db.transaction() as tx:
            await tx.audit.append(SYSTEM_ACTOR, action, now=now, vmid=c.vmid, detail=dict(detail))

    # --- steps ---------------------------------------------------------------------------------------

    def _fate(self, destroy_at: datetime) -> str:
        if self.policy.expiry.action == "stop_then_destroy":
            return (
                f"it will be stopped, and destroyed {format_duration(self.policy.expiry.grace)} later "
                f"({format_expiry(destroy_at)})"
            )
        return "it will be stopped"

    async def _remind(
        self, c: Container, offset: timedelta, exp: str, now: datetime, report: ExpiryReport
    ) -> None:
        slot = f"{c.vmid}:remind-{format_duration(offset)}:{exp}"
        if not await self._claim(slot, now):
            return
        assert c.expires_at is not None
        left = format_duration(c.expires_at - now)
        text = (
            f"<@{c.owner}>, your container {c.hostname} ({c.vmid}) expires in {left} ({exp}). "
            f"Then {self._fate(c.expires_at + self.policy.expiry.grace)}. "
            f"Extend it with the button or `/lxc extend {c.vmid} <duration>`."
        )
        ts = await self._tell(c, slot, text, button=True)
        await self._audit(
            c, "container.expiry_reminder", now, {"offset": format_duration(offset), "expires": exp}
        )
        await self._finish(slot, {"ts": ts})
        report.reminded.append((c.vmid, offset))

    async def _stop(
        self, c: Container, exp: str, destroy_at: datetime, now: datetime, report: ExpiryReport
    ) -> None:
        slot = f"{c.vmid}:stop:{exp}"
        if not await self._claim(slot, now):
            return
        upid: str | None = None
        # The container may have moved (HA, `pct migrate`): the stop goes to the node the cluster names,
        # and only a container the cluster no longer lists is taken for gone.
        here = await self._containers.ctx.locate(c)
        if here is None:
            await self._gone(c, now)
            await self._finish(slot, {"gone": True})
            return
        try:
            here, task = await self._containers.ctx.on_node(
                here, lambda node: self.proxmox.power(node, c.vmid, "stop")
            )
        except ProxmoxConflictError:
            task = None  # "not running" on the node the cluster names: already stopped
        if task is not None:
            upid = str(task)
            await self.follower.track(
                "stop",
                task,
                vmid=c.vmid,
                node=task.node,
                actor=SYSTEM_ACTOR,
                channel=c.thread_channel,
                thread_ts=c.thread_ts,
                request_id=c.request_id,
            )
        if self.policy.expiry.action == "stop_then_destroy":
            then = f"It will be destroyed on {format_expiry(destroy_at)} unless you extend it."
        else:
            then = "Extend it to start it again."
        verb = "was stopped" if upid else "is stopped"
        text = f"<@{c.owner}>, your container {c.hostname} ({c.vmid}) expired ({exp}) and {verb}. {then}"
        await self._tell(c, slot, text, button=True)
        await self._audit(c, "container.expired", now, {"expires": exp, "upid": upid})
        await self._finish(slot, {"upid": upid})
        report.stopped.append(c.vmid)

    async def _destroy(self, c: Container, exp: str, now: datetime, report: ExpiryReport) -> None:
        slot = f"{c.vmid}:destroy:{exp}"
        if not await self._claim(slot, now):
            return
        result = await self._containers.destroy_record(c, SYSTEM_ACTOR, reason="expired")
        grace = format_duration(self.policy.expiry.grace)
        text = (
            f"<@{c.owner}>, your container {c.hostname} ({c.vmid}) expired ({exp}) and its {grace} grace "
            "period is over: it is being destroyed."
            if not result.already_gone
            else f"<@{c.owner}>, your expired container {c.hostname} ({c.vmid}) is gone."
        )
        await self._tell(c, slot, text, button=False)
        await self._finish(slot, {"upid": result.upid})
        report.destroyed.append(c.vmid)

    async def _gone(self, c: Container, now: datetime) -> None:
        async with self.db.transaction() as tx:
            if await tx.containers.mark_destroyed(c.vmid, now=now):
                await tx.audit.append(
                    SYSTEM_ACTOR,
                    "container.removed_outside",
                    now=now,
                    vmid=c.vmid,
                    detail={"note": "removed outside Cardinal (found missing at expiry)"},
                )
