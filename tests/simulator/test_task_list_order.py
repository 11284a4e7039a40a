"""``GET /nodes/{node}/tasks`` walks the node's task files as real Proxmox does (pve-manager
``PVE/API2/Tasks.pm``, pve-common ``RESTEnvironment.pm`` ``active_workers``; docs/simulator-fidelity.md):
running tasks first in start order, then finished ones most recently ended first, only as far back as the
last index rotation — not a list sorted by start time."""

from __future__ import annotations

from cardinal_sim.proxmox import Simulator
from cardinal_sim.proxmox.taskfiles import INDEX_MAX_BYTES, index_line
from tests.simulator.conftest import TOKEN, Api


def _start(sim: Simulator, vmid: int, duration: float, node: str = "pve") -> str:
    return sim.start_task(node, "vzstart", str(vmid), TOKEN, duration=duration).upid


async def _upids(api: Api, **params: str) -> list[str]:
    return [t["upid"] for t in (await api.get("/nodes/pve/tasks", params=params)).data]


async def test_running_tasks_first_then_finished_ones_by_end_not_start(api: Api, sim: Simulator) -> None:
    long = _start(sim, 101, 3600)  # oldest start, still running
    sim.advance(1)
    slow = _start(sim, 102, 30)  # started before `quick` but ends after it
    sim.advance(1)
    quick = _start(sim, 103, 5)
    sim.advance(1)
    late = _start(sim, 104, 600)  # newest start, still running
    sim.advance(40)

    assert await _upids(api, source="all") == [long, late, slow, quick]
    assert await _upids(api, source="active") == [long, late]
    assert await _upids(api) == [slow, quick]  # default source=archive: most recently ended first
    # start/limit and since apply along that sequence; total counts every match, not the page.
    page = await api.get("/nodes/pve/tasks", params={"source": "all", "start": "1", "limit": "2"})
    assert [t["upid"] for t in page.data] == [late, slow]
    assert page.json["total"] == 4
    after_long = str((sim.task(slow) or sim.tasks[0]).starttime)
    since = await api.get("/nodes/pve/tasks", params={"source": "all", "since": after_long, "limit": "1"})
    assert [t["upid"] for t in since.data] == [late]
    assert since.json["total"] == 3  # late, slow, quick started at or after `since`


async def test_a_running_task_counts_as_unknown_for_the_status_filter(api: Api, sim: Simulator) -> None:
    running = _start(sim, 101, 3600)
    done = _start(sim, 102, 1)
    sim.advance(2)
    assert await _upids(api, source="all", statusfilter="unknown") == [running]
    assert await _upids(api, source="all", statusfilter="ok") == [done]
    assert await _upids(api, source="all", errors="1") == [running]


async def test_the_index_rotates_by_size_and_older_tasks_leave_the_list(api: Api, sim: Simulator) -> None:
    """Past 50,000 bytes the index becomes index.1 (replacing the old one): a task that ended two
    rotations ago is in no list any more, while its status stays readable."""
    first = _start(sim, 100, 1)
    sim.advance(2)
    line = len(index_line(sim.task(first) or sim.tasks[0]).encode())
    per_file = INDEX_MAX_BYTES // line + 1  # lines until the index is larger than the limit
    ended = [first]
    for i in range(per_file * 2 + 10):
        ended.append(_start(sim, 200 + i, 1))
        sim.advance(2)
    files = sim.task_files("pve")
    assert files.rotations == 2
    listed = await api.get("/nodes/pve/tasks", params={"limit": "100000"})
    upids = [t["upid"] for t in listed.data]
    assert listed.json["total"] == len(upids) == len(files.index) + len(files.index_1)
    assert upids == list(reversed(ended))[: len(upids)]  # newest-ended first, contiguous
    assert first not in upids
    assert len(upids) < len(ended)
    assert (await api.task_status(first))["exitstatus"] == "OK"
    # The index is never larger than the limit after a rotation; index.1 holds one full file.
    assert sum(len(index_line(t).encode()) for t in files.index_1) > INDEX_MAX_BYTES
    assert sum(len(index_line(t).encode()) for t in files.index) <= INDEX_MAX_BYTES


async def test_each_node_has_its_own_task_files(api: Api, sim: Simulator) -> None:
    here = _start(sim, 101, 1)
    _start(sim, 102, 1, node="pve2")
    sim.advance(2)
    assert await _upids(api, source="all") == [here]
