"""Which nodes hold which templates.

A template storage such as ``local`` (a ``dir`` storage) is not shared: every node has its own
``template/cache`` and so its own templates. A storage marked ``shared`` (nfs, cephfs, …) has the same
contents on every node it is available on. Placement, the create modal, pre-flight and ``cardinal check``
ask this module instead of looking at one node (docs/simulator-fidelity.md records the sources).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import ClusterResource

if TYPE_CHECKING:
    from bot.proxmox.client import ProxmoxClient

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TemplateLocations:
    """Templates (``volid``) of one storage and the nodes holding each, among the nodes looked at.

    ``unreadable`` are nodes whose storage could not be listed (they hold nothing here).
    """

    storage: str
    shared: bool
    nodes: tuple[str, ...]
    holders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def templates(self) -> tuple[str, ...]:
        """Every template found on at least one node, sorted."""
        return tuple(sorted(self.holders))

    def nodes_with(self, volid: str) -> tuple[str, ...]:
        """The nodes holding ``volid`` (empty when none does)."""
        return self.holders.get(volid, ())

    def everywhere(self, volid: str) -> bool:
        """True when every node looked at holds ``volid``."""
        return set(self.nodes) <= set(self.nodes_with(volid))

    def missing_on(self, volid: str, nodes: Iterable[str]) -> tuple[str, ...]:
        """Those of ``nodes`` that do not hold ``volid``."""
        have = set(self.nodes_with(volid))
        return tuple(n for n in nodes if n not in have)


def storage_is_shared(storages: Sequence[ClusterResource], storage: str) -> bool:
    """Whether ``/cluster/resources?type=storage`` marks ``storage`` as shared (``shared: 1``)."""
    return any(r.type == "storage" and r.storage == storage and r.shared for r in storages)


async def locate_templates(
    proxmox: ProxmoxClient,
    storage: str,
    nodes: Sequence[str],
    storages: Sequence[ClusterResource] | None = None,
    *,
    cached: bool = False,
) -> TemplateLocations:
    """List ``storage``'s templates on each of ``nodes`` (once, for a shared storage).

    ``storages`` is ``/cluster/resources?type=storage`` when the caller already has it. A node whose
    listing fails is reported in ``unreadable``; when every listing fails the last error is raised.
    ``cached`` reads the client's shared short-lived snapshots (for the create modal and its validation).
    """
    if storages is None:
        storages = await (
            proxmox.cached_cluster_resources("storage") if cached else proxmox.cluster_resources("storage")
        )
    listing = proxmox.cached_storage_content if cached else proxmox.storage_content
    shared = storage_is_shared(storages, storage)
    if shared:
        # Same contents wherever the storage is available (storage.cfg may limit it to some nodes).
        available = {r.node for r in storages if r.type == "storage" and r.storage == storage}
        reachable = tuple(n for n in nodes if n in available)
        if not reachable:
            return TemplateLocations(storage, True, tuple(nodes))
        content = await listing(reachable[0], storage, "vztmpl")
        holders = {c.volid: reachable for c in content}
        shared_sizes = {c.volid: c.size for c in content}
        return TemplateLocations(storage, True, tuple(nodes), holders, sizes=shared_sizes)
    found: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    unreadable: list[str] = []
    error: ProxmoxError | None = None
    for node in nodes:
        try:
            content = await listing(node, storage, "vztmpl")
        except ProxmoxError as exc:
            log.info("templates.node_unreadable", node=node, storage=storage, error=exc.what)
            unreadable.append(node)
            error = exc
            continue
        for item in content:
            found.setdefault(item.volid, []).append(node)
            sizes[item.volid] = item.size
    if error is not None and len(unreadable) == len(nodes):
        raise error
    holders = {volid: tuple(ns) for volid, ns in found.items()}
    return TemplateLocations(storage, False, tuple(nodes), holders, tuple(unreadable), sizes)
