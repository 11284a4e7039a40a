"""Container lifecycle: create, config, destroy, status, power (proxmox-api.md §4.6–4.10, items 4, 7)."""

from __future__ import annotations

import asyncio
import re

from bot.proxmox.upid import Upid
from cardinal_sim.proxmox import Simulator
from tests.simulator.conftest import Api

# --- create ------------------------------------------------------------------------------------------


async def test_create_with_used_vmid_fails_synchronously_with_500(api: Api, sim: Simulator) -> None:
    sim.add_container(101, node="pve2")
    tasks_before = len(sim.tasks)
    answer = await api.create(101)
    assert (answer.status, answer.reason) == (500, "CT 101 already exists on node 'pve2'")
    assert len(sim.tasks) == tasks_before


async def test_create_reserves_vmid_with_lock_create_and_returns_vzcreate_upid(api: Api) -> None:
    answer = await api.create(101)
    upid = Upid.parse(answer.data)
    assert (upid.node, upid.type, upid.id, upid.user) == ("pve", "vzcreate", "101", "cardinal@pve!bot")
    config = await api.get("/nodes/pve/lxc/101/config")
    assert config.data["lock"] == "create"
    status = await api.get("/nodes/pve/lxc/101/status/current")
    assert status.data["lock"] == "create"


async def test_nextid_skips_a_vmid_reserved_by_create(api: Api) -> None:
    await api.create(100)
    answer = await api.get("/cluster/nextid")
    assert answer.data == "101"


async def test_create_finishes_and_removes_the_lock(api: Api, sim: Simulator) -> None:
    upid = (await api.create(101, features="nesting=1")).data
    sim.advance(8)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    config = (await api.get("/nodes/pve/lxc/101/config")).data
    assert "lock" not in config


async def test_create_applies_defaults(api: Api, sim: Simulator) -> None:
    await api.create(101, rootfs="local-lvm:8", net0="name=eth0,bridge=vmbr0,ip=dhcp,firewall=1")
    sim.advance(10)
    config = (await api.get("/nodes/pve/lxc/101/config")).data
    assert config["hostname"] == "CT101"
    assert (config["memory"], config["swap"], config["unprivileged"]) == (512, 512, 1)
    assert config["rootfs"] == "local-lvm:vm-101-disk-0,size=8G"
    assert re.fullmatch(
        r"name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11(:[0-9A-F]{2}){3},ip=dhcp,type=veth",
        config["net0"],
    )
    assert re.fullmatch(r"[0-9a-f]{40}", config["digest"])


async def test_create_default_rootfs_is_storage_4g(api: Api, sim: Simulator) -> None:
    await api.create(101, storage="local-lvm")
    sim.advance(10)
    assert sim.containers[101].config["rootfs"] == "local-lvm:vm-101-disk-0,size=4G"


async def test_create_with_missing_template_fails_in_task_and_removes_config(
    api: Api, sim: Simulator
) -> None:
    upid = (await api.create(101, ostemplate="local:vztmpl/nope_1.0_amd64.tar.zst")).data
    sim.advance(10)
    status = await api.task_status(upid)
    assert (
        status["exitstatus"]
        == "unable to create CT 101 - volume 'local:vztmpl/nope_1.0_amd64.tar.zst' does not exist"
    )
    assert (await api.task_log(upid))[-1] == f"TASK ERROR: {status['exitstatus']}"
    missing = await api.get("/nodes/pve/lxc/101/config")
    assert missing.reason == "Configuration file 'nodes/pve/lxc/101.conf' does not exist"


async def test_create_on_full_storage_fails_with_not_enough_space(api: Api, sim: Simulator) -> None:
    store = sim.storage("pve", "local-lvm")
    store.capacity = store.used + 2 * (1 << 30)
    upid = (await api.create(101, rootfs="local-lvm:8")).data
    sim.advance(10)
    exitstatus = (await api.task_status(upid))["exitstatus"]
    assert exitstatus.startswith("unable to create CT 101 - lvcreate 'pve/vm-101-disk-0' error:")
    assert "insufficient free space" in exitstatus
    assert 101 not in sim.containers


