"""The errors of day-2 container operations (each says what happened and what to do)."""

from __future__ import annotations

from bot.db.records import Container
from bot.errors import CardinalError, InputError
from bot.proxmox.errors import ProxmoxLockedError

__all__ = [
    "ContainerAlreadyRunning",
    "ContainerBusy",
    "ContainerGone",
    "ContainerNotManaged",
    "ContainerNotRunning",
    "busy",
]


class ContainerNotManaged(InputError):
    """Cardinal has no (live) record of this container."""

    default_hint = (
        "`/lxc list all` shows the containers Cardinal manages. A container made outside Cardinal can be "
        "taken over by an operator with `cardinal reconcile --adopt` if it carries Cardinal's tags."
    )


class ContainerAlreadyRunning(CardinalError):
    """Start asked for a running container."""


class ContainerNotRunning(CardinalError):
    """Stop/shutdown/reboot asked for a stopped container."""


class ContainerBusy(CardinalError):
    """Another operation (create, backup, destroy…) holds the container's lock."""

    default_hint = "Wait for the other operation to finish (`/lxc tasks` lists them) and try again."


class ContainerGone(CardinalError):
    """The cluster no longer lists the container (``/cluster/resources``): it was removed outside Cardinal."""

    default_hint = (
        "`/lxc list` shows it as missing; Cardinal marks its record destroyed at the next reconcile. "
        "If it should still exist, ask the operators to check the Proxmox cluster."
    )


def busy(container: Container, exc: ProxmoxLockedError) -> ContainerBusy:
    """Proxmox holds a lock on ``container`` (another task is running on it)."""
    return ContainerBusy(f"{container.hostname} ({container.vmid}) is busy: {exc.what}")
