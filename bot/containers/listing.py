"""``/lxc list``, ``/lxc status`` and ``/lxc ip``: managed containers as Proxmox sees them now."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from bot.access import Actor, require_view_all
from bot.containers.context import ContainerContext
from bot.containers.facts import (
    disk_gib,
    extra_interfaces,
    int_or_none,
    static_addresses,
    volumes,
)
from bot.containers.snapshots import snapshot_entries
from bot.containers.views import ContainerDetail, ContainerView
from bot.db.records import Container
from bot.errors import InputError
from bot.ownership import parse_tags
from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import ClusterResource

__all__ = ["ListingOps"]


def _parse_target(target: int | str) -> int | str:
    if isinstance(target, int):
        return target
    text = target.strip()
    if text.isdigit():
        return int(text)
    if not text or len(text) > 253:
        raise InputError("Give a VMID (e.g. 10042) or a hostname.", field="target")
    return text.lower()


class ListingOps:
    """Listing containers, their details and their addresses."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx

    async def list_containers(
        self, actor: Actor, scope: Literal["mine", "all"] = "mine"
    ) -> list[ContainerView]:
        """Containers with live status and node from one ``/cluster/resources?type=vm`` call, merged with
        Cardinal's records (owner, IPs, expiry). If Proxmox cannot be asked, the last known state is
        shown with ``live=False``. ``"all"`` only for those who may see everyone's containers."""
        if scope == "all":
            require_view_all(actor, self.ctx.policy.access.others_containers)
        async with self.ctx.db.transaction(readonly=True) as tx:
            if scope == "mine":
                records = await tx.containers.list_by_owner(actor.user_id)
            else:
                records = await tx.containers.list_all()
        try:
            live: dict[int, ClusterResource] | None = (await self.ctx.proxmox.guest_index()).lxc
        except ProxmoxError:
            live = None
        views: list[ContainerView] = []
        for c in records:
            if live is None:
                views.append(self._view(c, status=c.state.value, node=c.node, live=False))
                continue
            item = live.get(c.vmid)
            if item is None:
                views.append(self._view(c, status="missing", node=c.node, live=True))
            else:
                views.append(
                    self._view(c, status=item.status or "unknown", node=item.node or c.node, live=True)
                )
        return views

    @staticmethod
    def _view(c: Container, *, status: str, node: str, live: bool) -> ContainerView:
        return ContainerView(
            vmid=c.vmid,
            hostname=c.hostname,
            status=status,
            node=node,
            ips=tuple(c.ip_addresses),
            owner_id=c.owner,
            expires_at=c.expires_at,
            live=live,
        )

    async def status(self, actor: Actor, target: int | str) -> ContainerDetail:
        """One container in detail, by VMID or hostname: live status, size, addresses, owner, expiry.
        Only for those who may see it (:func:`bot.access.require_view`)."""
        container = await self.ctx.viewable(actor, _parse_target(target), "status")
        async with self.ctx.db.transaction(readonly=True) as tx:
            request = await tx.requests.get_request(container.request_id) if container.request_id else None
        status = await self.ctx.proxmox.container_status(container.node, container.vmid)
        config = await self.ctx.proxmox.container_config(container.node, container.vmid)
        template = None
        purpose = None
        if request is not None:
            template = request.spec.template
            purpose = request.purpose or None
        return ContainerDetail(
            vmid=container.vmid,
            hostname=str(config.get("hostname") or container.hostname),
            status=status.status,
            node=container.node,
            ips=tuple(container.ip_addresses),
            owner_id=container.owner,
            expires_at=container.expires_at,
            live=True,
            cores=int_or_none(config.get("cores")),
            memory_mib=int_or_none(config.get("memory")),
            disk_gib=disk_gib(config.get("rootfs")),
            template=template,
            uptime=timedelta(seconds=status.uptime) if status.running else None,
            purpose=purpose,
            request_id=container.request_id,
            lock=status.lock,
            tags=tuple(parse_tags(config.get("tags") if isinstance(config.get("tags"), str) else None)),
            thread_channel=container.thread_channel,
            thread_ts=container.thread_ts,
            snapshots=await snapshot_entries(self.ctx.proxmox, container.node, container.vmid),
            volumes=volumes(config),
            interfaces=extra_interfaces(config),
        )

    async def discover_ips(self, actor: Actor, vmid: int) -> list[str]:
        """Re-discover a container's addresses: live interfaces (running CTs; IPv4 and global IPv6)
        plus static ``ip=``/``ip6=`` from the config. Stores them and returns them (may be empty).
        Only for those who may see the container (:func:`bot.access.require_view`)."""
        container = await self.ctx.viewable(actor, vmid, "ip")
        found: list[str] = []
        for iface in await self.ctx.proxmox.interfaces(container.node, vmid):
            found.extend(iface.ipv4)
            found.extend(iface.ipv6_global)
        config = await self.ctx.proxmox.container_config(container.node, vmid)
        for address in static_addresses(config):
            if address not in found:
                found.append(address)
        ips = list(dict.fromkeys(found))
        async with self.ctx.db.transaction() as tx:
            await tx.containers.set_ips(vmid, ips, now=self.ctx.clock())
        return ips
