"""What the day-2 listings show: containers (``/lxc list``, ``/lxc status``), snapshots, templates and
tasks. Plain frozen values; the Slack edge renders them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "ContainerDetail",
    "ContainerView",
    "SnapshotEntry",
    "TaskView",
    "TemplateEntry",
    "TemplateList",
]


@dataclass(frozen=True, slots=True)
class ContainerView:
    """One container for ``/lxc list`` (field names match ``handlers.blocks.ContainerInfo``).

    ``status`` is Proxmox's live status (``running``/``stopped``/``unknown``), ``missing`` when the
    container is absent from Proxmox, or Cardinal's last known state when ``live`` is False (Proxmox
    could not be asked).
    """

    vmid: int
    hostname: str
    status: str
    node: str
    ips: tuple[str, ...] = ()
    owner_id: str | None = None
    expires_at: datetime | None = None
    live: bool = True


@dataclass(frozen=True, slots=True)
class ContainerDetail:
    """One container in detail for ``/lxc status``."""

    vmid: int
    hostname: str
    status: str
    node: str
    ips: tuple[str, ...] = ()
    owner_id: str | None = None
    expires_at: datetime | None = None
    live: bool = True
    cores: int | None = None
    memory_mib: int | None = None
    disk_gib: int | None = None
    template: str | None = None
    uptime: timedelta | None = None
    purpose: str | None = None
    request_id: str | None = None
    lock: str | None = None
    tags: tuple[str, ...] = ()
    thread_channel: str | None = None
    thread_ts: str | None = None
    snapshots: tuple[SnapshotEntry, ...] = ()
    volumes: tuple[str, ...] = ()  # extra volumes (mp0…), described
    interfaces: tuple[str, ...] = ()  # interfaces beyond net0, described


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    """A template on the template storage (``volid`` set) or downloadable (``volid`` None)."""

    name: str
    volid: str | None = None
    size_bytes: int | None = None
    description: str | None = None
    #: The nodes holding it, when only some of them do (the template storage is per node).
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TemplateList:
    """``/lxc templates``: what is on the template storage, and what could be downloaded."""

    storage: str
    node: str
    available: tuple[TemplateEntry, ...]
    downloadable: tuple[TemplateEntry, ...]


@dataclass(frozen=True, slots=True)
class TaskView:
    """A tracked task for ``/lxc tasks`` (field names match ``handlers.blocks.TaskInfo``)."""

    upid: str | None
    kind: str
    node: str
    state: Literal["running", "ok", "failed"]
    started_at: datetime
    vmid: int | None = None
    finished_at: datetime | None = None
    exitstatus: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """One snapshot of a container (``/lxc status``, rollback plans)."""

    name: str
    taken_at: datetime | None = None
    description: str = ""
