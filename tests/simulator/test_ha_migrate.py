"""Containers that move (``pct migrate``, HA relocation) and HA-managed power requests
(cardinal_sim/proxmox/ha.py; pve-container API2/LXC.pm ``migrate_vm``, API2/LXC/Status.pm)."""

from __future__ import annotations

from bot.proxmox.upid import Upid
from cardinal_sim.proxmox import Simulator
from cardinal_sim.proxmox.ha import HA_ROUND, relocate
from tests.simulator.conftest import Api


def _ha(sim: Simulator, vmid: int, status: str = "stopped") -> None:
    sim.add_container(vmid, status=status)
    sim.containers[vmid].ha_managed = True


# --- HA-managed power requests -----------------------------------------------------------------------


async def test_hastart_ends_ok_before_the_ct_runs(api: Api, sim: Simulator) -> None:
    _ha(sim, 101)
    upid = (await api.post("/nodes/pve/lxc/101/status/start")).data
    assert Upid.parse(upid).type == "hastart"
    sim.advance(2)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    status = (await api.get("/nodes/pve/lxc/101/status/current")).data
    assert status["status"] == "stopped"
    sim.advance(HA_ROUND + 2)
    status = (await api.get("/nodes/pve/lxc/101/status/current")).data
    assert status["status"] == "running"
    worker = next(t for t in sim.tasks if t.type == "vzstart" and t.id == "101")
    assert worker.user == "root@pam"


async def test_hastop_ends_ok_before_the_ct_stops(api: Api, sim: Simulator) -> None:
    _ha(sim, 101, "running")
    upid = (await api.post("/nodes/pve/lxc/101/status/shutdown")).data
    assert Upid.parse(upid).type == "hastop"
    sim.advance(2)
    assert (await api.task_log(upid)) == ["Requesting HA stop for CT 101", "TASK OK"]
    assert sim.containers[101].running
    sim.advance(HA_ROUND + 4)
    assert not sim.containers[101].running


async def test_hastart_is_accepted_on_any_node_and_starts_the_ct_where_it_is(
    api: Api, sim: Simulator
) -> None:
    # vm_is_ha_managed reads the cluster-wide HA config; check_running is local and says "not running".
    _ha(sim, 101)
    relocate(sim, 101, "pve2")
    upid = (await api.post("/nodes/pve/lxc/101/status/start")).data
    assert Upid.parse(upid).node == "pve"
    sim.advance(HA_ROUND + 4)
    assert sim.containers[101].running
    assert sim.containers[101].node == "pve2"


async def test_rollback_start_of_an_ha_ct_is_a_separate_hastart(api: Api, sim: Simulator) -> None:
    _ha(sim, 101, "running")
    snap = (await api.post("/nodes/pve/lxc/101/snapshot", data={"snapname": "s1"})).data
    sim.advance(3)
    assert (await api.task_status(snap))["exitstatus"] == "OK"
    await api.post("/nodes/pve/lxc/101/snapshot/s1/rollback", data={"start": "1"})
    sim.advance(4)
    assert any(t.type == "hastart" and t.id == "101" for t in sim.tasks)
    assert not sim.containers[101].running
    sim.advance(HA_ROUND + 3)
    assert sim.containers[101].running


# --- migrate -----------------------------------------------------------------------------------------


async def test_migrate_refuses_the_local_node_an_unknown_node_and_a_running_ct(
    api: Api, sim: Simulator
) -> None:
    sim.add_container(101, status="running")
    local = await api.post("/nodes/pve/lxc/101/migrate", data={"target": "pve"})
    assert (local.status, local.json["errors"]) == (400, {"target": "target is local node."})
    unknown = await api.post("/nodes/pve/lxc/101/migrate", data={"target": "pve9"})
    assert (unknown.status, unknown.reason) == (500, "no such cluster node 'pve9'")
    running = await api.post("/nodes/pve/lxc/101/migrate", data={"target": "pve2"})
    assert (running.status, running.reason) == (
        500,
        "can't migrate running container without --online or --restart",
    )
    elsewhere = await api.post("/nodes/pve2/lxc/101/migrate", data={"target": "pve"})
    assert (elsewhere.status, elsewhere.reason) == (
        500,
        "Configuration file 'nodes/pve2/lxc/101.conf' does not exist",
    )


async def test_migrate_moves_the_ct_and_the_old_node_no_longer_knows_it(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    upid = (await api.post("/nodes/pve/lxc/101/migrate", data={"target": "pve2"})).data
    assert Upid.parse(upid).type == "vzmigrate"
    assert (await api.get("/nodes/pve/lxc/101/config")).data["lock"] == "migrate"
    sim.advance(6)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    resources = (await api.get("/cluster/resources", params={"type": "vm"})).data
    assert [r["node"] for r in resources if r["vmid"] == 101] == ["pve2"]
    old = await api.get("/nodes/pve/lxc/101/status/current")
    assert (old.status, old.reason) == (500, "Configuration file 'nodes/pve/lxc/101.conf' does not exist")
    config = (await api.get("/nodes/pve2/lxc/101/config")).data
    assert "lock" not in config
    assert config["rootfs"].startswith("local-lvm:vm-101-disk-0")


async def test_restart_migration_starts_the_ct_on_the_target(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    upid = (await api.post("/nodes/pve/lxc/101/migrate", data={"target": "pve2", "restart": "1"})).data
    assert not sim.containers[101].running
    sim.advance(6)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    sim.advance(3)
    assert (sim.containers[101].node, sim.containers[101].running) == ("pve2", True)


async def test_ha_migrate_asks_the_ha_stack_and_the_move_follows(api: Api, sim: Simulator) -> None:
    _ha(sim, 101)
    upid = (await api.post("/nodes/pve/lxc/101/migrate", data={"target": "pve2"})).data
    assert Upid.parse(upid).type == "hamigrate"
    sim.advance(2)
    assert (await api.task_log(upid)) == ["Requesting HA migration for CT 101 to node pve2", "TASK OK"]
    assert sim.containers[101].node == "pve"
    sim.advance(HA_ROUND + 6)
    assert sim.containers[101].node == "pve2"


# --- behind the client's back --------------------------------------------------------------------------


async def test_after_relocation_the_old_node_answers_as_for_an_unknown_ct(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    relocate(sim, 101, "pve2")
    stop = await api.post("/nodes/pve/lxc/101/status/stop")
    assert (stop.status, stop.reason) == (500, "CT 101 not running")
    destroy = await api.delete("/nodes/pve/lxc/101", params={"force": "1", "purge": "1"})
    assert (destroy.status, destroy.reason) == (
        500,
        "Configuration file 'nodes/pve/lxc/101.conf' does not exist",
    )
    here = (await api.get("/nodes/pve2/lxc/101/status/current")).data
    assert here["status"] == "running"
    assert any(v.vmid == 101 for v in sim.nodes["pve2"].storages["local-lvm"].volumes.values())
    assert not any(v.vmid == 101 for v in sim.nodes["pve"].storages["local-lvm"].volumes.values())
