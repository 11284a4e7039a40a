"""Day-2 tasks (start, stop, shutdown, reboot, destroy, snapshot, resize …) whose UPID a service handed
over with :meth:`bot.tracker.Tracker.track`: report the result in the container's thread and keep the
container record in step.

For an HA-managed container Proxmox answers start/stop/shutdown with an ``hastart``/``hastop`` task that
only asks the HA stack and ends ``OK`` before the container changed state (pve-container
``API2/LXC/Status.pm``). So the result of such a task is reported only once ``status/current`` shows the
state asked for — read on the node the cluster names, since HA may move the container — and as a failure
when it does not by the task's deadline. Likewise a rollback with ``start=1`` is reported once the separate
start task it forked has ended (and, for HA, the container runs).
"""

from __future__ import annotations

from datetime import datetime

import structlog

from bot.db import ContainerState, Task, TaskStatus, Tx
from bot.db.audit import SYSTEM_ACTOR
from bot.proxmox import ProxmoxError, ProxmoxNotFoundError, TaskOutcome, Upid
from bot.tracker import results
from bot.tracker.context import Ctx
from bot.tracker.kinds import STATE_AFTER, TaskKind
from bot.tracker.poller import Observation, Seen
from bot.tracker.reporter import Reporter
from bot.tracker.warnings import report_warnings

log = structlog.get_logger(__name__)

HA_REQUEST_TYPES = frozenset({"hastart", "hastop"})
"""Task types that only ask the HA stack for a state (they end before the container changed it)."""

START_TYPES = frozenset({"vzstart", "hastart"})
"""Task types that start a container (a rollback with ``start=1`` forks one of them)."""


