"""Where a new container goes: the allowed, online node with the most free memory (or the one asked for)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from bot.errors import InputError
from bot.proxmox.models import NodeInfo


def allowed(name: str, patterns: list[str]) -> bool:
    """True when ``name`` matches one of the policy's glob patterns (``*`` allows everything)."""
    return any(fnmatchcase(name, p) for p in patterns)


def candidate_nodes(nodes: list[NodeInfo], patterns: list[str]) -> list[NodeInfo]:
    """Online nodes the policy allows, most free memory first (ties by name, for stable results)."""
    online = [n for n in nodes if n.status == "online" and allowed(n.node, patterns)]
    return sorted(online, key=lambda n: (-n.free_mem, n.node))


def choose_node(nodes: list[NodeInfo], patterns: list[str], *, wanted: str | None, memory_mib: int) -> str:
    """Pick the node for one container.

    ``wanted`` (from the modal) must be allowed and online; otherwise the allowed online node with the
    most free memory wins. Raises :class:`InputError` (field ``node``) when nothing fits.
    """
    candidates = candidate_nodes(nodes, patterns)
    if wanted:
        for n in candidates:
            if n.node == wanted:
                return n.node
        raise InputError(
            f"node {wanted!r} is not an allowed, online node",
            field="node",
            hint="Choose “auto” or another node from the list.",
        )
    need = memory_mib * 1024 * 1024
    for n in candidates:
        if n.maxmem == 0 or n.free_mem >= need:
            return n.node
    raise InputError(
        "no allowed node has enough free memory for this container",
        field="node",
        hint="Ask for less memory, or ask the operators to free capacity.",
    )
