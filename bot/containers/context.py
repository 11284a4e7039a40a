"""What every day-2 operation shares: the database, Proxmox, the task follower, the policy and the clock,
and the look-ups and checks made before acting (is the container managed, may this person act on it).

Only containers Cardinal knows (its database) are operated on. Containers move without telling Cardinal
(HA relocation, ``pct migrate``), and Proxmox answers a call to the old node as for an unknown container
(``Configuration file 'nodes/<old>/lxc/<vmid>.conf' does not exist``, or ``CT <vmid> not running`` for a
stop). So the node is resolved from ``/cluster/resources`` before acting (:meth:`ContainerContext.current`)
and again on a not-found or wrong-state answer (:meth:`ContainerContext.on_node`); the record follows the
cluster. A container is only taken for gone when the cluster does not list it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from bot.access import AccessDenied, Actor, require_operate, require_view
from bot.containers.errors import ContainerGone, ContainerNotManaged
from bot.containers.facts import lxc_resources
from bot.db import Database
from bot.db.audit import SYSTEM_ACTOR
from bot.db.enums import ContainerState
from bot.db.records import Container
from bot.db.types import Clock
from bot.policy import Policy
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxConflictError, ProxmoxNotFoundError
from bot.proxmox.upid import Upid

__all__ = ["ContainerContext", "TaskFollower"]

T = TypeVar("T")


class TaskFollower(Protocol):
    """Follows a Proxmox task to its end and reports it in the container's thread (``bot.tracker``)."""

    async def track(
        self,
        kind: str,
        upid: Upid,
        *,
        vmid: int | None,
        node: str,
        actor: str,
        channel: str | None,
        thread_ts: str | None,
        request_id: str | None = None,
    ) -> object:
        """Start following ``upid``; returns once it is recorded (not when the task ends)."""
        ...


