"""What Cardinal has to tell people, as plain data.

The domain (``bot/``) decides *what* to say and emits these events; the Slack edge (``handlers/``) decides
*how* it looks (Block Kit) and posts it. Nothing here knows about Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.db.enums import RequestState

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
    """A request as the thread root shows it."""

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
    """A short plain message (expiry reminders, announcements, passwords go ephemeral elsewhere)."""

    text: str
    actions: tuple[tuple[str, str, str], ...] = field(default=())  # (action_id, label, value)


Event = RequestProgress | ContainerReady | TaskFailed | TaskSucceeded | Notice
