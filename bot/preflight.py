"""Pre-flight checks shown on an approval card: will this request work if approved now?

Each check reads Proxmox (template storage, storages, nodes, guests) and never changes anything. A check
that cannot be answered (Proxmox down) is reported as not OK with the reason, never as a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import PreflightCheck
from bot.placement import candidate_nodes
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import ClusterResource, NodeInfo

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class PreflightInput:
    """What a request needs from the cluster."""

    template: str
    storage: str
    hostnames: tuple[str, ...]
    memory_mib: int
    disk_gib: int
    node_patterns: tuple[str, ...]
    vmid_min: int
    vmid_max: int


async def run_preflight(proxmox: ProxmoxClient, need: PreflightInput) -> tuple[PreflightCheck, ...]:
    """All pre-flight checks for one request (several alike containers count together)."""
    try:
        nodes = await proxmox.nodes()
        resources = await proxmox.cluster_resources()
    except ProxmoxError as exc:
        return (PreflightCheck("Proxmox reachable", False, exc.what),)
    checks = [
        await _template_present(proxmox, need, nodes),
        _storage_headroom(need, resources),
        _node_headroom(need, nodes),
        _hostnames_free(need, resources),
        _vmids_available(need, resources),
    ]
    return tuple(checks)


async def _template_present(
    proxmox: ProxmoxClient, need: PreflightInput, nodes: list[NodeInfo]
) -> PreflightCheck:
    storage = need.template.split(":", 1)[0]
    online = [n.node for n in nodes if n.status == "online"]
    if not online:
        return PreflightCheck("Template present", False, "no node is online")
    try:
        content = await proxmox.storage_content(online[0], storage, "vztmpl")
    except ProxmoxError as exc:
        return PreflightCheck("Template present", False, exc.what)
    present = any(c.volid == need.template for c in content)
    detail = need.template.split("/", 1)[-1]
    return PreflightCheck("Template present", present, detail if present else f"{detail} is not on {storage}")


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


def _node_headroom(need: PreflightInput, nodes: list[NodeInfo]) -> PreflightCheck:
    candidates = candidate_nodes(nodes, list(need.node_patterns))
    if not candidates:
        return PreflightCheck("Node headroom", False, "no allowed node is online")
    free = sum(n.free_mem for n in candidates) / MIB
    total = need.memory_mib * len(need.hostnames)
    best = candidates[0]
    return PreflightCheck(
        "Node headroom",
        free >= total,
        f"{total} MiB needed, {free:.0f} MiB free ({best.node} has the most)",
    )


def _hostnames_free(need: PreflightInput, resources: list[ClusterResource]) -> PreflightCheck:
    taken = {r.name for r in resources if r.type in ("lxc", "qemu") and r.name}
    clash = [h for h in need.hostnames if h in taken]
    if clash:
        return PreflightCheck("Hostname free", False, f"already used: {', '.join(clash)}")
    return PreflightCheck("Hostname free", True, ", ".join(need.hostnames))


def _vmids_available(need: PreflightInput, resources: list[ClusterResource]) -> PreflightCheck:
    used = {r.vmid for r in resources if r.vmid is not None}
    size = need.vmid_max - need.vmid_min + 1
    free = size - sum(1 for v in used if need.vmid_min <= v <= need.vmid_max)
    ok = free >= len(need.hostnames)
    return PreflightCheck("VMID available", ok, f"{free} free in {need.vmid_min}–{need.vmid_max}")
