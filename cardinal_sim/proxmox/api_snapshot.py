"""Container snapshots (list, create, delete, rollback) and disk resize (pve-container Snapshot.pm, LXC.pm).

What the real workers do, reproduced:

* ``POST …/snapshot`` refuses the reserved names ``current`` and ``vzdump`` synchronously; everything else is
  found by the ``vzsnapshot`` worker: a missing config, a template, a lock (``CT is locked (…)``), a name
  already used, a storage without snapshots (``dir``: ``snapshot feature is not available``). While it runs
  the config holds ``lock: snapshot``.
* ``POST …/snapshot/{snapname}/rollback`` → ``vzrollback`` (``lock: rollback``): a running CT is stopped
  first; the config (and disk sizes) become the snapshot's; ``start=1`` then forks a separate ``vzstart``
  (``hastart``) task, so the rollback ends before the CT runs (:mod:`cardinal_sim.proxmox.ha`).
* ``DELETE …/snapshot/{snapname}`` → ``vzdelsnapshot`` (``lock: snapshot-delete``; ``force`` skips the lock
  check); its children are re-parented.
* ``PUT …/resize`` checks synchronously (lock, digest, ``unable to shrink disk size``, ``disk size is
  already at specified size``) and then forks a ``resize`` task that grows the volume and the ``size=``
  of the mount point.
"""

from __future__ import annotations

import copy
from typing import Any

from cardinal_sim.proxmox.core import format_size
from cardinal_sim.proxmox.errors import die
from cardinal_sim.proxmox.formats import parse_size
from cardinal_sim.proxmox.ha import start_worker
from cardinal_sim.proxmox.routes import Ctx, route
from cardinal_sim.proxmox.state import Container, Snapshot, Task, TaskResult
from cardinal_sim.proxmox.views import disk_size, parse_prop_string, print_prop_string

_RESERVED = ("current", "vzdump")
_FAST = 0.2  # a worker that fails its first check ends at once


def _ct_here(ctx: Ctx) -> Container | None:
    ct = ctx.sim.containers.get(ctx.vmid)
    return ct if ct is not None and ct.node == ctx.node else None


def _missing(ctx: Ctx) -> str:
    return f"Configuration file 'nodes/{ctx.node}/lxc/{ctx.vmid}.conf' does not exist"


def _check_lock(ct: Container) -> str | None:
    return f"CT is locked ({ct.lock})" if ct.lock is not None else None


def _volumes(ct: Container) -> list[tuple[str, str]]:
    """``(key, volid)`` of the CT's storage-backed mount points (``rootfs``, ``mpN``)."""
    out = []
    for key, value in ct.config.items():
        if (key == "rootfs" or (key.startswith("mp") and key[2:].isdigit())) and isinstance(value, str):
            volid = parse_prop_string(value, "volume").get("volume", "")
            if ":" in volid and not volid.startswith("/"):
                out.append((key, volid))
    return out


def _snapshots_unsupported(ctx: Ctx, ct: Container) -> bool:
    for _key, volid in _volumes(ct):
        st = ctx.sim.nodes[ct.node].storages.get(volid.split(":", 1)[0])
        if st is None or st.type == "dir":
            return True
    return False


def _fail_fast(ctx: Ctx, task_type: str, error: str) -> str:
    task = ctx.sim.start_task(
        ctx.node,
        task_type,
        str(ctx.vmid),
        ctx.userid,
        finish=lambda _t: TaskResult(error=error),
        duration=_FAST,
    )
    return task.upid


# --- list ------------------------------------------------------------------------------------------------


@route("GET", "/nodes/{node}/lxc/{vmid}/snapshot")
async def snapshot_list(ctx: Ctx) -> list[dict[str, Any]]:
    """Every snapshot plus the ``current`` entry (``You are here!``)."""
    ct = ctx.load_config()
    out: list[dict[str, Any]] = []
    for name, snap in ct.snapshots.items():
        item: dict[str, Any] = {"name": name, "snaptime": snap.snaptime, "description": snap.description}
        if snap.parent is not None:
            item["parent"] = snap.parent
        if snap.snapstate:
            item["snapstate"] = snap.snapstate
        out.append(item)
    current: dict[str, Any] = {
        "name": "current",
        "digest": ct.digest,
        "running": 1 if ct.running else 0,
        "description": "You are here!",
    }
    if ct.config.get("parent"):
        current["parent"] = ct.config["parent"]
    out.append(current)
    return out