class Day2:
    """Finishing day-2 tasks."""

    def __init__(self, ctx: Ctx, reporter: Reporter) -> None:
        self.ctx = ctx
        self.reporter = reporter

    async def finished(self, task: Task, obs: Observation) -> None:
        """The task ended: record it, update the container, tell the thread."""
        if obs.seen is Seen.OK:
            if await self._confirmed(task) and await report_warnings(self.ctx, task, obs.exitstatus):
                await self._succeeded(task, obs.exitstatus)
        else:
            tail = await self.ctx.log_tail(task)
            await self.fail(task, obs.exitstatus or f"the {task.kind} task failed", tail, obs.exitstatus)

    async def _confirmed(self, task: Task) -> bool:
        """Whether the task's success can be reported now. If Cardinal must wait (an HA request, a
        rollback's separate start), poll again later; past the deadline, or when the follow-up failed,
        report a failure instead."""
        try:
            problem, waiting = await self._check(task)
        except ProxmoxError as exc:
            if self.ctx.now() >= task.deadline_at:
                await self.fail(task, f"the state of CT {task.vmid} could not be read: {exc.what}", [])
            else:
                await self.ctx.retry_after_error(task, exc)
            return False
        if problem is not None:
            await self.fail(task, problem, await self.ctx.log_tail(task))
            return False
        if waiting is None:
            return True
        if self.ctx.now() >= task.deadline_at:
            minutes = int(self.ctx.config.deadline(TaskKind(task.kind)).total_seconds() // 60)
            error = f"{waiting} after {minutes} minutes"
            await self.fail(task, error, await self.ctx.log_tail(task), timed_out=True)
            return False
        log.info("tracker.awaiting_effect", vmid=task.vmid, kind=task.kind, waiting=waiting)
        await self.ctx.still_running(task)
        return False

    async def _check(self, task: Task) -> tuple[str | None, str | None]:
        """(what failed, what is still awaited); both None when the task's success stands as it is."""
        if task.vmid is None or task.upid is None:
            return None, None
        upid = Upid.parse(task.upid)
        kind = TaskKind(task.kind)
        if kind is TaskKind.ROLLBACK:
            return await self._restart(task, upid, task.vmid)
        wanted = STATE_AFTER.get(kind)
        if wanted is None or upid.type not in HA_REQUEST_TYPES:
            return None, None  # a vz* worker ends after the change
        accepted = f"Proxmox's HA stack accepted the {task.kind} of CT {task.vmid}, but"
        return None, await self._awaited_state(task, task.vmid, wanted, accepted)

    async def _awaited_state(self, task: Task, vmid: int, wanted: ContainerState, prefix: str) -> str | None:
        node, status = await self._status(task, vmid)
        return None if status == wanted.value else f"{prefix} it is still {status} on {node}"

    async def _restart(self, task: Task, upid: Upid, vmid: int) -> tuple[str | None, str | None]:
        """A rollback with ``start=1`` starts the container in a separate ``vzstart``/``hastart`` task that
        its worker forks before it ends (pve-container ``API2/LXC/Snapshot.pm``): wait for that one."""
        items = await self.ctx.px.node_tasks(upid.node, source="all", since=upid.starttime, vmid=vmid)
        starts = [
            i
            for i in items
            if i.type in START_TYPES and i.starttime >= upid.starttime and i.upid != task.upid
        ]
        if not starts:
            return None, None
        start = max(starts, key=lambda i: i.starttime)
        outcome = start.outcome
        if outcome is TaskOutcome.RUNNING:
            return None, f"CT {vmid} was rolled back, but starting it again has not finished"
        if outcome is TaskOutcome.FAILED:
            return f"CT {vmid} was rolled back, but starting it again failed: {start.status}", None
        if start.type in HA_REQUEST_TYPES:
            accepted = f"CT {vmid} was rolled back and Proxmox's HA stack accepted its start, but"
            return None, await self._awaited_state(task, vmid, ContainerState.RUNNING, accepted)
        return None, None

    async def _status(self, task: Task, vmid: int) -> tuple[str, str]:
        """The container's node and ``status/current`` status, on the node the record names or, when
        that node no longer has it, the one ``/cluster/resources`` names (the record follows)."""
        async with self.ctx.db.transaction(readonly=True) as tx:
            record = await tx.containers.get(vmid)
        node = record.node if record is not None else task.node
        try:
            return node, (await self.ctx.px.container_status(node, vmid)).status
        except ProxmoxNotFoundError:
            resources = await self.ctx.px.cluster_resources("vm")
            item = next((r for r in resources if r.type == "lxc" and r.vmid == vmid), None)
            if item is None or not item.node or item.node == node:
                raise
        moved = item.node
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            if await tx.containers.set_node(vmid, moved, now=now):
                await tx.audit.append(
                    SYSTEM_ACTOR, "container.moved", now=now, vmid=vmid, detail={"from": node, "to": moved}
                )
        return moved, (await self.ctx.px.container_status(moved, vmid)).status

    async def _succeeded(self, task: Task, exitstatus: str | None) -> None:
        vmid = task.vmid

        async def effects(tx: Tx, now: datetime) -> None:
            if vmid is not None:
                if task.kind == TaskKind.DESTROY:
                    await tx.containers.mark_destroyed(vmid, now=now)
                    await tx.vmids.release(vmid)
                elif task.kind in STATE_AFTER:
                    await tx.containers.set_state(vmid, STATE_AFTER[task.kind], now=now, seen=True)
            await self._audit(tx, task, now, "succeeded", {"exitstatus": exitstatus})

        detail = exitstatus if exitstatus and exitstatus != "OK" else ""
        result = results.succeeded(task.kind, detail)
        await self.reporter.conclude(
            task, TaskStatus.SUCCEEDED, result, exitstatus=exitstatus, effects=effects
        )

    async def fail(
        self,
        task: Task,
        error: str,
        log_tail: list[str],
        exitstatus: str | None = None,
        *,
        timed_out: bool = False,
    ) -> None:
        """Report the task failed (or timed out) with the end of its log."""
        vmid = task.vmid

        async def effects(tx: Tx, now: datetime) -> None:
            if vmid is not None and timed_out:
                await tx.containers.set_state(vmid, ContainerState.UNKNOWN, now=now)
            outcome = "timed_out" if timed_out else "failed"
            await self._audit(tx, task, now, outcome, {"error": error})

        await self.reporter.conclude_failed(
            task, task.kind, error, log_tail, exitstatus=exitstatus, timed_out=timed_out, effects=effects
        )

    async def timed_out(self, task: Task) -> None:
        """Past its deadline: report it with the log so far."""
        tail = await self.ctx.log_tail(task)
        what = f"{task.kind} of CT {task.vmid}" if task.vmid is not None else f"{task.kind} on {task.node}"
        error = self.ctx.overdue(task, what)
        await self.fail(task, error, tail, timed_out=True)

    async def _audit(
        self, tx: Tx, task: Task, now: datetime, outcome: str, detail: dict[str, object]
    ) -> None:
        await tx.audit.append(
            SYSTEM_ACTOR,
            f"task.{task.kind}.{outcome}",
            now=now,
            vmid=task.vmid,
            request_id=task.request_id,
            upid=task.upid,
            detail={"actor": task.actor, **detail},
        )
