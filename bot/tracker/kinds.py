"""The kinds of work in the ledger and what each means: Proxmox task type, deadline, resulting state.

:class:`~bot.db.enums.TaskKind` is stored in ``tracked_task.kind`` (its values are the stored strings);
this module is the one place that says what each kind means to the tracker.
"""

from __future__ import annotations

from datetime import timedelta

from bot.db import ContainerState
from bot.db.enums import TaskKind

__all__ = [
    "ACTION_WORDS",
    "DEFAULT_DEADLINE",
    "PROVISIONING_KINDS",
    "STATE_AFTER",
    "TASK_TYPES",
    "TaskKind",
    "action_word",
]

PROVISIONING_KINDS = frozenset({TaskKind.CREATE, TaskKind.CREATE_START, TaskKind.CREATE_IP})
"""Kinds whose final message is the container's result in the request's thread: a creation
(``vzcreate``: queued → submitting → running → final), starting it (``vzstart``), and waiting for its
addresses (no Proxmox task; Cardinal polls)."""

TASK_TYPES: dict[TaskKind, str] = {
    TaskKind.CREATE: "vzcreate",
    TaskKind.CREATE_START: "vzstart",
    TaskKind.START: "vzstart",
    TaskKind.STOP: "vzstop",
    TaskKind.SHUTDOWN: "vzshutdown",
    TaskKind.REBOOT: "vzreboot",
    TaskKind.SUSPEND: "vzsuspend",
    TaskKind.RESUME: "vzresume",
    TaskKind.DESTROY: "vzdestroy",
    TaskKind.SNAPSHOT: "vzsnapshot",
    TaskKind.ROLLBACK: "vzrollback",
    TaskKind.DELSNAPSHOT: "vzdelsnapshot",
    TaskKind.RESIZE: "resize",
    TaskKind.DOWNLOAD: "download",
}
"""Proxmox task type (``typefilter``) of each kind that has one."""

STATE_AFTER: dict[TaskKind, ContainerState] = {
    TaskKind.START: ContainerState.RUNNING,
    TaskKind.REBOOT: ContainerState.RUNNING,
    TaskKind.RESUME: ContainerState.RUNNING,
    TaskKind.STOP: ContainerState.STOPPED,
    TaskKind.SHUTDOWN: ContainerState.STOPPED,
    TaskKind.SUSPEND: ContainerState.STOPPED,
}
"""The container's state after a day-2 task of this kind succeeded (destroy is handled apart)."""

DEFAULT_DEADLINE = timedelta(minutes=10)
"""Deadline for day-2 kinds without their own entry in ``Tracker(deadlines=...)``."""

ACTION_WORDS: dict[TaskKind, str] = {
    TaskKind.CREATE: "create",
    TaskKind.CREATE_START: "start",
    TaskKind.CREATE_IP: "address discovery",
}


def action_word(kind: TaskKind) -> str:
    """How a person would name the kind (``create_start`` → ``start``)."""
    return ACTION_WORDS.get(kind, kind.value)