# --- create ----------------------------------------------------------------------------------------------


@route("POST", "/nodes/{node}/lxc/{vmid}/snapshot")
async def snapshot_create(ctx: Ctx) -> str:
    """``vzsnapshot``: takes ``lock: snapshot`` for its run; a name in use or a lock fails the task."""
    sim, vmid = ctx.sim, ctx.vmid
    name = str(ctx.params["snapname"])
    for reserved in _RESERVED:
        if name == reserved:
            raise die(f"unable to use snapshot name '{reserved}' (reserved name)")
    description = str(ctx.params.get("description", ""))
    ct = _ct_here(ctx)
    error: str | None = None
    if ct is None:
        error = _missing(ctx)
    elif ct.config.get("template"):
        error = "you can't take a snapshot if it's a template"
    else:
        error = _check_lock(ct)
        if error is None and name in ct.snapshots:
            error = f"snapshot name '{name}' already used"
        if error is None and _snapshots_unsupported(ctx, ct):
            error = "snapshot feature is not available"
    if error is not None or ct is None:
        return _fail_fast(ctx, "vzsnapshot", error or _missing(ctx))
    target = ct
    snap = Snapshot(
        config={k: copy.deepcopy(v) for k, v in target.config.items() if k not in ("lock", "parent")},
        snaptime=int(sim.now()),
        description=description,
        parent=str(target.config["parent"]) if target.config.get("parent") else None,
        snapstate="prepare",
    )
    target.snapshots[name] = snap
    target.config["lock"] = "snapshot"

    def finish(_task: Task) -> TaskResult:
        snap.snapstate = None
        target.config.pop("lock", None)
        target.config["parent"] = name
        lines = [
            f'  Logical volume "snap_{volid.split(":", 1)[1]}_{name}" created.'
            for _k, volid in _volumes(target)
        ]
        return TaskResult(lines=lines)

    def interrupted(_task: Task) -> None:
        target.snapshots.pop(name, None)
        target.config.pop("lock", None)

    task = sim.start_task(
        ctx.node, "vzsnapshot", str(vmid), ctx.userid, finish=finish, on_interrupt=interrupted
    )
    return task.upid


# --- delete ----------------------------------------------------------------------------------------------


@route("DELETE", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}")
async def snapshot_delete(ctx: Ctx) -> str:
    """``vzdelsnapshot`` (``lock: snapshot-delete``); ``force`` ignores a lock."""
    sim, vmid = ctx.sim, ctx.vmid
    name = str(ctx.params["snapname"])
    force = bool(ctx.params.get("force", False))
    ct = _ct_here(ctx)
    error: str | None = None
    if ct is None:
        error = _missing(ctx)
    elif name not in ct.snapshots:
        error = f"snapshot '{name}' does not exist"
    elif not force:
        error = _check_lock(ct)
    if error is not None or ct is None:
        return _fail_fast(ctx, "vzdelsnapshot", error or _missing(ctx))
    target = ct
    target.snapshots[name].snapstate = "delete"
    target.config["lock"] = "snapshot-delete"

    def finish(_task: Task) -> TaskResult:
        gone = target.snapshots.pop(name, None)
        parent = gone.parent if gone is not None else None
        for other in target.snapshots.values():
            if other.parent == name:
                other.parent = parent
        if target.config.get("parent") == name:
            if parent is None:
                target.config.pop("parent", None)
            else:
                target.config["parent"] = parent
        target.config.pop("lock", None)
        lines = [
            f'  Logical volume "snap_{volid.split(":", 1)[1]}_{name}" successfully removed.'
            for _k, volid in _volumes(target)
        ]
        return TaskResult(lines=lines)

    def interrupted(_task: Task) -> None:
        target.config.pop("lock", None)

    task = sim.start_task(
        ctx.node, "vzdelsnapshot", str(vmid), ctx.userid, finish=finish, on_interrupt=interrupted
    )
    return task.upid


# --- rollback --------------------------------------------------------------------------------------------


