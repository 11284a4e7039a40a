"""``Simulator``: the state of a simulated Proxmox VE cluster, its clock and its task engine.

Tasks complete lazily: every request (and every test helper that reads state) first calls :meth:`tick`,
which finishes, in time order, each task whose end time has passed on the simulator clock. Effects are
applied at the task's own end time, so what a client sees depends only on simulated time — never on how
often it polls.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.proxmox.upid import Upid
from cardinal_sim.proxmox.aplinfo import packaged_aplinfo, template_format
from cardinal_sim.proxmox.auth import AccessControl
from cardinal_sim.proxmox.clock import SimClock
from cardinal_sim.proxmox.schema import Schema, load_schema
from cardinal_sim.proxmox.state import (
    DEFAULT_TASK_DURATIONS,
    Container,
    Credential,
    FaultConfig,
    GiB,
    MiB,
    Node,
    Pool,
    RequestRecord,
    Storage,
    Task,
    TaskFinish,
    TaskResult,
    Volume,
)
from cardinal_sim.proxmox.taskfiles import TaskFiles

DEFAULT_TEMPLATES: tuple[str, ...] = (
    "debian-12-standard_12.12-1_amd64.tar.zst",
    "debian-13-standard_13.6-1_amd64.tar.zst",
    "ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
    "alpine-3.22-default_20250617_amd64.tar.xz",
)


def _version_tuple(version: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", version)[:3]]
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2])


def node_names(count: int) -> list[str]:
    """``pve`` for the first node, then ``pve2``, ``pve3``…"""
    return ["pve" if i == 0 else f"pve{i + 1}" for i in range(count)]


class Simulator:
    """A simulated Proxmox VE cluster (state + configuration + clock).

    ``speed`` accelerates the clock (``0`` freezes it: only :meth:`advance` moves time). ``auth_delay``
    is the real-time delay before every 401 (Proxmox waits 3 s). ``version`` drives version-dependent
    shapes (interfaces fields from 8.4, int ``vmid`` in lists from 8.2, ``message`` in error bodies from
    8.4, the interfaces endpoint from 8.1).

    Every node has its own ``local`` (``dir``, not shared) and ``local-lvm`` storage, as a fresh install
    does: what one node's ``local`` holds, another's may not. ``templates`` puts the same templates on
    every node; ``node_templates`` (node → file names) gives each node its own set instead.
    """

    def __init__(
        self,
        *,
        nodes: int | Sequence[str] = 1,
        version: str = "9.1.4",
        speed: float = 1.0,
        seed: int = 0,
        auth_delay: float = 0.0,
        faults: FaultConfig | None = None,
        task_durations: dict[str, float] | None = None,
        duration_spread: float = 0.0,
        dhcp_delay: float = 3.0,
        stats_interval: float = 10.0,
        lock_timeout: float = 10.0,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        node_templates: Mapping[str, Sequence[str]] | None = None,
        message_in_body: bool | None = None,
        bridges: Sequence[str] = ("vmbr0", "vmbr1"),
        start_time: float | None = None,
    ) -> None:
        self.clock = SimClock(speed=speed, start=start_time)
        self.version = version
        self.version_tuple = _version_tuple(version)
        self.seed = seed
        self.auth_delay = auth_delay
        self.faults = faults or FaultConfig(seed=seed)
        self.task_durations = {**DEFAULT_TASK_DURATIONS, **(task_durations or {})}
        self.duration_spread = duration_spread
        self.dhcp_delay = dhcp_delay
        self.stats_interval = stats_interval
        self.lock_timeout = lock_timeout
        self.message_in_body = self.version_tuple >= (8, 4, 0) if message_in_body is None else message_in_body
        self.repoid = (
            f"{random.Random(seed).getrandbits(64):016x}"
            if self.version_tuple >= (8, 0, 0)
            else f"{random.Random(seed).getrandbits(32):08x}"
        )
        self.schema: Schema = load_schema()
        self.access = AccessControl(self.clock, secrets.token_bytes(32))
        self.request_log: list[RequestRecord] = []
        self.counters: Counter[str] = Counter()
        self.internal_errors: list[str] = []
        self.fingerprint: str | None = None
        self.pools: dict[str, Pool] = self.access.pools
        self.datacenter_options: dict[str, str] = {}
        """``datacenter.cfg`` as written (``tag-style``, ``user-tag-access``, ``registered-tags``)."""
        self._rng = random.Random(seed)
        self._fault_rng = random.Random(self.faults.seed)
        self._next_pid = 100000 + self._rng.randrange(50000)
        self._nodes: dict[str, Node] = {}
        self._containers: dict[int, Container] = {}
        self._tasks: list[Task] = []
        self._pending: list[tuple[float, int, Task]] = []
        self._tasks_by_upid: dict[str, Task] = {}
        self._task_files: dict[str, TaskFiles] = {}
        self._leases: dict[tuple[str, str], str] = {}
        self._macs: set[str] = set()
        self._now_override: float | None = None
        self._ticking = False
        names = node_names(nodes) if isinstance(nodes, int) else list(nodes)
        now = self.clock.now()
        for i, name in enumerate(names):
            node = Node(
                name=name, bridges=list(bridges), boot_time=now - 86400 * (3 + i), ip=f"192.168.100.{11 + i}"
            )
            node.storages["local"] = Storage(
                name="local",
                type="dir",
                content={"vztmpl", "iso", "backup", "rootdir"},
                capacity=100 * GiB,
                path="/var/lib/vz",
                base_used=12 * GiB,
            )
            node.storages["local-lvm"] = Storage(
                name="local-lvm", type="lvmthin", content={"rootdir", "images"}, capacity=400 * GiB
            )
            self._nodes[name] = node
            here = templates if node_templates is None else node_templates.get(name, ())
            for tmpl in here:
                self.add_template(name, "local", tmpl, ctime=int(now) - 86400 * 30)

    # --- clock and tasks -------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time; inside a task's completion, that task's end time."""
        return self._now_override if self._now_override is not None else self.clock.now()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and complete whatever is due."""
        self.clock.advance(seconds)
        self.tick()

    def tick(self) -> None:
        """Finish, in end-time order, every running task whose end time has passed."""
        if self._ticking:  # a task's completion reads state; do not re-enter
            return
        self._ticking = True
        try:
            now = self.clock.now()
            while self._pending and self._pending[0][0] <= now:
                _end, _pid, task = heapq.heappop(self._pending)
                if task.running:
                    self._complete(task, task.ends_at)
        finally:
            self._ticking = False

    def _complete(self, task: Task, at: float, result: TaskResult | None = None) -> None:
        self._now_override = at
        ticking, self._ticking = self._ticking, True
        try:
            if result is None:
                result = task.finish(task) if task.finish is not None else TaskResult()
        except Exception as exc:  # a simulator bug must not wedge the task forever
            self.internal_errors.append(f"task {task.upid}: {exc!r}")
            result = TaskResult(error=f"internal simulator error: {exc}")
        finally:
            self._now_override = None
            self._ticking = ticking
        task.lines.extend(result.lines)
        for w in result.warnings:
            task.lines.append(f"WARN: {w}")
        if result.error is not None:
            err = " ".join(result.error.rstrip("\n").split("\n"))
            task.lines.append(f"TASK ERROR: {err}")
            task.exitstatus = err
        elif result.warnings:
            task.lines.append(f"TASK WARNINGS: {len(result.warnings)}")
            task.exitstatus = f"WARNINGS: {len(result.warnings)}"
        else:
            task.lines.append("TASK OK")
            task.exitstatus = "OK"
        task.endtime = max(int(at), task.starttime)
        self.task_files(task.node).archived(task)  # the reaper archives at once (active_workers($upid))
        self.counters[f"task:{task.type}:{'ok' if result.error is None else 'error'}"] += 1

    def duration(self, task_type: str) -> float:
        """Configured duration of a task type, with the seeded spread applied."""
        base = self.task_durations.get(task_type, 1.0)
        if self.duration_spread > 0:
            base *= self._rng.uniform(1 - self.duration_spread, 1 + self.duration_spread)
        return max(base, 0.0)

    def start_task(
        self,
        node: str,
        task_type: str,
        task_id: str,
        user: str,
        *,
        lines: Sequence[str] = (),
        finish: TaskFinish | None = None,
        duration: float | None = None,
        on_interrupt: Callable[[Task], None] | None = None,
    ) -> Task:
        """Fork a worker: record it and return it; ``finish`` runs at its end time."""
        self._next_pid += 1 + self._rng.randrange(40)
        now = self.now()
        n = self._nodes[node]
        pstart = int((now - n.boot_time) * 100)
        upid = str(
            Upid(
                node=node,
                pid=self._next_pid,
                pstart=pstart,
                starttime=int(now),
                type=task_type,
                id=task_id,
                user=user,
            )
        )
        task = Task(
            upid=upid,
            node=node,
            pid=self._next_pid,
            pstart=pstart,
            starttime=int(now),
            type=task_type,
            id=task_id,
            user=user,
            started=now,
            ends_at=now + (self.duration(task_type) if duration is None else duration),
            lines=list(lines),
            finish=finish,
            on_interrupt=on_interrupt,
        )
        self._tasks.append(task)
        self._tasks_by_upid[upid] = task
        self.task_files(node).started(task)
        heapq.heappush(self._pending, (task.ends_at, task.pid, task))
        self.counters[f"task:{task_type}:started"] += 1
        return task

    def interrupt(self, task: Task) -> None:
        """Stop a running task as ``DELETE /nodes/{node}/tasks/{upid}`` does."""
        if not task.running:
            return
        if task.on_interrupt is not None:
            task.on_interrupt(task)
        self._complete(task, self.clock.now(), TaskResult(error="received interrupt"))

    def task_failure_roll(self) -> bool:
        """Seeded draw against ``faults.task_failure_rate``."""
        return self.faults.task_failure_rate > 0 and self._fault_rng.random() < self.faults.task_failure_rate

    def task_warning_roll(self) -> bool:
        """Seeded draw against ``faults.task_warning_rate``."""
        return self.faults.task_warning_rate > 0 and self._fault_rng.random() < self.faults.task_warning_rate

    def fault_rng(self) -> random.Random:
        """The seeded random source for request faults."""
        return self._fault_rng

    # --- state accessors (tick first) -------------------------------------------------------------

    @property
    def nodes(self) -> dict[str, Node]:
        """Cluster nodes by name."""
        return self._nodes

    @property
    def containers(self) -> dict[int, Container]:
        """All containers by vmid (tasks due by now are completed first)."""
        self.tick()
        return self._containers

    @property
    def tasks(self) -> list[Task]:
        """All tasks, oldest first (tasks due by now are completed first)."""
        self.tick()
        return self._tasks

    def task_files(self, node: str) -> TaskFiles:
        """The node's active task list and archive index, as ``GET /nodes/{node}/tasks`` reads them."""
        files = self._task_files.get(node)
        if files is None:
            files = self._task_files[node] = TaskFiles()
        return files

    def task(self, upid: str) -> Task | None:
        """The task with this UPID, if the simulator started it."""
        self.tick()
        return self._tasks_by_upid.get(upid)

    def storage(self, node: str, name: str) -> Storage:
        """A node's view of a storage (change ``capacity`` to simulate a full disk)."""
        return self._nodes[node].storages[name]

    # --- test helpers ----------------------------------------------------------------------------

    def add_token(
        self,
        token_id: str,
        secret: str,
        privileges: dict[str, set[str]] | None = None,
        *,
        expire: int = 0,
    ) -> Credential:
        """Register an API token ``user@realm!name``; ``privileges`` None = everything on ``/``."""
        cred = Credential(userid=token_id, secret=secret, privileges=privileges, expire=expire)
        self.access.tokens[token_id] = cred
        return cred

    def add_user(
        self,
        userid: str,
        password: str,
        privileges: dict[str, set[str]] | None = None,
        *,
        enabled: bool = True,
    ) -> Credential:
        """Register a user for ticket login (``POST /access/ticket``)."""
        cred = Credential(userid=userid, secret=password, privileges=privileges, enabled=enabled)
        self.access.users[userid] = cred
        return cred

    def add_template(self, node: str, storage: str, filename: str, *, ctime: int | None = None) -> Volume:
        """Put a template file on a node's storage (``<storage>:vztmpl/<filename>``)."""
        st = self._nodes[node].storages[storage]
        volid = f"{storage}:vztmpl/{filename}"
        size = 90 * MiB + (sum(filename.encode()) * 7919) % (160 * MiB)
        vol = Volume(
            volid=volid,
            content="vztmpl",
            size=size,
            ctime=int(self.now()) if ctime is None else ctime,
            format=template_format(filename),
        )
        st.volumes[volid] = vol
        return vol

    def add_shared_storage(
        self,
        name: str,
        *,
        type: str = "nfs",
        content: Sequence[str] = ("vztmpl", "rootdir", "backup", "iso"),
        capacity: int = 2048 * GiB,
    ) -> Storage:
        """A storage with the same contents on every node (``shared: 1`` — nfs, cephfs, …).

        Every node sees the one :class:`Storage` object, so a volume added through any node is there for
        all of them (pve-storage ``Plugin.pm``: ``@SHARED_STORAGE`` types are marked shared).
        """
        path = f"/mnt/pve/{name}" if type in ("nfs", "cifs", "cephfs", "dir", "glusterfs") else None
        st = Storage(name=name, type=type, content=set(content), capacity=capacity, path=path, shared=True)
        for node in self._nodes.values():
            node.storages[name] = st
        return st

    def add_pool(self, poolid: str, comment: str = "", *, vms: Sequence[int] = ()) -> Pool:
        """Create a resource pool (``pveum pool add``), optionally with member guests."""
        pool = Pool(poolid=poolid, comment=comment, vms=set(vms))
        self.pools[poolid] = pool
        return pool

    def pool_of(self, vmid: int) -> str | None:
        """The pool a guest belongs to (a guest is in at most one pool)."""
        return next((p.poolid for p in self.pools.values() if vmid in p.vms), None)

    def remove_template(self, node: str, storage: str, filename: str) -> None:
        """Delete a template from a node's storage."""
        self._nodes[node].storages[storage].volumes.pop(f"{storage}:vztmpl/{filename}", None)

    def add_container(
        self, vmid: int, node: str = "pve", status: str = "stopped", **config: Any
    ) -> Container:
        """Create a container directly (no task). Config keys use API names; defaults as on create."""
        if vmid in self._containers:
            raise ValueError(f"CT {vmid} already exists")
        conf: dict[str, Any] = {
            "arch": "amd64",
            "hostname": f"ct{vmid}",
            "memory": 512,
            "swap": 512,
            "ostype": "debian",
            "unprivileged": 1,
        }
        rootfs_size = 8
        if "rootfs" not in config:
            conf["rootfs"] = self.allocate_disk(node, "local-lvm", vmid, rootfs_size * GiB, "rootdir")
        if "net0" not in config:
            conf["net0"] = f"name=eth0,bridge=vmbr0,hwaddr={self.new_mac()},ip=dhcp,type=veth"
        conf.update({k.replace("_", "-") if k == "ssh_public_keys" else k: v for k, v in config.items()})
        now = self.now()
        ct = Container(vmid=vmid, node=node, config=conf, created_at=now - 3600, stats_from=now - 3600)
        self._containers[vmid] = ct
        if status == "running":
            self.set_running(ct, now - 600)
        return ct

    # --- shared mechanics used by the endpoint handlers ------------------------------------------

    def new_mac(self) -> str:
        """A fresh ``BC:24:11:xx:xx:xx`` address (Proxmox's OUI), seeded and unique."""
        while True:
            mac = "BC:24:11:" + ":".join(f"{self._rng.randrange(256):02X}" for _ in range(3))
            if mac not in self._macs:
                self._macs.add(mac)
                return mac

    def allocate_disk(self, node: str, storage: str, vmid: int, size: int, content: str) -> str:
        """Create ``vm-<vmid>-disk-<n>`` on a storage; return the config value (``volid,size=…``)."""
        st = self._nodes[node].storages[storage]
        n = 0
        while True:
            name = f"vm-{vmid}-disk-{n}"
            volid = f"{storage}:{vmid}/{name}.raw" if st.type == "dir" else f"{storage}:{name}"
            if volid not in st.volumes:
                break
            n += 1
        st.volumes[volid] = Volume(
            volid=volid,
            content=content,
            size=size,
            ctime=int(self.now()),
            format="raw",
            vmid=vmid,
        )
        return f"{volid},size={format_size(size)}"

    def free_disks(self, vmid: int, node: str) -> list[str]:
        """Remove every volume of ``vmid`` on the node; return the removed volids."""
        removed = []
        for st in self._nodes[node].storages.values():
            for volid in [v for v, vol in st.volumes.items() if vol.vmid == vmid]:
                del st.volumes[volid]
                removed.append(volid)
        return removed

    def set_running(self, ct: Container, since: float) -> None:
        """Mark ``ct`` running since ``since`` (simulated time)."""
        ct.status = "running"
        ct.running_since = since
        ct.suspended = False
        self._next_pid += 1 + self._rng.randrange(40)
        ct.pid = self._next_pid

    def set_stopped(self, ct: Container) -> None:
        """Mark ``ct`` stopped."""
        ct.status = "stopped"
        ct.running_since = None
        ct.pid = 0

    def dhcp_address(self, bridge: str, mac: str) -> str:
        """The deterministic DHCP lease for a MAC on a bridge: ``10.20.<bridge#>.<n>/24``."""
        key = (bridge, mac.lower())
        if key not in self._leases:
            digits = "".join(ch for ch in bridge if ch.isdigit())
            third = int(digits) % 256 if digits else 0
            used = sum(1 for (b, _m) in self._leases if b == bridge)
            self._leases[key] = f"10.20.{third}.{100 + used % 150}/24"
        return self._leases[key]

    def stats_tick_after(self, t: float) -> float:
        """The first stats broadcast (pvestatd, every ``stats_interval`` s) strictly after ``t``."""
        iv = self.stats_interval
        return (math.floor(t / iv) + 1) * iv if iv > 0 else t

    def register_container(self, ct: Container) -> None:
        """Add a container created through the API (``create_and_lock_config``)."""
        self._containers[ct.vmid] = ct

    def drop_container(self, vmid: int) -> None:
        """Remove a container's config (and, as ``remove_vm_access`` does, its pool membership)."""
        self._containers.pop(vmid, None)
        for pool in self.pools.values():
            pool.vms.discard(vmid)

    def aplinfo(self) -> tuple[dict[str, str], ...]:
        """The downloadable appliance list."""
        return packaged_aplinfo()


def format_size(size: int) -> str:
    """``PVE::JSONSchema::format_size``: bytes → ``8G``/``512M``/…"""
    kb, rest = divmod(size, 1024)
    if rest:
        return str(size)
    mb, rest = divmod(kb, 1024)
    if rest:
        return f"{kb}K"
    gb, rest = divmod(mb, 1024)
    if rest:
        return f"{mb}M"
    tb, rest = divmod(gb, 1024)
    if rest:
        return f"{gb}G"
    return f"{tb}T"
