"""Containers that move and containers the HA stack manages (pve-container, pve-ha-manager).

What real Proxmox does, reproduced:

* ``POST …/status/start|stop|shutdown`` of an HA-managed CT (``PVE::HA::Config::vm_is_ha_managed``, read
  from the cluster-wide HA config, so on *any* node) forks an ``hastart``/``hastop`` task that only runs
  ``ha-manager set ct:N --state started`` / ``ha-manager crm-command stop ct:N <timeout>``, prints
  ``Requesting HA start|stop for CT N`` and ends ``OK`` at once — before the CT has changed state
  (pve-container ``src/PVE/API2/LXC/Status.pm`` ``vm_start``/``vm_stop``/``vm_shutdown``). The HA stack
  then acts on the node where the CT is: its local resource manager runs the ``vzstart``/``vzstop``/
  ``vzshutdown`` worker as ``root@pam`` one manager round later (:data:`HA_ROUND` seconds, configurable
  through ``task_durations["ha-round"]``).
* ``POST …/snapshot/{snap}/rollback`` with ``start=1`` ends its ``vzrollback`` worker by calling the
  ``vm_start`` API method, which forks a *separate* ``vzstart`` (or, HA-managed, ``hastart``) task
  (``src/PVE/API2/LXC/Snapshot.pm`` ``rollback``): the rollback task ends before the CT is running.
* ``POST …/migrate`` (``src/PVE/API2/LXC.pm`` ``migrate_vm``, ``src/PVE/LXC/Migrate.pm``): ``target``
  equal to the node → 400 ``target is local node.``; an unknown target → 500 ``no such cluster node 'x'``;
  a CT not on this node → 500 ``Configuration file 'nodes/<node>/lxc/<vmid>.conf' does not exist``; a
  running CT without ``online``/``restart`` → 500 ``can't migrate running container without --online or
  --restart``. HA-managed: an ``hamigrate`` task that asks ``ha-manager migrate`` and ends at once (the
  move follows a round later). Otherwise a ``vzmigrate`` task (``lock: migrate`` while it runs) that moves
  the config and local volumes; ``online`` with a running CT fails (``lxc live migration is currently not
  implemented``), ``restart`` stops it, moves it and starts it on the target.
* After a move every call to the old node answers as for an unknown CT: ``Configuration file
  'nodes/<old>/lxc/<vmid>.conf' does not exist`` (``PVE::AbstractConfig::load_config``), and
  ``status/stop|shutdown`` there ``CT N not running`` (``check_running`` is local to the node).

:func:`relocate` moves a CT behind a client's back (an HA failover, or ``pct migrate`` by an operator).
"""

from __future__ import annotations

from collections.abc import Callable

from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.errors import die
from cardinal_sim.proxmox.routes import Ctx, param_exc, route
from cardinal_sim.proxmox.state import Container, Task, TaskResult

__all__ = ["HA_ROUND", "ha_request", "relocate", "start_worker"]

HA_ROUND = 10.0
"""Seconds from an HA request until the local resource manager acts (one CRM/LRM round)."""

HA_USER = "root@pam"
"""The HA stack's workers run as root."""

_HA_WORKER = {"start": "vzstart", "stop": "vzstop", "shutdown": "vzshutdown"}


def _ha_round(sim: Simulator) -> float:
    return sim.task_durations.get("ha-round", HA_ROUND)


def relocate(sim: Simulator, vmid: int, node: str) -> Container:
    """Move CT ``vmid`` to ``node`` at once, keeping its state: its config and its volumes on local
    storages go to the same-named storages there (shared storages stay). Nothing is told to any client."""
    ct = sim.containers[vmid]
    if node not in sim.nodes:
        raise ValueError(f"no such cluster node '{node}'")
    source = sim.nodes[ct.node]
    target = sim.nodes[node]
    for name, st in source.storages.items():
        if st.shared:
            continue
        moving = {volid: vol for volid, vol in st.volumes.items() if vol.vmid == vmid}
        dest = target.storages.get(name)
        for volid, vol in moving.items():
            del st.volumes[volid]
            if dest is not None:
                dest.volumes[volid] = vol
    ct.node = node
    return ct


def _set_state(sim: Simulator, ct: Container, worker: str, at: float) -> None:
    if worker == "vzstart":
        sim.set_running(ct, at)
    else:
        sim.set_stopped(ct)


def start_worker(
    sim: Simulator, ct: Container, node: str, user: str, *, lines: list[str] | None = None
) -> Task:
    """``vm_start`` as the API runs it: ``hastart`` for HA-managed CTs, else a ``vzstart`` worker on
    ``node`` that starts the CT if it is still there when it ends."""
    if ct.ha_managed:
        return ha_request(sim, ct, node, "start", user)
    vmid = ct.vmid

    def finish(task: Task) -> TaskResult:
        here = sim.containers.get(vmid)
        if here is None or here.node != node:
            return TaskResult(error=f"Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist")
        sim.set_running(here, task.ends_at)
        return TaskResult()

    return sim.start_task(node, "vzstart", str(vmid), user, lines=lines or [], finish=finish)


