"""What day-2 operations return: plans to confirm (destroy, rollback, resize) and the outcome of the
calls made to Proxmox (power, destroy, extend, snapshot, rollback, resize)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.proxmox.client import PowerAction

__all__ = [
    "DestroyPlan",
    "DestroyResult",
    "ExtendResult",
    "PowerResult",
    "ResizePlan",
    "ResizeResult",
    "RollbackPlan",
    "RollbackResult",
    "SnapshotResult",
]


@dataclass(frozen=True, slots=True)
class PowerResult:
    """A power action was accepted by Proxmox; its task is being followed."""

    vmid: int
    action: PowerAction
    node: str
    upid: str


@dataclass(frozen=True, slots=True)
class DestroyPlan:
    """What ``/lxc destroy`` needs before it happens.

    The owner confirms and it happens (``needs_approval`` False). Anyone else needs an approver's
    decision (an approver other than the one asking) before :meth:`ContainerService.destroy`.
    """

    vmid: int
    hostname: str
    node: str
    owner: str
    requested_by: str
    needs_approval: bool
    confirm_text: str


@dataclass(frozen=True, slots=True)
class DestroyResult:
    """Outcome of :meth:`ContainerService.destroy`: ``upid`` is None when the container was already gone."""

    vmid: int
    node: str
    upid: str | None
    already_gone: bool = False


@dataclass(frozen=True, slots=True)
class ExtendResult:
    """The new expiry; ``written_to_container`` is False if only the database could be updated."""

    vmid: int
    previous: datetime | None
    expires_at: datetime
    written_to_container: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """A snapshot was asked of Proxmox; its ``vzsnapshot`` task is being followed."""

    vmid: int
    hostname: str
    name: str
    node: str
    upid: str


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """What ``/lxc rollback`` will do; the person confirms before :meth:`ContainerService.rollback`."""

    vmid: int
    hostname: str
    node: str
    name: str
    taken_at: datetime | None
    requested_by: str
    confirm_text: str


@dataclass(frozen=True, slots=True)
class RollbackResult:
    """A rollback was asked of Proxmox (``restart``: the container is started again afterwards)."""

    vmid: int
    hostname: str
    name: str
    node: str
    upid: str
    restart: bool


@dataclass(frozen=True, slots=True)
class ResizePlan:
    """A resize, before → after (``None`` = unknown or Proxmox's default).

    ``needs_approval``: growing beyond the owner's quota (``reason`` says which) needs an approver other
    than the requester. ``quota_*`` are the owner's totals after the change.
    """

    vmid: int
    hostname: str
    node: str
    owner: str
    requested_by: str
    cores_before: int | None
    cores_after: int | None
    memory_before_mib: int | None
    memory_after_mib: int | None
    disk_before_gib: int | None
    disk_add_gib: int
    needs_approval: bool
    reason: str | None = None
    quota_memory_mib: int = 0
    quota_disk_gib: int = 0

    @property
    def disk_after_gib(self) -> int | None:
        """The root disk's size after growing it."""
        return None if self.disk_before_gib is None else self.disk_before_gib + self.disk_add_gib

    @property
    def cores(self) -> int | None:
        """The requested cores (None: unchanged)."""
        return self.cores_after if self.cores_after != self.cores_before else None

    @property
    def memory_mib(self) -> int | None:
        """The requested memory (None: unchanged)."""
        return self.memory_after_mib if self.memory_after_mib != self.memory_before_mib else None


@dataclass(frozen=True, slots=True)
class ResizeResult:
    """Outcome of :meth:`ContainerService.resize`.

    ``applied`` False: nothing was changed; ``plan.needs_approval`` says an approver must decide. When
    applied, cores/memory are already in effect and ``upid`` (if any) is the followed disk ``resize`` task.
    """

    plan: ResizePlan
    applied: bool
    upid: str | None = None
