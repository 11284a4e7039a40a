"""Cluster, node, task, storage, template and access endpoints (everything except the LXC guest API)."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.proxmox.upid import Upid, UpidError
from cardinal_sim.proxmox.aplinfo import packaged_aplinfo
from cardinal_sim.proxmox.auth import Identity
from cardinal_sim.proxmox.errors import ApiError, die, perm_error
from cardinal_sim.proxmox.formats import split_list
from cardinal_sim.proxmox.routes import Ctx, Paged, param_exc, route
from cardinal_sim.proxmox.state import Storage, Task, TaskResult
from cardinal_sim.proxmox.views import (
    node_stats,
    split_token_user,
    status_class,
    task_list_item,
    task_status,
    vmstatus,
)


@route("GET", "/version")
async def version(ctx: Ctx) -> dict[str, Any]:
    """``{"version","release","repoid"}``."""
    major, minor, _ = ctx.sim.version_tuple
    return {"version": ctx.sim.version, "release": f"{major}.{minor}", "repoid": ctx.sim.repoid}


def _fingerprint(ctx: Ctx, node: str) -> str:
    if ctx.sim.fingerprint:
        return ctx.sim.fingerprint
    digest = hashlib.sha256(f"{ctx.sim.seed}:{node}".encode()).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def _node_item(ctx: Ctx, name: str) -> dict[str, Any]:
    node = ctx.sim.nodes[name]
    item: dict[str, Any] = {
        "id": f"node/{name}",
        "node": name,
        "type": "node",
        "status": "online" if node.online else "offline",
        "level": "",
        "ssl_fingerprint": _fingerprint(ctx, name),
    }
    if node.online and ctx.has(f"/nodes/{name}", "Sys.Audit"):
        item.update(node_stats(ctx.sim, node))
    return item


@route("GET", "/nodes")
async def nodes(ctx: Ctx) -> list[dict[str, Any]]:
    """Cluster members; stats only with Sys.Audit on the node."""
    return [_node_item(ctx, name) for name in ctx.sim.nodes]


@route("GET", "/cluster/nextid")
async def nextid(ctx: Ctx) -> str:
    """The lowest free VMID as a *string*; ``?vmid=`` checks one id (400 when used)."""
    used = set(ctx.sim.containers)
    if "vmid" in ctx.params:
        vmid = int(ctx.params["vmid"])
        if vmid in used:
            raise param_exc({"vmid": f"VM {vmid} already exists"})
        return str(vmid)
    for i in range(100, 1_000_000):
        if i not in used:
            return str(i)
    raise die("unable to get any free VMID in range [100, 1000000]")


def _resource_vm(ctx: Ctx, ct_vmid: int) -> dict[str, Any] | None:
    sim = ctx.sim
    ct = sim.containers[ct_vmid]
    if not ctx.has(f"/vms/{ct.vmid}", "VM.Audit"):
        return None
    item: dict[str, Any] = {"id": f"lxc/{ct.vmid}", "vmid": ct.vmid, "node": ct.node, "type": "lxc"}
    if sim.now() < ct.stats_from or not sim.nodes[ct.node].online:
        item["status"] = "unknown"
        for key in ("lock", "tags"):
            if ct.config.get(key):
                item[key] = ct.config[key]
        pool = sim.pool_of(ct.vmid)
        if pool is not None:
            item["pool"] = pool
        return item
    st = vmstatus(sim, ct)
    item.update(
        {
            "status": st["status"],
            "name": st["name"],
            "uptime": st["uptime"],
            "maxcpu": st["cpus"],
            "cpu": st["cpu"],
            "maxmem": st["maxmem"],
            "mem": st["mem"],
            "maxdisk": st["maxdisk"],
            "disk": st["disk"],
            "netin": st["netin"],
            "netout": st["netout"],
            "diskread": st["diskread"],
            "diskwrite": st["diskwrite"],
            "template": 1 if ct.config.get("template") else 0,
        }
    )
    for key in ("tags", "lock"):
        if ct.config.get(key):
            item[key] = ct.config[key]
    pool = sim.pool_of(ct.vmid)
    if pool is not None:
        item["pool"] = pool
    return item


def _resource_storage(ctx: Ctx, node: str, st: Storage) -> dict[str, Any]:
    online = ctx.sim.nodes[node].online
    return {
        "id": f"storage/{node}/{st.name}",
        "storage": st.name,
        "node": node,
        "type": "storage",
        "plugintype": st.type,
        "status": "available" if online and st.enabled else "unknown",
        "shared": 1 if st.shared else 0,
        "content": st.content_text,
        "disk": st.used,
        "maxdisk": st.capacity,
    }


@route("GET", "/cluster/resources")
async def resources(ctx: Ctx) -> list[dict[str, Any]]:
    """Guests, storages, nodes and SDN zones, filtered by permission; new guests show ``unknown``."""
    sim = ctx.sim
    kind = ctx.params.get("type")
    out: list[dict[str, Any]] = []
    if kind in (None, "vm"):
        for vmid in sorted(sim.containers):
            item = _resource_vm(ctx, vmid)
            if item is not None:
                out.append(item)
    if kind in (None, "storage"):
        for name, node in sim.nodes.items():
            for st in node.storages.values():
                if ctx.has(f"/storage/{st.name}", "Datastore.Audit"):
                    out.append(_resource_storage(ctx, name, st))
    if kind in (None, "node"):
        for name in sim.nodes:
            item = _node_item(ctx, name)
            item.pop("ssl_fingerprint", None)
            if "maxcpu" in item:
                item["cgroup-mode"] = 2
                item["host-arch"] = "x86_64"
            out.append(item)
    if kind in (None, "sdn") and sim.version_tuple >= (8, 0, 0):
        for name in sim.nodes:
            if ctx.has("/sdn/zones/localnetwork", "SDN.Audit") or ctx.has(
                "/sdn/zones/localnetwork", "SDN.Use"
            ):
                out.append(
                    {
                        "id": f"sdn/{name}/localnetwork",
                        "sdn": "localnetwork",
                        "node": name,
                        "type": "sdn",
                        "status": "ok" if sim.nodes[name].online else "unknown",
                    }
                )
    if kind is None:
        for pool in sorted(sim.pools):
            if ctx.has(f"/pool/{pool}", "Pool.Audit"):
                out.append({"id": f"/pool/{pool}", "pool": pool, "type": "pool"})
    return out


def _visible(ctx: Ctx, task: Task, path: str, priv: str = "Sys.Audit") -> bool:
    return task.user == ctx.userid or ctx.has(path, priv)


@route("GET", "/cluster/tasks")
async def cluster_tasks(ctx: Ctx) -> list[dict[str, Any]]:
    """Running tasks plus up to 25 recent finished ones per node, newest first."""
    out: list[Task] = []
    for name in ctx.sim.nodes:
        tasks = [t for t in ctx.sim.tasks if t.node == name]
        running = [t for t in tasks if t.running]
        finished = sorted((t for t in tasks if not t.running), key=lambda t: t.endtime or 0)[-25:]
        out.extend(running + finished)
    out = [t for t in out if _visible(ctx, t, "/")]
    out.sort(key=lambda t: (t.starttime, t.pid), reverse=True)
    items = []
    for t in out:
        item: dict[str, Any] = {
            "upid": t.upid,
            "node": t.node,
            "starttime": t.starttime,
            "type": t.type,
            "id": t.id,
        }
        item.update(split_token_user(t.user))
        if t.running:
            item["pid"] = t.pid
            item["saved"] = "0"
        else:
            item["endtime"] = t.endtime
            item["status"] = t.exitstatus
            item["saved"] = "1"
        items.append(item)
    return items


@route("GET", "/nodes/{node}/tasks")
async def node_tasks(ctx: Ctx) -> Paged:
    """The task list as pve-manager ``PVE/API2/Tasks.pm`` ``node_tasks`` builds it — NOT sorted by start.

    ``source=active|all``: the running tasks first, in the order they were started (the ``active`` file);
    then ``source=archive|all`` (default ``archive``): the archive ``index`` read backwards, then
    ``index.1`` backwards — finished tasks most recently ended first, only those the last rotation kept
    (:mod:`cardinal_sim.proxmox.taskfiles`). The filters (``since``/``until`` on the start time, user,
    type, vmid, status) and ``start``/``limit`` apply along that sequence; ``total`` counts every match.
    A running task has no status while filtered (``normalize_status_type(undef)`` = ``unknown``).
    """
    p = ctx.params
    source = p.get("source", "archive")
    start = int(p.get("start", 0))
    limit = int(p.get("limit", 50))
    all_users = ctx.has(f"/nodes/{ctx.node}", "Sys.Audit")
    statuses = {s.lower() for s in split_list(str(p.get("statusfilter", "")))}
    since = int(p["since"]) if "since" in p else None
    until = int(p["until"]) if "until" in p else None
    ctx.sim.tick()
    count = 0
    page: list[Task] = []
    for t in ctx.sim.task_files(ctx.node).listed(source):
        if "userfilter" in p and str(p["userfilter"]).lower() not in t.user_only.lower():
            continue
        if not all_users and t.user != ctx.userid:
            continue
        if "typefilter" in p and t.type != p["typefilter"]:
            continue
        if "vmid" in p and t.id != str(p["vmid"]):
            continue
        if since is not None and t.starttime < since:
            continue
        if until is not None and t.starttime > until:
            continue
        kind = status_class(t.exitstatus or "")
        if p.get("errors"):
            if kind == "ok":
                continue
        elif statuses and kind not in statuses:
            continue
        count += 1
        if count > start and len(page) < limit:
            page.append(t)
    ctx.sim.counters["task_list_items"] += len(page)
    return Paged([task_list_item(t) for t in page], count)


def _find_task(ctx: Ctx) -> Task:
    raw = str(ctx.params["upid"])
    try:
        Upid.parse(raw)
    except UpidError:
        raise param_exc({"upid": "unable to parse worker upid"}) from None
    task = ctx.sim.task(raw)
    if task is None or task.node != ctx.node:
        raise param_exc({"upid": "no such task"})
    return task


@route("GET", "/nodes/{node}/tasks/{upid}")
async def task_index(ctx: Ctx) -> list[dict[str, str]]:
    """``[{"name":"log"},{"name":"status"}]``."""
    _find_task(ctx)
    return [{"name": "log"}, {"name": "status"}]


@route("DELETE", "/nodes/{node}/tasks/{upid}")
async def task_stop(ctx: Ctx) -> None:
    """Interrupt a running task (it ends with ``received interrupt``)."""
    task = _find_task(ctx)
    if task.user != ctx.userid:
        ctx.check(f"/nodes/{ctx.node}", ["Sys.Modify"])
    ctx.sim.interrupt(task)


@route("GET", "/nodes/{node}/tasks/{upid}/status")
async def task_status_h(ctx: Ctx) -> dict[str, Any]:
    """Task status; other users' tasks need Sys.Audit on the node."""
    task = _find_task(ctx)
    if task.user != ctx.userid:
        ctx.check(f"/nodes/{ctx.node}", ["Sys.Audit"])
    return task_status(task)


