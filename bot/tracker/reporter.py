"""Ending a ledger row and telling people: fenced final write, post-once message, request progress.

Inside :meth:`Reporter.batch` (a sweep's work), the rows concluded are written together: one transaction
records every final state, its effects and the intent of its message (the outbox's post-once record),
the messages are posted, and one more transaction records them posted and the rows notified — two
transactions for the whole sweep instead of four per task. Rows of a request, and messages whose intent
already existed, take the one-by-one path (:meth:`Reporter.notify`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import structlog

from bot.db import RequestState, Task, TaskStatus, Tx
from bot.events import Event, RequestProgress
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Conclusion:
    task: Task
    status: TaskStatus
    result: dict[str, Any]
    exitstatus: str | None
    error: str | None
    effects: Effects | None


@dataclasses.dataclass(slots=True)
class _Message:
    task: Task
    key: str
    channel: str
    event: Event | None
    ts: str | None = None


class Reporter:
    """Writes final outcomes and delivers their messages (through the outbox, at most once)."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.finished = 0
        self.notified = 0
        self._pending: list[_Conclusion] | None = None

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Collect the rows :meth:`conclude` ends inside the block and write them together when it ends
        (see the module docstring). If the block raises, nothing collected is written: the rows stay
        leased and are taken up again once the lease runs out."""
        if self._pending is not None:
            yield
            return
        self._pending = []
        try:
            yield
            pending = self._pending
        finally:
            self._pending = None
        if pending:
            await self._conclude_all(pending)

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

        Returns True when the message was delivered (or there was nothing to say); inside
        :meth:`batch`, False: the row is written when the batch ends.
        """
        if self._pending is not None:
            self._pending.append(_Conclusion(task, status, result, exitstatus, error, effects))
            return False
        return await self._conclude_one(_Conclusion(task, status, result, exitstatus, error, effects))

    async def _conclude_one(self, c: _Conclusion) -> bool:
        task, status, result = c.task, c.status, c.result
        exitstatus, error, effects = c.exitstatus, c.error, c.effects
        final = await self._finish(
            task, status, result, exitstatus=exitstatus, error=error, effects=effects, notified=False
        )
        if final is None:
            return False
        self._count_finished(final)
        return await self.notify(final)

    def _count_finished(self, final: Task) -> None:
        self.finished += 1
        log.info(
            "tracker.task_finished",
            task_id=final.id,
            kind=final.kind,
            vmid=final.vmid,
            status=final.status.value,
        )

    async def _conclude_all(self, pending: list[_Conclusion]) -> None:
        """Write the collected rows together (module docstring); one by one if that fails."""
        ctx = self.ctx
        channels = await self._conversations(pending)
        now = ctx.now()
        finals: list[Task] = []
        messages: list[_Message] = []
        singles: list[Task] = []
        try:
            async with ctx.db.transaction() as tx:
                for c in pending:
                    if not await tx.ledger.finish(
                        c.task.id,
                        ctx.owner,
                        status=c.status,
                        now=now,
                        exitstatus=c.exitstatus,
                        error=c.error,
                        result=c.result,
                    ):
                        log.warning("tracker.lease_lost", task_id=c.task.id, kind=c.task.kind)
                        continue
                    if c.effects is not None:
                        await c.effects(tx, now)
                    final = dataclasses.replace(
                        c.task, status=c.status, result=c.result, exitstatus=c.exitstatus, error=c.error
                    )
                    finals.append(final)
                    event = results.event_of(final, ui_url=ctx.config.ui_url)
                    channel = channels.get(final.channel or "")
                    if final.request_id is not None or (event is not None and channel is None):
                        singles.append(final)  # request progress, or a DM not opened: one by one
                    elif event is None or final.channel is None:
                        messages.append(_Message(final, "", "", None))  # nothing to say
                    elif channel is not None:
                        key = results.final_key(final)
                        if await ctx.outbox.intend(tx, key, channel, final.thread_ts):
                            messages.append(_Message(final, key, channel, event))
                        else:
                            singles.append(final)  # an earlier intent: deliver() searches first
        except Exception:
            log.exception("tracker.batch_write_failed", rows=len(pending))
            await self._one_by_one(pending)
            return
        for final in finals:
            ctx.observer.task_finished(kind=final.kind, outcome=final.status.value)
            self._count_finished(final)
        await self._post_all(messages)
        delivered = [m for m in messages if m.event is None or m.ts is not None]
        if delivered:
            now = ctx.now()
            try:
                async with ctx.db.transaction() as tx:
                    for m in delivered:
                        if m.ts is not None:
                            await ctx.outbox.posted(tx, m.key, m.ts)
                        await tx.ledger.mark_notified(m.task.id, now=now)
                self.notified += sum(1 for m in delivered if m.ts is not None)
            except Exception:  # the intents stay: once the leases end, delivery searches Slack first
                log.exception("tracker.batch_record_failed", rows=len(delivered))
        for final in singles:
            try:
                await self.notify(final)
            except Exception as exc:  # one bad row must not stop the others
                log.exception("tracker.task_error", task_id=final.id, kind=final.kind)
                await ctx.retry_after_error(final, exc)

    async def _conversations(self, pending: list[_Conclusion]) -> dict[str, str]:
        """Conversation ids of the batch's channels (a user id needs its DM opened)."""
        out: dict[str, str] = {}
        for c in pending:
            channel = c.task.channel
            if channel is None or channel in out or c.task.request_id is not None:
                continue
            try:
                out[channel] = await self.ctx.outbox.conversation(channel)
            except Exception as exc:  # those rows take the one-by-one path, which retries
                log.warning("tracker.conversation_unavailable", channel=channel, error=str(exc))
        return out

    async def _one_by_one(self, pending: list[_Conclusion]) -> None:
        for c in pending:
            try:
                await self._conclude_one(c)
            except Exception as exc:  # one bad row must not stop the others
                log.exception("tracker.task_error", task_id=c.task.id, kind=c.task.kind)
                await self.ctx.retry_after_error(c.task, exc)

    async def _post_all(self, messages: list[_Message]) -> None:
        """Post the messages whose intent was just recorded; a failed post leaves its row to be retried
        (the intent stays, so the retry searches the channel first)."""
        ctx = self.ctx
        limit = asyncio.Semaphore(ctx.config.parallel)

        async def post(m: _Message) -> None:
            if m.event is None:
                return
            async with limit:
                try:
                    m.ts = await ctx.outbox.post_intended(m.key, m.channel, m.task.thread_ts, m.event)
                except Exception as exc:  # Slack trouble of any kind: keep the row and retry later
                    await ctx.retry_after_error(m.task, exc)

        await asyncio.gather(*(post(m) for m in messages))

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
