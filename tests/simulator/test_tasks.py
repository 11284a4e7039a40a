"""Tasks and UPIDs (proxmox-api.md §4.5, checklist item 5)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import aiohttp

from bot.proxmox.upid import Upid
from cardinal_sim.proxmox import FaultConfig, Simulator, serve
from tests.simulator.conftest import SECRET, TOKEN, Api

_UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-F]{8}):([0-9A-F]{8,9}):"
    r"([0-9A-F]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
)


async def _started(api: Api, sim: Simulator, vmid: int = 101) -> str:
    sim.add_container(vmid)
    upid: str = (await api.post(f"/nodes/pve/lxc/{vmid}/status/start")).data
    return upid


async def test_upid_format_matches_pve_common(api: Api, sim: Simulator) -> None:
    upid = await _started(api, sim)
    m = _UPID_RE.match(upid)
    assert m is not None
    assert int(m.group(5), 16) == int(sim.now())
    assert str(Upid.parse(upid)) == upid


async def test_exitstatus_absent_while_running(api: Api, sim: Simulator) -> None:
    upid = await _started(api, sim)
    status = await api.task_status(upid)
    assert status["status"] == "running"
    assert "exitstatus" not in status


async def test_task_status_has_no_endtime_and_splits_the_token(api: Api, sim: Simulator) -> None:
    upid = await _started(api, sim)
    sim.advance(5)
    status = await api.task_status(upid)
    assert status["status"] == "stopped"
    assert "endtime" not in status
    assert (status["user"], status["tokenid"]) == ("cardinal@pve", "bot")
    assert set(status) == {
        "upid",
        "node",
        "pid",
        "pstart",
        "starttime",
        "type",
        "id",
        "user",
        "tokenid",
        "status",
        "exitstatus",
    }


async def test_successful_task_ends_with_task_ok(api: Api, sim: Simulator) -> None:
    upid = await _started(api, sim)
    sim.advance(5)
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    assert (await api.task_log(upid))[-1] == "TASK OK"


async def test_task_with_warnings_reports_warnings_count(api: Api, sim: Simulator) -> None:
    sim.faults.task_warning_rate = 1.0
    upid = (await api.create(101)).data
    sim.advance(10)
    assert (await api.task_status(upid))["exitstatus"] == "WARNINGS: 1"
    log = await api.task_log(upid)
    assert log[-1] == "TASK WARNINGS: 1"
    assert any(line.startswith("WARN: ") for line in log)


async def test_failed_task_exitstatus_is_the_error_text(api: Api, sim: Simulator) -> None:
    sim.add_container(101, lock="backup")
    upid = (await api.post("/nodes/pve/lxc/101/status/start")).data
    sim.advance(5)
    assert (await api.task_status(upid))["exitstatus"] == "CT is locked (backup)"
    assert (await api.task_log(upid))[-1] == "TASK ERROR: CT is locked (backup)"


async def test_task_log_paging_n_is_1_based_and_limit_0_returns_all(api: Api, sim: Simulator) -> None:
    upid = (await api.create(101, rootfs="local-lvm:8")).data
    sim.advance(10)
    full = await api.get(f"/nodes/pve/tasks/{upid}/log", params={"limit": "0"})
    total = full.json["total"]
    assert total == len(full.data) > 5
    assert full.data[0]["n"] == 1
    page = await api.get(f"/nodes/pve/tasks/{upid}/log", params={"start": "2", "limit": "2"})
    assert [line["n"] for line in page.data] == [3, 4]
    assert page.json["total"] == total
    default = await api.get(f"/nodes/pve/tasks/{upid}/log")
    assert len(default.data) == min(50, total)


async def test_task_list_defaults_to_finished_only(api: Api, sim: Simulator) -> None:
    done = await _started(api, sim, 101)
    sim.advance(5)
    running = await _started(api, sim, 102)
    archive = await api.get("/nodes/pve/tasks")
    assert [t["upid"] for t in archive.data] == [done]
    assert archive.data[0]["status"] == "OK"
    assert "endtime" in archive.data[0]
    active = await api.get("/nodes/pve/tasks", params={"source": "active"})
    assert [(t["upid"], t["status"]) for t in active.data] == [(running, "RUNNING")]
    assert "endtime" not in active.data[0]
    everything = await api.get("/nodes/pve/tasks", params={"source": "all"})
    assert [t["upid"] for t in everything.data] == [running, done]
    assert everything.json["total"] == 2


async def test_running_parameter_does_not_exist(api: Api) -> None:
    answer = await api.get("/nodes/pve/tasks", params={"running": "1"})
    assert answer.status == 400


async def test_task_list_filters(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    sim.add_container(102, lock="backup")
    start_101 = (await api.post("/nodes/pve/lxc/101/status/start")).data
    sim.advance(5)
    start_102 = (await api.post("/nodes/pve/lxc/102/status/start")).data
    sim.advance(5)
    stop_101 = (await api.post("/nodes/pve/lxc/101/status/stop")).data
    sim.advance(5)

    async def upids(**params: str) -> list[str]:
        answer = await api.get("/nodes/pve/tasks", params=params)
        return [t["upid"] for t in answer.data]

    assert await upids() == [stop_101, start_102, start_101]
    assert await upids(typefilter="vzstart") == [start_102, start_101]
    assert await upids(typefilter="vzst") == []
    assert await upids(vmid="101") == [stop_101, start_101]
    assert await upids(errors="1") == [start_102]
    assert await upids(statusfilter="ok") == [stop_101, start_101]
    assert await upids(userfilter="CARDINAL") == [stop_101, start_102, start_101]
    assert await upids(userfilter="someone") == []
    assert await upids(limit="1", start="1") == [start_102]
    first = Upid.parse(start_101).starttime
    assert await upids(since=str(first + 1)) == [stop_101, start_102]
    assert await upids(until=str(first)) == [start_101]
    paged = await api.get("/nodes/pve/tasks", params={"limit": "1"})
    assert paged.json["total"] == 3


async def test_task_list_shows_only_own_tasks_without_sys_audit(
    api: Api, sim: Simulator, api_as: Callable[[str | None], Api]
) -> None:
    mine = await _started(api, sim)
    sim.add_token("ops@pve!t", "s", {"/vms": {"VM.PowerMgmt", "VM.Audit"}})
    other = api_as("PVEAPIToken=ops@pve!t=s")
    sim.add_container(102)
    theirs = (await other.post("/nodes/pve/lxc/102/status/start")).data
    sim.advance(5)
    listed = await other.get("/nodes/pve/tasks")
    assert [t["upid"] for t in listed.data] == [theirs]
    assert len((await api.get("/nodes/pve/tasks")).data) == 2
    refused = await other.get(f"/nodes/pve/tasks/{mine}/status")
    assert refused.reason == "Permission check failed (/nodes/pve, Sys.Audit)"


async def test_cluster_tasks_lists_running_and_finished(api: Api, sim: Simulator) -> None:
    done = await _started(api, sim, 101)
    sim.advance(5)
    running = await _started(api, sim, 102)
    items = (await api.get("/cluster/tasks")).data
    by_upid = {t["upid"]: t for t in items}
    assert set(by_upid) == {done, running}
    assert by_upid[done]["status"] == "OK"
    assert "endtime" in by_upid[done]
    assert "status" not in by_upid[running]


async def test_delete_task_interrupts_it(api: Api, sim: Simulator) -> None:
    upid = (await api.create(101)).data
    answer = await api.delete(f"/nodes/pve/tasks/{upid}")
    assert answer.json == {"data": None}
    assert (await api.task_status(upid))["exitstatus"] == "received interrupt"
    assert (await api.task_log(upid))[-1] == "TASK ERROR: received interrupt"
    assert 101 not in sim.containers


async def test_unknown_upid_is_no_such_task(api: Api) -> None:
    upid = "UPID:pve:00001234:00005678:6743A1B2:vzstart:101:root@pam:"
    answer = await api.get(f"/nodes/pve/tasks/{upid}/status")
    assert (answer.status, answer.json["errors"]) == (400, {"upid": "no such task"})


async def test_task_must_be_asked_on_its_own_node(api: Api, sim: Simulator) -> None:
    upid = await _started(api, sim)
    answer = await api.get(f"/nodes/pve2/tasks/{upid}/status")
    assert answer.json["errors"] == {"upid": "no such task"}


async def test_unparsable_upid(api: Api) -> None:
    answer = await api.get("/nodes/pve/tasks/not-a-upid/status")
    assert answer.json["errors"] == {"upid": "unable to parse worker upid"}


async def test_task_index_lists_log_and_status(api: Api, sim: Simulator) -> None:
    upid = await _started(api, sim)
    assert (await api.get(f"/nodes/pve/tasks/{upid}")).data == [{"name": "log"}, {"name": "status"}]


async def test_task_durations_are_configurable_with_seeded_spread() -> None:
    a = Simulator(speed=0, seed=3, duration_spread=0.5, task_durations={"vzstart": 10})
    b = Simulator(speed=0, seed=3, duration_spread=0.5, task_durations={"vzstart": 10})
    durations_a = [a.duration("vzstart") for _ in range(5)]
    assert durations_a == [b.duration("vzstart") for _ in range(5)]
    assert all(5 <= d <= 15 for d in durations_a)
    assert len(set(durations_a)) > 1


async def test_accelerated_clock_finishes_tasks_without_advancing(session: aiohttp.ClientSession) -> None:
    sim = Simulator(speed=1000)
    sim.add_token(TOKEN, SECRET)
    running = await serve(sim)
    try:
        api = Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")
        upid = (await api.create(101, features="nesting=1")).data
        for _ in range(200):
            if (await api.task_status(upid))["status"] == "stopped":
                break
            await asyncio.sleep(0.002)
        assert (await api.task_status(upid))["exitstatus"] == "OK"
    finally:
        await running.close()


async def test_faults_config_sets_task_failure_rate_per_seed() -> None:
    sim = Simulator(speed=0, faults=FaultConfig(seed=1, task_failure_rate=0.5))
    draws = [sim.task_failure_roll() for _ in range(40)]
    again = Simulator(speed=0, faults=FaultConfig(seed=1, task_failure_rate=0.5))
    assert draws == [again.task_failure_roll() for _ in range(40)]
    assert 5 < sum(draws) < 35
