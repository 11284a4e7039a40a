"""Typed, immutable rows returned by the repositories (one dataclass per table, fields = columns).

Repositories never hand out SQLAlchemy rows; callers get these records and pass plain values back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy.engine import Row

from bot.containers.stored import RequestSpec
from bot.db.enums import (
    ApprovalStatus,
    ContainerState,
    NotifyState,
    OutboxState,
    RequestState,
    TaskKind,
    TaskStatus,
)
from bot.db.payloads import TaskParams, kind_of, read_params, read_request_spec

JsonObject = dict[str, Any]


class _Record:
    """Builds a record from a result row whose column names equal the dataclass fields."""

    @classmethod
    def from_row(cls, row: Row[Any]) -> Self:
        """Convert one row (all columns of the table, any order)."""
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ContainerRequest(_Record):
    """A person's request for ``count`` alike containers, from the modal to the final outcome.

    ``spec`` is read into its model; a stored spec that does not fit raises
    :class:`bot.db.errors.StoredRowInvalid`.
    """

    id: str
    requester: str
    channel: str
    thread_ts: str | None
    spec: RequestSpec
    count: int
    purpose: str
    node: str | None
    state: RequestState
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    #: What each of its containers claims of the quota (memory; root disk plus volumes), from ``spec``.
    quota_memory_mib: int = 0
    quota_disk_gib: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", read_request_spec(self.spec, self.id))
        object.__setattr__(self, "state", RequestState(self.state))


@dataclass(frozen=True, slots=True)
class Approval(_Record):
    """One approval card for a request; ``status`` leaves ``pending`` exactly once."""

    id: str
    request_id: str
    status: ApprovalStatus
    card_channel: str | None
    card_ts: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    created_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ApprovalStatus(self.status))


@dataclass(frozen=True, slots=True)
class ActionApproval(_Record):
    """A day-2 action (``destroy``, ``resize``) waiting for an approver; ``status`` leaves ``pending`` once.

    ``params`` holds what the action needs (sizes for a resize) and the plan the card shows.
    """

    id: str
    action: str
    vmid: int
    requested_by: str
    params: dict[str, Any]
    status: ApprovalStatus
    card_channel: str | None
    card_ts: str | None
    decided_by: str | None
    decided_at: datetime | None
    result: dict[str, Any] | None
    created_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ApprovalStatus(self.status))


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A still-open approval with its request and how long it has waited (for App Home and digests)."""

    approval: Approval
    request: ContainerRequest
    age: timedelta


@dataclass(frozen=True, slots=True)
class Container(_Record):
    """A container Cardinal owns (or owned: ``state == destroyed`` keeps the record)."""

    vmid: int
    node: str
    hostname: str
    request_id: str | None
    owner: str
    state: ContainerState
    expires_at: datetime | None
    ip_addresses: list[str]
    thread_channel: str | None
    thread_ts: str | None
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None
    destroyed_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ContainerState(self.state))


@dataclass(frozen=True, slots=True)
class Task(_Record):
    """A Proxmox task Cardinal follows (a row of the ledger).

    ``lease_owner``/``lease_until`` say which replica works on it now; fenced updates check the owner.
    ``started_at`` is the task's start as Unix seconds, taken from its UPID (while ``submitting``: when
    the submission began, by Cardinal's clock). ``params`` is what Cardinal needs to submit or continue
    the work (e.g. the create parameters — never a password), as the model of its kind
    (:mod:`bot.db.payloads`). A row whose kind or params do not fit raises
    :class:`bot.db.errors.StoredRowInvalid`.
    """

    id: str
    kind: TaskKind
    upid: str | None
    node: str
    vmid: int | None
    request_id: str | None
    actor: str | None
    channel: str | None
    thread_ts: str | None
    status: TaskStatus
    lease_owner: str | None
    lease_until: datetime | None
    next_poll_at: datetime
    attempts: int
    consecutive_errors: int
    deadline_at: datetime
    started_at: int | None
    exitstatus: str | None
    error: str | None
    result: JsonObject | None
    params: TaskParams | None
    notify_state: NotifyState
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        kind = kind_of(self.kind, self.id)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "params", read_params(kind, self.params, self.id))
        object.__setattr__(self, "status", TaskStatus(self.status))
        object.__setattr__(self, "notify_state", NotifyState(self.notify_state))

    @property
    def is_final(self) -> bool:
        """The task has ended (successfully or not)."""
        return self.status.is_final

    @property
    def needs_notification(self) -> bool:
        """The task has ended but its final Slack message is not yet confirmed."""
        return self.is_final and self.notify_state is NotifyState.PENDING


@dataclass(frozen=True, slots=True)
class SlackMessage(_Record):
    """An outbox row: a Slack post recorded before it is made, so it is made at most once."""

    key: str
    channel: str
    thread_ts: str | None
    ts: str | None
    state: OutboxState
    payload_hash: str | None
    created_at: datetime
    posted_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", OutboxState(self.state))

    @property
    def posted(self) -> bool:
        """Slack accepted the post and its ``ts`` is known (update it with ``chat.update``)."""
        return self.state is OutboxState.POSTED


@dataclass(frozen=True, slots=True)
class AuditEvent(_Record):
    """One append-only audit entry: who did what to which container/request/task, and when."""

    id: int
    at: datetime
    actor: str
    action: str
    vmid: int | None
    request_id: str | None
    upid: str | None
    detail: JsonObject


@dataclass(frozen=True, slots=True)
class JobRun(_Record):
    """A run of a periodic job for one slot (e.g. ``daily_digest`` / ``2026-11-26``)."""

    id: int
    job: str
    slot: str
    owner: str
    started_at: datetime
    finished_at: datetime | None
    lease_until: datetime
    takeovers: int
    result: JsonObject | None