class ContainerContext:
    """The shared parts of the day-2 operations. ``clock`` gives "now" (aware UTC); ``follower`` follows
    the Proxmox tasks."""

    def __init__(
        self,
        db: Database,
        proxmox: ProxmoxClient,
        follower: TaskFollower,
        policy: Policy,
        clock: Clock,
        *,
        default_node: str | None = None,
    ) -> None:
        self.db = db
        self.proxmox = proxmox
        self.follower = follower
        self.policy = policy
        self.clock = clock
        self.default_node = default_node  # PROXMOX_NODE: where templates are listed and downloaded

    async def container(self, vmid: int) -> Container:
        """The managed (not destroyed) container ``vmid``, or :class:`ContainerNotManaged`."""
        async with self.db.transaction(readonly=True) as tx:
            container = await tx.containers.get(vmid)
        if container is None or container.state is ContainerState.DESTROYED:
            gone = container is not None
            raise ContainerNotManaged(
                f"Container {vmid} was destroyed."
                if gone
                else f"Cardinal does not manage a container {vmid}.",
                field="vmid",
            )
        return container

    async def audit(
        self,
        actor: str,
        action: str,
        *,
        vmid: int | None,
        upid: str | None = None,
        request_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one audit event in its own transaction."""
        async with self.db.transaction() as tx:
            await tx.audit.append(
                actor, action, now=self.clock(), vmid=vmid, upid=upid, request_id=request_id, detail=detail
            )

    async def deny(self, actor: Actor, action: str, container: Container, exc: AccessDenied) -> None:
        """Audit a refused ``action``."""
        await self.audit(
            actor.user_id, "access.denied", vmid=container.vmid, detail={"action": action, "reason": exc.what}
        )

    async def operable(self, actor: Actor, vmid: int, action: str, *, locate: bool = True) -> Container:
        """The managed container ``vmid``, if ``actor`` may ``action`` it (a refusal is audited); on its
        current node (:meth:`current`) unless ``locate`` is False (then as recorded)."""
        container = await self.container(vmid)
        try:
            require_operate(actor, container, action)
        except AccessDenied as exc:
            await self.deny(actor, action, container, exc)
            raise
        return await self.current(container) if locate else container

    async def viewable(self, actor: Actor, key: int | str, action: str) -> Container:
        """The managed container ``key`` (VMID or hostname) on its current node, if ``actor`` may see it
        (a refusal of an
        existing container is audited). Without the right to see others' containers, "not yours" and
        "not managed" are the same refusal (:func:`bot.access.require_view`)."""
        async with self.db.transaction(readonly=True) as tx:
            if isinstance(key, int):
                found = await tx.containers.get(key)
            else:
                found = await tx.containers.get_by_hostname(key)
        managed = found if found is not None and found.state is not ContainerState.DESTROYED else None
        try:
            require_view(actor, managed, key, self.policy.access.others_containers)
        except AccessDenied as exc:
            if managed is not None:
                await self.deny(actor, action, managed, exc)
            raise
        if managed is None:
            field = "vmid" if isinstance(key, int) else "target"
            raise ContainerNotManaged(f"Cardinal does not manage a container {key}.", field=field)
        return await self.current(managed)

    async def require_approval(
        self, actor: Actor, approved_by: Actor | None, container: Container, action: str, *, missing: str
    ) -> None:
        """Refuse (audited :class:`~bot.access.AccessDenied`) unless ``approved_by`` is an approver other
        than ``actor``; ``missing`` is the refusal when there is no approver at all."""
        if approved_by is None:
            problem = missing
        elif not approved_by.is_approver:
            problem = f"<@{approved_by.user_id}> is not an approver."
        elif approved_by.user_id == actor.user_id:
            problem = f"You cannot approve your own {action} request."
        else:
            return
        exc = AccessDenied(problem, hint="Ask an approver (other than yourself) to approve it.")
        await self.deny(actor, action, container, exc)
        raise exc

    async def follow(self, kind: str, upid: Upid, container: Container, actor_id: str) -> None:
        """Hand a started task to the follower; its outcome goes to the container's thread."""
        await self.follower.track(
            kind,
            upid,
            vmid=container.vmid,
            node=upid.node,
            actor=actor_id,
            channel=container.thread_channel,
            thread_ts=container.thread_ts,
            request_id=container.request_id,
        )

    # --- where the container is now -------------------------------------------------------------

    async def locate(self, container: Container) -> Container | None:
        """``container`` on the node ``/cluster/resources`` names now; None when the cluster does not list
        it. A move is written to the record (and audited ``container.moved``)."""
        item = lxc_resources(await self.proxmox.cluster_resources("vm")).get(container.vmid)
        if item is None:
            return None
        if not item.node or item.node == container.node:
            return container
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.containers.set_node(container.vmid, item.node, now=now)
            await tx.audit.append(
                SYSTEM_ACTOR,
                "container.moved",
                now=now,
                vmid=container.vmid,
                detail={"from": container.node, "to": item.node},
            )
        return replace(container, node=item.node)

    async def current(self, container: Container) -> Container:
        """``container`` on its current node, or :class:`ContainerGone` when the cluster does not list it."""
        here = await self.locate(container)
        if here is None:
            raise ContainerGone(
                f"Proxmox no longer lists {container.hostname} ({container.vmid}); "
                "it was removed outside Cardinal."
            )
        return here

    async def on_node(self, container: Container, call: Callable[[str], Awaitable[T]]) -> tuple[Container, T]:
        """Run ``call(node)`` on ``container``'s node. If Proxmox answers not-found or a wrong state (what
        the old node says once the container moved), ask the cluster again and, if it moved, repeat the
        call on its new node; otherwise the answer stands. Returns the container as called and the answer.
        """
        try:
            return container, await call(container.node)
        except (ProxmoxNotFoundError, ProxmoxConflictError):
            moved = await self.locate(container)
            if moved is None or moved.node == container.node:
                raise
        return moved, await call(moved.node)
