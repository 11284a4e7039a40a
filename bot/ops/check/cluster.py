"""Checks of what Proxmox grants and holds: version, privileges, nodes, storages, templates, bridges."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import aiohttp

from bot.ops.check.result import MIN_PROXMOX, SETUP_DOC, CheckResult, CheckTargets, _describe
from bot.ops.privileges import REQUIREMENTS, Requirement
from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import ClusterResource, NodeInfo, Permissions, StorageContent, Version
from bot.template_locations import TemplateLocations, locate_templates

if TYPE_CHECKING:
    from bot.proxmox.client import ProxmoxClient


# --- Proxmox API: version, privileges, storage, bridges -----------------------------------------


def evaluate_version(version: Version) -> CheckResult:
    """Proxmox VE must be ≥ 8.1 (the LXC ``interfaces`` endpoint)."""
    mm = version.major_minor
    text = f"{version.release or version.version} ({version.version})"
    if mm < MIN_PROXMOX:
        return CheckResult(
            "Proxmox version",
            False,
            f"{text} is older than 8.1",
            "Upgrade Proxmox VE to 8.1 or newer (8.x and 9.x are supported).",
        )
    return CheckResult("Proxmox version", True, f"{text}, at least 8.1")


def _expand(req: Requirement, nodes: Sequence[str], targets: CheckTargets) -> list[tuple[str, str]]:
    """(path to test, path to show) pairs for one requirement."""
    values: dict[str, Sequence[str]] = {
        "template_storage": (targets.template_storage,),
        "rootfs_storage": targets.rootfs_storages,
        "node": nodes,
        "bridge": targets.bridges,
    }
    if "{vmid}" in req.path:
        if targets.pool is not None:
            # Containers are created into the pool: its ACL gives the roles on every member (and
            # VM.Allocate on the pool is what creation into it needs).
            return [(f"/pool/{targets.pool}", f"/pool/{targets.pool}")]
        # Containers get new VMIDs: the privilege must propagate to every child of the ACL path.
        return [(req.path.replace("{vmid}", "100"), req.acl)]
    for key, options in values.items():
        token = "{" + key + "}"
        if token in req.path:
            if not options:  # e.g. no node listed: the ACL path itself must carry the privilege
                return [(req.acl, req.acl)]
            paths = [req.path.replace(token, option) for option in options]
            return [(p, p) for p in paths]
    return [(req.path, req.path)]


def missing_privileges(
    perms: Permissions, nodes: Sequence[str], targets: CheckTargets
) -> dict[str, list[str]]:
    """Shown path → privileges missing there (empty when the token has everything)."""
    missing: dict[str, list[str]] = {}
    for req in REQUIREMENTS:
        for test_path, shown in _expand(req, nodes, targets):
            if not perms.has(test_path, req.privilege) and req.privilege not in missing.get(shown, []):
                missing.setdefault(shown, []).append(req.privilege)
    return missing


def evaluate_privileges(
    perms: Permissions, nodes: Sequence[str], targets: CheckTargets, principal: str
) -> CheckResult:
    """Every privilege of :data:`bot.ops.privileges.REQUIREMENTS`, on its path."""
    missing = missing_privileges(perms, nodes, targets)
    if not missing:
        return CheckResult("Proxmox privileges", True, f"{principal} has every privilege Cardinal uses")
    detail = "missing " + "; ".join(f"{', '.join(privs)} on {path}" for path, privs in missing.items())
    flag = _principal_flag(principal)
    first = next(iter(missing))
    acl = "/nodes" if first.startswith("/nodes/") else first
    hint = (
        f"Grant the CardinalRole from {SETUP_DOC} on each path, e.g.\n"
        f"pveum acl modify {acl} {flag} '{principal}' --roles CardinalRole"
    )
    if "!" in principal:
        hint += "\n(with privilege separation, the token's user needs the same ACLs)"
    return CheckResult("Proxmox privileges", False, detail, hint)


def evaluate_node(wanted: str | None, nodes: Sequence[str]) -> CheckResult:
    """``PROXMOX_NODE``, when set, names a node of the cluster (as the token sees it)."""
    name = "Proxmox node"
    if wanted is None:
        return CheckResult(name, True, "PROXMOX_NODE unset: the allowed node with the most free memory")
    if wanted not in nodes:
        return CheckResult(
            name,
            False,
            f"PROXMOX_NODE={wanted} is not a node of this cluster "
            f"(nodes: {', '.join(nodes) or 'none visible'})",
            "Set PROXMOX_NODE to one of the nodes listed (Datacenter → nodes), or unset it; Proxmox hides "
            "nodes the token cannot audit (Sys.Audit on /nodes).",
        )
    return CheckResult(name, True, f"PROXMOX_NODE={wanted} is a node of this cluster")


def _principal_flag(principal: str) -> str:
    return "--tokens" if "!" in principal else "--users"


def evaluate_template_storage(
    storages: Sequence[ClusterResource], templates: Sequence[StorageContent] | None, targets: CheckTargets
) -> CheckResult:
    """The template storage exists (is visible) and holds container templates (``vztmpl`` content)."""
    name, store = "Template storage", targets.template_storage
    found = [s for s in storages if s.type == "storage" and s.storage == store]
    if not found:
        visible = sorted({s.storage for s in storages if s.storage})
        return CheckResult(
            name,
            False,
            f"storage '{store}' not found (visible: {', '.join(visible) or 'none'})",
            f"Create it, pick a visible one in the policy, or grant Datastore.Audit on /storage/{store} "
            "(Proxmox hides storages the token cannot audit).",
        )
    with_tmpl = sorted({s.node or "?" for s in found if "vztmpl" in (s.content or "").split(",")})
    if not with_tmpl:
        return CheckResult(
            name,
            False,
            f"storage '{store}' does not hold container templates (content: {found[0].content})",
            f"Enable the 'Container template' content type: pvesm set {store} --content vztmpl,<others>",
        )
    count = ""
    if templates is not None:
        count = f", {len(templates)} template(s)" if templates else ", no templates yet (/lxc templates)"
    return CheckResult(name, True, f"'{store}' holds templates on {', '.join(with_tmpl)}{count}")


async def check_template_nodes(
    px: ProxmoxClient,
    targets: CheckTargets,
    nodes: Sequence[str],
    storages: Sequence[ClusterResource],
    *,
    limit: float,
) -> list[CheckResult]:
    """ "Templates per node": a storage such as ``local`` is per node, so list it on every node."""
    name = "Templates per node"
    if not nodes:
        return []
    try:
        async with asyncio.timeout(limit * max(len(nodes), 1)):
            where = await locate_templates(px, targets.template_storage, nodes, storages)
    except (ProxmoxError, TimeoutError, OSError, aiohttp.ClientError) as exc:
        return [CheckResult(name, False, _describe(exc), "Check the template storage on every node.")]
    return [evaluate_template_nodes(where)]


def evaluate_template_nodes(where: TemplateLocations) -> CheckResult:
    """Which nodes hold templates. A non-shared storage (``local``) holds each node's own templates, so a
    node without any cannot take containers; that is reported (and fails when no node has one)."""
    name = "Templates per node"
    store = where.storage
    if where.shared:
        return CheckResult(
            name,
            bool(where.templates),
            f"'{store}' is shared: {len(where.templates)} template(s) on every node",
        )
    counts = {n: sum(1 for v in where.templates if n in where.nodes_with(v)) for n in where.nodes}
    detail = f"'{store}' is per node (not shared): " + ", ".join(f"{n} {c}" for n, c in counts.items())
    empty = [n for n, c in counts.items() if c == 0]
    if empty:
        detail += f"; no templates on {', '.join(empty)} (containers are only placed where their template is)"
    return CheckResult(
        name,
        any(counts.values()),
        detail,
        f"Download a template on each node that should take containers: "
        f"pveam download {store} <template> (run on that node), or use a shared template storage.",
    )


def evaluate_default_node(node: str, nodes: Sequence[NodeInfo]) -> CheckResult:
    """``PROXMOX_NODE`` (the default node for creation and template lists) exists and is online."""
    name = "Default node"
    found = next((n for n in nodes if n.node == node), None)
    known = ", ".join(sorted(n.node for n in nodes)) or "none"
    if found is None:
        return CheckResult(
            name,
            False,
            f"PROXMOX_NODE={node} is not a node of this cluster (nodes: {known})",
            "Set PROXMOX_NODE to one of the cluster's node names, or leave it empty for automatic placement.",
        )
    if found.status != "online":
        return CheckResult(
            name,
            False,
            f"PROXMOX_NODE={node} is {found.status}",
            "Bring the node back, or point PROXMOX_NODE at an online node (or leave it empty).",
        )
    return CheckResult(name, True, f"PROXMOX_NODE={node} is online")


def evaluate_rootfs_storages(storages: Sequence[ClusterResource], targets: CheckTargets) -> CheckResult:
    """Each storage allowed for root disks exists (is visible) and accepts container disks (``rootdir``)."""
    name = "Disk storage"
    problems: list[str] = []
    for store in targets.rootfs_storages:
        found = [s for s in storages if s.type == "storage" and s.storage == store]
        if not found:
            problems.append(f"'{store}' not found")
        elif not any("rootdir" in (s.content or "").split(",") for s in found):
            problems.append(f"'{store}' does not accept container disks (content: {found[0].content})")
    if problems:
        return CheckResult(
            name,
            False,
            "; ".join(problems),
            "Fix [placement] storages in the policy, enable the 'Container' content type "
            "(pvesm set <storage> --content rootdir,<others>), or grant Datastore.Audit on "
            "/storage/<storage> (Proxmox hides storages the token cannot audit).",
        )
    return CheckResult(name, True, f"{', '.join(targets.rootfs_storages)} accept container disks")


def evaluate_bridges(
    perms: Permissions,
    sdn: Sequence[ClusterResource],
    targets: CheckTargets,
    principal: str = "<token>",
    node_bridges: Mapping[str, Collection[str]] | None = None,
) -> CheckResult:
    """Each allowed bridge is usable: ``SDN.Use`` on ``/sdn/zones/localnetwork/<bridge>`` (PVE 8+), it exists
    on every node in ``node_bridges`` (node → its bridges, when known), and the ``localnetwork`` zone is
    present on the nodes when Proxmox lists SDN zones."""
    name = "Bridges"
    denied = [b for b in targets.bridges if not perms.has(f"/sdn/zones/localnetwork/{b}", "SDN.Use")]
    if denied:
        return CheckResult(
            name,
            False,
            "SDN.Use missing for " + ", ".join(denied),
            f"pveum acl modify /sdn/zones/localnetwork {_principal_flag(principal)} '{principal}' "
            "--roles CardinalRole "
            f"(see {SETUP_DOC})",
        )
    absent = {
        b: sorted(n for n, have in (node_bridges or {}).items() if b not in have) for b in targets.bridges
    }
    absent = {b: nodes for b, nodes in absent.items() if nodes}
    if absent:
        return CheckResult(
            name,
            False,
            "; ".join(f"{b} does not exist on {', '.join(nodes)}" for b, nodes in absent.items()),
            "Create the bridge on those nodes (System → Network → Create → Linux Bridge), or remove it "
            "from [placement] bridges in the policy; containers on a missing bridge cannot start.",
        )
    zones = [r for r in sdn if r.type == "sdn" and r.id.rsplit("/", 1)[-1] == "localnetwork"]
    where = f"; localnetwork zone on {', '.join(sorted({z.node or '?' for z in zones}))}" if zones else ""
    present = f", present on {', '.join(sorted(node_bridges))}" if node_bridges else ""
    return CheckResult(name, True, f"{', '.join(targets.bridges)} usable (SDN.Use){present}{where}")
