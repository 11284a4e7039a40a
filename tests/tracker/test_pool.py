"""The provisioning pool is work-conserving: ``concurrency`` creations in flight, never more, and a freed
slot is refilled by the same sweep that saw the creation finish."""

from __future__ import annotations

from bot.db import RequestState, TaskStatus
from bot.events import ContainerReady
from bot.tracker import Backoff
from tests.tracker.conftest import World, spec


async def test_pool_keeps_the_limit_busy_and_refills_freed_slots_at_once(world: World) -> None:
    """Ten creations with varied durations under a limit of three: after every sweep exactly three are
    in flight while any wait, Proxmox never runs more than three, and the whole batch takes about
    sum(durations) / 3 — not the slowest-of-each-batch sum that fixed batches would cost."""
    world.sim.duration_spread = 0.6
    limit = 3
    tracker = world.tracker(concurrency=limit, poll_backoff=Backoff(base=1, factor=1, cap=1, jitter=0))
    req, items = await world.request([spec(f"node-{i}") for i in range(10)])
    await tracker.enqueue_creations(req.id, items)
    samples: list[tuple[int, int, int]] = []  # (queued, in flight per ledger, running at Proxmox)

    async def done() -> bool:
        async with world.db.transaction(readonly=True) as tx:
            rows = [t for t in await tx.ledger.tasks_for_request(req.id) if t.kind == "create"]
        queued = sum(1 for t in rows if t.status is TaskStatus.QUEUED)
        flight = sum(1 for t in rows if t.status in (TaskStatus.SUBMITTING, TaskStatus.RUNNING))
        at_proxmox = sum(1 for t in world.sim.tasks if t.type == "vzcreate" and t.running)
        samples.append((queued, flight, at_proxmox))
        return await world.request_state(req.id) is RequestState.READY

    steps = await world.drive(done, max_steps=200)

    assert all(flight <= limit and running <= limit for _q, flight, running in samples)
    assert all(flight == limit for queued, flight, _r in samples if queued > 0)
    assert len(world.posts_of(ContainerReady)) == 10
    durations = [t.ends_at - t.started for t in world.sim.tasks if t.type == "vzcreate"]
    ideal = sum(durations) / limit
    creates_done = max(t.ends_at for t in world.sim.tasks if t.type == "vzcreate") - min(
        t.started for t in world.sim.tasks if t.type == "vzcreate"
    )
    # One-second sweeps add at most a second of detection per slot turnover.
    assert creates_done <= ideal * 1.15 + len(items) / limit + 1
    assert steps < 200
