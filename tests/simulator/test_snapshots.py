"""Snapshots and disk resize in the simulator: tasks, locks and the refusals pve-container gives."""

from __future__ import annotations

from bot.proxmox.upid import Upid
from cardinal_sim.proxmox import Simulator
from tests.simulator.conftest import Api

BASE = "/nodes/pve/lxc/101"


async def _finish(api: Api, sim: Simulator, upid: str, seconds: float = 5) -> dict[str, object]:
    sim.advance(seconds)
    return await api.task_status(upid)


async def test_snapshot_is_a_vzsnapshot_task_holding_lock_snapshot(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running", cores=1)
    answer = await api.post(f"{BASE}/snapshot", data={"snapname": "before", "description": "pre-upgrade"})
    upid = Upid.parse(answer.data)
    assert (upid.type, upid.id) == ("vzsnapshot", "101")
    assert (await api.get(f"{BASE}/config")).data["lock"] == "snapshot"
    busy = await api.put(f"{BASE}/config", data={"cores": "2"})
    assert (busy.status, busy.reason) == (500, "CT is locked (snapshot)")
    assert (await _finish(api, sim, answer.data))["exitstatus"] == "OK"
    config = (await api.get(f"{BASE}/config")).data
    assert "lock" not in config
    assert config["parent"] == "before"
    listing = (await api.get(f"{BASE}/snapshot")).data
    by_name = {item["name"]: item for item in listing}
    assert by_name["before"]["description"] == "pre-upgrade"
    assert by_name["current"]["description"] == "You are here!"
    assert (by_name["current"]["parent"], by_name["current"]["running"]) == ("before", 1)


async def test_snapshot_names_current_and_vzdump_are_reserved(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    for name in ("current", "vzdump"):
        answer = await api.post(f"{BASE}/snapshot", data={"snapname": name})
        assert (answer.status, answer.reason) == (
            500,
            f"unable to use snapshot name '{name}' (reserved name)",
        )


async def test_invalid_snapshot_name_is_a_parameter_error(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    answer = await api.post(f"{BASE}/snapshot", data={"snapname": "1bad name"})
    assert answer.status == 400
    assert "snapname" in answer.json["errors"]


async def test_snapshot_name_in_use_fails_the_task(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    first = (await api.post(f"{BASE}/snapshot", data={"snapname": "s1"})).data
    await _finish(api, sim, first)
    again = (await api.post(f"{BASE}/snapshot", data={"snapname": "s1"})).data
    assert (await _finish(api, sim, again))["exitstatus"] == "snapshot name 's1' already used"


async def test_snapshot_of_locked_ct_fails_the_task(api: Api, sim: Simulator) -> None:
    sim.add_container(101, lock="backup")
    upid = (await api.post(f"{BASE}/snapshot", data={"snapname": "s1"})).data
    assert (await _finish(api, sim, upid))["exitstatus"] == "CT is locked (backup)"


async def test_snapshot_on_dir_storage_is_not_available(api: Api, sim: Simulator) -> None:
    sim.add_container(101, rootfs="local:101/vm-101-disk-0.raw,size=8G")
    upid = (await api.post(f"{BASE}/snapshot", data={"snapname": "s1"})).data
    assert (await _finish(api, sim, upid))["exitstatus"] == "snapshot feature is not available"


async def test_rollback_restores_config_and_disk_size_and_stops_the_ct(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running", cores=1, memory=512)
    await _finish(api, sim, (await api.post(f"{BASE}/snapshot", data={"snapname": "s1"})).data)
    await api.put(f"{BASE}/config", data={"cores": "4", "memory": "2048"})
    await _finish(api, sim, (await api.put(f"{BASE}/resize", data={"disk": "rootfs", "size": "+2G"})).data)
    assert "size=10G" in sim.containers[101].config["rootfs"]
    answer = await api.post(f"{BASE}/snapshot/s1/rollback")
    assert Upid.parse(answer.data).type == "vzrollback"
    assert (await api.get(f"{BASE}/config")).data["lock"] == "rollback"
    assert (await _finish(api, sim, answer.data))["exitstatus"] == "OK"
    config = (await api.get(f"{BASE}/config")).data
    assert (config["cores"], config["memory"], config["rootfs"]) == (
        1,
        512,
        "local-lvm:vm-101-disk-0,size=8G",
    )
    assert "lock" not in config
    assert not sim.containers[101].running
    status = (await api.get(f"{BASE}/status/current")).data
    assert status["maxdisk"] == 8 << 30


async def test_rollback_with_start_starts_the_ct_in_a_separate_vzstart_task(api: Api, sim: Simulator) -> None:
    # Snapshot.pm rollback: the worker calls the vm_start API method, which forks its own task.
    sim.add_container(101, status="running")
    await _finish(api, sim, (await api.post(f"{BASE}/snapshot", data={"snapname": "s1"})).data)
    upid = (await api.post(f"{BASE}/snapshot/s1/rollback", data={"start": "1"})).data
    sim.advance(3)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    assert not sim.containers[101].running
    start = next(t for t in sim.tasks if t.type == "vzstart" and t.id == "101")
    assert start.upid != upid
    sim.advance(2)
    assert start.exitstatus == "OK"
    assert sim.containers[101].running


async def test_rollback_to_unknown_snapshot_fails_the_task(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    upid = (await api.post(f"{BASE}/snapshot/nope/rollback")).data
    assert (await _finish(api, sim, upid))["exitstatus"] == "snapshot 'nope' does not exist"


async def test_delete_snapshot_reparents_and_refuses_locked(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    for name in ("s1", "s2"):
        await _finish(api, sim, (await api.post(f"{BASE}/snapshot", data={"snapname": name})).data)
    answer = await api.delete(f"{BASE}/snapshot/s1")
    assert Upid.parse(answer.data).type == "vzdelsnapshot"
    assert (await api.get(f"{BASE}/config")).data["lock"] == "snapshot-delete"
    locked = (await api.delete(f"{BASE}/snapshot/s2")).data
    assert (await _finish(api, sim, locked))["exitstatus"] == "CT is locked (snapshot-delete)"
    assert (await api.task_status(answer.data))["exitstatus"] == "OK"
    listing = {item["name"]: item for item in (await api.get(f"{BASE}/snapshot")).data}
    assert set(listing) == {"s2", "current"}
    assert "parent" not in listing["s2"]
    missing = (await api.delete(f"{BASE}/snapshot/s1")).data
    assert (await _finish(api, sim, missing))["exitstatus"] == "snapshot 's1' does not exist"


async def test_resize_grows_the_disk_in_a_resize_task(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    answer = await api.put(f"{BASE}/resize", data={"disk": "rootfs", "size": "+2G"})
    upid = Upid.parse(answer.data)
    assert (upid.type, upid.id) == ("resize", "101")
    assert (await _finish(api, sim, answer.data))["exitstatus"] == "OK"
    assert (await api.get(f"{BASE}/config")).data["rootfs"] == "local-lvm:vm-101-disk-0,size=10G"
    assert sim.storage("pve", "local-lvm").volumes["local-lvm:vm-101-disk-0"].size == 10 << 30


async def test_resize_refuses_to_shrink_or_stay_the_same_synchronously(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    tasks = len(sim.tasks)
    smaller = await api.put(f"{BASE}/resize", data={"disk": "rootfs", "size": "4G"})
    assert (smaller.status, smaller.reason) == (500, "unable to shrink disk size")
    same = await api.put(f"{BASE}/resize", data={"disk": "rootfs", "size": "8G"})
    assert (same.status, same.reason) == (500, "disk size is already at specified size")
    bad = await api.put(f"{BASE}/resize", data={"disk": "rootfs", "size": "-2G"})
    assert bad.status == 400
    assert len(sim.tasks) == tasks


async def test_resize_of_locked_ct_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101, lock="snapshot")
    answer = await api.put(f"{BASE}/resize", data={"disk": "rootfs", "size": "+1G"})
    assert (answer.status, answer.reason) == (500, "CT is locked (snapshot)")


async def test_snapshot_config_is_readable(api: Api, sim: Simulator) -> None:
    sim.add_container(101, cores=1)
    await _finish(api, sim, (await api.post(f"{BASE}/snapshot", data={"snapname": "s1"})).data)
    await api.put(f"{BASE}/config", data={"cores": "3"})
    assert (await api.get(f"{BASE}/config", params={"snapshot": "s1"})).data["cores"] == 1
