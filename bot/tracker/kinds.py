"""The kinds of work in the ledger and what each means: Proxmox task type, deadline, resulting state."""

from __future__ import annotations

from datetime import timedelta

from bot.db import ContainerState

CREATE = "create"
"""A container creation (``vzcreate``): queued → submitting → running → final."""
CREATE_START = "create_start"
"""Starting a freshly created container (``vzstart``), part of provisioning."""
CREATE_IP = "create_ip"
"""Waiting for a freshly started container's addresses (no Proxmox task; Cardinal polls)."""

PROVISIONING_KINDS = frozenset({CREATE, CREATE_START, CREATE_IP})
"""Kinds whose final message is the container's result in the request's thread."""

TASK_TYPES: dict[str, str] = {
    CREATE: "vzcreate",
    CREATE_START: "vzstart",
    "start": "vzstart",
    "stop": "vzstop",
    "shutdown": "vzshutdown",
    "reboot": "vzreboot",
    "suspend": "vzsuspend",
    "resume": "vzresume",
    "destroy": "vzdestroy",
    "snapshot": "vzsnapshot",
    "rollback": "vzrollback",
    "delsnapshot": "vzdelsnapshot",
    "resize": "resize",
}
"""Proxmox task type (``typefilter``) of each kind that has one."""

STATE_AFTER: dict[str, ContainerState] = {
    "start": ContainerState.RUNNING,
    "reboot": ContainerState.RUNNING,
    "resume": ContainerState.RUNNING,
    "stop": ContainerState.STOPPED,
    "shutdown": ContainerState.STOPPED,
    "suspend": ContainerState.STOPPED,
}
"""The container's state after a day-2 task of this kind succeeded (destroy is handled apart)."""

DESTROY = "destroy"

DEFAULT_DEADLINE = timedelta(minutes=10)
"""Deadline for day-2 kinds without their own entry in ``Tracker(deadlines=...)``."""

ACTION_WORDS: dict[str, str] = {CREATE: "create", CREATE_START: "start", CREATE_IP: "address discovery"}


def action_word(kind: str) -> str:
    """How a person would name the kind (``create_start`` → ``start``)."""
    return ACTION_WORDS.get(kind, kind)
