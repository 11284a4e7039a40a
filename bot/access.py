"""Who may do what to a container: pure authorization rules, no I/O.

The Slack edge builds an :class:`Actor` for the person who typed or clicked (``is_approver`` is resolved
there, at that moment, from the policy's approver users and user groups). The rules:

* operate (start/stop/shutdown/reboot, extend, snapshots): the owner or an approver;
* destroy directly (after a confirmation): only the owner; anyone else needs an approver's decision;
* approve: an approver, and never for their own request (no self-approval).

Each ``require_*`` raises :class:`AccessDenied` whose message says who may do it instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.records import Container
from bot.errors import CardinalError

__all__ = [
    "AccessDenied",
    "Actor",
    "may_approve",
    "may_destroy_directly",
    "may_operate",
    "require_approve",
    "require_operate",
]


@dataclass(frozen=True, slots=True)
class Actor:
    """The person acting: their Slack user id and whether they are an approver right now."""

    user_id: str
    is_approver: bool = False


class AccessDenied(CardinalError):
    """The actor may not do this; the message names who may."""

    default_hint = "Ask the container's owner or an approver."


def may_operate(actor: Actor, container: Container) -> bool:
    """Start/stop/shutdown/reboot/extend: the owner or an approver."""
    return actor.user_id == container.owner or actor.is_approver


def may_destroy_directly(actor: Actor, container: Container) -> bool:
    """Destroy after a confirmation only: the owner. Everyone else needs an approver's decision."""
    return actor.user_id == container.owner


def may_approve(actor: Actor, requester: str) -> bool:
    """An approver may decide someone else's request, never their own."""
    return actor.is_approver and actor.user_id != requester


def require_operate(actor: Actor, container: Container, action: str) -> None:
    """Raise :class:`AccessDenied` unless :func:`may_operate`."""
    if not may_operate(actor, container):
        raise AccessDenied(
            f"Only the owner <@{container.owner}> or an approver may {action} "
            f"{container.hostname} ({container.vmid}).",
            hint=f"Ask <@{container.owner}> or an approver to {action} it.",
        )


def require_approve(actor: Actor, requester: str) -> None:
    """Raise :class:`AccessDenied` unless :func:`may_approve` (approver, not the requester)."""
    if not actor.is_approver:
        raise AccessDenied(
            "Only approvers may decide this request.",
            hint="An approver listed in Cardinal's policy has to decide it.",
        )
    if actor.user_id == requester:
        raise AccessDenied(
            "You cannot approve your own request.",
            hint="Another approver has to decide it.",
        )
