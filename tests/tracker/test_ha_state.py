"""HA-managed containers: ``hastart``/``hastop`` end before the container changed state (pve-container
API2/LXC/Status.pm; docs/simulator-fidelity.md). The result is reported only once ``status/current``
shows the state asked for, or as a failure when it does not by the deadline."""

from __future__ import annotations

from datetime import timedelta

from bot.db import ContainerState
from bot.events import TaskFailed, TaskSucceeded
from cardinal_sim.proxmox.ha import relocate
from tests.tracker.conftest import CHANNEL, World

THREAD = "1690000000.000777"


async def _seed_ha(world: World, vmid: int, status: str) -> None:
    world.sim.add_container(vmid, "pve", status=status)
    world.sim.containers[vmid].ha_managed = True
    state = ContainerState.RUNNING if status == "running" else ContainerState.STOPPED
    async with world.db.transaction() as tx:
        await tx.containers.upsert(
            vmid=vmid, node="pve", hostname=f"ct{vmid}", owner="U0BOB", state=state, now=world.now()
        )


async def _state(world: World, vmid: int) -> ContainerState:
    async with world.db.transaction(readonly=True) as tx:
        ct = await tx.containers.get(vmid)
    assert ct is not None
    return ct.state


async def test_hastart_is_reported_only_once_the_container_runs(world: World) -> None:
    tracker = world.tracker()
    await _seed_ha(world, 160, "stopped")
    upid = await world.px.power("pve", 160, "start")
    assert upid.type == "hastart"
    await tracker.track("start", upid, vmid=160, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    async def reported() -> bool:
        return bool(world.posts_of(TaskSucceeded))

    await world.drive(reported)
    assert world.sim.containers[160].running
    assert await _state(world, 160) is ContainerState.RUNNING


async def test_hastop_that_never_takes_effect_fails_at_the_deadline(world: World) -> None:
    world.sim.task_durations["ha-round"] = 100_000.0  # the HA stack never gets to it
    tracker = world.tracker(deadlines={"stop": timedelta(minutes=2)})
    await _seed_ha(world, 161, "running")
    upid = await world.px.power("pve", 161, "stop")
    assert upid.type == "hastop"
    await tracker.track("stop", upid, vmid=161, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    async def reported() -> bool:
        return bool(world.posts_of(TaskSucceeded) or world.posts_of(TaskFailed))

    await world.drive(reported, step=5.0, max_steps=60)
    assert world.posts_of(TaskSucceeded) == []
    (post,) = world.posts_of(TaskFailed)
    assert "still running" in post.event.error
    assert await _state(world, 161) is not ContainerState.STOPPED


async def test_ha_start_of_a_container_moved_meanwhile_is_confirmed_on_its_new_node(world: World) -> None:
    tracker = world.tracker()
    await _seed_ha(world, 162, "stopped")
    upid = await world.px.power("pve", 162, "start")
    relocate(world.sim, 162, "pve2")  # HA moved it before its start was carried out
    await tracker.track("start", upid, vmid=162, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD)

    async def reported() -> bool:
        return bool(world.posts_of(TaskSucceeded) or world.posts_of(TaskFailed))

    await world.drive(reported)
    assert world.posts_of(TaskFailed) == []
    assert (world.sim.containers[162].node, world.sim.containers[162].running) == ("pve2", True)
    async with world.db.transaction(readonly=True) as tx:
        ct = await tx.containers.get(162)
    assert ct is not None
    assert (ct.node, ct.state) == ("pve2", ContainerState.RUNNING)