@route("GET", "/nodes/{node}/tasks/{upid}/log")
async def task_log(ctx: Ctx) -> Paged:
    """``[{n, t}]`` with 1-based ``n``; ``start`` is a 0-based offset, ``limit=0`` returns everything."""
    task = _find_task(ctx)
    if task.user != ctx.userid:
        ctx.check(f"/nodes/{ctx.node}", ["Sys.Audit"])
    start = int(ctx.params.get("start", 0))
    limit = int(ctx.params.get("limit", 50))
    lines = task.lines
    if not lines:
        return Paged([{"n": 1, "t": "no content"}], 1)
    end = len(lines) if limit == 0 else min(len(lines), start + limit)
    return Paged([{"n": i + 1, "t": lines[i]} for i in range(start, end)], len(lines))


@route("GET", "/nodes/{node}/network")
async def node_network(ctx: Ctx) -> list[dict[str, Any]]:
    """The node's interfaces: one physical NIC and the bridges."""
    node = ctx.sim.nodes[ctx.node]
    kind = ctx.params.get("type")
    items: list[dict[str, Any]] = []
    if kind in (None, "eth"):
        items.append(
            {
                "iface": "eno1",
                "type": "eth",
                "active": 1,
                "exists": 1,
                "method": "manual",
                "families": ["inet"],
            }
        )
    if kind in (None, "bridge", "any_bridge", "any_local_bridge", "include_sdn"):
        for i, bridge in enumerate(node.bridges):
            item: dict[str, Any] = {
                "iface": bridge,
                "type": "bridge",
                "active": 1,
                "autostart": 1,
                "bridge_ports": "eno1" if i == 0 else "",
                "bridge_stp": "off",
                "bridge_fd": "0",
                "families": ["inet"],
                "method": "static" if i == 0 else "manual",
                "priority": 3 + i,
            }
            if i == 0:
                item.update(
                    {
                        "address": node.ip,
                        "netmask": "24",
                        "cidr": f"{node.ip}/24",
                        "gateway": "192.168.100.1",
                    }
                )
            items.append(item)
    return items