def ha_request(sim: Simulator, ct: Container, node: str, verb: str, user: str) -> Task:
    """An ``hastart``/``hastop`` task on ``node`` that ends ``OK`` at once; one HA round later the HA stack
    runs the real worker on the node where the CT is then."""
    vmid = ct.vmid
    task_type = "hastart" if verb == "start" else "hastop"
    word = "start" if verb == "start" else "stop"
    worker = _HA_WORKER[verb]

    def finish(task: Task) -> TaskResult:
        here = sim.containers.get(vmid)
        if here is not None:
            _lrm_worker(sim, here, worker, delay=_ha_round(sim))
        return TaskResult()

    return sim.start_task(
        node, task_type, str(vmid), user, lines=[f"Requesting HA {word} for CT {vmid}"], finish=finish
    )


def _lrm_worker(sim: Simulator, ct: Container, worker: str, *, delay: float) -> Task:
    vmid = ct.vmid

    def finish(task: Task) -> TaskResult:
        here = sim.containers.get(vmid)
        if here is None:
            return TaskResult(error=f"Configuration file 'nodes/{task.node}/lxc/{vmid}.conf' does not exist")
        _set_state(sim, here, worker, task.ends_at)
        return TaskResult()

    return sim.start_task(
        ct.node, worker, str(vmid), HA_USER, finish=finish, duration=delay + sim.duration(worker)
    )


@route("POST", "/nodes/{node}/lxc/{vmid}/migrate")
async def lxc_migrate(ctx: Ctx) -> str:
    """``vzmigrate`` (``hamigrate`` for HA-managed CTs)."""
    sim, vmid, node = ctx.sim, ctx.vmid, ctx.node
    target = str(ctx.params["target"])
    if target == node:
        raise param_exc({"target": "target is local node."})
    if target not in sim.nodes:
        raise die(f"no such cluster node '{target}'")
    ct = ctx.load_config()
    online = bool(ctx.params.get("online", False))
    restart = bool(ctx.params.get("restart", False))
    if ct.running and not online and not restart:
        raise die("can't migrate running container without --online or --restart")
    if ct.ha_managed:
        return _ha_migrate(sim, ct, node, target, ctx.userid).upid
    if ct.lock is not None:
        error: str | None = f"CT is locked ({ct.lock})"
    elif ct.running and online:
        error = "lxc live migration is currently not implemented"
    else:
        error = None
    if error is not None:
        return sim.start_task(
            node, "vzmigrate", str(vmid), ctx.userid, finish=_fails(error), duration=0.2
        ).upid
    was_running = ct.running
    lines = [f"starting migration of CT {vmid} to node '{target}'"]
    if was_running:
        lines.append(f"shutdown CT {vmid}")
        sim.set_stopped(ct)
    ct.config["lock"] = "migrate"

    def finish(task: Task) -> TaskResult:
        ct.config.pop("lock", None)
        relocate(sim, vmid, target)
        out = ["start final cleanup", "migration finished successfully"]
        if was_running:
            start_worker(sim, ct, target, task.user)
        return TaskResult(lines=out)

    def interrupted(_task: Task) -> None:
        ct.config.pop("lock", None)

    return sim.start_task(
        node, "vzmigrate", str(vmid), ctx.userid, lines=lines, finish=finish, on_interrupt=interrupted
    ).upid


def _fails(error: str) -> Callable[[Task], TaskResult]:
    def finish(_task: Task) -> TaskResult:
        return TaskResult(error=error)

    return finish


def _ha_migrate(sim: Simulator, ct: Container, node: str, target: str, user: str) -> Task:
    """``ha-manager migrate ct:N <target>``; a round later the HA stack moves it (stopping and starting a
    running CT on the way: containers are relocated)."""
    vmid = ct.vmid

    def finish(_task: Task) -> TaskResult:
        here = sim.containers.get(vmid)
        if here is not None:
            _ha_move(sim, here, target)
        return TaskResult()

    return sim.start_task(
        node,
        "hamigrate",
        str(vmid),
        user,
        lines=[f"Requesting HA migration for CT {vmid} to node {target}"],
        finish=finish,
    )


def _ha_move(sim: Simulator, ct: Container, target: str) -> Task:
    vmid = ct.vmid
    was_running = ct.running

    def finish(task: Task) -> TaskResult:
        here = sim.containers.get(vmid)
        if here is None:
            return TaskResult(error=f"Configuration file 'nodes/{task.node}/lxc/{vmid}.conf' does not exist")
        if was_running:
            sim.set_stopped(here)
        relocate(sim, vmid, target)
        if was_running:
            sim.set_running(here, task.ends_at)
        return TaskResult(lines=["migration finished successfully"])

    return sim.start_task(
        ct.node,
        "vzmigrate",
        str(vmid),
        HA_USER,
        finish=finish,
        duration=_ha_round(sim) + sim.duration("vzmigrate"),
    )
