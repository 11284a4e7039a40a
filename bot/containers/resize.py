"""``/lxc resize``: cores and memory at once, the root disk grown by a task; beyond the owner's quota
only with an approver's decision."""

from __future__ import annotations

from typing import Any

from bot.access import Actor
from bot.containers.context import ContainerContext
from bot.containers.errors import busy
from bot.containers.facts import disk_gib, int_or_none, lxc_resources
from bot.containers.results import ResizePlan, ResizeResult
from bot.db.records import Container
from bot.errors import InputError
from bot.proxmox.errors import ProxmoxLockedError

__all__ = ["ResizeOps"]


class ResizeOps:
    """Resizing containers."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx

    async def plan_resize(
        self,
        actor: Actor,
        vmid: int,
        cores: int | None = None,
        memory_mib: int | None = None,
        disk_add_gib: int | None = None,
    ) -> ResizePlan:
        """Before → after of a resize and whether it needs an approver (owner or approver may ask).

        Growth that takes the owner's total memory or disk (live sizes of all their containers) beyond
        ``policy.quota`` needs approval, unless the one asking is an approver other than the owner.
        """
        if cores is None and memory_mib is None and not disk_add_gib:
            raise InputError("Say what to change: `cores=`, `memory=` or `disk=+`.", field="size")
        if cores is not None and not 1 <= cores <= 8192:
            raise InputError("cores must be from 1 to 8192.", field="cores")
        if memory_mib is not None and not 16 <= memory_mib <= 4 * 1024 * 1024:
            raise InputError("memory must be 16 MiB to 4 TiB.", field="memory")
        if disk_add_gib is not None and not 0 <= disk_add_gib <= 65536:
            raise InputError("disk can grow by 1 to 65536 GiB at a time.", field="disk")
        container = await self.ctx.operable(actor, vmid, "resize")
        config = await self.ctx.proxmox.container_config(container.node, vmid)
        cores_before = int_or_none(config.get("cores"))
        memory_before = int_or_none(config.get("memory")) or 512
        disk_before = disk_gib(config.get("rootfs"))
        add = disk_add_gib or 0
        cores_after = cores if cores is not None else cores_before
        memory_after = memory_mib if memory_mib is not None else memory_before
        if cores_after == cores_before and memory_after == memory_before and add == 0:
            raise InputError(
                f"{container.hostname} ({vmid}) already has that size.",
                field="size",
                hint=f"`/lxc status {vmid}` shows its size.",
            )
        mem_total, disk_total = await self._owner_usage(container)
        mem_total += memory_after - memory_before
        disk_total += add
        q = self.ctx.policy.quota
        reasons = []
        if memory_after > memory_before and mem_total > q.total_memory_mib:
            reasons.append(f"total memory would be {mem_total} MiB; the quota is {q.total_memory_mib} MiB")
        if add > 0 and disk_total > q.total_disk_gib:
            reasons.append(f"total disk would be {disk_total} GiB; the quota is {q.total_disk_gib} GiB")
        exempt = actor.is_approver and actor.user_id != container.owner
        return ResizePlan(
            vmid=vmid,
            hostname=container.hostname,
            node=container.node,
            owner=container.owner,
            requested_by=actor.user_id,
            cores_before=cores_before,
            cores_after=cores_after,
            memory_before_mib=memory_before,
            memory_after_mib=memory_after,
            disk_before_gib=disk_before,
            disk_add_gib=add,
            needs_approval=bool(reasons) and not exempt,
            reason="; ".join(reasons) or None,
            quota_memory_mib=mem_total,
            quota_disk_gib=disk_total,
        )

    async def _owner_usage(self, container: Container) -> tuple[int, int]:
        """The owner's live totals (memory MiB, disk GiB) over their containers, from one resources call."""
        async with self.ctx.db.transaction(readonly=True) as tx:
            owned = await tx.containers.list_by_owner(container.owner)
        live = lxc_resources(await self.ctx.proxmox.cluster_resources("vm"))
        mem = disk = 0
        for c in owned:
            item = live.get(c.vmid)
            if item is None:
                continue
            mem += (item.maxmem or 0) // (1 << 20)
            disk += round((item.maxdisk or 0) / (1 << 30))
        return mem, disk

    async def resize(
        self,
        actor: Actor,
        vmid: int,
        cores: int | None = None,
        memory_mib: int | None = None,
        disk_add_gib: int | None = None,
        *,
        approved_by: Actor | None = None,
    ) -> ResizeResult:
        """Resize a container (owner or approver): cores/memory at once (``PUT config``), the root disk
        grown by a followed ``resize`` task (kind ``resize``).

        Beyond the owner's quota nothing happens (``applied`` False, the plan says why) unless
        ``approved_by`` is an approver other than ``actor``.
        """
        plan = await self.plan_resize(actor, vmid, cores, memory_mib, disk_add_gib)
        if plan.needs_approval and approved_by is None:
            return ResizeResult(plan=plan, applied=False)
        container = await self.ctx.container(vmid)
        if plan.needs_approval:
            await self.ctx.require_approval(actor, approved_by, container, "resize", missing="")  # not None
        params: dict[str, Any] = {}
        if plan.cores is not None:
            params["cores"] = plan.cores
        if plan.memory_mib is not None:
            params["memory"] = plan.memory_mib
        try:
            if params:
                await self.ctx.proxmox.update_config(container.node, vmid, params)
            upid = (
                await self.ctx.proxmox.resize_disk(container.node, vmid, "rootfs", f"+{plan.disk_add_gib}G")
                if plan.disk_add_gib
                else None
            )
        except ProxmoxLockedError as exc:
            raise busy(container, exc) from exc
        if upid is not None:
            await self.ctx.follow("resize", upid, container, actor.user_id)
        detail: dict[str, Any] = {
            "cores": [plan.cores_before, plan.cores_after],
            "memory_mib": [plan.memory_before_mib, plan.memory_after_mib],
            "disk_gib": [plan.disk_before_gib, plan.disk_after_gib],
        }
        if approved_by is not None and plan.needs_approval:
            detail["approved_by"] = approved_by.user_id
        await self.ctx.audit(
            actor.user_id, "container.resized", vmid=vmid, upid=str(upid) if upid else None, detail=detail
        )
        return ResizeResult(plan=plan, applied=True, upid=str(upid) if upid else None)
