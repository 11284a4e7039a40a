"""Reading the status of many Proxmox tasks with one request per node — without writing for those that run.

Proxmox lists a node's tasks (``GET /nodes/{node}/tasks?source=all``) as its task files hold them
(pve-manager ``PVE/API2/Tasks.pm``): first every task still running, in start order, then the archive of
finished tasks **most recently ended first** (docs/simulator-fidelity.md). So one page of "running tasks
on the node + a margin" entries holds every running task — one that has run for hours is one line — and
every task that ended since the previous sweep. A further page is read only while the page still ends
inside the running section or inside archive entries that ended at or after the node's *watermark*: the
latest end seen by the previous complete list of that node, less a small margin (at first: the oldest
watched task's start). The request does not grow with how long the oldest task has run.

The ledger's watched UPIDs (``LedgerRepo.watched_running``) are matched against the list: shown running →
nothing to do; shown finished → the sweep claims and finishes it; in neither part ("missing": ended before
the watermark, rotated out of the archive, not visible to the token, the list cut short) → one
``GET …/tasks/{upid}/status``, and the sweep claims the row with that answer: it is finished, or (still
running, or unreadable) moves to the claimed rows' backoff, so it is not asked again every sweep. A node
whose list fails costs no write: its rows are read again next sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import structlog

from bot.db import Task
from bot.db.ledger import WatchedTask
from bot.proxmox import (
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxNotFoundError,
    ProxmoxPermissionError,
    ProxmoxTaskStatus,
    TaskListItem,
    TaskOutcome,
    TaskSource,
    Upid,
)

log = structlog.get_logger(__name__)

_DEFINITE = (ProxmoxAuthError, ProxmoxPermissionError, ProxmoxNotFoundError)
"""Errors asking again will not cure: the task is ended with them."""


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

    @property
    def definite(self) -> bool:
        """Final for the task: it ended, or reading it failed in a way asking again will not cure."""
        return self.finished or (self.seen is Seen.ERROR and isinstance(self.error, _DEFINITE))


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

    ``due``: an observation for every due (claimed) UPID. ``ended``: the watched UPIDs the sweep claims —
    those the list shows ended, and every one only a status call could answer (missing from the list:
    ended, still running, or an error); a missing task is then followed on the claimed rows' backoff
    instead of costing a status call every sweep. ``lists``, ``pages``
    (list requests beyond the first per node), ``fallbacks`` (per-UPID status calls) and ``items`` (list
    entries read) count the work; ``failed_nodes`` the nodes whose list could not be read.
    """

    due: dict[str, Observation] = field(default_factory=dict)
    ended: dict[str, Observation] = field(default_factory=dict)
    lists: int = 0
    pages: int = 0
    fallbacks: int = 0
    items: int = 0
    failed_nodes: int = 0


@dataclass
class _Node:
    name: str
    watched: set[str] = field(default_factory=set)
    due: set[str] = field(default_factory=set)
    oldest: int | None = None

    def note_start(self, starttime: int) -> None:
        self.oldest = starttime if self.oldest is None else min(self.oldest, starttime)


@dataclass
class _Listing:
    items: dict[str, TaskListItem] = field(default_factory=dict)
    error: ProxmoxError | None = None
    requests: int = 0
    latest_end: int | None = None
    running: int = 0
    recent: int = 0


@dataclass
class _Memory:
    """What the previous list of a node taught: the latest end it showed (the watermark), how many
    running tasks it showed and how many entries had ended since the list before."""

    mark: int
    running: int
    recent: int


