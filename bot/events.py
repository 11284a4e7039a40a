"""What Cardinal has to tell people, as plain data.

The domain (``bot/``) decides *what* to say and emits these events; the Slack edge (``handlers/``) decides
*how* it looks (Block Kit) and posts it. Nothing here knows about Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.db.enums import RequestState

if TYPE_CHECKING:
    from bot.containers.results import DestroyPlan, ResizePlan

FINAL_REQUEST_STATES = frozenset(
    {
        RequestState.DENIED,
        RequestState.READY,
        RequestState.FAILED,
        RequestState.PARTIALLY_FAILED,
        RequestState.CANCELLED,
    }
)


@dataclass(frozen=True, slots=True)
class ContainerLine:
    """One container of a request, for progress display."""

    hostname: str
    vmid: int | None
    node: str | None
    state: str  # queued | creating | starting | ready | failed
    ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """A request as its thread root and approval card show it.

    ``requester`` and ``decided_by`` are Slack user ids. The optional fields default to "not known / the
    usual": ``ipv4=None`` means DHCP, ``node=None`` automatic placement, ``lifetime=None`` unknown (then
    ``expires_at`` is shown if set). How many containers is :attr:`count`, derived from ``hostnames``.
    """

    request_id: str
    requester: str
    state: RequestState
    hostnames: tuple[str, ...]
    template: str
    cores: int
    memory_mib: int
    disk_gib: int
    purpose: str
    expires_at: datetime | None
    decided_by: str | None = None
    decision_reason: str | None = None
    containers: tuple[ContainerLine, ...] = ()
    swap_mib: int = 0
    preset: str | None = None
    ipv4: str | None = None  # None = DHCP
    gateway: str | None = None
    bridge: str = "vmbr0"
    vlan: int | None = None
    node: str | None = None  # None = automatic placement
    lifetime: timedelta | None = None
    requested_at: datetime | None = None
    volumes: tuple[str, ...] = ()  # extra volumes, described ("20 GiB on local-lvm at /data")
    interfaces: tuple[str, ...] = ()  # interfaces beyond eth0, described

    @property
    def count(self) -> int:
        """How many containers the request asks for (one per hostname)."""
        return len(self.hostnames)


@dataclass(frozen=True, slots=True)
class RequestProgress:
    """Update the root message of a request's thread."""

    summary: RequestSummary


@dataclass(frozen=True, slots=True)
class ContainerReady:
    """A container is created, running, and (ideally) has addresses."""

    request_id: str | None
    hostname: str
    vmid: int
    node: str
    ips: tuple[str, ...]
    ui_url: str
    expires_at: datetime | None = None
    note: str | None = None  # e.g. "no address yet — `/lxc ip 101`"


@dataclass(frozen=True, slots=True)
class TaskFailed:
    """A Proxmox task (create, start, …) failed or timed out."""

    request_id: str | None
    action: str
    vmid: int | None
    node: str | None
    error: str
    log_tail: tuple[str, ...] = ()
    upid: str | None = None
    timed_out: bool = False
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    """A day-2 task (start, stop, reboot, destroy…) finished well."""

    action: str
    vmid: int
    node: str
    actor: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """A short message (expiry reminders, announcements; passwords go by direct message elsewhere).

    ``text`` is mrkdwn written by the domain; user mentions ``<@U…>`` in it stay mentions, anything else
    that looks like markup (links, ``<!channel>``) is shown literally. Button values must be bare ids.
    """

    text: str
    actions: tuple[tuple[str, str, str], ...] = field(default=())  # (action_id, label, value)


@dataclass(frozen=True, slots=True)
class PreflightCheck:
    """One pre-flight result shown on an approval card."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalCard:
    """Ask approvers to decide on a request; ``decided_by`` set means the decided variant (no buttons)."""

    approval_id: str
    summary: RequestSummary
    preflight: tuple[PreflightCheck, ...]
    decided_by: str | None = None
    approved: bool | None = None
    decided_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ActionApprovalCard:
    """Ask approvers to decide a day-2 action (destroy or resize, by the plan's type); the buttons carry
    only ``approval_id``. ``decided_by`` set means the decided variant (no buttons); ``note`` e.g. a failure.
    """

    approval_id: str
    plan: DestroyPlan | ResizePlan
    decided_by: str | None = None
    approved: bool | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ActionDecided:
    """What the requester of a day-2 action hears when an approver decided it."""

    plan: DestroyPlan | ResizePlan
    decided_by: str
    approved: bool


#: Everything the domain can ask the Slack edge to show; ``handlers.blocks.render_event`` covers each one.


@dataclass(frozen=True, slots=True)
class DigestContainer:
    """One container as the digest lists it."""

    vmid: int
    hostname: str
    owner: str
    state: str
    node: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class OwnerContainers:
    """The containers of one owner."""

    owner: str
    containers: tuple[DigestContainer, ...]


@dataclass(frozen=True, slots=True)
class PendingApprovalLine:
    """A request still waiting for an approver, and for how long."""

    approval_id: str
    request_id: str
    requester: str
    hostname: str | None
    count: int
    age: timedelta


@dataclass(frozen=True, slots=True)
class FailedTaskLine:
    """A tracked Proxmox task that failed in the digest's window."""

    task_id: str
    kind: str
    vmid: int | None
    node: str
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class NodeCapacity:
    """Memory and disk use of one node."""

    node: str
    status: str
    mem_used: int
    mem_max: int
    disk_used: int
    disk_max: int

    @property
    def mem_fraction(self) -> float:
        """Used memory as a fraction of the total (0 when unknown)."""
        return self.mem_used / self.mem_max if self.mem_max else 0.0

    @property
    def disk_fraction(self) -> float:
        """Used disk as a fraction of the total (0 when unknown)."""
        return self.disk_used / self.disk_max if self.disk_max else 0.0


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one digest message says. ``capacity_error`` is set when Proxmox could not be asked."""

    generated_at: datetime
    per_owner: tuple[OwnerContainers, ...]
    expiring_soon: tuple[DigestContainer, ...]
    pending_approvals: tuple[PendingApprovalLine, ...]
    failed_tasks: tuple[FailedTaskLine, ...]
    capacity: tuple[NodeCapacity, ...]
    capacity_error: str | None = None

    @property
    def container_count(self) -> int:
        return sum(len(o.containers) for o in self.per_owner)


@dataclass(frozen=True, slots=True)
class DigestReady:
    """A digest to post in a channel."""

    digest: Digest


Event = (
    RequestProgress
    | ContainerReady
    | TaskFailed
    | TaskSucceeded
    | Notice
    | ApprovalCard
    | DigestReady
    | ActionApprovalCard
    | ActionDecided
)