def _storage_item(st: Storage) -> dict[str, Any]:
    return {
        "storage": st.name,
        "type": st.type,
        "content": st.content_text,
        "active": 1,
        "enabled": 1 if st.enabled else 0,
        "shared": 1 if st.shared else 0,
        "total": st.capacity,
        "used": st.used,
        "avail": st.avail,
        "used_fraction": round(st.used / st.capacity, 6) if st.capacity else 0,
    }


def _allowed_storage(ctx: Ctx, name: str) -> bool:
    return ctx.has(f"/storage/{name}", "Datastore.Audit") or ctx.has(
        f"/storage/{name}", "Datastore.AllocateSpace"
    )


@route("GET", "/nodes/{node}/storage")
async def node_storage(ctx: Ctx) -> list[dict[str, Any]]:
    """Storages of the node the caller may see, optionally filtered by content type."""
    wanted = set(split_list(str(ctx.params.get("content", ""))))
    out = []
    for st in ctx.sim.nodes[ctx.node].storages.values():
        if not _allowed_storage(ctx, st.name):
            continue
        if "storage" in ctx.params and st.name != ctx.params["storage"]:
            continue
        if wanted and not wanted <= st.content:
            continue
        if ctx.params.get("enabled") and not st.enabled:
            continue
        out.append(_storage_item(st))
    return out


