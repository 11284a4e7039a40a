"""The pending-task ledger: every Proxmox task Cardinal follows, claimed by replicas through leases.

A running task with a UPID is *watched* (:meth:`LedgerRepo.watched_running`): a sweep reads it from its
node's task list and writes nothing while it runs, then claims it with :meth:`LedgerRepo.claim_by_upids`
once the list shows it ended. Everything else due is claimed with :meth:`LedgerRepo.claim_due` (one
statement; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock of ``BEGIN IMMEDIATE`` on SQLite).
Proxmox is polled *outside* any transaction; the outcome is written with a fenced update
(:meth:`record_poll`, :meth:`reschedule`, :meth:`finish`) that only applies while the caller still owns
the lease. A replica that dies leaves leases that expire, and the rows become claimable again. Finished
rows stay claimable until :meth:`mark_notified`, so the final Slack message is retried until it is
confirmed.

``owner`` must identify one process uniquely (e.g. ``f"{hostname}:{pid}:{random}"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.enums import (
    ACTIVE_TASK_STATUSES,
    FINAL_TASK_STATUSES,
    IN_FLIGHT_TASK_STATUSES,
    NotifyState,
    TaskKind,
    TaskStatus,
)
from bot.db.errors import DuplicateUpid, StoredRowInvalid
from bot.db.payloads import TaskParams, check_params
from bot.db.records import Task
from bot.db.tables import tracked_task as t
from bot.proxmox.upid import Upid

log = structlog.get_logger(__name__)

_ACTIVE = [s.value for s in ACTIVE_TASK_STATUSES]
_IN_FLIGHT = [s.value for s in IN_FLIGHT_TASK_STATUSES]
_POOL_LOCK_KEY = 0x43415244  # "CARD": serializes claim_queued across replicas on PostgreSQL
_FINAL = [s.value for s in FINAL_TASK_STATUSES]
_FAILED = [TaskStatus.FAILED.value, TaskStatus.TIMED_OUT.value, TaskStatus.UNKNOWN.value]


@dataclass(frozen=True, slots=True)
class WatchedTask:
    """A running row the sweep follows through its node's task list (:meth:`LedgerRepo.watched_running`)."""

    node: str
    upid: str
    started_at: int


