"""Resource pools: ``GET /pools`` and ``GET /pools/{poolid}`` (pve-access-control ``API2/Pool.pm``)."""

from __future__ import annotations

from typing import Any

from cardinal_sim.proxmox.errors import die
from cardinal_sim.proxmox.routes import Ctx, route
from cardinal_sim.proxmox.state import Pool


def _members(ctx: Ctx, pool: Pool, kind: str | None) -> list[dict[str, Any]]:
    sim = ctx.sim
    out: list[dict[str, Any]] = []
    if kind in (None, "lxc", "qemu"):
        for vmid in sorted(pool.vms):
            ct = sim.containers.get(vmid)
            if ct is None or kind == "qemu":
                continue
            out.append({"id": f"lxc/{vmid}", "vmid": vmid, "node": ct.node, "type": "lxc"})
    if kind in (None, "storage"):
        for name in sorted(pool.storage):
            for node in sim.nodes:
                out.append({"id": f"storage/{node}/{name}", "storage": name, "node": node, "type": "storage"})
    return out


def _pool(ctx: Ctx, poolid: str) -> Pool:
    pool = ctx.sim.pools.get(poolid)
    if pool is None:
        raise die(f"pool '{poolid}' does not exist")
    return pool


@route("GET", "/pools")
async def pools(ctx: Ctx) -> list[dict[str, Any]]:
    """Pools with Pool.Audit on ``/pool/<id>``; with ``poolid`` that pool and its ``members``."""
    wanted = ctx.params.get("poolid")
    out: list[dict[str, Any]] = []
    for poolid in sorted(ctx.sim.pools):
        if wanted is not None and poolid != wanted:
            continue
        if not ctx.has(f"/pool/{poolid}", "Pool.Audit"):
            continue
        pool = ctx.sim.pools[poolid]
        item: dict[str, Any] = {"poolid": poolid}
        if pool.comment:
            item["comment"] = pool.comment
        if wanted is not None:
            item["members"] = _members(ctx, pool, ctx.params.get("type"))
        out.append(item)
    return out


@route("GET", "/pools/{poolid}")
async def pool_get(ctx: Ctx) -> dict[str, Any]:
    """One pool's members (deprecated in favour of ``GET /pools?poolid=``; needs Pool.Audit)."""
    poolid = str(ctx.params["poolid"])
    ctx.check(f"/pool/{poolid}", ["Pool.Audit"])
    pool = _pool(ctx, poolid)
    item: dict[str, Any] = {"members": _members(ctx, pool, ctx.params.get("type"))}
    if pool.comment:
        item["comment"] = pool.comment
    return item