def node_storage_or_die(ctx: Ctx, name: str) -> Storage:
    """The node's storage, or 500 ``storage 'x' does not exist``."""
    st = ctx.sim.nodes[ctx.node].storages.get(name)
    if st is None:
        raise die(f"storage '{name}' does not exist")
    if not st.enabled:
        raise die(f"storage '{name}' is disabled")
    return st


@route("GET", "/nodes/{node}/storage/{storage}/content")
async def storage_content(ctx: Ctx) -> list[dict[str, Any]]:
    """Volumes on a storage; ``content=vztmpl`` lists templates (``format`` ``tzst``/``txz``/…)."""
    st = node_storage_or_die(ctx, str(ctx.params["storage"]))
    content = ctx.params.get("content")
    vmid = ctx.params.get("vmid")
    out = []
    for vol in sorted(st.volumes.values(), key=lambda v: v.volid):
        if content is not None and vol.content != content:
            continue
        if vmid is not None and vol.vmid != int(vmid):
            continue
        item: dict[str, Any] = {
            "volid": vol.volid,
            "content": vol.content,
            "format": vol.format,
            "size": vol.size,
            "ctime": vol.ctime,
        }
        if vol.vmid is not None:
            item["vmid"] = vol.vmid
        out.append(item)
    return out


@route("GET", "/nodes/{node}/aplinfo")
async def aplinfo_list(ctx: Ctx) -> list[dict[str, str]]:
    """The downloadable appliances (parsed ``aplinfo.dat``)."""
    return [dict(item) for item in packaged_aplinfo()]


