"""Day-2 tasks (start, stop, shutdown, reboot, destroy, snapshot, resize …) whose UPID a service handed
over with :meth:`bot.tracker.Tracker.track`: report the result in the container's thread and keep the
container record in step."""

from __future__ import annotations

from datetime import datetime

from bot.db import ContainerState, Task, TaskStatus, Tx
from bot.db.audit import SYSTEM_ACTOR
from bot.tracker import results
from bot.tracker.context import Ctx
from bot.tracker.kinds import STATE_AFTER, TaskKind
from bot.tracker.poller import Observation, Seen
from bot.tracker.reporter import Reporter
from bot.tracker.warnings import report_warnings


class Day2:
    """Finishing day-2 tasks."""

    def __init__(self, ctx: Ctx, reporter: Reporter) -> None:
        self.ctx = ctx
        self.reporter = reporter

    async def finished(self, task: Task, obs: Observation) -> None:
        """The task ended: record it, update the container, tell the thread."""
        if obs.seen is Seen.OK:
            if await report_warnings(self.ctx, task, obs.exitstatus):
                await self._succeeded(task, obs.exitstatus)
        else:
            tail = await self.ctx.log_tail(task)
            await self.fail(task, obs.exitstatus or f"the {task.kind} task failed", tail, obs.exitstatus)

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
        error = self.ctx.overdue(task, f"{task.kind} of CT {task.vmid}")
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
