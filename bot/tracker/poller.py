"""Reading the status of many Proxmox tasks with one request per node.

Every sweep, each node where the ledger has running tasks is asked ONE
``GET /nodes/{node}/tasks?source=all&since=…&limit=…``, ``since`` just before the oldest running task
there. The answer shows every task on the node since then — running ones as ``RUNNING``, finished ones
with their exit status — so it answers every due UPID, *and* shows each task that ended even when its
row is not due yet (the sweep finishes those at once). ``limit`` is sized from the ledger (the list holds
other users' tasks too); should Proxmox's ``total`` say more tasks match, the next page is read with
``start``. Only a due UPID missing from the whole list (not visible to us, or gone) costs its own
``GET …/tasks/{upid}/status``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.db import Task
from bot.db.ledger import NodeRunning
from bot.proxmox import (
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxPermissionError,
    ProxmoxTaskStatus,
    TaskListItem,
    TaskOutcome,
    TaskSource,
    Upid,
)


class Seen(StrEnum):
    """What one poll learned about a task."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Observation:
    """A task's state as read from Proxmox; ``error`` is set when it could not be read."""

    seen: Seen
    exitstatus: str | None = None
    error: ProxmoxError | None = None

    @property
    def finished(self) -> bool:
        return self.seen in (Seen.OK, Seen.FAILED)


def _from_outcome(outcome: TaskOutcome, exitstatus: str | None) -> Observation:
    if outcome is TaskOutcome.RUNNING:
        return Observation(Seen.RUNNING)
    if outcome in (TaskOutcome.OK, TaskOutcome.WARNINGS):
        return Observation(Seen.OK, exitstatus)
    return Observation(Seen.FAILED, exitstatus or "unexpected status")


def observe_item(item: TaskListItem) -> Observation:
    """The observation a task-list entry gives."""
    return _from_outcome(item.outcome, item.status)


class TaskLists(Protocol):
    """What the poller asks Proxmox (:class:`bot.tracker.proxmox.CountingProxmox` provides it)."""

    async def node_tasks_page(
        self,
        node: str,
        *,
        source: TaskSource = "archive",
        since: int | None = None,
        limit: int | None = None,
        start: int | None = None,
    ) -> tuple[list[TaskListItem], int | None]: ...

    async def task_status(self, upid: Upid) -> ProxmoxTaskStatus: ...


@dataclass
class PollResult:
    """What one poll learned.

    ``due``: an observation for every due UPID. ``finished``: every *other* finished task the lists
    showed (Cardinal's or not — the ledger decides which are its own). ``lists``, ``pages`` (list
    requests beyond the first per node) and ``fallbacks`` (per-UPID status calls) count the requests.
    """

    due: dict[str, Observation] = field(default_factory=dict)
    finished: dict[str, Observation] = field(default_factory=dict)
    lists: int = 0
    pages: int = 0
    fallbacks: int = 0


@dataclass(frozen=True, slots=True)
class _Window:
    node: str
    since: int
    limit: int
    due: tuple[Upid, ...]


@dataclass
class _NodeAnswer:
    due: dict[str, Observation] = field(default_factory=dict)
    finished: dict[str, Observation] = field(default_factory=dict)
    lists: int = 0
    fallbacks: int = 0


