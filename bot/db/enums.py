"""The closed sets of states stored in Cardinal's tables (values are the exact strings in the database)."""

from __future__ import annotations

from enum import StrEnum


class RequestState(StrEnum):
    """Life of a container request, from the modal to the last container."""

    REQUESTED = "requested"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DENIED = "denied"
    CREATING = "creating"
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    PARTIALLY_FAILED = "partially_failed"
    CANCELLED = "cancelled"


class ApprovalStatus(StrEnum):
    """An approval card's decision; only ``pending`` can change, and only once."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class ContainerState(StrEnum):
    """What Cardinal last knew about a container it owns."""

    CREATING = "creating"
    RUNNING = "running"
    STOPPED = "stopped"
    DESTROYED = "destroyed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class TaskStatus(StrEnum):
    """A tracked Proxmox task: ``submitting`` until its UPID is recorded, then ``running`` until final.

    ``queued`` rows are creations waiting for a concurrency slot; the provisioning pool moves them to
    ``submitting`` (:meth:`bot.db.ledger.LedgerRepo.claim_queued`); sweeps never claim them directly.
    """

    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """True once the task will not change any more."""
        return self not in (TaskStatus.QUEUED, TaskStatus.SUBMITTING, TaskStatus.RUNNING)


class TaskKind(StrEnum):
    """The kinds of work in the ledger (``tracked_task.kind``); what each means is in
    :mod:`bot.tracker.kinds`. Provisioning is a chain ``create`` → ``create_start`` → ``create_ip``; the
    rest are day-2 actions named like the ``/lxc`` subcommand that started them."""

    CREATE = "create"
    CREATE_START = "create_start"
    CREATE_IP = "create_ip"
    START = "start"
    STOP = "stop"
    SHUTDOWN = "shutdown"
    REBOOT = "reboot"
    SUSPEND = "suspend"
    RESUME = "resume"
    DESTROY = "destroy"
    SNAPSHOT = "snapshot"
    ROLLBACK = "rollback"
    DELSNAPSHOT = "delsnapshot"
    RESIZE = "resize"
    DOWNLOAD = "download"  # a template download (no container; reported in the download's thread)


ACTIVE_TASK_STATUSES: tuple[TaskStatus, ...] = (TaskStatus.QUEUED, TaskStatus.SUBMITTING, TaskStatus.RUNNING)
IN_FLIGHT_TASK_STATUSES: tuple[TaskStatus, ...] = (TaskStatus.SUBMITTING, TaskStatus.RUNNING)
FINAL_TASK_STATUSES: tuple[TaskStatus, ...] = tuple(s for s in TaskStatus if s.is_final)


class NotifyState(StrEnum):
    """Whether the final message of a task has been delivered to Slack."""

    PENDING = "pending"
    FINAL = "final"


class OutboxState(StrEnum):
    """A Slack post: ``intent`` is recorded before calling Slack, ``posted`` once Slack returned its ts."""

    INTENT = "intent"
    POSTED = "posted"


def sql_in(values: type[StrEnum] | tuple[StrEnum, ...]) -> str:
    """``'a', 'b'`` for a CHECK constraint listing the allowed values."""
    return ", ".join(f"'{v.value}'" for v in values)
