"""The simulator's data: cluster nodes, storages, containers, tasks, credentials and fault settings."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GiB = 1 << 30
MiB = 1 << 20


@dataclass
class Volume:
    """One volume on a node's storage (a CT disk or a template)."""

    volid: str
    content: str
    size: int
    ctime: int
    format: str
    vmid: int | None = None


@dataclass
class Storage:
    """A storage as one node sees it. ``local`` is a ``dir`` storage, ``local-lvm`` an ``lvmthin`` one."""

    name: str
    type: str
    content: set[str]
    capacity: int
    path: str | None = None
    enabled: bool = True
    shared: bool = False
    base_used: int = 0
    volumes: dict[str, Volume] = field(default_factory=dict)

    @property
    def used(self) -> int:
        return self.base_used + sum(v.size for v in self.volumes.values())

    @property
    def avail(self) -> int:
        return max(self.capacity - self.used, 0)

    @property
    def content_text(self) -> str:
        order = ["rootdir", "images", "vztmpl", "iso", "backup", "snippets", "import"]
        return ",".join(c for c in order if c in self.content)


@dataclass
class Node:
    """A cluster member with capacity, bridges and its own (local) storages."""

    name: str
    maxcpu: int = 16
    maxmem: int = 64 * GiB
    maxdisk: int = 100 * GiB
    online: bool = True
    bridges: list[str] = field(default_factory=lambda: ["vmbr0", "vmbr1"])
    storages: dict[str, Storage] = field(default_factory=dict)
    boot_time: float = 0.0
    base_mem: int = 2 * GiB
    ip: str = "192.168.100.10"


@dataclass
class Pool:
    """A resource pool (``/etc/pve/user.cfg`` ``pool:`` line): its guests and storages.

    An ACL on ``/pool/<poolid>`` gives its roles on ``/vms/<vmid>`` of every member guest and on
    ``/storage/<id>`` of every member storage (pve-access-control ``RPCEnvironment.pm``
    ``compute_api_permission``: pool roles, never propagated further).
    """

    poolid: str
    comment: str = ""
    vms: set[int] = field(default_factory=set[int])
    storage: set[str] = field(default_factory=set[str])


@dataclass
class Snapshot:
    """A container snapshot: the config at that moment and its place in the snapshot tree.

    ``snapstate`` is set while a snapshot is being made or deleted (``prepare``/``delete``).
    """

    config: dict[str, Any]
    snaptime: int
    description: str = ""
    parent: str | None = None
    snapstate: str | None = None


@dataclass
class Container:
    """An LXC guest: its config (typed values) and runtime state."""

    vmid: int
    node: str
    config: dict[str, Any]
    status: str = "stopped"
    running_since: float | None = None
    created_at: float = 0.0
    stats_from: float = 0.0
    suspended: bool = False
    pid: int = 0
    ha_managed: bool = False
    snapshots: dict[str, Snapshot] = field(default_factory=dict)

    @property
    def lock(self) -> str | None:
        value = self.config.get("lock")
        return None if value is None else str(value)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def conf_text(self) -> str:
        """The config file as pve-container writes it (key order is stable)."""
        lines: list[str] = []
        desc = self.config.get("description")
        if isinstance(desc, str):
            lines.extend(f"#{line}" for line in desc.split("\n"))
        for key in sorted(self.config):
            if key in ("description", "digest"):
                continue
            lines.append(f"{key}: {self.config[key]}")
        return "\n".join(lines) + "\n"

    @property
    def digest(self) -> str:
        """SHA-1 of the config file text, as ``GET config`` reports it."""
        return hashlib.sha1(self.conf_text().encode(), usedforsecurity=False).hexdigest()


TaskFinish = Callable[["Task"], "TaskResult"]


@dataclass
class TaskResult:
    """What a task does when it ends: extra log lines, warnings, and an error text (``None`` = OK)."""

    lines: list[str] = field(default_factory=list[str])
    error: str | None = None
    warnings: list[str] = field(default_factory=list[str])


@dataclass
class Task:
    """A Proxmox worker task. ``exitstatus``/``endtime`` stay ``None`` while it runs."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    started: float
    ends_at: float
    lines: list[str] = field(default_factory=list[str])
    exitstatus: str | None = None
    endtime: int | None = None
    finish: TaskFinish | None = None
    on_interrupt: Callable[[Task], None] | None = None

    @property
    def running(self) -> bool:
        return self.exitstatus is None

    @property
    def user_only(self) -> str:
        return self.user.split("!", 1)[0]

    @property
    def tokenid(self) -> str | None:
        return self.user.split("!", 1)[1] if "!" in self.user else None


@dataclass
class Credential:
    """An API token (``user@realm!name``) or a ticket user, with its ACL.

    ``privileges`` maps an ACL path to privilege names (propagating to sub-paths); ``None`` means every
    privilege on ``/``.
    """

    userid: str
    secret: str
    privileges: dict[str, set[str]] | None = None
    enabled: bool = True
    expire: int = 0


@dataclass
class FaultConfig:
    """Deterministic (seeded) misbehaviour.

    Rates are probabilities per request (``error_rate`` spread over ``error_codes``), or per task.
    ``hang_seconds`` should exceed the client's timeout. ``only_paths`` limits request faults to paths
    containing one of the given substrings.
    """

    seed: int = 0
    error_rate: float = 0.0
    error_codes: tuple[int, ...] = (500, 502, 503, 595, 596)
    latency: tuple[float, float] = (0.0, 0.0)
    hang_rate: float = 0.0
    hang_seconds: float = 60.0
    reset_rate: float = 0.0
    task_failure_rate: float = 0.0
    task_warning_rate: float = 0.0
    only_paths: tuple[str, ...] = ()


@dataclass
class RequestRecord:
    """One request as the simulator saw it (after parsing, before or after faults)."""

    method: str
    path: str
    params: dict[str, Any]
    status: int
    user: str | None = None
    fault: str | None = None


DEFAULT_TASK_DURATIONS: dict[str, float] = {
    "vzcreate": 8.0,
    "vzdestroy": 2.0,
    "vzstart": 2.0,
    "vzstop": 1.0,
    "vzshutdown": 3.0,
    "vzreboot": 4.0,
    "vzsuspend": 1.5,
    "vzresume": 1.0,
    "download": 5.0,
    "hastart": 1.0,
    "hastop": 1.0,
    "hamigrate": 1.0,
    "vzmigrate": 5.0,
    "vzsnapshot": 2.0,
    "vzrollback": 3.0,
    "vzdelsnapshot": 1.0,
    "resize": 1.0,
}
