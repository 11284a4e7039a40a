"""Work that outlives a Slack ack: tasks kept alive by strong references, errors logged, drained on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class Background:
    """Starts coroutines after ``ack()`` and keeps them referenced until they finish."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any] | None:
        """Run ``coro`` in the background; refused (and closed) once :meth:`drain` has begun.

        The task runs in a copy of the caller's context, so it logs under the request's log context
        (request id, Slack user…) that the edge bound before the listener ran."""
        if self._closed:
            coro.close()
            log.warning("background.refused", job=name, reason="shutting down")
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background.failed", job=task.get_name(), exc_info=exc)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until nothing started here is still running (including work started meanwhile)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    async def drain(self, grace: float = 10.0) -> None:
        """Stop taking work and wait (bounded) for what is running."""
        self._closed = True
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in late:
                task.cancel()