class Poller:
    """Polls task status per node.

    A node's list is asked for ``max(min_limit, per_row × ledger rows listed there)`` entries: room for
    all of Cardinal's and plenty of other users' tasks. At most ``max_pages`` list requests per node.
    """

    def __init__(
        self,
        px: TaskLists,
        *,
        min_limit: int = 500,
        per_row: int = 4,
        max_pages: int = 5,
        parallel: int = 8,
    ) -> None:
        if min_limit < 1 or per_row < 1 or max_pages < 1:
            raise ValueError("min_limit, per_row and max_pages must be at least 1")
        self.px = px
        self.min_limit = min_limit
        self.per_row = per_row
        self.max_pages = max_pages
        self._limit = asyncio.Semaphore(parallel)

    def windows(self, due: Sequence[Task], nodes: Sequence[NodeRunning]) -> list[_Window]:
        """One list window per node that has running ledger rows or due UPIDs."""
        due_by_node: dict[str, list[Upid]] = defaultdict(list)
        for task in due:
            if task.upid is not None:
                upid = Upid.parse(task.upid)
                due_by_node[upid.node].append(upid)
        ledger = {n.node: n for n in nodes}
        out: list[_Window] = []
        for node in sorted(set(ledger) | set(due_by_node)):
            upids = due_by_node.get(node, [])
            starts = [u.starttime for u in upids]
            rows = len(upids)
            if node in ledger:
                starts.append(ledger[node].oldest)
                rows = max(rows, ledger[node].listed)
            limit = max(self.min_limit, self.per_row * rows)
            out.append(_Window(node, min(starts) - 1, limit, tuple(upids)))
        return out

    async def poll(self, due: Sequence[Task], nodes: Sequence[NodeRunning]) -> PollResult:
        """Read the task list of every node in ``nodes`` (the ledger's running rows per node) and of
        every node a due task runs on; observe each task of ``due`` (all with a UPID)."""
        result = PollResult()
        answers = await asyncio.gather(*(self._poll_node(w) for w in self.windows(due, nodes)))
        for answer in answers:
            result.due.update(answer.due)
            result.finished.update(answer.finished)
            result.lists += min(answer.lists, 1)
            result.pages += max(answer.lists - 1, 0)
            result.fallbacks += answer.fallbacks
        for upid in result.due:
            result.finished.pop(upid, None)
        return result

    async def _list(
        self, window: _Window, answer: _NodeAnswer
    ) -> tuple[dict[str, TaskListItem], ProxmoxError | None]:
        """The node's tasks since the window's start, paged while ``total`` says more match.

        An error on the first page is raised; on a later page it is returned with what was read."""
        listed: dict[str, TaskListItem] = {}
        start = 0
        while True:
            try:
                async with self._limit:
                    answer.lists += 1
                    page, total = await self.px.node_tasks_page(
                        window.node,
                        source="all",
                        since=window.since,
                        limit=window.limit,
                        start=start or None,
                    )
            except ProxmoxError as exc:
                if not start:
                    raise
                return listed, exc
            listed.update((item.upid, item) for item in page)
            start += len(page)
            if not page or total is None or total <= start or answer.lists >= self.max_pages:
                return listed, None

    async def _poll_node(self, window: _Window) -> _NodeAnswer:
        answer = _NodeAnswer()
        listed: dict[str, TaskListItem] = {}
        failed: ProxmoxError | None = None
        try:
            listed, failed = await self._list(window, answer)
        except (ProxmoxAuthError, ProxmoxPermissionError):
            pass  # ask each due task directly; that answer decides
        except ProxmoxError as exc:
            answer.due = {str(u): Observation(Seen.ERROR, error=exc) for u in window.due}
            return answer
        missing: list[Upid] = []
        for upid in window.due:
            item = listed.pop(str(upid), None)
            if item is not None:
                answer.due[str(upid)] = observe_item(item)
            elif failed is not None:
                answer.due[str(upid)] = Observation(Seen.ERROR, error=failed)
            else:
                missing.append(upid)
        if missing:
            answer.fallbacks = len(missing)
            found = await asyncio.gather(*(self._status(u) for u in missing))
            answer.due.update(zip((str(u) for u in missing), found, strict=True))
        for key, item in listed.items():
            obs = observe_item(item)
            if obs.finished:
                answer.finished[key] = obs
        return answer

    async def _status(self, upid: Upid) -> Observation:
        try:
            async with self._limit:
                status = await self.px.task_status(upid)
        except ProxmoxError as exc:
            return Observation(Seen.ERROR, error=exc)
        return _from_outcome(status.outcome, status.exitstatus)
