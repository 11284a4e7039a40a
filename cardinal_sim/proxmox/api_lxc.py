"""The LXC guest API: create, config, destroy, status, power actions and interfaces (pve-container)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from cardinal_sim.proxmox.api_cluster import node_storage_or_die
from cardinal_sim.proxmox.errors import ApiError, die, perm_error
from cardinal_sim.proxmox.formats import split_list
from cardinal_sim.proxmox.ha import ha_request
from cardinal_sim.proxmox.ostemplates import nesting_warning
from cardinal_sim.proxmox.routes import Ctx, param_exc, route
from cardinal_sim.proxmox.schema import property_schema
from cardinal_sim.proxmox.state import Container, GiB, Task, TaskResult
from cardinal_sim.proxmox.tags import assert_tag_permissions, unique_tags
from cardinal_sim.proxmox.views import interfaces, parse_prop_string, print_prop_string, vmstatus

_NOT_CONFIG = frozenset(
    {
        "node",
        "vmid",
        "ostemplate",
        "password",
        "ssh-public-keys",
        "storage",
        "start",
        "unique",
        "restore",
        "force",
        "ignore-unpack-errors",
        "bwlimit",
        "pool",
        "ha-managed",
    }
)
_NEW_VOLUME_RE = re.compile(r"^([^:\s]+):(\d+(?:\.\d+)?)$")
_OSTYPES = (
    "debian",
    "ubuntu",
    "alpine",
    "centos",
    "fedora",
    "archlinux",
    "opensuse",
    "gentoo",
    "devuan",
    "nixos",
)


def _priv_for(key: str) -> str:
    if key in ("cores", "cpulimit", "cpuunits"):
        return "VM.Config.CPU"
    if key in ("memory", "swap"):
        return "VM.Config.Memory"
    if key == "rootfs" or re.match(r"^mp\d+$", key):
        return "VM.Config.Disk"
    if re.match(r"^net\d+$", key) or key in ("nameserver", "searchdomain"):
        return "VM.Config.Network"
    return "VM.Config.Options"


def _conf_value(value: Any) -> Any:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _check_features(
    ctx: Ctx, vmid: int, old: Any, new: Any, *, unprivileged: bool, pool: str | None = None
) -> None:
    """The ``features`` rule of pve-container ``check_ct_modify_config_perm``: only root@pam may set
    features of a privileged container or any feature but ``nesting``; ``nesting`` needs VM.Allocate,
    checked with ``check_vm_perm`` (so on the create's ``pool`` too)."""
    if ctx.userid == "root@pam":
        return
    if not unprivileged:
        raise perm_error("changing feature flags for privileged container is only allowed for root@pam")
    before = parse_prop_string(str(old)) if old else {}
    after = parse_prop_string(str(new)) if new else {}
    changed = {k for k in before.keys() | after.keys() if before.get(k, "") != after.get(k, "")}
    if changed - {"nesting"}:
        raise perm_error("changing feature flags (except nesting) is only allowed for root@pam")
    if changed:
        _check_vm_perm(ctx, vmid, pool, "VM.Allocate")


def _is_net(key: str) -> bool:
    return re.match(r"^net\d+$", key) is not None


def _is_disk(key: str) -> bool:
    return key == "rootfs" or re.match(r"^mp\d+$", key) is not None


def _normalize_net(ctx: Ctx, value: str, old: str | None = None) -> str:
    net = parse_prop_string(value)
    if "hwaddr" not in net:
        prev = parse_prop_string(old).get("hwaddr") if old else None
        net["hwaddr"] = prev or ctx.sim.new_mac()
    net["type"] = "veth"
    return print_prop_string(net, first=("name",))


def _check_bridges(ctx: Ctx, values: dict[str, Any]) -> None:
    if ctx.sim.version_tuple < (8, 0, 0):
        return
    for key, value in values.items():
        if _is_net(key) and isinstance(value, str):
            net = parse_prop_string(value)
            bridge = net.get("bridge")
            if bridge:
                path = f"/sdn/zones/localnetwork/{bridge}"
                if "tag" in net:
                    path += f"/{net['tag']}"
                ctx.check(path, ["SDN.Use"])


def _disk_plan(ctx: Ctx, values: dict[str, Any]) -> list[tuple[str, str, float, dict[str, str]]]:
    """New volumes to allocate: (key, storage, size GiB, other options); checks AllocateSpace."""
    plan = []
    for key, value in values.items():
        if not _is_disk(key) or not isinstance(value, str):
            continue
        opts = parse_prop_string(value, "volume")
        vol = opts.get("volume", "")
        m = _NEW_VOLUME_RE.match(vol)
        if m is not None:
            ctx.check(f"/storage/{m.group(1)}", ["Datastore.AllocateSpace"])
            plan.append((key, m.group(1), float(m.group(2)), opts))
        elif vol.startswith("/") and ctx.userid != "root@pam":
            raise perm_error("mount point type bind is only allowed for root@pam")
    return plan


def _ostype(template: str) -> str:
    base = template.rsplit("/", 1)[-1].lower()
    if base.startswith(("almalinux", "rockylinux", "centos", "openeuler")):
        return "centos"
    for os in _OSTYPES:
        if base.startswith(os):
            return os
    return "unmanaged"


def _space_error(store_type: str, vmid: int, size: int, avail: int) -> str:
    if store_type.startswith("lvm"):
        need, have = size // (4 << 20), avail // (4 << 20)
        return (
            f"lvcreate 'pve/vm-{vmid}-disk-0' error:   Volume group \"pve\" has insufficient free space "
            f"({have} extents): {need} required."
        )
    return (
        f"unable to create image: qemu-img: vm-{vmid}-disk-0.raw: Could not resize file: "
        "No space left on device"
    )


@route("GET", "/nodes/{node}/lxc")
async def lxc_list(ctx: Ctx) -> list[dict[str, Any]]:
    """Containers on the node the caller may audit (``vmid`` a string before PVE 8.2)."""
    sim = ctx.sim
    old = sim.version_tuple < (8, 2, 0)
    return [
        vmstatus(sim, ct, string_vmid=old)
        for vmid, ct in sorted(sim.containers.items())
        if ct.node == ctx.node and ctx.has(f"/vms/{vmid}", "VM.Audit")
    ]


@route("POST", "/nodes/{node}/lxc")
async def lxc_create(ctx: Ctx) -> str:
    """Reserve the VMID (``lock: create``) synchronously and return a ``vzcreate`` UPID."""
    sim, p, vmid, node = ctx.sim, ctx.params, ctx.vmid, ctx.node
    pool = None if p.get("pool") is None else str(p["pool"])
    if pool is not None and pool not in sim.pools:
        raise perm_error(f"pool '{pool}' does not exist")
    # VM.Allocate on /vms/<vmid>, or on the pool the CT is created into (pve-container API2/LXC.pm).
    if not ctx.has(f"/vms/{vmid}", "VM.Allocate") and not (
        pool is not None and ctx.has(f"/pool/{pool}", "VM.Allocate")
    ):
        raise ApiError(403, "Permission check failed\n")  # raise_perm_exc() without a detail
    existing = sim.containers.get(vmid)
    if existing is not None:
        raise die(f"CT {vmid} already exists on node '{existing.node}'")
    unprivileged = bool(p.get("unprivileged", True))
    if not unprivileged:
        ctx.check("/", ["Sys.Modify"])
    storage = str(p.get("storage", "local"))
    st = node_storage_or_die(ctx, storage)
    if "rootdir" not in st.content:
        raise param_exc({"storage": f"storage '{storage}' does not support container directories"})
    ostemplate = str(p["ostemplate"])
    if ostemplate.startswith("/"):
        if ctx.userid != "root@pam":
            raise die("Only root can pass arbitrary filesystem paths.")
    else:
        m = re.match(r"^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$", ostemplate, re.IGNORECASE)
        if m is None:
            raise die(f"unable to parse volume ID '{ostemplate}'")
        node_storage_or_die(ctx, m.group(1))
        ctx.check(f"/storage/{m.group(1)}", ["Datastore.AllocateSpace", "Datastore.Audit"], any_of=True)
    values: dict[str, Any] = {k: _conf_value(v) for k, v in p.items() if k not in _NOT_CONFIG}
    values.setdefault("rootfs", f"{storage}:4")
    for key in sorted(values):
        _check_vm_perm(ctx, vmid, pool, _priv_for(key))
    if "features" in values:
        _check_features(ctx, vmid, None, values["features"], unprivileged=unprivileged, pool=pool)
    if "tags" in values:
        assert_tag_permissions(ctx, None, str(values["tags"]))
    plan = _disk_plan(ctx, values)
    _check_bridges(ctx, values)
    if "tags" in values:
        values["tags"] = unique_tags(sim.datacenter_options, str(values["tags"]))

    now = sim.now()
    full = dict(values)
    full.setdefault("hostname", f"CT{vmid}")
    full.setdefault("memory", 512)
    full.setdefault("swap", 512)
    full.setdefault("arch", "amd64")
    full.setdefault("ostype", _ostype(ostemplate))
    full["unprivileged"] = 1 if unprivileged else 0
    for key in list(full):
        if _is_net(key):
            full[key] = _normalize_net(ctx, str(full[key]))
    ct = Container(
        vmid=vmid, node=node, config={"lock": "create"}, created_at=now, stats_from=sim.stats_tick_after(now)
    )
    sim.register_container(ct)
    start = bool(p.get("start", False))
    fail = sim.task_failure_roll()
    warn = sim.task_warning_roll()

    def cleanup(_task: Task) -> None:
        sim.free_disks(vmid, node)
        sim.drop_container(vmid)

    def finish(task: Task) -> TaskResult:
        lines: list[str] = []
        err = _create_error(ctx, ostemplate, plan, full)
        if err is None and fail:
            err = (
                "command 'lxc-usernsexec -m u:0:100000:65536 -m g:0:100000:65536 -- tar xpf - --zstd "
                f"--totals --one-file-system -p --sparse --numeric-owner --acls --xattrs "
                f"-C /var/lib/lxc/{vmid}/rootfs --skip-old-files --anchored --exclude './dev/*'' "
                "failed: exit code 2"
            )
        if err is not None:
            cleanup(task)
            return TaskResult(lines=lines, error=f"unable to create CT {vmid} - {err}")
        ct.config = full
        ct.ha_managed = bool(p.get("ha-managed", False))
        if pool is not None and pool in sim.pools:  # add_vm_to_pool, after the CT is written
            sim.pools[pool].vms.add(vmid)
        hostname = full["hostname"]
        lines += [
            f"extracting archive '{_archive_path(ctx, ostemplate)}'",
            "Total bytes read: 521902080 (498MiB, 213MiB/s)",
            f"Detected container architecture: {full['arch']}",
            "Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...",
            f"done: SHA256:{uuid.uuid5(uuid.NAMESPACE_DNS, str(vmid)).hex[:43]} root@{hostname}",
        ]
        nesting = nesting_warning(ostemplate, full.get("features"))
        warnings = [nesting] if nesting else []
        if warn and not warnings and nesting_warning("debian-13-", full.get("features")):
            warnings.append("Systemd 257 detected. You may need to enable nesting.")  # injected fault
        if start:
            missing = _missing_bridge(ctx, ct)
            if missing is not None:
                return TaskResult(lines=lines, warnings=warnings, error=f"bridge '{missing}' does not exist")
            sim.set_running(ct, task.ends_at)
        return TaskResult(lines=lines, warnings=warnings)

    first: list[str] = []
    for _key, store, _size, _opts in plan:
        target = sim.nodes[node].storages.get(store)
        if target is not None and target.type.startswith("lvm"):
            first.append(f'  Logical volume "vm-{vmid}-disk-{len(first)}" created.')
    blocks = int(float(plan[0][2]) * GiB // 4096) if plan else 1048576
    first.append(f"Creating filesystem with {blocks} 4k blocks and {blocks // 4} inodes")
    first.append(f"Filesystem UUID: {uuid.uuid5(uuid.NAMESPACE_URL, f'ct{vmid}-{now}')}")
    task = sim.start_task(
        node, "vzcreate", str(vmid), ctx.userid, lines=first, finish=finish, on_interrupt=cleanup
    )
    return task.upid


def _check_vm_perm(ctx: Ctx, vmid: int, pool: str | None, priv: str) -> None:
    """``RPCEnvironment::check_vm_perm``: the privilege on ``/pool/<pool>`` is enough, else on the CT."""
    if pool is not None and ctx.has(f"/pool/{pool}", priv):
        return
    ctx.check(f"/vms/{vmid}", [priv])


def _archive_path(ctx: Ctx, ostemplate: str) -> str:
    if ostemplate.startswith("/"):
        return ostemplate
    store, rest = ostemplate.split(":", 1)
    st = ctx.sim.nodes[ctx.node].storages.get(store)
    base = st.path if st is not None and st.path else "/var/lib/vz"
    return f"{base}/template/cache/{rest.split('/', 1)[-1]}"


def _create_error(
    ctx: Ctx,
    ostemplate: str,
    plan: list[tuple[str, str, float, dict[str, str]]],
    full: dict[str, Any],
) -> str | None:
    sim, vmid = ctx.sim, ctx.vmid
    node = sim.nodes[ctx.node]
    if ostemplate.startswith("/"):
        return f"archive file '{ostemplate}' does not exist"
    store = ostemplate.split(":", 1)[0]
    tst = node.storages.get(store)
    if tst is None:
        return f"storage '{store}' does not exist"
    if ostemplate not in tst.volumes or tst.volumes[ostemplate].content != "vztmpl":
        return f"volume '{ostemplate}' does not exist"
    for key, storage, size_gb, opts in plan:
        st = node.storages.get(storage)
        if st is None:
            return f"storage '{storage}' does not exist"
        if "rootdir" not in st.content:
            return f"storage '{storage}' does not support container directories"
        size = int(size_gb * GiB)
        if st.avail < size:
            return _space_error(st.type, vmid, size, st.avail)
        value = sim.allocate_disk(ctx.node, storage, vmid, size, "rootdir")
        rest = {k: v for k, v in opts.items() if k not in ("volume", "size")}
        full[key] = value + ("," + print_prop_string(rest, first=("mp",)) if rest else "")
    return None


def _missing_bridge(ctx: Ctx, ct: Container) -> str | None:
    bridges = ctx.sim.nodes[ct.node].bridges
    for key, value in ct.config.items():
        if _is_net(key):
            bridge = parse_prop_string(str(value)).get("bridge")
            if bridge and bridge not in bridges:
                return bridge
    return None


@route("GET", "/nodes/{node}/lxc/{vmid}")
async def lxc_index(ctx: Ctx) -> list[dict[str, str]]:
    """Directory index of one container."""
    ctx.load_config()
    names = ["config", "pending", "status", "vncproxy", "termproxy", "vncwebsocket", "spiceproxy", "migrate"]
    names += ["clone", "rrd", "rrddata", "firewall", "snapshot", "resize", "interfaces"]
    return [{"subdir": n} for n in names]


@route("GET", "/nodes/{node}/lxc/{vmid}/config")
async def lxc_config_get(ctx: Ctx) -> dict[str, Any]:
    """The config with its 40-hex ``digest``."""
    ct = ctx.load_config()
    if "snapshot" in ctx.params:
        snap = ct.snapshots.get(str(ctx.params["snapshot"]))
        if snap is None:
            raise die(f"snapshot '{ctx.params['snapshot']}' does not exist")
        return {**snap.config, "digest": ct.digest}
    out = dict(ct.config)
    out["digest"] = ct.digest
    return out


async def _wait_create_lock(ctx: Ctx, ct: Container) -> None:
    """PUT while the create worker holds the config flock: wait (10 s) and time out like flock does."""
    sim = ctx.sim
    creating = [t for t in sim.tasks if t.running and t.type == "vzcreate" and t.id == str(ct.vmid)]
    if not creating:
        return
    wait = min(creating[0].ends_at - sim.now(), sim.lock_timeout)
    if creating[0].ends_at - sim.now() <= sim.lock_timeout:
        await sim.clock.sleep(max(wait, 0.0))
        sim.tick()
        return
    await sim.clock.sleep(sim.lock_timeout)
    raise die(f"can't lock file '/run/lock/lxc/pve-config-{ct.vmid}.lock' - got timeout")


@route("PUT", "/nodes/{node}/lxc/{vmid}/config")
async def lxc_config_put(ctx: Ctx) -> None:
    """Synchronous config update; returns ``null``."""
    sim, p, vmid = ctx.sim, ctx.params, ctx.vmid
    changes = {
        k: _conf_value(v) for k, v in p.items() if k not in ("node", "vmid", "digest", "delete", "revert")
    }
    deletes = split_list(str(p.get("delete", "")))
    for key in sorted(changes):
        ctx.check(f"/vms/{vmid}", [_priv_for(key)])
    for key in deletes:
        ctx.check(f"/vms/{vmid}", [_priv_for(key)])
    _disk_plan(ctx, changes)
    _check_bridges(ctx, changes)
    ct = ctx.load_config()
    await _wait_create_lock(ctx, ct)
    ct = ctx.load_config()
    if not changes and not deletes and "revert" not in p:
        raise die("no options specified")
    if ct.lock is not None:
        raise die(f"CT is locked ({ct.lock})")
    if "digest" in p and p["digest"] != ct.digest:
        raise die("detected modified configuration - file changed by other user? Try again.")
    if "features" in changes or "features" in deletes:
        new_features = None if "features" in deletes else changes["features"]
        _check_features(
            ctx,
            vmid,
            ct.config.get("features"),
            new_features,
            unprivileged=bool(ct.config.get("unprivileged")),
        )
    if "tags" in changes or "tags" in deletes:
        new_tags = None if "tags" in deletes else str(changes["tags"])
        assert_tag_permissions(ctx, ct.config.get("tags"), new_tags)
        if new_tags is not None:
            changes["tags"] = unique_tags(sim.datacenter_options, new_tags)
    put = sim.schema.get("PUT", "/nodes/{node}/lxc/{vmid}/config")
    for key in deletes:
        if (
            key in ("node", "vmid", "digest", "delete", "revert")
            or property_schema(put.properties, key) is None
        ):
            raise param_exc({"delete": f"unknown option '{key}'"})
        if key == "rootfs":
            raise die("unable to delete required option 'rootfs'")
        if key in changes:
            raise param_exc({key: f"can't set and delete option '{key}' at the same time"})
    for key in deletes:
        old = ct.config.pop(key, None)
        if old is not None and re.match(r"^mp\d+$", key):
            volume = parse_prop_string(str(old), "volume").get("volume", "")
            if not volume.startswith("/"):
                n = 0
                while f"unused{n}" in ct.config:
                    n += 1
                ct.config[f"unused{n}"] = volume
    for key, value in changes.items():
        ct.config[key] = _put_value(ctx, ct, key, value)


def _put_value(ctx: Ctx, ct: Container, key: str, value: Any) -> Any:
    """A PUT value as stored: nets get a MAC and ``type=veth``; ``storage:size`` volumes are allocated."""
    if _is_net(key):
        return _normalize_net(ctx, str(value), ct.config.get(key))
    if not (_is_disk(key) and isinstance(value, str)):
        return value
    opts = parse_prop_string(value, "volume")
    m = _NEW_VOLUME_RE.match(opts.get("volume", ""))
    if m is None:
        return value
    st = node_storage_or_die(ctx, m.group(1))
    size = int(float(m.group(2)) * GiB)
    if st.avail < size:
        raise die(_space_error(st.type, ct.vmid, size, st.avail))
    rest = {k: v for k, v in opts.items() if k not in ("volume", "size")}
    stored = ctx.sim.allocate_disk(ctx.node, m.group(1), ct.vmid, size, "rootdir")
    return stored + ("," + print_prop_string(rest, first=("mp",)) if rest else "")


@route("DELETE", "/nodes/{node}/lxc/{vmid}")
async def lxc_destroy(ctx: Ctx) -> str:
    """Destroy (``vzdestroy`` task); refuses running CTs without ``force`` and locked ones."""
    sim, vmid, node = ctx.sim, ctx.vmid, ctx.node
    ct = ctx.load_config()
    if ct.lock is not None:
        raise die(f"CT is locked ({ct.lock})")
    if ct.config.get("protection"):
        raise die(f"can't remove CT {vmid} - protection mode enabled")
    force = bool(ctx.params.get("force", False))
    purge = bool(ctx.params.get("purge", False))
    if ct.running and not force:
        raise die(f"unable to destroy CT {vmid} - container is running")
    lines = []
    if ct.running:
        lines.append(f"forced to stop CT {vmid} before destroying!")
    if purge:
        lines.append(f"purging CT {vmid} from related configurations..")
    ct.config["lock"] = "destroyed"

    def finish(_task: Task) -> TaskResult:
        sim.set_stopped(ct)
        removed = sim.free_disks(vmid, node)
        out = [
            f'  Logical volume "{v.split(":", 1)[1]}" successfully removed.' for v in removed if "/" not in v
        ]
        sim.drop_container(vmid)
        return TaskResult(lines=out)

    def interrupted(_task: Task) -> None:
        ct.config.pop("lock", None)

    task = sim.start_task(
        node, "vzdestroy", str(vmid), ctx.userid, lines=lines, finish=finish, on_interrupt=interrupted
    )
    return task.upid


@route("GET", "/nodes/{node}/lxc/{vmid}/status")
async def lxc_status_index(ctx: Ctx) -> list[dict[str, str]]:
    """The status directory index."""
    ctx.load_config()
    return [{"subdir": s} for s in ("current", "start", "stop", "shutdown", "reboot", "migrate")]


@route("GET", "/nodes/{node}/lxc/{vmid}/status/current")
async def lxc_status_current(ctx: Ctx) -> dict[str, Any]:
    """``vmstatus`` plus ``ha``; stopped CTs report zeros."""
    ct = ctx.load_config()
    item = vmstatus(ctx.sim, ct)
    item["ha"] = {"managed": 1, "state": "started"} if ct.ha_managed else {"managed": 0}
    return item


def _ct_here(ctx: Ctx) -> Container | None:
    ct = ctx.sim.containers.get(ctx.vmid)
    return ct if ct is not None and ct.node == ctx.node else None


def _skiplock(ctx: Ctx) -> bool:
    skip = bool(ctx.params.get("skiplock", False))
    if skip and ctx.userid != "root@pam":
        raise param_exc({"skiplock": "Only root may use this option."})
    return skip


def _precheck(ctx: Ctx, *, check_lock: bool, template_msg: str | None = None) -> str | None:
    """What the worker finds at its start: missing config, template, lock."""
    ct = _ct_here(ctx)
    if ct is None:
        return f"Configuration file 'nodes/{ctx.node}/lxc/{ctx.vmid}.conf' does not exist"
    if template_msg and ct.config.get("template"):
        return template_msg
    if check_lock and ct.lock is not None and ct.lock != "mounted":
        return f"CT is locked ({ct.lock})"
    return None


_HA_VERBS = {"vzstart": "start", "vzstop": "stop", "vzshutdown": "shutdown"}


def _power_task(ctx: Ctx, task_type: str, pre: str | None, effect: Any) -> str:
    """Fork a power worker. HA-managed CTs (the HA config is cluster-wide: on any node) get
    ``hastart``/``hastop`` tasks that only ask the HA stack (:mod:`cardinal_sim.proxmox.ha`)."""
    sim = ctx.sim
    vmid = ctx.vmid
    managed = sim.containers.get(vmid)
    if managed is not None and managed.ha_managed and task_type in _HA_VERBS:
        return ha_request(sim, managed, ctx.node, _HA_VERBS[task_type], ctx.userid).upid
    fail = sim.task_failure_roll() if pre is None else False
    lines: list[str] = []

    def finish(task: Task) -> TaskResult:
        if pre is not None:
            return TaskResult(error=pre)
        ct = _ct_here(ctx)
        if ct is None:
            return TaskResult(error=f"Configuration file 'nodes/{ctx.node}/lxc/{vmid}.conf' does not exist")
        if fail:
            if task_type == "vzstart":
                return TaskResult(error=f"startup for container '{vmid}' failed")
            return TaskResult(error=f"command 'lxc-stop -n {vmid} --kill' failed: exit code 1")
        result: TaskResult = effect(task, ct)
        return result

    duration = 0.2 if pre is not None else None
    task = sim.start_task(
        ctx.node, task_type, str(vmid), ctx.userid, lines=lines, finish=finish, duration=duration
    )
    return task.upid


@route("POST", "/nodes/{node}/lxc/{vmid}/status/start")
async def lxc_start(ctx: Ctx) -> str:
    """``vzstart``; 500 ``CT <id> already running`` synchronously."""
    ct = _ct_here(ctx)
    skip = _skiplock(ctx)
    if ct is not None and ct.running:
        raise die(f"CT {ctx.vmid} already running")
    pre = _precheck(ctx, check_lock=not skip, template_msg="you can't start a CT if it's a template")

    def effect(task: Task, c: Container) -> TaskResult:
        missing = _missing_bridge(ctx, c)
        if missing is not None:
            return TaskResult(error=f"bridge '{missing}' does not exist")
        ctx.sim.set_running(c, task.ends_at)
        return TaskResult()

    return _power_task(ctx, "vzstart", pre, effect)


def _require_running(ctx: Ctx, word: str = "CT") -> None:
    ct = _ct_here(ctx)
    if ct is None or not ct.running:
        raise die(f"{word} {ctx.vmid} not running")


def _stop_effect(task: Task, c: Container, ctx: Ctx) -> TaskResult:
    ctx.sim.set_stopped(c)
    return TaskResult()


@route("POST", "/nodes/{node}/lxc/{vmid}/status/stop")
async def lxc_stop(ctx: Ctx) -> str:
    """``vzstop``; 500 ``CT <id> not running``."""
    skip = _skiplock(ctx)
    _require_running(ctx)
    pre = _precheck(ctx, check_lock=not skip)
    return _power_task(ctx, "vzstop", pre, lambda t, c: _stop_effect(t, c, ctx))


@route("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown")
async def lxc_shutdown(ctx: Ctx) -> str:
    """``vzshutdown``; 500 ``CT <id> not running``."""
    _require_running(ctx)
    pre = _precheck(ctx, check_lock=True)
    return _power_task(ctx, "vzshutdown", pre, lambda t, c: _stop_effect(t, c, ctx))


@route("POST", "/nodes/{node}/lxc/{vmid}/status/reboot")
async def lxc_reboot(ctx: Ctx) -> str:
    """``vzreboot``; 500 ``VM <id> not running`` (sic)."""
    _require_running(ctx, "VM")

    def effect(task: Task, c: Container) -> TaskResult:
        ctx.sim.set_running(c, task.ends_at)
        return TaskResult()

    return _power_task(ctx, "vzreboot", None, effect)


@route("POST", "/nodes/{node}/lxc/{vmid}/status/suspend")
async def lxc_suspend(ctx: Ctx) -> str:
    """``vzsuspend`` (checkpoint and stop)."""
    _require_running(ctx)
    pre = _precheck(ctx, check_lock=True)

    def effect(task: Task, c: Container) -> TaskResult:
        ctx.sim.set_stopped(c)
        c.suspended = True
        return TaskResult()

    return _power_task(ctx, "vzsuspend", pre, effect)


@route("POST", "/nodes/{node}/lxc/{vmid}/status/resume")
async def lxc_resume(ctx: Ctx) -> str:
    """``vzresume`` (restore a checkpoint); 500 ``CT <id> already running``."""
    ct = _ct_here(ctx)
    if ct is not None and ct.running:
        raise die(f"CT {ctx.vmid} already running")
    vmid = ctx.vmid

    def effect(task: Task, c: Container) -> TaskResult:
        if not c.suspended:
            cmd = f"lxc-checkpoint -n {vmid} -r --foreground -D /var/lib/vz/dump"
            return TaskResult(error=f"command '{cmd}' failed: exit code 1")
        ctx.sim.set_running(c, task.ends_at)
        return TaskResult()

    return _power_task(ctx, "vzresume", None, effect)


@route("GET", "/nodes/{node}/lxc/{vmid}/interfaces")
async def lxc_interfaces(ctx: Ctx) -> list[dict[str, Any]] | None:
    """Interfaces of a running CT (``lo`` included); ``null`` when stopped or unknown."""
    return interfaces(ctx.sim, _ct_here(ctx))


@route("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces")
async def qemu_agent_interfaces(ctx: Ctx) -> None:
    """The simulator has no QEMU VMs: the config lookup fails as it would for any unknown VM."""
    raise die(f"Configuration file 'nodes/{ctx.node}/qemu-server/{ctx.vmid}.conf' does not exist")
