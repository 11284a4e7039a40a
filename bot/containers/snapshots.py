"""``/lxc snapshot`` and ``/lxc rollback``: snapshots of a managed container."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.access import Actor
from bot.containers.context import ContainerContext
from bot.containers.errors import busy
from bot.containers.results import RollbackPlan, RollbackResult, SnapshotResult
from bot.containers.views import SnapshotEntry
from bot.errors import InputError
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError, ProxmoxLockedError

__all__ = ["SnapshotOps", "check_snapshot_name", "snapshot_entries"]

_SNAPNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,39}$")


def check_snapshot_name(name: str) -> None:
    """Refuse a snapshot name Proxmox would refuse (``pve-configid``, ≤ 40 chars, no reserved name)."""
    if not _SNAPNAME_RE.fullmatch(name) or name.lower() in ("current", "vzdump"):
        raise InputError(
            f"`{name[:45]}` is not a valid snapshot name: start with a letter, then 1–39 letters, digits, "
            "'_' or '-' (and not `current` or `vzdump`).",
            field="name",
        )


async def snapshot_entries(proxmox: ProxmoxClient, node: str, vmid: int) -> tuple[SnapshotEntry, ...]:
    """The container's snapshots, oldest first; empty when Proxmox cannot say."""
    try:
        found = await proxmox.snapshots(node, vmid)
    except ProxmoxError:
        return ()
    entries = [
        SnapshotEntry(
            name=s.name,
            taken_at=datetime.fromtimestamp(s.snaptime, UTC) if s.snaptime else None,
            description=s.description,
        )
        for s in found
    ]
    return tuple(sorted(entries, key=lambda e: (e.taken_at or datetime.min.replace(tzinfo=UTC), e.name)))


class SnapshotOps:
    """Taking snapshots and rolling back to them."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx

    async def snapshot(self, actor: Actor, vmid: int, name: str | None = None) -> SnapshotResult:
        """Take a snapshot (owner or approver); the ``vzsnapshot`` task is followed (kind ``snapshot``).

        ``name`` defaults to ``s<YYYYmmdd>-<HHMM>`` (UTC); it must match ``[A-Za-z][A-Za-z0-9_-]{1,39}``
        and not be used yet on this container.
        """
        snapname = name if name is not None else self.ctx.clock().astimezone(UTC).strftime("s%Y%m%d-%H%M")
        check_snapshot_name(snapname)
        container = await self.ctx.operable(actor, vmid, "snapshot")
        taken = {e.name for e in await snapshot_entries(self.ctx.proxmox, container.node, vmid)}
        if snapname in taken:
            raise InputError(
                f"{container.hostname} ({vmid}) already has a snapshot named `{snapname}`.",
                field="name",
                hint=f"Pick another name: `/lxc snapshot {vmid} <name>`.",
            )
        try:
            container, upid = await self.ctx.on_node(
                container,
                lambda node: self.ctx.proxmox.create_snapshot(
                    node, vmid, snapname, f"taken by Cardinal for {actor.user_id}"
                ),
            )
        except ProxmoxLockedError as exc:
            raise busy(container, exc) from exc
        await self.ctx.follow("snapshot", upid, container, actor.user_id)
        await self.ctx.audit(
            actor.user_id,
            "container.snapshot",
            vmid=vmid,
            upid=str(upid),
            detail={"name": snapname, "node": upid.node},
        )
        return SnapshotResult(
            vmid=vmid, hostname=container.hostname, name=snapname, node=upid.node, upid=str(upid)
        )

    async def request_rollback(self, actor: Actor, vmid: int, name: str) -> RollbackPlan:
        """What ``/lxc rollback`` will do (owner or approver); the snapshot must exist. Changes nothing."""
        check_snapshot_name(name)
        container = await self.ctx.operable(actor, vmid, "roll back")
        entries = {e.name: e for e in await snapshot_entries(self.ctx.proxmox, container.node, vmid)}
        entry = entries.get(name)
        if entry is None:
            have = ", ".join(f"`{n}`" for n in entries) or "none"
            raise InputError(
                f"{container.hostname} ({vmid}) has no snapshot named `{name}` (snapshots: {have}).",
                field="name",
                hint=f"`/lxc status {vmid}` lists its snapshots.",
            )
        when = f" taken {entry.taken_at:%Y-%m-%d %H:%M} UTC" if entry.taken_at else ""
        text = (
            f"Roll {container.hostname} ({vmid}) back to snapshot `{name}`{when}? Everything changed since "
            "is lost; a running container is stopped for the rollback and started again afterwards."
        )
        return RollbackPlan(
            vmid=vmid,
            hostname=container.hostname,
            node=container.node,
            name=name,
            taken_at=entry.taken_at,
            requested_by=actor.user_id,
            confirm_text=text,
        )

    async def rollback(self, actor: Actor, vmid: int, name: str) -> RollbackResult:
        """Roll back to a snapshot (after the confirmation; owner or approver). A running container is
        started again in the same ``vzrollback`` task; the task is followed (kind ``rollback``)."""
        check_snapshot_name(name)
        container = await self.ctx.operable(actor, vmid, "roll back")
        status = await self.ctx.proxmox.container_status(container.node, vmid)
        try:
            upid = await self.ctx.proxmox.rollback_snapshot(container.node, vmid, name, start=status.running)
        except ProxmoxLockedError as exc:
            raise busy(container, exc) from exc
        await self.ctx.follow("rollback", upid, container, actor.user_id)
        await self.ctx.audit(
            actor.user_id,
            "container.rollback",
            vmid=vmid,
            upid=str(upid),
            detail={"name": name, "node": upid.node, "restart": status.running},
        )
        return RollbackResult(
            vmid=vmid,
            hostname=container.hostname,
            name=name,
            node=upid.node,
            upid=str(upid),
            restart=status.running,
        )