class Poller:
    """Polls task status per node (see the module docstring).

    A node's page is sized from what the node's previous list showed: ``max(its running tasks, the
    watched + due tasks there) + 2 × the entries that had ended since the list before + margin`` (at
    least ``min_limit``); a busier moment costs further pages (each twice the size of the one before),
    never a missed task. Paging stops once every watched/due task of the node was seen, or the page
    reached ends older than the watermark, or after ``max_pages`` requests (tasks not reached are asked
    one by one). ``mark_margin``: seconds of end times re-read below the watermark (Proxmox stamps the
    end when it archives the line; the slack covers clock steps).
    ``max_fallbacks``: status calls per node and sweep for tasks the list did not show (after a long
    outage many may have ended before the list reaches back); the rest are asked in later sweeps.
    """

    def __init__(
        self,
        px: TaskLists,
        *,
        min_limit: int = 20,
        margin: int = 20,
        max_pages: int = 5,
        mark_margin: int = 10,
        max_fallbacks: int = 200,
        parallel: int = 8,
    ) -> None:
        if min_limit < 1 or margin < 0 or max_pages < 1 or mark_margin < 0 or max_fallbacks < 0:
            raise ValueError("min_limit and max_pages must be at least 1, the others not negative")
        self.px = px
        self.min_limit = min_limit
        self.margin = margin
        self.max_pages = max_pages
        self.mark_margin = mark_margin
        self.max_fallbacks = max_fallbacks
        self._limit = asyncio.Semaphore(parallel)
        self._memory: dict[str, _Memory] = {}

    def watermark(self, node: str) -> int | None:
        """The latest task end the previous list of ``node`` showed (``None``: none seen yet)."""
        memory = self._memory.get(node)
        return None if memory is None else memory.mark

    def _nodes(self, due: Sequence[Task], watched: Sequence[WatchedTask]) -> list[_Node]:
        nodes: dict[str, _Node] = {}
        for w in watched:
            node = nodes.setdefault(w.node, _Node(w.node))
            node.watched.add(w.upid)
            node.note_start(w.started_at)
        for task in due:
            if task.upid is None:
                continue
            upid = Upid.parse(task.upid)
            node = nodes.setdefault(upid.node, _Node(upid.node))
            node.due.add(task.upid)
            node.watched.discard(task.upid)
            node.note_start(upid.starttime)
        return [nodes[name] for name in sorted(nodes)]

    async def poll(self, due: Sequence[Task], watched: Sequence[WatchedTask]) -> PollResult:
        """Read the task list of every node with a watched or due task; observe each task of ``due``
        (all with a UPID) and report which ``watched`` ones ended."""
        result = PollResult()
        answers = await asyncio.gather(*(self._poll_node(n) for n in self._nodes(due, watched)))
        for answer in answers:
            result.due.update(answer.due)
            result.ended.update(answer.ended)
            result.lists += min(answer.lists, 1)
            result.pages += max(answer.lists - 1, 0)
            result.fallbacks += answer.fallbacks
            result.items += answer.items
            result.failed_nodes += answer.failed_nodes
        return result

    def _floor(self, node: _Node) -> int:
        """Archive entries that ended at or after this may be new to us (see :meth:`watermark`)."""
        memory = self._memory.get(node.name)
        if memory is not None:
            return memory.mark - self.mark_margin
        return (node.oldest if node.oldest is not None else 0) - self.mark_margin

    def _page_size(self, node: _Node) -> int:
        ours = len(node.watched) + len(node.due)
        memory = self._memory.get(node.name)
        if memory is None:
            return max(self.min_limit, ours + self.margin)
        return max(self.min_limit, max(ours, memory.running) + 2 * memory.recent + self.margin)

    async def _list(self, node: _Node) -> _Listing:
        """The node's running tasks and its archive down to the watermark, page by page."""
        out = _Listing()
        floor = self._floor(node)
        memory = self._memory.get(node.name)
        newer = memory.mark if memory is not None else floor  # ends not seen by the previous list
        limit = self._page_size(node)
        wanted = node.watched | node.due
        start = 0
        while True:
            try:
                async with self._limit:
                    out.requests += 1
                    page, total = await self.px.node_tasks_page(
                        node.name, source="all", limit=limit, start=start or None
                    )
            except ProxmoxError as exc:
                out.error = exc
                return out
            for item in page:
                out.items[item.upid] = item
                wanted.discard(item.upid)
                if item.endtime is None:
                    out.running += 1
                    continue
                if item.endtime > newer:
                    out.recent += 1
                if out.latest_end is None or item.endtime > out.latest_end:
                    out.latest_end = item.endtime
            start += len(page)
            asked, limit = limit, 2 * limit  # a busier moment than the last: widen geometrically
            if len(page) < asked or (total is not None and total <= start):
                return out  # the whole list
            if not wanted:
                return out  # every task of ours on the node is accounted for
            last = page[-1]
            if last.endtime is not None and last.endtime < floor:
                return out  # past the running tasks and every end since the previous list
            if total is None or out.requests >= self.max_pages:
                return out  # what lies beyond is asked task by task

    async def _poll_node(self, node: _Node) -> PollResult:
        answer = PollResult()
        listing = await self._list(node)
        answer.lists = listing.requests
        answer.items = len(listing.items)
        auth_failed = isinstance(listing.error, ProxmoxAuthError | ProxmoxPermissionError)
        if listing.error is not None and not auth_failed:
            log.warning("tracker.task_list_failed", node=node.name, error=str(listing.error))
        if listing.error is not None and not listing.items and not auth_failed:
            answer.failed_nodes = 1
            for upid in node.due:  # claimed rows get the error; watched rows are left alone
                answer.due[upid] = Observation(Seen.ERROR, error=listing.error)
            return answer
        if listing.error is None:
            previous = self._memory.get(node.name)
            mark = listing.latest_end if listing.latest_end is not None else None
            if previous is not None:
                mark = previous.mark if mark is None else max(mark, previous.mark)
            if mark is not None:
                self._memory[node.name] = _Memory(mark, listing.running, listing.recent)
        missing: list[str] = []
        for upid in sorted(node.due | node.watched):
            item = listing.items.get(upid)
            if item is None:
                missing.append(upid)
                continue
            obs = observe_item(item)
            if upid in node.due:
                answer.due[upid] = obs
            elif obs.finished:
                answer.ended[upid] = obs
        if missing and listing.error is not None and not auth_failed:
            # The list broke off part-way: what it did not reach is read next sweep.
            answer.failed_nodes = 1
            for upid in missing:
                if upid in node.due:
                    answer.due[upid] = Observation(Seen.ERROR, error=listing.error)
            return answer
        if missing and auth_failed:
            # Credentials failing (every status call would fail alike, each 401 delayed by Proxmox): only
            # the rows due anyway are asked; watched rows wait for a list, and their deadline still ends them.
            log.warning("tracker.task_list_refused", node=node.name, error=str(listing.error))
            missing = [u for u in missing if u in node.due]
        if missing:
            due_first = sorted(missing, key=lambda u: u not in node.due)
            missing = due_first[: max(self.max_fallbacks, len(node.due))]
            answer.fallbacks = len(missing)
            found = await asyncio.gather(*(self._status(Upid.parse(u)) for u in missing))
            for upid, obs in zip(missing, found, strict=True):
                if upid in node.due:
                    answer.due[upid] = obs
                else:  # claimed and handled like a due row: finished, rescheduled, or ended with its error
                    answer.ended[upid] = obs
        return answer

    async def _status(self, upid: Upid) -> Observation:
        try:
            async with self._limit:
                status = await self.px.task_status(upid)
        except ProxmoxError as exc:
            return Observation(Seen.ERROR, error=exc)
        return _from_outcome(status.outcome, status.exitstatus)
