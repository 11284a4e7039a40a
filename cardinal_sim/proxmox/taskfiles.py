"""A node's task files as Proxmox keeps them: the active list and the archive index with its rotation.

Real Proxmox (pve-common ``src/PVE/RESTEnvironment.pm`` ``active_workers``) keeps the running workers of a
node in ``/var/log/pve/tasks/active``, in the order they were started. When a worker ends, the reaper calls
``active_workers($upid)``, which appends one line ``"%s %08X %s\\n" % (upid, endtime, status)`` to
``/var/log/pve/tasks/index`` (``endtime`` = the time of archiving) and, once that file exceeds 50,000 bytes
("about 1000 entries"), renames it to ``index.1`` — overwriting the previous ``index.1``. Older finished
tasks are gone from every list from then on (their own status and log files stay).

``GET /nodes/{node}/tasks`` (pve-manager ``PVE/API2/Tasks.pm``) reads, in this order: the active tasks
(``source=active|all``), then ``index`` backwards, then ``index.1`` backwards (``source=archive|all``): the
finished tasks most recently archived first. See docs/simulator-fidelity.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from cardinal_sim.proxmox.state import Task

INDEX_MAX_BYTES = 50_000
"""``$maxsize`` in ``active_workers``: the index is rotated once it is larger than this."""


def index_line(task: Task) -> str:
    """The line ``active_workers`` appends to the index for a finished task."""
    return "%s %08X %s\n" % (task.upid, task.endtime or 0, task.exitstatus or "")  # noqa: UP031


@dataclass
class TaskFiles:
    """One node's ``active`` tasks and its ``index``/``index.1`` archive (append-only, rotated by size)."""

    active: dict[str, Task] = field(default_factory=dict)
    index: list[Task] = field(default_factory=list)
    index_1: list[Task] = field(default_factory=list)
    index_bytes: int = 0
    rotations: int = 0

    def started(self, task: Task) -> None:
        """A worker was forked: it joins the end of the active list."""
        self.active[task.upid] = task

    def archived(self, task: Task) -> None:
        """A worker ended: it leaves the active list and its line is appended to the index."""
        self.active.pop(task.upid, None)
        self.index.append(task)
        self.index_bytes += len(index_line(task).encode())
        if self.index_bytes > INDEX_MAX_BYTES:
            self.index_1, self.index = self.index, []
            self.index_bytes = 0
            self.rotations += 1

    def listed(self, source: str) -> Iterator[Task]:
        """The tasks ``GET /nodes/{node}/tasks`` walks for ``source``, in the order it walks them."""
        if source in ("active", "all"):
            yield from list(self.active.values())
        if source != "active":
            yield from reversed(self.index)
            yield from reversed(self.index_1)
