"""Typed views of the Proxmox API answers Cardinal reads.

Models are frozen and ignore unknown keys (newer Proxmox versions add fields). Field shapes follow the
official schema and the notes in docs: ``exitstatus`` is absent while a task runs; ``vmid`` is a string
before PVE 8.2 and an int after; interfaces come from ``/lxc/{vmid}/interfaces``.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.dataclasses import dataclass

_WARNINGS_RE = re.compile(r"^WARNINGS: \d+$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Version(_Model):
    """``GET /version``."""

    version: str
    release: str
    repoid: str = ""

    @property
    def major_minor(self) -> tuple[int, int]:
        """``(8, 1)`` from ``"8.1"`` (release) — the comparable part."""
        parts = re.findall(r"\d+", self.release or self.version)
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)


class NodeInfo(_Model):
    """``GET /nodes`` item. Stats are absent without Sys.Audit, hence the defaults."""

    node: str
    status: str = "unknown"
    cpu: float = 0.0
    maxcpu: int = 0
    mem: int = 0
    maxmem: int = 0
    disk: int = 0
    maxdisk: int = 0
    uptime: int = 0

    @property
    def free_mem(self) -> int:
        return max(self.maxmem - self.mem, 0)


@dataclass(frozen=True, slots=True, config=ConfigDict(extra="ignore"))
class ClusterResource:
    """``GET /cluster/resources`` item (guests, storages or nodes).

    A slotted pydantic dataclass, not a model: reconcile and the shared guest snapshot hold one per guest
    (10,000+ on a big cluster), and without a ``__dict__`` and pydantic's set of fields each takes about a
    third of the memory (bench/README.md, footprint).
    """

    id: str
    type: str
    node: str | None = None
    vmid: int | None = None
    name: str | None = None
    status: str | None = None
    storage: str | None = None
    tags: str | None = None
    lock: str | None = None
    maxmem: int | None = None
    mem: int | None = None
    maxdisk: int | None = None
    disk: int | None = None
    maxcpu: float | None = None
    cpu: float | None = None
    content: str | None = None
    template: int | None = None
    pool: str | None = None
    shared: int | None = None

    @field_validator("vmid", mode="before")
    @classmethod
    def _vmid_int(cls, v: Any) -> Any:
        return int(v) if isinstance(v, str) and v.isdigit() else v


class TaskOutcome(StrEnum):
    """The four ways to read a task's status."""

    RUNNING = "running"
    OK = "ok"
    WARNINGS = "warnings"
    FAILED = "failed"


def outcome_of(status: str, exitstatus: str | None) -> TaskOutcome:
    """Classify a task the way PVE does (``UPID.pm`` ``status_is_error``)."""
    if status.lower() == "running" or (status != "stopped" and exitstatus is None):
        return TaskOutcome.RUNNING
    if exitstatus == "OK":
        return TaskOutcome.OK
    if exitstatus is not None and _WARNINGS_RE.match(exitstatus):
        return TaskOutcome.WARNINGS
    return TaskOutcome.FAILED


class ProxmoxTaskStatus(_Model):
    """``GET /nodes/{node}/tasks/{upid}/status``."""

    upid: str
    node: str
    type: str
    id: str = ""
    user: str = ""
    status: str
    exitstatus: str | None = None
    starttime: int = 0
    pid: int | None = None

    @property
    def outcome(self) -> TaskOutcome:
        return outcome_of(self.status, self.exitstatus)

    @property
    def succeeded(self) -> bool:
        return self.outcome in (TaskOutcome.OK, TaskOutcome.WARNINGS)


class TaskListItem(_Model):
    """``GET /nodes/{node}/tasks`` item. Active tasks have ``status == "RUNNING"`` and no endtime;
    finished ones carry the exit status text in ``status``."""

    upid: str
    node: str
    type: str
    id: str = ""
    user: str = ""
    starttime: int = 0
    endtime: int | None = None
    status: str | None = None

    @property
    def outcome(self) -> TaskOutcome:
        if self.status is None or self.status == "RUNNING" or self.endtime is None:
            return TaskOutcome.RUNNING
        return outcome_of("stopped", self.status)


class TaskLogLine(_Model):
    """``GET /nodes/{node}/tasks/{upid}/log`` item; ``n`` is 1-based."""

    n: int
    t: str


class InterfaceAddress(_Model):
    """One address on a container interface, CIDR split into address and prefix."""

    family: str  # "inet" or "inet6"
    address: str
    prefix: int

    @property
    def is_link_local(self) -> bool:
        return ipaddress.ip_address(self.address).is_link_local

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefix}"


