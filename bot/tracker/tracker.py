"""The task tracker: nothing pending is ever lost.

Every Proxmox task Cardinal follows — and every creation waiting to be submitted — is a row in the
ledger (``tracked_task``). :meth:`Tracker.sweep` (run every few seconds by the scheduler on every
replica) claims due rows under a lease — queued work, unclear submissions, Cardinal's own polls, messages
not yet delivered, tasks past their deadline — and reads the task list of every node with running tasks
(one request per node, :mod:`bot.tracker.poller`). A task that is still running is *not* claimed and
costs no write: the list shows it running. Each task the list shows ended is claimed then, finished with
fenced updates, and its final message is posted exactly once through the outbox; then the provisioning
pool is refilled. A replica that dies leaves leases that expire; another replica (or the restarted
process) picks the rows up where they were.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from bot.db import Clock, ContainerState, Database, DuplicateUpid, RequestState, Task, TaskStatus, utc_now
from bot.db.audit import SYSTEM_ACTOR
from bot.db.payloads import CreateParams
from bot.observe import NoObserver, Observer
from bot.outbox import Outbox
from bot.proxmox import (
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxNotFoundError,
    ProxmoxPermissionError,
    Upid,
)
from bot.tracker.backoff import Backoff
from bot.tracker.context import Ctx, TrackerConfig, describe
from bot.tracker.day2 import Day2
from bot.tracker.followups import FollowUps
from bot.tracker.kinds import TaskKind
from bot.tracker.poller import Observation, Poller, Seen
from bot.tracker.provisioning import Provisioner
from bot.tracker.proxmox import CountingProxmox, TrackerProxmox
from bot.tracker.reporter import Reporter

if TYPE_CHECKING:
    from bot.settings import Settings

log = structlog.get_logger(__name__)

_CLAIM_CHUNK = 500  # UPIDs per claim_by_upids statement (bound parameters stay far below driver limits)


CANCEL_WAIT = 5.0
"""Seconds :meth:`Tracker.shutdown` waits for a cancelled sweep before giving its leases back anyway."""


def default_owner() -> str:
    """A lease owner unique to this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class KindHandlers:
    """What the sweep does with a claimed row of one kind.

    ``finished``: Proxmox says the task ended; ``recover``: the row is still ``submitting`` (its
    submitter died or the POST's answer was unclear); ``poll``: a running row without a UPID, work
    Cardinal polls itself; ``fail``/``timed_out``: end it with an error, or past its deadline.
    """

    finished: Callable[[Task, Observation], Awaitable[None]]
    recover: Callable[[Task], Awaitable[None]]
    poll: Callable[[Task], Awaitable[None]]
    fail: Callable[[Task, str, list[str]], Awaitable[None]]
    timed_out: Callable[[Task], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CreationItem:
    """One container to create for a request; the caller already reserved ``vmid``.

    ``params`` are the create parameters (``ContainerSpec.to_create_params``) **without** a password;
    with ``generate_password`` a root password is generated at submit time and sent by direct message to the
    requester only — it is never stored or logged.
    """

    hostname: str
    vmid: int
    node: str
    params: Mapping[str, str | int]
    channel: str
    thread_ts: str | None
    requester: str
    generate_password: bool = False
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did. ``claimed``: rows leased (due, or seen ended). ``status_fallbacks``: per-UPID
    status calls for tasks their node's task list did not show (the rest of ``proxmox_requests`` is one
    list per node, log reads and actions); ``listed``: task-list entries read."""

    claimed: int = 0
    proxmox_requests: int = 0
    status_fallbacks: int = 0
    listed: int = 0
    finished: int = 0
    notified: int = 0
    submitted: int = 0


class Tracker:
    """Follows Proxmox tasks to their end and provisions queued creations.

    - ``owner``: lease owner, unique per process (:func:`default_owner`).
    - ``concurrency``: creations in flight cluster-wide (submitting or running ``vzcreate``).
    - ``sweep_interval``: seconds between sweeps (used for the default backoff and retries).
    - ``lease_seconds``: how long a claimed row stays ours; must exceed one sweep's work.
    - ``create_deadline``: after this a create is reported timed out (with its log so far);
      ``deadlines`` sets other kinds (default 10 minutes).
    - ``ui_url``: Proxmox web UI base for links; ``address_attempts``: address polls before reporting
      "no address yet".
    - ``submit_grace``: seconds after an unclear submission before Proxmox showing neither a task nor a
      config counts as "not created" (then the create is sent again); ``lookup_margin``: seconds of clock
      skew allowed when looking a task up by vmid.
    """

    def __init__(
        self,
        db: Database,
        proxmox: TrackerProxmox,
        outbox: Outbox,
        *,
        owner: str,
        clock: Clock = utc_now,
        concurrency: int = 5,
        sweep_interval: float = 3.0,
        lease_seconds: float = 120.0,
        create_deadline: timedelta = timedelta(minutes=30),
        ui_url: str = "",
        address_attempts: int = 10,
        batch_size: int = 500,
        submit_grace: float = 60.0,
        lookup_margin: float = 600.0,
        parallel: int = 10,
        deadlines: Mapping[str, timedelta] | None = None,
        poll_backoff: Backoff | None = None,
        error_backoff: Backoff | None = None,
        address_backoff: Backoff | None = None,
        seed: int | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.config = TrackerConfig(
            concurrency=concurrency,
            sweep_interval=sweep_interval,
            lease_seconds=lease_seconds,
            create_deadline=create_deadline,
            ui_url=ui_url,
            address_attempts=address_attempts,
            batch_size=batch_size,
            submit_grace=submit_grace,
            lookup_margin=lookup_margin,
            parallel=parallel,
            deadlines=dict(deadlines or {}),
        )
        rng = random.Random(seed)
        self.px = CountingProxmox(proxmox)
        self.ctx = Ctx(
            db=db,
            px=self.px,
            outbox=outbox,
            owner=owner,
            clock=clock,
            config=self.config,
            poll_backoff=poll_backoff
            or Backoff(base=sweep_interval, factor=1.5, cap=max(4 * sweep_interval, 10.0), rng=rng),
            error_backoff=error_backoff
            or Backoff(base=sweep_interval, factor=2.0, cap=max(20 * sweep_interval, 60.0), rng=rng),
            address_backoff=address_backoff
            or Backoff(base=sweep_interval, factor=1.5, cap=max(10 * sweep_interval, 30.0), rng=rng),
            observer=observer or NoObserver(),
        )
        self.owner = owner
        self._reporter = Reporter(self.ctx)
        self._followups = FollowUps(self.ctx, self._reporter)
        self._day2 = Day2(self.ctx, self._reporter)
        self._provisioner = Provisioner(self.ctx, self._followups)
        self._handlers = self._dispatch_table()
        self._poller = Poller(self.px, parallel=parallel)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._current: asyncio.Task[Any] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        db: Database,
        proxmox: TrackerProxmox,
        outbox: Outbox,
        *,
        owner: str | None = None,
        clock: Clock = utc_now,
        **overrides: Any,
    ) -> Tracker:
        """A tracker configured from :class:`bot.settings.Settings` (``overrides`` win)."""
        kwargs: dict[str, Any] = {
            "concurrency": settings.proxmox_concurrency,
            "sweep_interval": settings.sweep_interval,
            "create_deadline": timedelta(minutes=settings.create_deadline_minutes),
            "ui_url": settings.proxmox_web_url,
        }
        kwargs.update(overrides)
        return cls(db, proxmox, outbox, owner=owner or default_owner(), clock=clock, **kwargs)

    @property
    def stopping(self) -> bool:
        """True once :meth:`shutdown` began: sweeps do nothing more."""
        return self._stopping.is_set()

    # --- services call these ---------------------------------------------------------------------

    async def enqueue_creations(self, request_id: str, items: Sequence[CreationItem]) -> None:
        """Queue the creations of a request (container rows ``creating``, ledger rows ``queued``) and
        move the request to ``creating``. They are submitted by the next sweeps as slots free up."""
        ctx = self.ctx
        for item in items:
            if "password" in item.params:
                raise ValueError("create params must not hold a password; use generate_password")
        now = ctx.now()
        async with ctx.db.transaction() as tx:
            for item in items:
                expires = item.expires_at.isoformat() if item.expires_at is not None else None
                await tx.containers.upsert(
                    vmid=item.vmid,
                    node=item.node,
                    hostname=item.hostname,
                    owner=item.requester,
                    state=ContainerState.CREATING,
                    now=now,
                    request_id=request_id,
                    expires_at=item.expires_at,
                    thread_channel=item.channel,
                    thread_ts=item.thread_ts,
                )
                await tx.ledger.enqueue(
                    TaskKind.CREATE,
                    node=item.node,
                    vmid=item.vmid,
                    request_id=request_id,
                    params=CreateParams(
                        create=dict(item.params),
                        hostname=item.hostname,
                        requester=item.requester,
                        generate_password=item.generate_password,
                        expires_at=expires,
                    ),
                    deadline_at=now + ctx.config.create_deadline,
                    now=now,
                    actor=item.requester,
                    channel=item.channel,
                    thread_ts=item.thread_ts,
                )
                await tx.audit.append(
                    item.requester,
                    "container.queued",
                    now=now,
                    vmid=item.vmid,
                    request_id=request_id,
                    detail={"hostname": item.hostname, "node": item.node},
                )
        log.info("tracker.creations_queued", request_id=request_id, count=len(items))
        await self._reporter.refresh_request(request_id, state=RequestState.CREATING)

    async def track(
        self,
        kind: TaskKind | str,
        upid: str | Upid,
        *,
        vmid: int | None,
        node: str | None = None,
        actor: str | None,
        channel: str | None,
        thread_ts: str | None,
        request_id: str | None = None,
    ) -> Task:
        """Follow a task a service already started (day-2: start, stop, reboot, destroy …).

        Its result goes to ``channel``/``thread_ts`` when it ends. Tracking the same UPID twice returns
        the existing row.
        """
        ctx = self.ctx
        kind = TaskKind(kind)
        parsed = upid if isinstance(upid, Upid) else Upid.parse(upid)
        now = ctx.now()
        try:
            async with ctx.db.transaction() as tx:
                task = await tx.ledger.add_task(
                    kind,
                    node=node or parsed.node,
                    vmid=vmid,
                    request_id=request_id,
                    upid=str(parsed),
                    deadline_at=now + ctx.config.deadline(kind),
                    now=now,
                    actor=actor,
                    channel=channel,
                    thread_ts=thread_ts,
                )
                await tx.audit.append(
                    actor or SYSTEM_ACTOR,
                    f"task.{kind}.started",
                    now=now,
                    vmid=vmid,
                    request_id=request_id,
                    upid=str(parsed),
                )
        except DuplicateUpid:
            async with ctx.db.transaction(readonly=True) as tx:
                existing = await tx.ledger.get_by_upid(str(parsed))
            assert existing is not None
            return existing
        return task

    # --- the sweep ----------------------------------------------------------------------------

    async def sweep(self) -> SweepReport:
        """One pass over everything due. Safe to call concurrently (calls queue up) and on any replica."""
        if self.stopping:
            return SweepReport()
        async with self._lock:
            if self.stopping:
                return SweepReport()
            self._current = asyncio.current_task()
            started = time.perf_counter()
            try:
                return await self._sweep()
            finally:
                self._current = None
                self.ctx.observer.sweep_finished(seconds=time.perf_counter() - started)

    async def _sweep(self) -> SweepReport:
        ctx = self.ctx
        calls = self.px.calls
        finished, notified = self._reporter.finished, self._reporter.notified
        now = ctx.now()
        async with ctx.db.transaction() as tx:
            claimed = await tx.ledger.claim_due(
                self.owner,
                now=now,
                lease_seconds=self.config.lease_seconds,
                limit=self.config.batch_size,
                skip_watched=True,
            )
        async with ctx.db.transaction(readonly=True) as tx:
            watched = await tx.ledger.watched_running()
        polled = [t for t in claimed if t.status is TaskStatus.RUNNING and t.upid is not None]
        observed: dict[str, Observation] = {}
        fallbacks = listed = 0
        if polled or watched:
            poll = await self._poller.poll(polled, watched)
            observed, fallbacks, listed = poll.due, poll.fallbacks, poll.items
            ended = await self._claim_finished(poll.ended, observed)
            if any(o.finished for o in observed.values()):
                self.px.invalidate_snapshots()  # what the task changed is visible from now on
            claimed.extend(ended)
        work: list[tuple[Task, Awaitable[None]]] = []
        for task in claimed:
            work.append((task, self._dispatch(task, observed)))
        async with self._reporter.batch():  # the rows ended here are written together
            await self._run_all(work)
        submitted = 0
        if not self.stopping:
            submitted = await self._provisioner.fill(stopping=self._stopping)
        report = SweepReport(
            claimed=len(claimed),
            proxmox_requests=self.px.calls - calls,
            status_fallbacks=fallbacks,
            listed=listed,
            finished=self._reporter.finished - finished,
            notified=self._reporter.notified - notified,
            submitted=submitted,
        )
        if report.claimed or report.submitted:
            log.info("tracker.sweep", **report_fields(report))
        return report

    async def _claim_finished(
        self, finished: Mapping[str, Observation], observed: dict[str, Observation]
    ) -> list[Task]:
        """Lease the watched rows the poll found ended (``finished``: UPID → observation) and add their
        observations to ``observed``. All of them: the next list no longer reaches back to
        their end, so a row left for later would cost a status call."""
        ctx = self.ctx
        upids = list(finished)
        extra: list[Task] = []
        for i in range(0, len(upids), _CLAIM_CHUNK):
            async with ctx.db.transaction() as tx:
                got = await tx.ledger.claim_by_upids(
                    self.owner,
                    upids[i : i + _CLAIM_CHUNK],
                    now=ctx.now(),
                    lease_seconds=self.config.lease_seconds,
                )
            for task in got:
                assert task.upid is not None
                observed[task.upid] = finished[task.upid]
            extra.extend(got)
        return extra

    async def _run_all(self, work: list[tuple[Task, Awaitable[None]]]) -> None:
        limit = asyncio.Semaphore(self.config.parallel)

        async def guarded(task: Task, job: Awaitable[None]) -> None:
            async with limit:
                try:
                    await job
                except Exception as exc:  # one bad row must not stop the others
                    log.exception("tracker.task_error", task_id=task.id, kind=task.kind, vmid=task.vmid)
                    try:
                        await self.ctx.retry_after_error(task, exc)
                    except Exception:
                        log.exception("tracker.reschedule_failed", task_id=task.id)

        await asyncio.gather(*(guarded(task, job) for task, job in work))

    async def _dispatch(self, task: Task, observed: Mapping[str, Observation]) -> None:
        handlers = self._handlers[task.kind]
        if task.is_final:
            await self._reporter.notify(task)
        elif task.status is TaskStatus.SUBMITTING:
            if self.ctx.now() >= task.deadline_at and task.consecutive_errors >= 3:
                await handlers.timed_out(task)
            else:
                await handlers.recover(task)
        elif task.upid is None:
            await handlers.poll(task)
        else:
            obs = observed.get(task.upid) or Observation(
                Seen.ERROR, error=ProxmoxError("the task's state could not be read")
            )
            await self._handle(task, obs, handlers)

    async def _handle(self, task: Task, obs: Observation, handlers: KindHandlers) -> None:
        ctx = self.ctx
        if obs.finished:
            await handlers.finished(task, obs)
        elif obs.seen is Seen.RUNNING:
            if ctx.now() >= task.deadline_at:
                await handlers.timed_out(task)
            else:
                await ctx.still_running(task)
        else:
            exc = obs.error or ProxmoxError("unknown error")
            if isinstance(exc, ProxmoxAuthError | ProxmoxPermissionError | ProxmoxNotFoundError):
                await handlers.fail(task, describe(exc), [])
            elif ctx.now() >= task.deadline_at:
                await handlers.timed_out(task)
            else:
                await ctx.retry_after_error(task, exc)

    def _dispatch_table(self) -> dict[TaskKind, KindHandlers]:
        """What the sweep does with a row of each kind (every :class:`TaskKind` has an entry)."""
        followups, day2 = self._followups, self._day2

        async def no_upid(task: Task) -> None:
            await day2.fail(task, f"Cardinal cannot follow a {task.kind} task without a UPID", [])

        async def outcome_unknown(task: Task) -> None:
            await day2.fail(task, f"the {task.kind} request's outcome is unknown", [])

        day2_handlers = KindHandlers(
            finished=day2.finished,
            recover=outcome_unknown,
            poll=no_upid,
            fail=day2.fail,
            timed_out=day2.timed_out,
        )
        table = dict.fromkeys(TaskKind, day2_handlers)
        table[TaskKind.CREATE] = KindHandlers(
            finished=followups.create_finished,
            recover=self._provisioner.recover,
            poll=no_upid,
            fail=followups.fail,
            timed_out=followups.timed_out,
        )
        table[TaskKind.CREATE_START] = KindHandlers(
            finished=followups.start_finished,
            recover=followups.recover_start,
            poll=no_upid,
            fail=followups.fail,
            timed_out=followups.timed_out,
        )
        table[TaskKind.CREATE_IP] = replace(day2_handlers, poll=followups.discover)
        return table

    # --- lifecycle ------------------------------------------------------------------------------

    async def shutdown(self, *, grace: float | None = None) -> None:
        """Stop taking new work, let the sweep in flight finish (cancel it after ``grace`` seconds),
        and give back every lease this tracker holds so other replicas continue at once."""
        self._stopping.set()
        current = self._current
        if current is not None and not current.done():
            _done, pending = await asyncio.wait({current}, timeout=grace)
            if pending:
                current.cancel()
                # Bounded: a database call interrupted mid-way may never return (aiosqlite close).
                _done, pending = await asyncio.wait({current}, timeout=CANCEL_WAIT)
                if pending:
                    log.warning("tracker.sweep_not_stopped", owner=self.owner)
        if not self._lock.locked():
            async with self._lock:
                pass
        async with self.ctx.db.transaction() as tx:
            released = await tx.ledger.release_leases(self.owner, now=self.ctx.now())
        log.info("tracker.stopped", owner=self.owner, released=released)


def report_fields(report: SweepReport) -> dict[str, int]:
    """The report as log fields."""
    return {
        "claimed": report.claimed,
        "proxmox_requests": report.proxmox_requests,
        "status_fallbacks": report.status_fallbacks,
        "listed": report.listed,
        "finished": report.finished,
        "notified": report.notified,
        "submitted": report.submitted,
    }
