"""Reading the status of many Proxmox tasks with one request per node.

For each node with due tasks, ONE ``GET /nodes/{node}/tasks?source=all&since=…&limit=…`` answers every
UPID on that node (running ones show ``RUNNING``, finished ones their exit status). Only a UPID missing
from that list (list truncated, or not visible) costs its own ``GET …/tasks/{upid}/status``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.db import Task
from bot.proxmox import (
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxPermissionError,
    TaskListItem,
    TaskOutcome,
    Upid,
)
from bot.tracker.proxmox import TrackerProxmox


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


def _user_filter(upids: Iterable[Upid]) -> str | None:
    # The list shows ``user@realm`` (the token name apart); filter on it when all tasks share it.
    users = {u.user.split("!", 1)[0] for u in upids}
    return users.pop() if len(users) == 1 else None


class Poller:
    """Polls task status per node. ``margin`` extra list entries absorb other tasks on the node."""

    def __init__(self, px: TrackerProxmox, *, margin: int = 50, parallel: int = 8) -> None:
        self.px = px
        self.margin = margin
        self._limit = asyncio.Semaphore(parallel)

    async def poll(self, tasks: Sequence[Task]) -> tuple[dict[str, Observation], dict[str, Observation]]:
        """Observe ``tasks`` (all with a UPID). Returns (observations by UPID, finished UPIDs also seen).

        The second map holds every *other* finished task in the lists read — the sweep may finish those of
        its own ledger at no extra cost.
        """
        by_node: dict[str, list[Upid]] = defaultdict(list)
        for task in tasks:
            if task.upid is not None:
                upid = Upid.parse(task.upid)
                by_node[upid.node].append(upid)
        observed: dict[str, Observation] = {}
        extra: dict[str, Observation] = {}
        results = await asyncio.gather(*(self._poll_node(node, upids) for node, upids in by_node.items()))
        for mine, others in results:
            observed.update(mine)
            extra.update(others)
        return observed, extra

    async def _poll_node(
        self, node: str, upids: list[Upid]
    ) -> tuple[dict[str, Observation], dict[str, Observation]]:
        since = min(u.starttime for u in upids) - 1
        try:
            async with self._limit:
                items = await self.px.node_tasks(
                    node,
                    source="all",
                    since=since,
                    userfilter=_user_filter(upids),
                    limit=len(upids) + self.margin,
                )
        except (ProxmoxAuthError, ProxmoxPermissionError):
            items = None  # ask each task directly; that answer decides
        except ProxmoxError as exc:
            return {str(u): Observation(Seen.ERROR, error=exc) for u in upids}, {}
        listed = {item.upid: item for item in items or ()}
        mine: dict[str, Observation] = {}
        missing: list[Upid] = []
        for upid in upids:
            item = listed.pop(str(upid), None)
            if item is None:
                missing.append(upid)
            else:
                mine[str(upid)] = observe_item(item)
        if missing:
            answers = await asyncio.gather(*(self._status(u) for u in missing))
            mine.update(zip((str(u) for u in missing), answers, strict=True))
        others = {
            upid: obs for upid, obs in ((k, observe_item(v)) for k, v in listed.items()) if obs.finished
        }
        return mine, others

    async def _status(self, upid: Upid) -> Observation:
        try:
            async with self._limit:
                status = await self.px.task_status(upid)
        except ProxmoxError as exc:
            return Observation(Seen.ERROR, error=exc)
        return _from_outcome(status.outcome, status.exitstatus)