@route("POST", "/nodes/{node}/aplinfo")
async def aplinfo_download(ctx: Ctx) -> str:
    """Download a template to a storage as a ``download`` task."""
    sim = ctx.sim
    name = str(ctx.params["template"])
    record = next((a for a in packaged_aplinfo() if a["template"] == name), None)
    if record is None:
        raise param_exc({"template": "no such template"})
    storage = str(ctx.params["storage"])
    st = node_storage_or_die(ctx, storage)
    if "vztmpl" not in st.content or st.path is None:
        raise die(f"storage '{storage}' does not support templates")
    dest = f"{st.path}/template/cache/{name}"
    url = record["location"]
    node = ctx.node
    fail = sim.task_failure_roll()

    def finish(task: Task) -> TaskResult:
        if fail:
            return TaskResult(
                lines=[f"downloading {url} to {dest}"],
                error=f"download failed: 500 Can't connect to download.proxmox.com:80 ({url})",
            )
        sim.add_template(node, storage, name)
        return TaskResult(
            lines=[
                f"downloading {url} to {dest}",
                "--2025-01-01 00:00:00--  " + url,
                "calculating checksum...OK, checksum verified",
                f"download of '{url}' to '{dest}' finished",
            ]
        )

    task = sim.start_task(
        node,
        "download",
        name,
        ctx.userid,
        lines=[f"starting template download from: {url}", f"target file: {dest}"],
        finish=finish,
    )
    return task.upid


@route("GET", "/access/permissions")
async def permissions(ctx: Ctx) -> dict[str, dict[str, int]]:
    """The caller's (or an owned token's) privileges: ``{path: {priv: 1}}``."""
    sim = ctx.sim
    target = ctx.params.get("userid")
    identity = ctx.identity
    if target is not None and target != identity.userid:
        owned = identity.is_token is False and str(target).startswith(identity.userid + "!")
        if not owned:
            ctx.check("/access", ["Sys.Audit"])
        cred = sim.access.tokens.get(str(target)) or sim.access.users.get(str(target))
        if cred is None:
            raise die(f"no such user ('{target}')")
        identity = Identity(str(target), cred, is_token="!" in str(target), via_ticket=False)
    path = ctx.params.get("path")
    return sim.access.permissions_map(identity, None if path is None else str(path))


_CAP_GROUPS: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "vms": ("/vms", "VM."),
    "storage": ("/storage", "Datastore."),
    "nodes": ("/nodes", "Sys."),
    "access": ("/access", ("User.", "Group.", "Permissions.", "Realm.")),
    "dc": ("/", ("Sys.Audit", "SDN.", "Sys.Modify")),
    "sdn": ("/sdn", "SDN."),
}


@route("POST", "/access/ticket")
async def ticket(ctx: Ctx) -> dict[str, Any]:
    """Password (or valid-ticket) login: ticket, CSRF token and capabilities."""
    sim = ctx.sim
    username = str(ctx.params["username"])
    if "realm" in ctx.params and "@" not in username:
        username = f"{username}@{ctx.params['realm']}"
    cred = sim.access.password_login(username, str(ctx.params["password"]))
    if cred is None:
        raise ApiError(401, "authentication failure\n")
    if "path" in ctx.params:
        privs = split_list(str(ctx.params.get("privs", "")))
        have = sim.access.privileges_on(cred, str(ctx.params["path"]))
        if not set(privs) <= have:
            raise perm_error(f"{ctx.params['path']}, {'|'.join(privs)}")
        return {"username": username}
    cap: dict[str, dict[str, int]] = {}
    for group, (path, prefix) in _CAP_GROUPS.items():
        have = sim.access.privileges_on(cred, path)
        cap[group] = {p: 1 for p in sorted(have) if p.startswith(prefix)}
    out: dict[str, Any] = {
        "username": username,
        "ticket": sim.access.make_ticket(username),
        "CSRFPreventionToken": sim.access.make_csrf(username),
        "cap": cap,
    }
    if len(sim.nodes) > 1 and "Sys.Audit" in sim.access.privileges_on(cred, "/"):
        out["clustername"] = "cardinal-sim"
    return out


def proxy_target(ctx_sim_nodes: dict[str, Any], node: str) -> None:
    """Raise the errors pveproxy gives for an unknown or unreachable node."""
    n = ctx_sim_nodes.get(node)
    if n is None:
        raise die(
            f"hostname lookup '{node}' failed - failed to get address info for: {node}: "
            "Name or service not known"
        )
    if not n.online:
        raise ApiError(595, "No route to host", empty_body=True)
