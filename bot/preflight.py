"""Pre-flight checks shown on an approval card: will this request work if approved now?

Each check reads Proxmox (template storage, storages, nodes, guests) and never changes anything. A check
that cannot be answered (Proxmox down) is reported as not OK with the reason, never as a crash.

The reads come from the client's shared short-lived snapshots (:mod:`bot.proxmox.snapshot`): the card is
posted moments after the create form's validation read the same copies, so a submission costs no Proxmox
request of its own and no parse of the whole cluster. What the card shows is advice for the approver;
placement reads the cluster live when the request is approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.events import PreflightCheck
from bot.placement import candidate_nodes
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import ClusterResource, NodeInfo
from bot.proxmox.snapshot import GuestIndex
from bot.template_locations import locate_templates

if TYPE_CHECKING:
    from bot.containers.stored import RequestSpec
    from bot.policy import Placement

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class PreflightInput:
    """What a request needs from the cluster. ``node`` is the node asked for (``None``: automatic)."""

    template: str
    storage: str
    hostnames: tuple[str, ...]
    memory_mib: int
    disk_gib: int
    node_patterns: tuple[str, ...]
    vmid_min: int
    vmid_max: int
    node: str | None = None

    @classmethod
    def of(cls, spec: RequestSpec, placement: Placement, node: str | None) -> PreflightInput:
        """What a stored request ``spec`` needs, under the policy's ``placement``; ``node`` as asked."""
        return cls(
            template=spec.template,
            storage=spec.storage,
            hostnames=tuple(spec.hostnames),
            memory_mib=spec.memory_mib,
            # the root disk and the volumes on the same storage (others are not checked yet)
            disk_gib=spec.disk_gib + sum(m.size_gib for m in spec.mountpoints if m.storage == spec.storage),
            node_patterns=tuple(placement.nodes),
            vmid_min=placement.vmid_min,
            vmid_max=placement.vmid_max,
            node=node,
        )


async def run_preflight(proxmox: ProxmoxClient, need: PreflightInput) -> tuple[PreflightCheck, ...]:
    """All pre-flight checks for one request (several alike containers count together)."""
    try:
        nodes = await proxmox.cached_nodes()
        storages = await proxmox.cached_cluster_resources("storage")
        guests = await proxmox.guest_index()
    except ProxmoxError as exc:
        return (PreflightCheck("Proxmox reachable", False, exc.what),)
    template_check, holders = await _template_present(proxmox, need, nodes, storages)
    checks = [
        template_check,
        _storage_headroom(need, storages),
        _node_headroom(need, nodes, holders),
        _hostnames_free(need, guests),
        _vmids_available(need, guests),
    ]
    return tuple(checks)


async def _template_present(
    proxmox: ProxmoxClient, need: PreflightInput, nodes: list[NodeInfo], resources: list[ClusterResource]
) -> tuple[PreflightCheck, tuple[str, ...] | None]:
    """Whether the template is on the chosen node — or, for automatic placement, on which allowed online
    nodes (the template storage is per node unless it is shared). Also returns those nodes."""
    name = "Template present"
    storage = need.template.split(":", 1)[0]
    detail = need.template.split("/", 1)[-1]
    looked = [n.node for n in candidate_nodes(nodes, list(need.node_patterns))]
    if need.node is not None:
        looked = [n for n in looked if n == need.node]
    if not looked:
        why = f"node {need.node} is not an allowed, online node" if need.node else "no allowed node is online"
        return PreflightCheck(name, False, why), None
    try:
        where = await locate_templates(proxmox, storage, looked, resources, cached=True)
    except ProxmoxError as exc:
        return PreflightCheck(name, False, exc.what), None
    holders = where.nodes_with(need.template)
    if not holders:
        on = f"on {need.node}" if need.node else f"on any allowed node ({', '.join(looked)})"
        return PreflightCheck(name, False, f"{detail} is not on {storage} {on}"), holders
    if where.shared or where.everywhere(need.template):
        return PreflightCheck(name, True, detail), holders
    return PreflightCheck(name, True, f"{detail} (on {', '.join(holders)})"), holders


def _storage_headroom(need: PreflightInput, resources: list[ClusterResource]) -> PreflightCheck:
    total = need.disk_gib * len(need.hostnames)
    frees = [
        ((r.maxdisk or 0) - (r.disk or 0)) / GIB
        for r in resources
        if r.type == "storage" and r.storage == need.storage and r.maxdisk
    ]
    if not frees:
        return PreflightCheck("Storage headroom", False, f"storage {need.storage} not found")
    best = max(frees)
    return PreflightCheck(
        "Storage headroom", best >= total, f"{total} GiB needed, {best:.0f} GiB free on {need.storage}"
    )


def _node_headroom(
    need: PreflightInput, nodes: list[NodeInfo], holders: tuple[str, ...] | None
) -> PreflightCheck:
    """Free memory on the nodes the containers can go to: the allowed online ones holding the template
    (only the chosen one when a node was asked for)."""
    candidates = candidate_nodes(nodes, list(need.node_patterns), holders)
    if need.node is not None:
        candidates = [n for n in candidates if n.node == need.node]
    if not candidates:
        why = (
            "no allowed node holding the template is online"
            if holders is not None
            else "no allowed node is online"
        )
        return PreflightCheck("Node headroom", False, why)
    free = sum(n.free_mem for n in candidates) / MIB
    total = need.memory_mib * len(need.hostnames)
    best = candidates[0]
    return PreflightCheck(
        "Node headroom",
        free >= total,
        f"{total} MiB needed, {free:.0f} MiB free ({best.node} has the most)",
    )


def _hostnames_free(need: PreflightInput, guests: GuestIndex) -> PreflightCheck:
    # The snapshot's indexes: a look-up per hostname, not a pass over every guest of the cluster.
    clash = [h for h in need.hostnames if h in guests.names]
    if clash:
        return PreflightCheck("Hostname free", False, f"already used: {', '.join(clash)}")
    return PreflightCheck("Hostname free", True, ", ".join(need.hostnames))


def _vmids_available(need: PreflightInput, guests: GuestIndex) -> PreflightCheck:
    size = need.vmid_max - need.vmid_min + 1
    if size <= len(guests.by_vmid):  # a look-up per VMID of the range, or a pass over the guests
        used = sum(1 for v in range(need.vmid_min, need.vmid_max + 1) if v in guests.by_vmid)
    else:
        used = sum(1 for v in guests.by_vmid if need.vmid_min <= v <= need.vmid_max)
    free = size - used
    ok = free >= len(need.hostnames)
    return PreflightCheck("VMID available", ok, f"{free} free in {need.vmid_min}–{need.vmid_max}")