async def test_create_on_unknown_storage_is_refused_synchronously(api: Api) -> None:
    answer = await api.create(101, storage="tank")
    assert (answer.status, answer.reason) == (500, "storage 'tank' does not exist")


async def test_storage_without_rootdir_is_a_param_error(api: Api, sim: Simulator) -> None:
    sim.storage("pve", "local").content.discard("rootdir")
    answer = await api.create(101)
    assert answer.json["errors"] == {"storage": "storage 'local' does not support container directories"}


async def test_create_with_start_starts_in_same_task(api: Api, sim: Simulator) -> None:
    upid = (await api.create(101, start="1", features="nesting=1")).data
    sim.advance(10)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    assert sim.containers[101].status == "running"
    assert [t.type for t in sim.tasks] == ["vzcreate"]


async def test_locked_container_refuses_destroy_immediately(api: Api) -> None:
    await api.create(101)
    answer = await api.delete("/nodes/pve/lxc/101")
    assert (answer.status, answer.reason) == (500, "CT is locked (create)")


async def test_start_of_locked_container_returns_upid_and_task_fails(api: Api, sim: Simulator) -> None:
    await api.create(101)
    answer = await api.post("/nodes/pve/lxc/101/status/start")
    assert answer.status == 200
    sim.advance(1)
    assert (await api.task_status(answer.data))["exitstatus"] == "CT is locked (create)"


async def test_put_config_during_create_times_out_on_the_config_lock(api: Api, sim: Simulator) -> None:
    sim.task_durations["vzcreate"] = 60
    await api.create(101)
    put = asyncio.ensure_future(api.put("/nodes/pve/lxc/101/config", data={"memory": "1024"}))
    for _ in range(200):
        if put.done() or any(r.method == "PUT" for r in sim.request_log):
            break
        await asyncio.sleep(0.005)
        sim.advance(1)
    answer = await asyncio.wait_for(put, timeout=5)
    assert answer.reason == "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout"


async def test_create_task_can_fail_by_rate(api: Api, sim: Simulator) -> None:
    sim.faults.task_failure_rate = 1.0
    upid = (await api.create(101)).data
    sim.advance(10)
    assert (await api.task_status(upid))["exitstatus"].startswith("unable to create CT 101 - command ")
    assert 101 not in sim.containers


async def test_create_log_is_realistic(api: Api, sim: Simulator) -> None:
    upid = (await api.create(101, rootfs="local-lvm:8", features="nesting=1")).data
    sim.advance(10)
    log = await api.task_log(upid)
    assert log[0] == '  Logical volume "vm-101-disk-0" created.'
    assert "extracting archive '/var/lib/vz/template/cache/debian-12-standard_12.12-1_amd64.tar.zst'" in log
    assert log[-1] == "TASK OK"


# --- config ------------------------------------------------------------------------------------------


