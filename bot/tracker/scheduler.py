"""The clock that drives periodic work: APScheduler 3.11's ``AsyncIOScheduler`` with a memory job store.

APScheduler holds no durable state here — only timers. Jobs are registered at start with fixed ids,
``max_instances=1`` (a slow run is never doubled), ``coalesce=True`` (missed runs collapse into one) and
a little jitter so replicas do not sweep in lock-step. Everything that must survive a restart lives in
Cardinal's own tables (the ledger, ``job_run``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.tracker.tracker import Tracker

log = structlog.get_logger(__name__)

SWEEP_JOB_ID = "tracker_sweep"

Job = Callable[[], Awaitable[Any]]


class _OverlapIsExpected(logging.Filter):
    """Drop APScheduler's "skipped: maximum number of running instances reached" warning.

    A run that is still going when its next tick comes is *meant* to swallow that tick (``max_instances=1``,
    ``coalesce=True``); a line per skipped tick would only flood the log of a busy replica. How long runs
    take is measured instead (``cardinal_sweep_duration_seconds`` on ``/metrics``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


_OVERLAP_FILTER = _OverlapIsExpected()


def _logged(job_id: str, fn: Job) -> Job:
    async def run() -> None:
        try:
            await fn()
        except Exception:
            log.exception("scheduler.job_failed", job=job_id)

    return run


class Scheduler:
    """Periodic jobs for one process. Call :meth:`start` inside the running event loop."""

    def __init__(self, *, timezone: str = "UTC") -> None:
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            timezone=ZoneInfo(timezone),
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        self._tracker: Tracker | None = None
        logging.getLogger("apscheduler.scheduler").addFilter(_OVERLAP_FILTER)  # once: the same object

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`shutdown` (for ``/readyz``)."""
        return bool(self._scheduler.running)

    def job_ids(self) -> list[str]:
        """The registered job ids."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    def every(self, job_id: str, seconds: float, fn: Job, *, jitter: float | None = None) -> None:
        """Run ``fn`` every ``seconds`` (± ``jitter``) under a fixed id; re-registering replaces it."""
        self._scheduler.add_job(
            _logged(job_id, fn),
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            jitter=jitter,
        )

    def cron(self, job_id: str, fn: Job, *, jitter: float | None = None, **fields: Any) -> None:
        """Run ``fn`` on a cron schedule (``hour=9, minute=0`` …) in the scheduler's time zone."""
        self._scheduler.add_job(
            _logged(job_id, fn),
            "cron",
            id=job_id,
            name=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            jitter=jitter,
            **fields,
        )

    def add_tracker(
        self, tracker: Tracker, *, interval: float | None = None, jitter: float | None = None
    ) -> None:
        """Register the tracker's sweep (every ``interval`` s, default its ``sweep_interval``; jitter
        defaults to a fifth of the interval)."""
        seconds = interval if interval is not None else tracker.config.sweep_interval
        self._tracker = tracker
        self.every(SWEEP_JOB_ID, seconds, tracker.sweep, jitter=seconds / 5 if jitter is None else jitter)

    def start(self) -> None:
        """Start the timers (needs the running event loop)."""
        self._scheduler.start()
        log.info("scheduler.started", jobs=self.job_ids())

    async def shutdown(self, *, grace: float | None = 30.0) -> None:
        """Pause the timers, let the tracker finish its sweep and release its leases, then stop."""
        if self._scheduler.running:
            self._scheduler.pause()
        if self._tracker is not None:
            await self._tracker.shutdown(grace=grace)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler applies shutdown on the loop's next turn
        log.info("scheduler.stopped")
