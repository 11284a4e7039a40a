"""Polling: one request per node no matter how many tasks, backoff per task, errors handled by kind."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import SecretStr

from bot.db import ContainerState, Task, TaskStatus
from bot.events import TaskFailed, TaskSucceeded
from bot.proxmox import CircuitBreaker, ProxmoxClient, RetryPolicy, Timeouts, Upid
from bot.tracker import Backoff
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
    """Polling cost grows with nodes, not tasks: 200 running tasks on 3 nodes → 3 requests per sweep,
    plus one status call for a UPID the node lists do not show, whether or not the rows are due."""
    tracker = world.tracker()
    nodes = ["pve", "pve2", "pve3"]
    for i in range(200):
        upid = _start_task(world, nodes[i % 3], 300 + i, duration=30 if i % 2 else 3600)
        await tracker.track("start", upid, vmid=300 + i, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    before = len(world.sim.request_log)
    report = await tracker.sweep()
    assert report.claimed == 200
    assert report.proxmox_requests == 3
    assert len(world.sim.request_log) - before == 3
    assert {r.path for r in world.sim.request_log[before:]} == {f"/nodes/{n}/tasks" for n in nodes}

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

    # The 100 still running back off; sweeps in between still read exactly one list per node.
    for _ in range(3):
        world.sim.advance(1)
        before = len(world.sim.request_log)
        report = await tracker.sweep()
        assert report.proxmox_requests == 3
        assert len(world.sim.request_log) - before == 3
        assert report.status_fallbacks == 0
    assert len(world.posts_of(TaskSucceeded)) == 100


async def test_backoff_grows_while_a_task_keeps_running(world: World) -> None:
    """Each "still running" answer pushes the next poll further out, up to the cap."""
    tracker = world.tracker(poll_backoff=Backoff(base=1, factor=2, cap=8, jitter=0))
    upid = _start_task(world, "pve", 101, duration=3600)
    task = await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    delays = []
    for _ in range(5):
        now = world.now()
        await tracker.sweep()
        row = await _row(world, task.id)
        delays.append((row.next_poll_at - now).total_seconds())
        world.sim.advance((row.next_poll_at - now).total_seconds())
    assert delays == [1, 2, 4, 8, 8]
    # A sweep before the task is due reads the node's list (one request) but leaves the row alone.
    assert (await tracker.sweep()).claimed == 1  # due now: polled, next poll 8 s away
    row = await _row(world, task.id)
    world.sim.advance(1)
    report = await tracker.sweep()
    assert (report.claimed, report.proxmox_requests) == (0, 1)
    assert await _row(world, task.id) == row


async def test_a_task_that_ends_while_backing_off_is_reported_by_the_next_sweep(world: World) -> None:
    """The poll backoff never delays a final message: the end shows in the node's list at the next sweep,
    long before the row is due again."""
    tracker = world.tracker(poll_backoff=Backoff(base=30, factor=2, cap=60, jitter=0))
    long = _start_task(world, "pve", 101, duration=3600)
    short = _start_task(world, "pve", 102, duration=5)
    await tracker.track("start", long, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    await tracker.track("start", short, vmid=102, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    assert (await tracker.sweep()).claimed == 2  # both running: next polls 30 s away

    world.sim.advance(4)
    assert (await tracker.sweep()).finished == 0
    world.sim.advance(1)  # 102 ends now
    before = len(world.sim.request_log)
    report = await tracker.sweep()
    assert [r.path for r in world.sim.request_log[before:]] == ["/nodes/pve/tasks"]
    assert (report.claimed, report.finished, report.notified) == (1, 1, 1)
    (post,) = world.posts_of(TaskSucceeded)
    assert (post.event.vmid, post.thread_ts) == (102, THREAD)


async def test_other_users_tasks_beyond_the_list_limit_are_paged_not_polled_one_by_one(world: World) -> None:
    """A node busy with other people's tasks: the list is read page by page (``start``), and Cardinal's
    tasks are still answered by the lists alone — no per-task status calls."""
    tracker = world.tracker()
    mine = [_start_task(world, "pve", 200 + i, duration=10) for i in range(3)]
    for i, upid in enumerate(mine):
        await tracker.track("start", upid, vmid=200 + i, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
    for i in range(1200):  # newer than ours, so they come first in the newest-first list
        world.sim.start_task("pve", "qmstart", str(5000 + i), "backup@pam", duration=1)
    world.sim.advance(11)

    before = len(world.sim.request_log)
    report = await tracker.sweep()
    lists = world.sim.request_log[before:]
    assert [r.path for r in lists] == ["/nodes/pve/tasks"] * 3
    assert [r.params.get("start") for r in lists] == [None, "500", "1000"]
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


async def test_unreachable_proxmox_backs_off_and_counts_errors_then_recovers(world: World) -> None:
    """Connection failures are transient: the error streak grows the delay; the task is not failed."""
    dead = ProxmoxClient(
        "http://127.0.0.1:9/api2/json",
        token_id=TOKEN_ID,
        token_secret=SecretStr("x"),
        timeouts=Timeouts(read=1, write=1, long=1),
        retries=RetryPolicy(attempts=1, sleep=_no_sleep),
        breaker=CircuitBreaker(failure_threshold=100),
    )
    try:
        tracker = world.tracker(proxmox=dead, error_backoff=Backoff(base=1, factor=2, cap=8, jitter=0))
        upid = _start_task(world, "pve", 101, duration=5)
        task = await tracker.track("start", upid, vmid=101, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)
        delays = []
        for _ in range(4):
            now = world.now()
            await tracker.sweep()
            row = await _row(world, task.id)
            delays.append((row.next_poll_at - now).total_seconds())
            world.sim.advance(delays[-1])
        assert delays == [1, 2, 4, 8]
        assert row.status is TaskStatus.RUNNING
        assert row.consecutive_errors == 4
        assert row.error is not None
        assert "could not be reached" in row.error
    finally:
        await dead.close()

    healthy = world.tracker("replica-b")
    world.sim.advance(10)
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
