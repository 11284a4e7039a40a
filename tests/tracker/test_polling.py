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
    plus one status call for a UPID the node lists do not show."""
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
    assert report.finished == 101
    assert report.notified == 101
    assert len(world.posts_of(TaskSucceeded)) == 100
    (failure,) = world.posts_of(TaskFailed)
    assert failure.event.vmid == 998
    assert "no such task" in failure.event.error


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
    # A sweep before the task is due asks Proxmox nothing.
    assert (await tracker.sweep()).proxmox_requests == 1
    assert (await tracker.sweep()).proxmox_requests == 0


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