class Interface(_Model):
    """``GET /nodes/{node}/lxc/{vmid}/interfaces`` item (``lo`` is filtered out by the client)."""

    name: str
    hwaddr: str | None = None
    addresses: tuple[InterfaceAddress, ...] = ()

    @property
    def ipv4(self) -> list[str]:
        return [a.address for a in self.addresses if a.family == "inet"]

    @property
    def ipv6_global(self) -> list[str]:
        return [a.address for a in self.addresses if a.family == "inet6" and not a.is_link_local]


class ContainerStatus(_Model):
    """``GET /nodes/{node}/lxc/{vmid}/status/current`` (and ``GET /nodes/{node}/lxc`` items)."""

    vmid: int
    status: str
    name: str | None = None
    lock: str | None = None
    tags: str | None = None
    cpus: float | None = None
    maxmem: int = 0
    mem: int = 0
    maxdisk: int = 0
    disk: int = 0
    maxswap: int = 0
    uptime: int = 0
    template: int | None = None

    @field_validator("vmid", mode="before")
    @classmethod
    def _vmid_int(cls, v: Any) -> Any:
        return int(v) if isinstance(v, str) else v

    @property
    def running(self) -> bool:
        return self.status == "running"


class StorageContent(_Model):
    """``GET /nodes/{node}/storage/{storage}/content`` item."""

    volid: str
    content: str
    format: str | None = None
    size: int = 0
    ctime: int | None = None

    @property
    def filename(self) -> str:
        return self.volid.split("/", 1)[-1]


class AplInfo(_Model):
    """``GET /nodes/{node}/aplinfo`` item (downloadable appliance templates)."""

    template: str
    package: str = ""
    version: str = ""
    type: str = "lxc"
    os: str = ""
    section: str = ""
    headline: str = ""
    description: str = ""


class Permissions(_Model):
    """``GET /access/permissions``: path → privilege → propagate flag (0/1)."""

    paths: dict[str, dict[str, int]] = Field(default_factory=dict)

    def has(self, path: str, privilege: str) -> bool:
        """True when ``privilege`` is granted on ``path`` or propagated from a parent path."""
        if privilege in self.paths.get(path, {}):
            return True
        parts = path.rstrip("/").split("/")
        for i in range(len(parts) - 1, 0, -1):
            parent = "/".join(parts[:i]) or "/"
            privs = self.paths.get(parent, {})
            if privs.get(privilege) == 1:
                return True
        return False


class SnapshotInfo(_Model):
    """``GET /nodes/{node}/lxc/{vmid}/snapshot`` item; the entry named ``current`` is "You are here!"."""

    name: str
    description: str = ""
    snaptime: int | None = None
    parent: str | None = None
    snapstate: str | None = None
    running: int | None = None

    @property
    def is_current(self) -> bool:
        """The pseudo-entry for the container's present state, not a snapshot."""
        return self.name == "current"


ContainerConfig = dict[str, Any]
"""``GET /nodes/{node}/lxc/{vmid}/config``: the parsed config; property strings stay strings."""


_FAMILY = {"inet": "inet", "inet6": "inet6", "ipv4": "inet", "ipv6": "inet6"}


def _split_cidr(family: str, cidr: str) -> InterfaceAddress:
    address, _, prefix = cidr.partition("/")
    default = 32 if family == "inet" else 128
    return InterfaceAddress(family=family, address=address, prefix=int(prefix) if prefix else default)


def parse_interfaces(data: Any) -> list[Interface]:
    """Interfaces from ``GET /nodes/{node}/lxc/{vmid}/interfaces``.

    ``null`` (stopped CT) and ``[]`` both mean no interfaces; ``lo`` is skipped. ``ip-addresses``
    (PVE 8.4+) lists every address; older versions only give the last ``inet``/``inet6`` CIDR.
    """
    result: list[Interface] = []
    for item in data or ():
        name = item.get("name")
        if not name or name == "lo":
            continue
        listed = item.get("ip-addresses")
        addresses: list[InterfaceAddress] = []
        if isinstance(listed, list):
            for entry in listed:
                family = _FAMILY.get(str(entry.get("ip-address-type", "")))
                if family is None or not entry.get("ip-address"):
                    continue
                default = 32 if family == "inet" else 128
                prefix = entry.get("prefix")
                addresses.append(
                    InterfaceAddress(
                        family=family,
                        address=str(entry["ip-address"]),
                        prefix=int(prefix) if prefix is not None else default,
                    )
                )
        else:
            for family in ("inet", "inet6"):
                cidr = item.get(family)
                if cidr:
                    addresses.append(_split_cidr(family, str(cidr)))
        hwaddr = item.get("hardware-address") or item.get("hwaddr")
        result.append(Interface(name=name, hwaddr=hwaddr, addresses=tuple(addresses)))
    return result
