"""Where a new container goes: an allowed, online node that holds the template, with the most free memory
(or the one asked for, or the default node ``PROXMOX_NODE`` when it fits)."""

from __future__ import annotations

from collections.abc import Collection
from fnmatch import fnmatchcase

from bot.errors import InputError
from bot.proxmox.models import NodeInfo


def allowed(name: str, patterns: list[str]) -> bool:
    """True when ``name`` matches one of the policy's glob patterns (``*`` allows everything)."""
    return any(fnmatchcase(name, p) for p in patterns)


def candidate_nodes(
    nodes: list[NodeInfo], patterns: list[str], holders: Collection[str] | None = None
) -> list[NodeInfo]:
    """Online nodes the policy allows (and, when ``holders`` is given, that hold the template), most free
    memory first (ties by name, for stable results)."""
    online = [
        n
        for n in nodes
        if n.status == "online" and allowed(n.node, patterns) and (holders is None or n.node in holders)
    ]
    return sorted(online, key=lambda n: (-n.free_mem, n.node))


def choose_node(
    nodes: list[NodeInfo],
    patterns: list[str],
    *,
    wanted: str | None,
    memory_mib: int,
    holders: Collection[str] | None = None,
    preferred: str | None = None,
) -> str:
    """Pick the node for one container.

    ``holders`` are the nodes whose template storage holds the chosen template (``None``: not known, every
    node counts). ``wanted`` (from the modal) must be allowed, online and a holder. Otherwise ``preferred``
    (the default node) wins when it is a candidate with room, else the candidate with the most free memory.
    Raises :class:`InputError` (field ``node`` or ``template``) when nothing fits.
    """
    allowed_online = candidate_nodes(nodes, patterns)
    if wanted:
        if not any(n.node == wanted for n in allowed_online):
            raise InputError(
                f"node {wanted!r} is not an allowed, online node",
                field="node",
                hint="Choose “auto” or another node from the list.",
            )
        if holders is not None and wanted not in holders:
            raise InputError(
                f"node {wanted!r} does not hold this template",
                field="node",
                hint=_holders_hint(holders),
            )
        return wanted
    candidates = candidate_nodes(nodes, patterns, holders)
    if not candidates:
        raise InputError(
            "no allowed, online node holds this template",
            field="template",
            hint="Choose another template, or ask an operator to download it (`/lxc templates`).",
        )
    need = memory_mib * 1024 * 1024
    fits = [n for n in candidates if n.maxmem == 0 or n.free_mem >= need]
    for n in fits:
        if n.node == preferred:
            return n.node
    if fits:
        return fits[0].node
    raise InputError(
        "no allowed node holding this template has enough free memory for this container",
        field="node",
        hint="Ask for less memory, or ask the operators to free capacity.",
    )


def _holders_hint(holders: Collection[str]) -> str:
    if not holders:
        return "No node holds it; ask an operator to download it (`/lxc templates`)."
    return f"It is on {', '.join(sorted(holders))}; choose one of those or “auto”."