@route("POST", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback")
async def snapshot_rollback(ctx: Ctx) -> str:
    """``vzrollback`` (``lock: rollback``): stop a running CT, restore the snapshot, start with ``start``."""
    sim, vmid = ctx.sim, ctx.vmid
    name = str(ctx.params["snapname"])
    start = bool(ctx.params.get("start", False))
    ct = _ct_here(ctx)
    error: str | None = None
    if ct is None:
        error = _missing(ctx)
    elif ct.config.get("template"):
        error = "you can't rollback if vm is a template"
    elif name not in ct.snapshots:
        error = f"snapshot '{name}' does not exist"
    else:
        error = _check_lock(ct)
        state = ct.snapshots[name].snapstate
        if error is None and state:
            error = f"unable to rollback to incomplete snapshot (snapstate = {state})"
    if error is not None or ct is None:
        return _fail_fast(ctx, "vzrollback", error or _missing(ctx))
    target = ct
    lines: list[str] = []
    if target.running:
        sim.set_stopped(target)
        lines.append(f"stopping CT {vmid} before rollback")
    target.config["lock"] = "rollback"

    def finish(task: Task) -> TaskResult:
        snap = target.snapshots.get(name)
        if snap is None:
            return TaskResult(error=f"snapshot '{name}' does not exist")
        restored = copy.deepcopy(snap.config)
        restored["parent"] = name
        for key, volid in _volumes(Container(vmid=vmid, node=target.node, config=restored)):
            node = sim.nodes[target.node]
            st = node.storages.get(volid.split(":", 1)[0])
            vol = st.volumes.get(volid) if st is not None else None
            if vol is not None:
                vol.size = disk_size(str(restored[key]), vol.size)
        target.config = restored
        out = [
            f'  Logical volume "{volid.split(":", 1)[1]}" successfully removed.'
            for _k, volid in _volumes(target)
        ]
        if start:  # vm_start forks its own vzstart (hastart) task; this one ends first
            start_worker(sim, target, ctx.node, task.user)
        return TaskResult(lines=out)

    def interrupted(_task: Task) -> None:
        target.config.pop("lock", None)

    task = sim.start_task(
        ctx.node, "vzrollback", str(vmid), ctx.userid, lines=lines, finish=finish, on_interrupt=interrupted
    )
    return task.upid


# --- resize ----------------------------------------------------------------------------------------------


@route("PUT", "/nodes/{node}/lxc/{vmid}/resize")
async def resize(ctx: Ctx) -> str:
    """Grow a mount point: early checks answer synchronously, the ``resize`` task grows it."""
    sim, p, vmid = ctx.sim, ctx.params, ctx.vmid
    text = str(p["size"])
    grow = text.startswith("+")
    wanted = parse_size(text.removeprefix("+"))
    if wanted is None:
        raise die("invalid size string")
    disk = str(p["disk"])
    ct = ctx.load_config()
    locked = _check_lock(ct)
    if locked is not None:
        raise die(locked)
    if "digest" in p and p["digest"] != ct.digest:
        raise die("detected modified configuration - file changed by other user? Try again.")
    value = ct.config.get(disk)
    if not isinstance(value, str):
        raise die(f"unable to parse volume '{disk}'")
    opts = parse_prop_string(value, "volume")
    volid = opts.get("volume", "")
    store = volid.split(":", 1)[0]
    ctx.check(f"/storage/{store}", ["Datastore.AllocateSpace"])
    st = sim.nodes[ct.node].storages.get(store)
    vol = st.volumes.get(volid) if st is not None else None
    if vol is None:
        raise die(f"Could not determine current size of volume '{volid}'")
    size = vol.size
    new_size = int(size + wanted if grow else wanted)
    if new_size < size:
        raise die("unable to shrink disk size")
    if new_size == size:
        raise die("disk size is already at specified size")
    target, volume = ct, vol

    def finish(_task: Task) -> TaskResult:
        current = target.config.get(disk)
        if not isinstance(current, str):
            return TaskResult(error=f"unable to parse volume '{disk}'")
        volume.size = new_size
        mp = parse_prop_string(current, "volume")
        mp["size"] = format_size(new_size)
        target.config[disk] = print_prop_string(mp, first=("mp",), default_key="volume")
        name = volid.split(":", 1)[1]
        lines = [
            f"  Size of logical volume pve/{name} changed from {format_size(size)} to "
            f"{format_size(new_size)}.",
            f"  Logical volume pve/{name} successfully resized.",
        ]
        lines.append(f"resize2fs /dev/pve/{name}" if target.running else f"e2fsck -f -p /dev/pve/{name}")
        return TaskResult(lines=lines)

    task = sim.start_task(ctx.node, "resize", str(vmid), ctx.userid, finish=finish)
    return task.upid