async def test_put_config_is_synchronous_and_returns_null(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    answer = await api.put("/nodes/pve/lxc/101/config", data={"memory": "2048", "cores": "2"})
    assert answer.json == {"data": None}
    config = (await api.get("/nodes/pve/lxc/101/config")).data
    assert (config["memory"], config["cores"]) == (2048, 2)
    assert sim.tasks == []


async def test_put_config_with_stale_digest_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    digest = (await api.get("/nodes/pve/lxc/101/config")).data["digest"]
    assert (
        await api.put("/nodes/pve/lxc/101/config", data={"memory": "1024", "digest": digest})
    ).status == 200
    stale = await api.put("/nodes/pve/lxc/101/config", data={"memory": "2048", "digest": digest})
    assert (stale.status, stale.reason) == (
        500,
        "detected modified configuration - file changed by other user? Try again.",
    )


async def test_put_config_delete_removes_keys(api: Api, sim: Simulator) -> None:
    sim.add_container(101, tags="a;b", description="hello")
    answer = await api.put("/nodes/pve/lxc/101/config", data={"delete": "tags,description"})
    assert answer.status == 200
    config = (await api.get("/nodes/pve/lxc/101/config")).data
    assert "tags" not in config
    assert "description" not in config


async def test_put_config_delete_of_unknown_option_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    answer = await api.put("/nodes/pve/lxc/101/config", data={"delete": "nonsense"})
    assert answer.json["errors"] == {"delete": "unknown option 'nonsense'"}


async def test_put_config_without_options_fails(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    answer = await api.put("/nodes/pve/lxc/101/config")
    assert (answer.status, answer.reason) == (500, "no options specified")


async def test_put_config_on_locked_container_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101, lock="backup")
    answer = await api.put("/nodes/pve/lxc/101/config", data={"memory": "1024"})
    assert answer.reason == "CT is locked (backup)"


async def test_put_config_adds_mac_to_new_network_device(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    await api.put("/nodes/pve/lxc/101/config", data={"net1": "name=eth1,bridge=vmbr1,ip=10.1.2.3/24"})
    assert re.fullmatch(
        r"name=eth1,bridge=vmbr1,hwaddr=BC:24:11(:[0-9A-F]{2}){3},ip=10.1.2.3/24,type=veth",
        sim.containers[101].config["net1"],
    )


async def test_config_of_missing_ct_reports_missing_config_file(api: Api) -> None:
    answer = await api.get("/nodes/pve/lxc/999/config")
    assert (answer.status, answer.reason) == (
        500,
        "Configuration file 'nodes/pve/lxc/999.conf' does not exist",
    )


async def test_ct_on_another_node_is_missing_here(api: Api, sim: Simulator) -> None:
    sim.add_container(101, node="pve2")
    answer = await api.get("/nodes/pve/lxc/101/status/current")
    assert answer.reason == "Configuration file 'nodes/pve/lxc/101.conf' does not exist"


# --- destroy -----------------------------------------------------------------------------------------


async def test_destroy_running_without_force_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    answer = await api.delete("/nodes/pve/lxc/101")
    assert (answer.status, answer.reason) == (500, "unable to destroy CT 101 - container is running")


async def test_destroy_with_force_stops_and_removes(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    upid = (await api.delete("/nodes/pve/lxc/101", params={"force": "1", "purge": "1"})).data
    assert Upid.parse(upid).type == "vzdestroy"
    sim.advance(5)
    log = await api.task_log(upid)
    assert log[0] == "forced to stop CT 101 before destroying!"
    assert "purging CT 101 from related configurations.." in log
    assert log[-1] == "TASK OK"
    assert 101 not in sim.containers
    assert not any(v.vmid == 101 for v in sim.storage("pve", "local-lvm").volumes.values())


async def test_destroy_protected_ct_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101, protection=1)
    answer = await api.delete("/nodes/pve/lxc/101")
    assert answer.reason == "can't remove CT 101 - protection mode enabled"


# --- status and power --------------------------------------------------------------------------------


async def test_restart_is_not_implemented(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    answer = await api.post("/nodes/pve/lxc/101/status/restart")
    assert (answer.status, answer.reason) == (
        501,
        "Method 'POST /nodes/pve/lxc/101/status/restart' not implemented",
    )


async def test_reboot_on_stopped_ct_says_vm_not_running(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    answer = await api.post("/nodes/pve/lxc/101/status/reboot")
    assert (answer.status, answer.reason) == (500, "VM 101 not running")


async def test_start_on_running_ct_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    answer = await api.post("/nodes/pve/lxc/101/status/start")
    assert (answer.status, answer.reason) == (500, "CT 101 already running")


async def test_stop_and_shutdown_on_stopped_ct_are_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    for action in ("stop", "shutdown", "suspend"):
        answer = await api.post(f"/nodes/pve/lxc/101/status/{action}")
        assert (answer.status, answer.reason) == (500, "CT 101 not running"), action


async def test_resume_on_running_ct_is_refused(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    answer = await api.post("/nodes/pve/lxc/101/status/resume")
    assert answer.reason == "CT 101 already running"


async def test_start_stop_shutdown_reboot_tasks(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    for action, task_type, after in (
        ("start", "vzstart", "running"),
        ("reboot", "vzreboot", "running"),
        ("shutdown", "vzshutdown", "stopped"),
        ("start", "vzstart", "running"),
        ("stop", "vzstop", "stopped"),
    ):
        upid = (await api.post(f"/nodes/pve/lxc/101/status/{action}")).data
        assert Upid.parse(upid).type == task_type
        sim.advance(10)
        assert (await api.task_status(upid))["exitstatus"] == "OK"
        assert (await api.get("/nodes/pve/lxc/101/status/current")).data["status"] == after


async def test_suspend_and_resume(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    upid = (await api.post("/nodes/pve/lxc/101/status/suspend")).data
    sim.advance(5)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    upid = (await api.post("/nodes/pve/lxc/101/status/resume")).data
    sim.advance(5)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    assert sim.containers[101].status == "running"


async def test_start_of_unknown_ct_returns_upid_and_fails(api: Api, sim: Simulator) -> None:
    answer = await api.post("/nodes/pve/lxc/999/status/start")
    assert answer.status == 200
    sim.advance(1)
    assert (await api.task_status(answer.data))["exitstatus"] == (
        "Configuration file 'nodes/pve/lxc/999.conf' does not exist"
    )


async def test_start_with_unknown_bridge_fails_in_task(api: Api, sim: Simulator) -> None:
    sim.add_container(101, net0="name=eth0,bridge=vmbr9,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth")
    upid = (await api.post("/nodes/pve/lxc/101/status/start")).data
    sim.advance(5)
    assert (await api.task_status(upid))["exitstatus"] == "bridge 'vmbr9' does not exist"


async def test_skiplock_is_for_root_only(api: Api, sim: Simulator) -> None:
    sim.add_container(101, lock="backup")
    answer = await api.post("/nodes/pve/lxc/101/status/start", data={"skiplock": "1"})
    assert answer.json["errors"] == {"skiplock": "Only root may use this option."}


async def test_status_current_of_stopped_ct_has_zero_usage(api: Api, sim: Simulator) -> None:
    sim.add_container(101, memory=1024, swap=256, hostname="web-1", tags="a;b")
    data = (await api.get("/nodes/pve/lxc/101/status/current")).data
    for key in ("uptime", "cpu", "mem", "swap", "netin", "netout", "diskread", "diskwrite", "disk"):
        assert data[key] == 0, key
    assert "pid" not in data
    assert (data["maxmem"], data["maxswap"], data["maxdisk"]) == (1024 << 20, 256 << 20, 8 << 30)
    assert (data["name"], data["tags"], data["status"], data["vmid"]) == ("web-1", "a;b", "stopped", 101)
    assert data["ha"] == {"managed": 0}


async def test_status_current_of_running_ct_has_pid_and_pressure(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    data = (await api.get("/nodes/pve/lxc/101/status/current")).data
    assert data["status"] == "running"
    assert data["pid"] > 0
    assert data["uptime"] > 0
    assert data["pressurememoryfull"] == 0


async def test_lxc_list_vmid_is_int(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    sim.add_container(102, node="pve2")
    data = (await api.get("/nodes/pve/lxc")).data
    assert [item["vmid"] for item in data] == [101]


async def test_lxc_list_vmid_is_string_before_8_2(api: Api, sim: Simulator) -> None:
    sim.version_tuple = (8, 1, 4)
    sim.add_container(101)
    assert (await api.get("/nodes/pve/lxc")).data[0]["vmid"] == "101"


async def test_ha_managed_ct_gets_hastart_task(api: Api, sim: Simulator) -> None:
    await api.create(101, **{"ha-managed": "1"})
    sim.advance(10)
    upid = (await api.post("/nodes/pve/lxc/101/status/start")).data
    assert Upid.parse(upid).type == "hastart"
    sim.advance(5)
    assert (await api.task_log(upid)) == ["Requesting HA start for CT 101", "TASK OK"]
