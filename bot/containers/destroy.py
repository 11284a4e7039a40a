"""``/lxc destroy``: the plan (confirmation, approval for non-owners) and the one ``DELETE`` call."""

from __future__ import annotations

from typing import Any

from bot.access import Actor, may_destroy_directly
from bot.containers.context import ContainerContext
from bot.containers.errors import busy
from bot.containers.results import DestroyPlan, DestroyResult
from bot.db.records import Container
from bot.proxmox.errors import ProxmoxLockedError, ProxmoxNotFoundError

__all__ = ["DestroyOps"]


class DestroyOps:
    """Destroying containers."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx

    async def request_destroy(self, actor: Actor, vmid: int) -> DestroyPlan:
        """What ``/lxc destroy`` needs: always a confirmation; an approver's decision for non-owners."""
        container = await self.ctx.container(vmid)
        direct = may_destroy_directly(actor, container)
        name = f"{container.hostname} ({vmid})"
        if direct:
            text = f"Destroy {name} on {container.node}? Its disks are deleted; this cannot be undone."
        else:
            text = (
                f"{name} belongs to <@{container.owner}>. Destroying it needs an approver's decision; "
                "ask for it? Its disks will be deleted; this cannot be undone."
            )
        return DestroyPlan(
            vmid=vmid,
            hostname=container.hostname,
            node=container.node,
            owner=container.owner,
            requested_by=actor.user_id,
            needs_approval=not direct,
            confirm_text=text,
        )

    async def destroy(self, actor: Actor, vmid: int, *, approved_by: Actor | None = None) -> DestroyResult:
        """Destroy a container (after the confirmation): ``DELETE`` with ``purge=1``,
        ``destroy-unreferenced-disks=1`` and ``force=1``.

        ``force=1`` lets Proxmox stop a running container inside the same ``vzdestroy`` task, so there is
        one non-idempotent call and no window between a separate stop task and the destroy. The owner may
        destroy directly; anyone else needs ``approved_by``: an approver who is not ``actor``. A container
        already gone from Proxmox is marked destroyed. The database record is marked destroyed by the
        follower when the task succeeds (or by the reconcile job once Proxmox no longer lists it).
        """
        container = await self.ctx.container(vmid)
        if not may_destroy_directly(actor, container):
            missing = (
                f"Only the owner <@{container.owner}> may destroy {container.hostname} ({vmid}) directly."
            )
            await self.ctx.require_approval(actor, approved_by, container, "destroy", missing=missing)
        return await self.destroy_record(container, actor.user_id, approved_by=approved_by)

    async def destroy_record(
        self,
        container: Container,
        actor_id: str,
        *,
        approved_by: Actor | None = None,
        reason: str = "request",
    ) -> DestroyResult:
        """Destroy ``container`` *without* an authorization check (for Cardinal's own jobs, e.g. expiry).

        Same call as :meth:`destroy`; follows the task and writes ``container.destroy_requested``. The
        call goes to the node the cluster names (the container may have moved); only when the cluster no
        longer lists it is it taken for already gone.
        """
        vmid = container.vmid
        here = await self.ctx.locate(container)
        if here is None:
            return await self._already_gone(container, actor_id, reason)
        try:
            container, upid = await self.ctx.on_node(
                here,
                lambda node: self.ctx.proxmox.destroy_container(
                    node, vmid, purge=True, destroy_unreferenced_disks=True, force=True
                ),
            )
        except ProxmoxNotFoundError:
            if await self.ctx.locate(here) is not None:
                raise  # the cluster still lists it: not gone
            return await self._already_gone(here, actor_id, reason)
        except ProxmoxLockedError as exc:
            raise busy(container, exc) from exc
        await self.ctx.follow("destroy", upid, container, actor_id)
        detail: dict[str, Any] = {"node": upid.node, "reason": reason}
        if approved_by is not None:
            detail["approved_by"] = approved_by.user_id
        await self.ctx.audit(
            actor_id, "container.destroy_requested", vmid=vmid, upid=str(upid), detail=detail
        )
        return DestroyResult(vmid=vmid, node=upid.node, upid=str(upid))

    async def _already_gone(self, container: Container, actor_id: str, reason: str) -> DestroyResult:
        """The cluster no longer lists ``container``: mark it destroyed."""
        now = self.ctx.clock()
        async with self.ctx.db.transaction() as tx:
            await tx.containers.mark_destroyed(container.vmid, now=now)
            await tx.audit.append(
                actor_id,
                "container.destroyed",
                now=now,
                vmid=container.vmid,
                detail={"note": "already gone from Proxmox", "reason": reason},
            )
        return DestroyResult(vmid=container.vmid, node=container.node, upid=None, already_gone=True)
