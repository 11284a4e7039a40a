"""Who may do what to a container: pure authorization rules, no I/O.

The Slack edge builds an :class:`Actor` for the person who typed or clicked (``is_approver`` is resolved
there, at that moment, from the policy's approver users and user groups). The rules:

* operate (start/stop/shutdown/reboot, extend, snapshots): the owner or an approver;
* destroy directly (after a confirmation): only the owner; anyone else needs an approver's decision;
* approve: an approver, and never for their own request (no self-approval);
* see a container (``/lxc status``, ``/lxc ip``): the owner or an approver, or everyone when the policy's
  ``[access] others_containers`` is ``"everyone"``; everyone's containers (``/lxc list all``) likewise only
  approvers by default. A refusal names nothing but what the person typed, and a container that does not
  exist is refused with the same words, so refusals do not tell whether a VMID or hostname is in use;
* the digest (``/lxc digest``): typed in one of the policy's digest channels it is posted there for the
  channel; anywhere else it is answered to the asker only, if they may see everyone's containers.

Each ``require_*`` raises :class:`AccessDenied` whose message says who may do it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.db.records import Container
from bot.errors import CardinalError
from bot.policy import Visibility

__all__ = [
    "AccessDenied",
    "Actor",
    "DigestDelivery",
    "digest_delivery",
    "may_approve",
    "may_destroy_directly",
    "may_operate",
    "may_view",
    "may_view_all",
    "require_approve",
    "require_operate",
    "require_view",
    "require_view_all",
]

DigestDelivery = Literal["channel", "asker"]
"""Where ``/lxc digest`` goes: posted in the channel it was typed in, or answered to the asker only."""


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


def may_view(actor: Actor, container: Container, visibility: Visibility) -> bool:
    """See a container's details (status, addresses): the owner or an approver, or anyone with
    ``visibility == "everyone"``."""
    return visibility == "everyone" or may_operate(actor, container)


def may_view_all(actor: Actor, visibility: Visibility) -> bool:
    """See everyone's containers at once (``/lxc list all``, the digest): an approver, or anyone with
    ``visibility == "everyone"``."""
    return visibility == "everyone" or actor.is_approver


def require_view(
    actor: Actor, container: Container | None, target: int | str, visibility: Visibility
) -> None:
    """Raise :class:`AccessDenied` unless ``actor`` may see ``container`` (``None``: not managed).

    Someone who may see only their own containers gets the same refusal for a container that is not
    theirs and for one that does not exist, naming only ``target`` (what they typed): no owner, hostname
    or state leaks, and the refusal does not confirm that the VMID or hostname is in use. Callers raise
    their own "not managed" error when this returns and ``container`` is ``None``.
    """
    if may_view_all(actor, visibility):
        return
    if container is not None and may_view(actor, container, visibility):
        return
    raise AccessDenied(
        f"Cardinal has no container {target} that you may see.",
        hint="`/lxc list` shows your containers; their owner or an approver can look at the others.",
    )


def require_view_all(actor: Actor, visibility: Visibility) -> None:
    """Raise :class:`AccessDenied` unless :func:`may_view_all`."""
    if not may_view_all(actor, visibility):
        raise AccessDenied(
            "Only approvers may see everyone's containers.",
            hint="`/lxc list` shows your own containers.",
        )


def digest_delivery(
    actor: Actor, channel: str, *, digest_channels: frozenset[str], visibility: Visibility
) -> DigestDelivery:
    """Where ``/lxc digest`` typed in ``channel`` goes.

    In one of the policy's digest channels it is posted there (the channel gets it on schedule anyway);
    anywhere else only the asker sees it, and only if they may see everyone's containers (the digest
    lists owners, hostnames and pending approvals). Otherwise :class:`AccessDenied`.
    """
    if channel in digest_channels:
        return "channel"
    if may_view_all(actor, visibility):
        return "asker"
    where = ", ".join(f"<#{c}>" for c in sorted(digest_channels))
    raise AccessDenied(
        "The digest lists everyone's containers; outside the digest channels only approvers may see it.",
        hint=f"Read it in {where}." if where else "Ask an approver, or use `/lxc list` for your own.",
    )
