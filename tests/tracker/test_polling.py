"""Polling: one request per node no matter how many tasks, backoff per task, errors handled by kind."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from bot.db import ContainerState, Task, TaskStatus
from bot.events import TaskFailed, TaskSucceeded
from bot.proxmox import CircuitBreaker, ProxmoxClient, RetryPolicy, Timeouts, Upid
from cardinal_sim.proxmox.state import FaultConfig
from tests.tracker.conftest import CHANNEL, TOKEN_ID, World

THREAD = "1690000000.000999"


async def _no_sleep(_delay: float) -> None:
    return None


def _start_task(world: World, node: str, vmid: int, duration: float) -> str:
    """A ``vzstart`` worker on the simulator as if Cardinal's token had started it."""
    return world.sim.start_task(node, "vzstart", str(vmid), TOKEN_ID, duration=duration).upid


async def _row(world: World, task_id: str) -> Task:
    async with world.db.transaction(readonly=True) as tx:
        task = await tx.ledger.get_task(task_id)
    assert task is not None
    return task


async def test_two_hundred_pending_tasks_on_three_nodes_cost_three_requests(world: World) -> None:
    """Polling cost grows with nodes, not tasks: 200 running tasks on 3 nodes → 3 requests per sweep, and
    nothing claimed while they run; plus one status call for a UPID the node lists do not show."""
    tracker = world.tracker()
    nodes = ["pve", "pve2", "pve3"]
    for i in range(200):
        upid = _start_task(world, nodes[i % 3], 300 + i, duration=30 if i % 2 else 3600)
        await tracker.track("start", upid, vmid=300 + i, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    before = len(world.sim.request_log)
    report = await tracker.sweep()
    assert report.claimed == 0
    assert report.proxmox_requests == 3
    assert len(world.sim.request_log) - before == 3
    assert {r.path for r in world.sim.request_log[before:]} == {f"/nodes/{n}/tasks" for n in nodes}
    assert all("since" not in r.params for r in world.sim.request_log[before:])

    # Half of them finish: still three requests, and each finished task is reported at once.
    ghost = Upid.parse(_start_task(world, "pve2", 999, duration=3600))
    unknown = str(Upid(ghost.node, ghost.pid + 1, ghost.pstart, ghost.starttime, "vzstop", "998", ghost.user))
    await tracker.track("stop", unknown, vmid=998, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    world.sim.advance(40)
    before = len(world.sim.request_log)
    report = await tracker.sweep()
    paths = [r.path for r in world.sim.request_log[before:]]
    assert sorted(p for p in paths if p.endswith("/tasks")) == sorted(f"/nodes/{n}/tasks" for n in nodes)
    assert [p for p in paths if not p.endswith("/tasks")] == [f"/nodes/pve2/tasks/{unknown}/status"]
    assert report.status_fallbacks == 1
    assert report.proxmox_requests == 3 + report.status_fallbacks
    assert report.finished == 101
    assert report.notified == 101
    assert len(world.posts_of(TaskSucceeded)) == 100
    (failure,) = world.posts_of(TaskFailed)
    assert failure.event.vmid == 998
    assert "no such task" in failure.event.error

    # The 100 still running: every sweep reads exactly one list per node and claims nothing.
    for _ in range(3):
        world.sim.advance(1)
        before = len(world.sim.request_log)
        report = await tracker.sweep()
        assert (report.proxmox_requests, report.claimed, report.status_fallbacks) == (3, 0, 0)
        assert len(world.sim.request_log) - before == 3
    assert len(world.posts_of(TaskSucceeded)) == 100


async def _ledger(world: World) -> list[tuple[Any, ...]]:
    async with world.db.transaction(readonly=True) as tx:
        tasks = await tx.ledger.pending_tasks(limit=10_000)
    return sorted(
        (t.id, t.status, t.attempts, t.updated_at, t.next_poll_at, t.lease_owner, t.consecutive_errors)
        for t in tasks
    )


async def test_sweeps_over_running_tasks_write_nothing_to_the_ledger(world: World) -> None:
    """Sixty tasks that keep running through twenty sweeps leave their rows exactly as they were (no
    claim, no poll record), while a task that ends among them is claimed, finished and reported."""
    tracker = world.tracker()
    for i in range(60):
        upid = _start_task(world, ("pve", "pve2")[i % 2], 400 + i, duration=3600)
        await tracker.track("start", upid, vmid=400 + i, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    rows = await _ledger(world)
    for _ in range(20):
        world.sim.advance(3)
        report = await tracker.sweep()
        assert (report.claimed, report.proxmox_requests) == (0, 2)
    assert await _ledger(world) == rows

    short = _start_task(world, "pve", 500, duration=1)
    task = await tracker.track("start", short, vmid=500, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    world.sim.advance(3)
    report = await tracker.sweep()
    assert (report.claimed, report.finished, report.notified) == (1, 1, 1)
    assert (await _row(world, task.id)).status is TaskStatus.SUCCEEDED
    assert await _ledger(world) == rows  # the others are still untouched


async def test_an_hour_long_task_does_not_widen_the_node_list(world: World) -> None:
    """One task running for an hour while thousands of other tasks end on its node: each sweep reads one
    page holding the running task and what ended since the previous sweep — not the node's history since
    the long task started."""
    tracker = world.tracker(deadlines={"start": timedelta(hours=2)})
    upid = _start_task(world, "pve", 101, duration=3600)
    await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    items: list[int] = []
    for sweep in range(800):  # 40 minutes of sweeps every 3 s
        for i in range(3):  # other users' work: one task ending per second
            world.sim.start_task("pve", "vzdump", str(6000 + sweep), "backup@pam", duration=1 + i)
        world.sim.advance(3)
        before = world.sim.counters["task_list_items"]
        report = await tracker.sweep()
        assert report.proxmox_requests == 1
        assert "since" not in world.sim.request_log[-1].params
        items.append(world.sim.counters["task_list_items"] - before)
    assert world.sim.task_files("pve").rotations >= 2
    # A sweep sees the long task, up to three ends per 3 s, a margin; the same in the last minute as in
    # the first, though 2,400 tasks ended on the node since the long task began.
    assert max(items[20:]) <= 40
    assert max(items[-20:]) <= max(items[20:40])
    assert world.posts_of(TaskSucceeded) == []


async def test_a_task_rotated_out_of_the_archive_is_still_reported_by_its_status(world: World) -> None:
    """A tracked task that ended so long before the list looked that Proxmox's archive index has rotated
    it away (or that the list never reaches) is found by one status call and reported."""
    tracker = world.tracker()
    early = _start_task(world, "pve", 101, duration=1)
    world.sim.advance(2)
    for i in range(2500):  # other tasks end after it: the index rotates twice
        world.sim.start_task("pve", "vzdump", str(6000 + i), "backup@pam", duration=1)
        world.sim.advance(1)
    assert world.sim.task_files("pve").rotations >= 2
    listed = await world.px.node_tasks("pve", source="all", limit=5000)
    assert early not in {t.upid for t in listed}
    await tracker.track("start", early, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    report = await tracker.sweep()
    assert (report.status_fallbacks, report.finished, report.notified) == (1, 1, 1)
    (post,) = world.posts_of(TaskSucceeded)
    assert post.event.vmid == 101


async def test_a_task_that_ends_is_reported_by_the_next_sweep(world: World) -> None:
    """The end of a task shows in the node's list at the next sweep; nothing was written for it before."""
    tracker = world.tracker()
    long = _start_task(world, "pve", 101, duration=3600)
    short = _start_task(world, "pve", 102, duration=5)
    await tracker.track("start", long, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    await tracker.track("start", short, vmid=102, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    assert (await tracker.sweep()).claimed == 0

    world.sim.advance(4)
    assert (await tracker.sweep()).finished == 0
    world.sim.advance(1)  # 102 ends now
    before = len(world.sim.request_log)
    report = await tracker.sweep()
    assert [r.path for r in world.sim.request_log[before:]] == ["/nodes/pve/tasks"]
    assert (report.claimed, report.finished, report.notified) == (1, 1, 1)
    (post,) = world.posts_of(TaskSucceeded)
    assert (post.event.vmid, post.thread_ts) == (102, THREAD)


async def test_other_users_tasks_ending_after_ours_are_paged_not_polled_one_by_one(world: World) -> None:
    """A node busy with other people's tasks that ended after ours: the list is read page by page
    (``start``) until it reaches Cardinal's tasks — no per-task status calls."""
    tracker = world.tracker()
    mine = [_start_task(world, "pve", 200 + i, duration=10) for i in range(3)]
    for i, upid in enumerate(mine):
        await tracker.track("start", upid, vmid=200 + i, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    assert (await tracker.sweep()).claimed == 0
    world.sim.advance(10)  # ours end
    for i in range(300):  # others end after ours, so they come first in the newest-ended-first list
        world.sim.start_task("pve", "qmstart", str(5000 + i), "backup@pam", duration=1)
    world.sim.advance(2)

    before = len(world.sim.request_log)
    report = await tracker.sweep()
    lists = world.sim.request_log[before:]
    assert len(lists) > 1
    assert {r.path for r in lists} == {"/nodes/pve/tasks"}
    offsets = [r.params.get("start") for r in lists]  # each page starts where the one before ended
    assert offsets[0] is None
    assert [int(o) for o in offsets[1:]] == [
        sum(int(r.params["limit"]) for r in lists[:k]) for k in range(1, len(lists))
    ]
    assert report.status_fallbacks == 0
    assert report.finished == 3
    assert sorted(p.event.vmid for p in world.posts_of(TaskSucceeded)) == [200, 201, 202]


async def test_a_finished_task_leased_by_another_replica_is_left_to_it(world: World) -> None:
    """Seeing a task end in the list is not enough to act: the row is claimed first, so a row another
    replica holds is reported by nobody else — and once that lease runs out, exactly once."""
    tracker = world.tracker(lease_seconds=30.0)
    upid = _start_task(world, "pve", 101, duration=2)
    task = await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    async with world.db.transaction() as tx:
        (held,) = await tx.ledger.claim_due("replica-b", now=world.now(), lease_seconds=30.0, limit=10)
    assert held.id == task.id

    world.sim.advance(3)
    report = await tracker.sweep()
    assert (report.claimed, report.finished) == (0, 0)
    assert world.posts_of(TaskSucceeded) == []
    assert (await _row(world, task.id)).lease_owner == "replica-b"

    world.sim.advance(30)  # replica-b died holding it
    await tracker.sweep()
    await tracker.sweep()
    assert [p.event.vmid for p in world.posts_of(TaskSucceeded)] == [101]


async def test_unreachable_proxmox_writes_nothing_and_the_task_is_reported_later(
    world: World,
) -> None:
    """Connection failures are transient: while the node's list cannot be read the rows stay as they
    were (nothing claimed, nothing failed), and the next sweep that reads it reports the task."""
    dead = ProxmoxClient(
        "http://127.0.0.1:9/api2/json",
        token_id=TOKEN_ID,
        token_secret=SecretStr("x"),
        timeouts=Timeouts(read=1, write=1, long=1),
        retries=RetryPolicy(attempts=1, sleep=_no_sleep),
        breaker=CircuitBreaker(failure_threshold=100),
    )
    try:
        tracker = world.tracker(proxmox=dead)
        upid = _start_task(world, "pve", 101, duration=5)
        task = await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
        rows = await _ledger(world)
        for _ in range(4):
            report = await tracker.sweep()
            assert (report.claimed, report.finished, report.status_fallbacks) == (0, 0, 0)
            world.sim.advance(3)
        assert await _ledger(world) == rows
        assert (await _row(world, task.id)).status is TaskStatus.RUNNING
    finally:
        await dead.close()

    healthy = world.tracker("replica-b")
    await healthy.sweep()
    assert (await _row(world, task.id)).status is TaskStatus.SUCCEEDED
    assert len(world.posts_of(TaskSucceeded)) == 1


async def test_permission_error_fails_the_task_with_a_clear_message(world: World, px: Any) -> None:
    """A token that may not read the task gets a 403: the task fails and the thread is told why."""
    world.sim.add_token("viewer@pve!ro", "ro-secret", {"/vms": {"VM.Audit"}})
    base = px.base_url
    viewer = ProxmoxClient(
        base,
        token_id="viewer@pve!ro",
        token_secret=SecretStr("ro-secret"),
        retries=RetryPolicy(sleep=_no_sleep),
    )
    try:
        tracker = world.tracker(proxmox=viewer)
        upid = _start_task(world, "pve", 101, duration=3600)
        await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
        await tracker.sweep()
    finally:
        await viewer.close()
    (post,) = world.posts_of(TaskFailed)
    assert post.thread_ts == THREAD
    assert "Proxmox refused" in post.event.error
    assert "privilege" in post.event.error  # the hint says what to do


async def test_day2_stop_and_destroy_update_the_container_and_tell_its_thread(world: World) -> None:
    """A tracked stop marks the container stopped; a destroy marks it destroyed and frees its VMID."""
    tracker = world.tracker()
    world.sim.add_container(150, "pve2", status="running")
    now: datetime = world.now()
    async with world.db.transaction() as tx:
        await tx.vmids.reserve_vmid(None, 150, 150, set(), now=now)
        await tx.containers.upsert(
            vmid=150, node="pve2", hostname="ct150", owner="U0BOB", state=ContainerState.RUNNING, now=now
        )
    stop = await world.px.power("pve2", 150, "stop")
    await tracker.track("stop", stop, vmid=150, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    async def stopped() -> bool:
        return len(world.posts_of(TaskSucceeded)) == 1

    await world.drive(stopped)
    async with world.db.transaction(readonly=True) as tx:
        ct = await tx.containers.get(150)
    assert ct is not None
    assert ct.state is ContainerState.STOPPED

    destroy = await world.px.destroy_container("pve2", 150)
    await tracker.track("destroy", destroy, vmid=150, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    async def destroyed() -> bool:
        return len(world.posts_of(TaskSucceeded)) == 2

    await world.drive(destroyed)
    actions = [
        (p.event.action, p.event.vmid, p.event.actor, p.thread_ts) for p in world.posts_of(TaskSucceeded)
    ]
    assert actions == [("stop", 150, "U0BOB", THREAD), ("destroy", 150, "U0BOB", THREAD)]
    async with world.db.transaction(readonly=True) as tx:
        ct = await tx.containers.get(150)
        reserved = await tx.vmids.reserved(150, 150)
    assert ct is not None
    assert ct.state is ContainerState.DESTROYED
    assert reserved == set()


async def test_tracking_the_same_upid_twice_is_harmless(world: World) -> None:
    """A double click that hands over the same UPID twice yields one row and one message."""
    tracker = world.tracker()
    upid = _start_task(world, "pve", 101, duration=1)
    first = await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    second = await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    assert first.id == second.id
    world.sim.advance(2)
    await tracker.sweep()
    assert len(world.posts_of(TaskSucceeded)) == 1


async def test_a_destroy_the_tracker_sees_finish_is_gone_from_the_shared_guest_snapshot(world: World) -> None:
    """The list and Home read a shared snapshot of the cluster's guests; once the sweep sees Cardinal's
    destroy end, the next read no longer lists the container (no waiting for the snapshot to expire)."""
    tracker = world.tracker()
    world.sim.add_container(160, "pve", status="stopped")
    destroy = await world.px.destroy_container("pve", 160)
    await tracker.track("destroy", destroy, vmid=160, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    assert 160 in (await world.px.guest_index()).lxc  # read while the destroy runs: kept for 15 s

    async def reported() -> bool:
        return bool(world.posts_of(TaskSucceeded) or world.posts_of(TaskFailed))

    await world.drive(reported)
    assert [p.event.action for p in world.posts_of(TaskSucceeded)] == ["destroy"]
    assert 160 not in (await world.px.guest_index()).lxc


async def test_a_watched_task_past_its_deadline_is_reported_timed_out_once(world: World) -> None:
    """A task that is never seen ending costs nothing until its deadline; then it is claimed, reported as
    timed out with its log so far, and left alone."""
    tracker = world.tracker(deadlines={"start": timedelta(minutes=2)})
    upid = _start_task(world, "pve", 101, duration=3600)
    task = await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    rows = await _ledger(world)
    for _ in range(39):  # 117 s
        world.sim.advance(3)
        assert (await tracker.sweep()).claimed == 0
    assert await _ledger(world) == rows
    world.sim.advance(3)
    report = await tracker.sweep()
    assert (report.claimed, report.finished, report.notified) == (1, 1, 1)
    assert (await _row(world, task.id)).status is TaskStatus.TIMED_OUT
    (post,) = world.posts_of(TaskFailed)
    assert "did not finish within 2 minutes" in post.event.error
    world.sim.advance(3)
    assert (await tracker.sweep()).claimed == 0
    assert len(world.posts_of(TaskFailed)) == 1


async def test_a_missing_task_whose_status_fails_is_not_asked_again_every_sweep(world: World) -> None:
    """A task the list no longer shows, whose status call fails (Proxmox answering 500s), is asked once and
    then follows the error backoff: the next sweeps make no status call for it until that backoff ends,
    and once Proxmox answers again it is reported once."""
    tracker = world.tracker()
    early = _start_task(world, "pve", 101, duration=1)
    world.sim.advance(2)
    for i in range(2500):  # other tasks end after it: the archive rotates it away
        world.sim.start_task("pve", "vzdump", str(6000 + i), "backup@pam", duration=1)
        world.sim.advance(1)
    await tracker.track("start", early, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    world.sim.faults = FaultConfig(error_rate=1.0, error_codes=(500,), only_paths=("/tasks/UPID",))
    first = await tracker.sweep()
    assert (first.status_fallbacks, first.finished) == (1, 0)
    for _ in range(2):  # within the backoff: nothing asked, nothing reported
        again = await tracker.sweep()
        assert (again.status_fallbacks, again.finished) == (0, 0)
    world.sim.faults = FaultConfig()
    world.sim.advance(120)
    await tracker.sweep()
    (post,) = world.posts_of(TaskSucceeded)
    assert post.event.vmid == 101