class LedgerRepo:
    """Reads and writes ``tracked_task``."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_task(
        self,
        kind: TaskKind,
        *,
        node: str,
        vmid: int | None,
        request_id: str | None,
        upid: str | None,
        deadline_at: datetime,
        now: datetime,
        actor: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
        lease_owner: str | None = None,
        lease_seconds: float = 120.0,
        params: TaskParams | None = None,
    ) -> Task:
        """Add a task to follow and return it.

        With ``upid=None`` the row is ``submitting``: add it *before* the Proxmox POST, then call
        :meth:`set_upid`. Pass ``lease_owner`` so no sweep claims the row while the POST is in flight;
        if the submitter dies, the lease runs out and recovery (looking the task up by vmid) takes over.
        With a UPID the row is ``running`` and due for its first poll now.
        """
        started_at = Upid.parse(upid).starttime if upid is not None else None
        values: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "kind": TaskKind(kind).value,
            "upid": upid,
            "node": node,
            "vmid": vmid,
            "request_id": request_id,
            "actor": actor,
            "channel": channel,
            "thread_ts": thread_ts,
            "status": (TaskStatus.RUNNING if upid else TaskStatus.SUBMITTING).value,
            "lease_owner": lease_owner,
            "lease_until": now + timedelta(seconds=lease_seconds) if lease_owner else None,
            "next_poll_at": now,
            "attempts": 0,
            "consecutive_errors": 0,
            "deadline_at": deadline_at,
            "started_at": started_at,
            "params": check_params(kind, params),
            "notify_state": NotifyState.PENDING.value,
            "created_at": now,
            "updated_at": now,
        }
        try:
            row = (await self._conn.execute(insert(t).values(values).returning(*t.c))).one()
        except IntegrityError as exc:
            if upid is not None:
                raise DuplicateUpid(upid) from exc
            raise
        return Task.from_row(row)

    async def set_upid(
        self, task_id: str, upid: str, *, now: datetime, started_at: int | None = None
    ) -> bool:
        """Record the UPID of a ``submitting`` task: it becomes ``running`` and watched (``attempts`` 0), due
        now, lease released.

        ``started_at`` defaults to the start time encoded in the UPID. Returns False when the task is
        not (or no longer) submitting. Raises :class:`DuplicateUpid` if another task has this UPID.
        """
        if started_at is None:
            started_at = Upid.parse(upid).starttime
        try:
            result = await self._conn.execute(
                update(t)
                .where(t.c.id == task_id, t.c.status == TaskStatus.SUBMITTING.value)
                .values(
                    upid=upid,
                    started_at=started_at,
                    status=TaskStatus.RUNNING.value,
                    next_poll_at=now,
                    lease_owner=None,
                    lease_until=None,
                    attempts=0,  # watched from now on (watched_running), even after a recovered submission
                    updated_at=now,
                )
            )
        except IntegrityError as exc:
            raise DuplicateUpid(upid) from exc
        return result.rowcount == 1

    async def claim_due(
        self, owner: str, *, now: datetime, lease_seconds: float, limit: int, skip_watched: bool = False
    ) -> list[Task]:
        """Lease up to ``limit`` due tasks to ``owner`` and return them, most overdue first.

        Due: in flight (submitting/running; never ``queued``) or final-but-not-notified,
        ``next_poll_at <= now``, and no live lease. One
        ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …``, so concurrent claimers
        never get the same row. Each claim increments ``attempts``.

        With ``skip_watched``, *watched* rows (see :meth:`watched_running`) are left out until their
        deadline passes: the sweep learns their end from the node's task list and claims them then
        (:meth:`claim_by_upids`), so a task that keeps running costs no write.
        """
        conditions = [
            or_(
                t.c.status.in_(_IN_FLIGHT),
                and_(t.c.status.in_(_FINAL), t.c.notify_state == NotifyState.PENDING.value),
            ),
            t.c.next_poll_at <= now,
            or_(t.c.lease_until.is_(None), t.c.lease_until < now),
        ]
        if skip_watched:
            conditions.append(
                or_(
                    t.c.status != TaskStatus.RUNNING.value,
                    t.c.upid.is_(None),
                    t.c.attempts > 0,
                    t.c.deadline_at <= now,
                )
            )
        due = (
            select(t.c.id)
            .where(*conditions)
            .order_by(t.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(t)
            .where(t.c.id.in_(due.scalar_subquery()))
            .values(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=t.c.attempts + 1,
                updated_at=now,
            )
            .returning(*t.c)
        )
        tasks = _readable(await self._conn.execute(stmt))
        tasks.sort(key=lambda task: task.next_poll_at)
        return tasks

    async def _insert(self, values: dict[str, Any]) -> Task:
        row = (await self._conn.execute(insert(t).values(values).returning(*t.c))).one()
        return Task.from_row(row)

    def _new_row(
        self,
        kind: TaskKind,
        status: TaskStatus,
        *,
        node: str,
        vmid: int | None,
        request_id: str | None,
        deadline_at: datetime,
        now: datetime,
        actor: str | None,
        channel: str | None,
        thread_ts: str | None,
        params: TaskParams | None,
        next_poll_at: datetime | None = None,
    ) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "kind": TaskKind(kind).value,
            "upid": None,
            "node": node,
            "vmid": vmid,
            "request_id": request_id,
            "actor": actor,
            "channel": channel,
            "thread_ts": thread_ts,
            "status": status.value,
            "lease_owner": None,
            "lease_until": None,
            "next_poll_at": now if next_poll_at is None else next_poll_at,
            "attempts": 0,
            "consecutive_errors": 0,
            "deadline_at": deadline_at,
            "started_at": None,
            "params": check_params(kind, params),
            "notify_state": NotifyState.PENDING.value,
            "created_at": now,
            "updated_at": now,
        }

    async def enqueue(
        self,
        kind: TaskKind,
        *,
        node: str,
        vmid: int | None,
        request_id: str | None,
        params: TaskParams,
        deadline_at: datetime,
        now: datetime,
        actor: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> Task:
        """Add a ``queued`` task (a creation waiting for a concurrency slot); see :meth:`claim_queued`.

        ``params`` is everything needed to submit it later; it must never hold a secret.
        """
        return await self._insert(
            self._new_row(
                kind,
                TaskStatus.QUEUED,
                node=node,
                vmid=vmid,
                request_id=request_id,
                deadline_at=deadline_at,
                now=now,
                actor=actor,
                channel=channel,
                thread_ts=thread_ts,
                params=params,
            )
        )

    async def add_step(
        self,
        kind: TaskKind,
        *,
        node: str,
        vmid: int | None,
        request_id: str | None,
        deadline_at: datetime,
        now: datetime,
        params: TaskParams | None = None,
        actor: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
        next_poll_at: datetime | None = None,
    ) -> Task:
        """Add a ``running`` row without a UPID: work Cardinal polls itself (e.g. waiting for an address)."""
        return await self._insert(
            self._new_row(
                kind,
                TaskStatus.RUNNING,
                node=node,
                vmid=vmid,
                request_id=request_id,
                deadline_at=deadline_at,
                now=now,
                actor=actor,
                channel=channel,
                thread_ts=thread_ts,
                params=params,
                next_poll_at=next_poll_at,
            )
        )

    async def in_flight(self, kind: TaskKind) -> int:
        """How many ``kind`` tasks are submitting or running (cluster-wide)."""
        stmt = select(func.count()).select_from(t).where(t.c.kind == kind, t.c.status.in_(_IN_FLIGHT))
        return int((await self._conn.execute(stmt)).scalar_one())

    async def claim_queued(
        self,
        owner: str,
        kind: TaskKind,
        *,
        max_in_flight: int,
        now: datetime,
        lease_seconds: float,
        deadline_at: datetime,
    ) -> list[Task]:
        """Move the oldest ``queued`` ``kind`` tasks to ``submitting``, leased to ``owner``, while fewer
        than ``max_in_flight`` of that kind are submitting or running; return them (oldest first).

        Counting and claiming are one critical section: the SQLite write lock (``BEGIN IMMEDIATE``), and
        a transaction-scoped advisory lock on PostgreSQL, so replicas never exceed ``max_in_flight``.
        ``started_at`` becomes the submission time (Unix seconds of ``now``), ``deadline_at`` is set anew.
        """
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _POOL_LOCK_KEY})
        free = max_in_flight - await self.in_flight(kind)
        if free <= 0:
            return []
        queued = (
            select(t.c.id)
            .where(t.c.kind == kind, t.c.status == TaskStatus.QUEUED.value)
            .order_by(t.c.created_at, t.c.id)
            .limit(free)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(t)
            .where(t.c.id.in_(queued.scalar_subquery()))
            .values(
                status=TaskStatus.SUBMITTING.value,
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                started_at=int(now.timestamp()),
                deadline_at=deadline_at,
                next_poll_at=now,
                updated_at=now,
            )
            .returning(*t.c)
        )
        tasks = _readable(await self._conn.execute(stmt))
        tasks.sort(key=lambda task: (task.created_at, task.id))
        return tasks

    async def restart_submission(self, task_id: str, owner: str, *, now: datetime) -> bool:
        """A ``submitting`` task is about to be POSTed again: stamp ``started_at`` with ``now``. Fenced."""
        result = await self._conn.execute(
            update(t)
            .where(t.c.id == task_id, t.c.lease_owner == owner, t.c.status == TaskStatus.SUBMITTING.value)
            .values(started_at=int(now.timestamp()), updated_at=now)
        )
        return result.rowcount == 1

    async def claim_by_upids(
        self, owner: str, upids: list[str], *, now: datetime, lease_seconds: float
    ) -> list[Task]:
        """Lease the ``running`` tasks with these UPIDs that nobody holds, even if not yet due.

        Lets a sweep that already read a node's task list finish every task it saw end there.
        """
        if not upids:
            return []
        candidates = (
            select(t.c.id)
            .where(
                t.c.upid.in_(upids),
                t.c.status == TaskStatus.RUNNING.value,
                or_(t.c.lease_until.is_(None), t.c.lease_until < now),
            )
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(t)
            .where(t.c.id.in_(candidates.scalar_subquery()))
            .values(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=t.c.attempts + 1,
                updated_at=now,
            )
            .returning(*t.c)
        )
        return _readable(await self._conn.execute(stmt))

    async def watched_running(self) -> list[WatchedTask]:
        """The *watched* rows, by node: ``running``, with a UPID, and never claimed (``attempts`` 0) — the
        tasks a sweep follows through its node's task list alone. A row claimed once (its end seen,
        an error, a follow-up waiting) is scheduled by ``next_poll_at`` instead. One read-only query of
        three columns; ordered by node and start."""
        stmt = (
            select(t.c.node, t.c.upid, t.c.started_at)
            .where(t.c.status == TaskStatus.RUNNING.value, t.c.upid.is_not(None), t.c.attempts == 0)
            .order_by(t.c.node, t.c.started_at)
        )
        return [
            WatchedTask(node=str(node), upid=str(upid), started_at=int(started or 0))
            for node, upid, started in await self._conn.execute(stmt)
        ]

    async def _fenced(self, task_id: str, owner: str, **values: Any) -> bool:
        result = await self._conn.execute(
            update(t).where(t.c.id == task_id, t.c.lease_owner == owner).values(**values)
        )
        return result.rowcount == 1

    async def record_poll(self, task_id: str, owner: str, *, now: datetime, next_poll_at: datetime) -> bool:
        """Proxmox answered "still running": reset the error streak, schedule the next poll, drop the lease.

        Applies only while ``owner`` holds the lease; returns False otherwise (someone else took over).
        """
        return await self._fenced(
            task_id,
            owner,
            consecutive_errors=0,
            next_poll_at=next_poll_at,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )

    async def reschedule(
        self, task_id: str, owner: str, *, now: datetime, next_poll_at: datetime, error: str | None = None
    ) -> bool:
        """Try again at ``next_poll_at`` and drop the lease; with ``error``, count one more failed poll.

        Applies only while ``owner`` holds the lease; returns False otherwise.
        """
        values: dict[str, Any] = {
            "next_poll_at": next_poll_at,
            "lease_owner": None,
            "lease_until": None,
            "updated_at": now,
        }
        if error is not None:
            values["error"] = error
            values["consecutive_errors"] = t.c.consecutive_errors + 1
        return await self._fenced(task_id, owner, **values)

    async def finish(
        self,
        task_id: str,
        owner: str,
        *,
        status: TaskStatus,
        now: datetime,
        exitstatus: str | None = None,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """Record the final outcome (``status`` must be final). The lease is kept for the notification.

        The row stays claimable for notification (``notify_state`` pending) once the lease runs out, so
        a crash between here and :meth:`mark_notified` still gets the message sent. Fenced by ``owner``.
        """
        if not TaskStatus(status).is_final:
            raise ValueError(f"finish() needs a final status, not {status!r}")
        return await self._fenced(
            task_id,
            owner,
            status=TaskStatus(status).value,
            exitstatus=exitstatus,
            error=error,
            result=result,
            next_poll_at=now,
            updated_at=now,
        )

    async def mark_notified(self, task_id: str, *, now: datetime) -> bool:
        """The final message is in Slack: stop claiming this task and release its lease."""
        result = await self._conn.execute(
            update(t)
            .where(t.c.id == task_id, t.c.status.in_(_FINAL))
            .values(notify_state=NotifyState.FINAL.value, lease_owner=None, lease_until=None, updated_at=now)
        )
        return result.rowcount == 1

    async def release_leases(self, owner: str, *, now: datetime) -> int:
        """Give back every lease ``owner`` holds (graceful shutdown); returns how many were released."""
        result = await self._conn.execute(
            update(t)
            .where(t.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, updated_at=now)
        )
        return result.rowcount

    async def get_task(self, task_id: str) -> Task | None:
        """The task, or ``None``."""
        row = (await self._conn.execute(select(t).where(t.c.id == task_id))).first()
        return None if row is None else Task.from_row(row)

    async def get_by_upid(self, upid: str) -> Task | None:
        """The task with this UPID, or ``None``."""
        row = (await self._conn.execute(select(t).where(t.c.upid == upid))).first()
        return None if row is None else Task.from_row(row)

    async def pending_tasks(self, *, limit: int = 100) -> list[Task]:
        """Tasks still queued, submitting or running, oldest first."""
        stmt = select(t).where(t.c.status.in_(_ACTIVE)).order_by(t.c.created_at).limit(limit)
        return [Task.from_row(r) for r in await self._conn.execute(stmt)]

    async def recent_tasks(self, *, limit: int = 20) -> list[Task]:
        """The most recently changed tasks, newest first."""
        stmt = select(t).order_by(t.c.updated_at.desc(), t.c.created_at.desc()).limit(limit)
        return [Task.from_row(r) for r in await self._conn.execute(stmt)]

    async def failed_since(self, since: datetime, *, limit: int = 100) -> list[Task]:
        """Tasks that ended failed, timed out or unknown at or after ``since`` (digest: last 24 h)."""
        stmt = (
            select(t)
            .where(t.c.status.in_(_FAILED), t.c.updated_at >= since)
            .order_by(t.c.updated_at.desc())
            .limit(limit)
        )
        return [Task.from_row(r) for r in await self._conn.execute(stmt)]

    async def tasks_for_request(self, request_id: str) -> list[Task]:
        """All tasks of one request, oldest first."""
        stmt = select(t).where(t.c.request_id == request_id).order_by(t.c.created_at)
        return [Task.from_row(r) for r in await self._conn.execute(stmt)]

    async def count_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks are in each status (for the ``cardinal_pending_tasks`` gauge)."""
        stmt = select(t.c.status, func.count()).group_by(t.c.status)
        counts = dict.fromkeys(TaskStatus, 0)
        for status, n in await self._conn.execute(stmt):
            counts[TaskStatus(status)] = int(n)
        return counts


def _readable(rows: Iterable[Row[Any]]) -> list[Task]:
    """The claimed rows as records, leaving out (and logging) any that cannot be read: one broken row
    must not stop every other task. It stays leased until the lease runs out and is logged again then."""
    tasks: list[Task] = []
    for row in rows:
        try:
            tasks.append(Task.from_row(row))
        except StoredRowInvalid as exc:
            log.error("ledger.row_unreadable", task_id=exc.row_id, problems=exc.problems)
    return tasks
