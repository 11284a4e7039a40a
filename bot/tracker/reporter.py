"""Ending a ledger row and telling people: fenced final write, post-once message, request progress."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from bot.db import RequestState, Task, TaskStatus, Tx
from bot.events import RequestProgress
from bot.outbox import OutboxBusy
from bot.tracker import progress, results
from bot.tracker.context import Ctx, LeaseLost

log = structlog.get_logger(__name__)

Effects = Callable[[Tx, datetime], Awaitable[None]]
"""Extra writes made in the same transaction as a row's final state (container state, audit, …)."""

_BEFORE_FINAL = (
    RequestState.REQUESTED,
    RequestState.PENDING_APPROVAL,
    RequestState.APPROVED,
    RequestState.CREATING,
    RequestState.STARTING,
)


class Reporter:
    """Writes final outcomes and delivers their messages (through the outbox, at most once)."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.finished = 0
        self.notified = 0

    async def _finish(
        self,
        task: Task,
        status: TaskStatus,
        result: dict[str, Any],
        *,
        exitstatus: str | None,
        error: str | None,
        effects: Effects | None,
        notified: bool,
    ) -> Task | None:
        now = self.ctx.now()
        try:
            async with self.ctx.db.transaction() as tx:
                ok = await tx.ledger.finish(
                    task.id,
                    self.ctx.owner,
                    status=status,
                    now=now,
                    exitstatus=exitstatus,
                    error=error,
                    result=result,
                )
                if not ok:
                    raise LeaseLost(task.id)
                if effects is not None:
                    await effects(tx, now)
                if notified:
                    await tx.ledger.mark_notified(task.id, now=now)
        except LeaseLost:
            log.warning("tracker.lease_lost", task_id=task.id, kind=task.kind, vmid=task.vmid)
            return None
        self.ctx.observer.task_finished(kind=task.kind, outcome=status.value)
        return dataclasses.replace(task, status=status, result=result, exitstatus=exitstatus, error=error)

    async def conclude(
        self,
        task: Task,
        status: TaskStatus,
        result: dict[str, Any],
        *,
        exitstatus: str | None = None,
        error: str | None = None,
        effects: Effects | None = None,
    ) -> bool:
        """Record the final outcome (fenced) with ``effects`` in one transaction, then post its message.

        Returns True when the message was delivered (or there was nothing to say).
        """
        final = await self._finish(
            task, status, result, exitstatus=exitstatus, error=error, effects=effects, notified=False
        )
        if final is None:
            return False
        self.finished += 1
        log.info(
            "tracker.task_finished", task_id=task.id, kind=task.kind, vmid=task.vmid, status=status.value
        )
        return await self.notify(final)

    async def conclude_failed(
        self,
        task: Task,
        action: str,
        error: str,
        log_tail: list[str],
        *,
        exitstatus: str | None = None,
        timed_out: bool = False,
        effects: Effects | None = None,
    ) -> bool:
        """:meth:`conclude` a failed (or timed out) task, reporting ``error`` and the end of its log."""
        status = TaskStatus.TIMED_OUT if timed_out else TaskStatus.FAILED
        result = results.failed(action, error, log_tail, timed_out=timed_out)
        return await self.conclude(task, status, result, exitstatus=exitstatus, error=error, effects=effects)

    async def hand_off(self, task: Task, next_kind: str, effects: Effects) -> bool:
        """End ``task`` successfully; its work continues in a row ``effects`` adds (same transaction)."""
        final = await self._finish(
            task,
            TaskStatus.SUCCEEDED,
            results.handoff(next_kind),
            exitstatus="OK",
            error=None,
            effects=effects,
            notified=True,
        )
        return final is not None

    async def notify(self, task: Task) -> bool:
        """Deliver the final message of a finished row (again, after a crash: the outbox de-duplicates)."""
        ctx = self.ctx
        event = results.event_of(task, ui_url=ctx.config.ui_url)
        if event is not None and task.channel is not None:
            try:
                await ctx.outbox.deliver(results.final_key(task), task.channel, task.thread_ts, event)
            except OutboxBusy:
                await ctx.reschedule(task, ctx.config.sweep_interval)
                return False
            except Exception as exc:  # Slack trouble of any kind: keep the row and retry later
                await ctx.retry_after_error(task, exc)
                return False
        if task.request_id is not None:
            await self.refresh_request(task.request_id)
        async with ctx.db.transaction() as tx:
            await tx.ledger.mark_notified(task.id, now=ctx.now())
        if event is not None:
            self.notified += 1
        return event is not None

    async def refresh_request(self, request_id: str, *, state: RequestState | None = None) -> None:
        """Recompute the request's progress, move it to ``state`` (or its final state once every
        container is done) and update its thread root. Safe to repeat."""
        ctx = self.ctx
        async with ctx.db.transaction() as tx:
            request = await tx.requests.get_request(request_id)
            if request is None:
                return
            containers = await tx.containers.list_by_request(request_id)
            tasks = await tx.ledger.tasks_for_request(request_id)
            lines = progress.container_lines(containers, tasks)
            target = progress.outcome(lines) or state
            if target is not None and target != request.state:
                expect = _BEFORE_FINAL if target in progress_final() else _before(target)
                if await tx.requests.set_state(request_id, target, now=ctx.now(), expect=expect):
                    request = dataclasses.replace(request, state=target)
        if request.thread_ts is None:
            return
        event = RequestProgress(progress.summary(request, lines))
        try:
            await ctx.outbox.revise(request.channel, request.thread_ts, event)
        except Exception as exc:  # the root message is cosmetic; the next change revises it again
            log.warning("tracker.progress_update_failed", request_id=request_id, error=str(exc))


def progress_final() -> frozenset[RequestState]:
    """Request states set when every container is done."""
    return frozenset({RequestState.READY, RequestState.FAILED, RequestState.PARTIALLY_FAILED})


def _before(target: RequestState) -> tuple[RequestState, ...]:
    order = list(_BEFORE_FINAL)
    return tuple(order[: order.index(target)]) if target in order else ()
