"""``/lxc templates``, ``/lxc tasks`` and ``/lxc audit``: what Cardinal can build from, what it is
doing, and what was done."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from bot.access import AccessDenied, Actor
from bot.containers.context import ContainerContext
from bot.containers.views import TaskView, TemplateEntry, TemplateList
from bot.db.enums import TaskStatus
from bot.db.records import AuditEvent, Task
from bot.errors import CardinalError
from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import NodeInfo
from bot.template_locations import locate_templates

__all__ = ["CatalogOps"]


def _task_view(task: Task) -> TaskView:
    if not task.is_final:
        state: Literal["running", "ok", "failed"] = "running"
    elif task.status is TaskStatus.SUCCEEDED:
        state = "ok"
    else:
        state = "failed"
    started = datetime.fromtimestamp(task.started_at, UTC) if task.started_at is not None else task.created_at
    return TaskView(
        upid=task.upid,
        kind=task.kind,
        node=task.node,
        state=state,
        started_at=started,
        vmid=task.vmid,
        finished_at=task.updated_at if task.is_final else None,
        exitstatus=task.exitstatus or task.error,
        user_id=task.actor,
    )


class CatalogOps:
    """Templates, tasks and the audit trail."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx

    async def audit(
        self, actor: Actor, vmid: int | None = None, user: str | None = None, *, limit: int = 20
    ) -> list[AuditEvent]:
        """Recent audit events, newest first.

        Approvers see everything. Others see events about their own containers (``vmid``) and their own
        actions (``user`` = themselves; the default without filters).
        """
        if vmid is not None and not actor.is_approver:
            async with self.ctx.db.transaction(readonly=True) as tx:
                container = await tx.containers.get(vmid)
            if container is None or container.owner != actor.user_id:
                raise AccessDenied(
                    f"Only the owner or an approver may see the audit trail of {vmid}.",
                    hint="`/lxc audit` without arguments shows your own actions.",
                )
        if user is not None and user != actor.user_id and not actor.is_approver:
            raise AccessDenied(
                "Only approvers may see other people's audit trail.",
                hint="`/lxc audit` without arguments shows your own actions.",
            )
        if vmid is None and user is None and not actor.is_approver:
            user = actor.user_id
        async with self.ctx.db.transaction(readonly=True) as tx:
            return await tx.audit.recent(vmid=vmid, actor=user, limit=limit)

    async def _template_nodes(self) -> list[str]:
        """Allowed nodes (online ones, if any), the default node first."""
        nodes: list[NodeInfo] = await self.ctx.proxmox.cached_nodes()
        allowed = [n for n in nodes if self.ctx.policy.placement.node_allowed(n.node)]
        online = [n for n in allowed if n.status == "online"] or allowed
        if not online:
            raise CardinalError(
                "No Proxmox node that Cardinal may use is known.",
                hint="The operators should check `placement.nodes` in the policy.",
            )
        default = self.ctx.default_node
        return [n.node for n in sorted(online, key=lambda n: (n.node != default, n.node))]

    async def templates(self) -> TemplateList:
        """Templates on the policy's template storage (of every allowed node: the storage is per node
        unless shared) and downloadable ones, both filtered by the policy's ``placement.templates``
        allow-list (downloadable ones already present are left out)."""
        storage = self.ctx.policy.placement.template_storage
        names = await self._template_nodes()
        node = names[0]
        where = await locate_templates(self.ctx.proxmox, storage, names, cached=True)
        available = tuple(
            TemplateEntry(
                name=volid.split("/", 1)[-1],
                volid=volid,
                size_bytes=where.sizes.get(volid),
                nodes=() if where.everywhere(volid) else where.nodes_with(volid),
            )
            for volid in where.templates
            if self.ctx.policy.placement.template_allowed(volid)
        )
        have = {t.name for t in available}
        try:
            apl = await self.ctx.proxmox.cached_aplinfo(node)
        except ProxmoxError:
            apl = []
        downloadable = tuple(
            TemplateEntry(name=a.template, description=a.headline or None)
            for a in sorted(apl, key=lambda a: a.template)
            if a.type == "lxc"
            and a.template not in have
            and self.ctx.policy.placement.template_allowed(a.template)
        )
        return TemplateList(storage=storage, node=node, available=available, downloadable=downloadable)

    async def tasks(self, *, limit: int = 20) -> list[TaskView]:
        """Pending tasks (oldest first), then recently changed ones (newest first), without duplicates."""
        async with self.ctx.db.transaction(readonly=True) as tx:
            pending = await tx.ledger.pending_tasks(limit=limit)
            recent = await tx.ledger.recent_tasks(limit=limit)
        seen: set[str] = set()
        out: list[TaskView] = []
        for task in [*pending, *recent]:
            if task.id in seen:
                continue
            seen.add(task.id)
            out.append(_task_view(task))
        return out[:limit]
