"""Containers that moved behind Cardinal's back (HA relocation, ``pct migrate``): day-2 calls and the expiry
job find the node the cluster names, update the record, and never conclude "gone" without asking the
cluster (docs/simulator-fidelity.md, "Containers move")."""

from __future__ import annotations

from datetime import timedelta

from bot.access import Actor
from bot.containers.service import ContainerService
from bot.db import ContainerState, Database
from bot.expiry import ExpiryService
from bot.ownership import parse_ownership
from bot.policy import Policy
from bot.proxmox import ProxmoxClient
from cardinal_sim.proxmox import Simulator
from cardinal_sim.proxmox.ha import relocate
from tests.conftest import FakeClock
from tests.day2.conftest import OWNER, RecordingFollower, RecordingOutbox, Seed, requests_to

OWNER_ACTOR = Actor(OWNER)


async def _record(db: Database, vmid: int) -> tuple[str, ContainerState]:
    async with db.transaction(readonly=True) as tx:
        found = await tx.containers.get(vmid)
    assert found is not None
    return found.node, found.state


async def test_stop_of_a_relocated_container_goes_to_its_new_node(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001, status="running")
    relocate(sim, 10001, "pve2")
    result = await service.power(OWNER_ACTOR, 10001, "stop")
    assert result.node == "pve2"
    assert len(requests_to(sim, "POST", "/nodes/pve2/lxc/10001/status/stop")) == 1
    assert [c.node for c in follower.calls] == ["pve2"]
    sim.advance(5)
    assert not sim.containers[10001].running
    assert (await _record(db, 10001))[0] == "pve2"
    async with db.transaction(readonly=True) as tx:
        actions = [e.action for e in await tx.audit.recent(vmid=10001)]
    assert "container.moved" in actions


async def test_extend_of_a_relocated_container_writes_its_note(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001)
    relocate(sim, 10001, "pve2")
    result = await service.extend(OWNER_ACTOR, 10001, timedelta(days=2))
    assert result.written_to_container, result.note
    ownership = parse_ownership(sim.containers[10001].config)
    assert ownership is not None
    assert (ownership.owner, ownership.expires_at) == (OWNER, result.expires_at)


async def test_destroy_of_a_relocated_running_container_destroys_it(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001, status="running")
    relocate(sim, 10001, "pve2")
    result = await service.destroy(OWNER_ACTOR, 10001)
    assert (result.already_gone, result.node) == (False, "pve2")
    assert result.upid is not None
    assert [c.kind for c in follower.calls] == ["destroy"]
    assert (await _record(db, 10001))[1] is not ContainerState.DESTROYED
    sim.advance(5)
    assert 10001 not in sim.containers


async def test_destroy_of_a_container_the_cluster_no_longer_lists_marks_it_gone(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database
) -> None:
    await seed(10001, status="stopped")
    sim.drop_container(10001)
    result = await service.destroy(OWNER_ACTOR, 10001)
    assert (result.already_gone, result.upid) == (True, None)
    assert (await _record(db, 10001))[1] is ContainerState.DESTROYED


async def test_status_and_snapshot_of_a_relocated_container(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001, status="running")
    relocate(sim, 10001, "pve2")
    detail = await service.status(OWNER_ACTOR, 10001)
    assert (detail.node, detail.status) == ("pve2", "running")
    snap = await service.snapshot(OWNER_ACTOR, 10001, "before")
    assert snap.node == "pve2"


async def test_expiry_stops_and_destroys_a_relocated_container(
    db: Database,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
    seed: Seed,
    sim: Simulator,
) -> None:
    await seed(10001, status="running", expires_in=timedelta(minutes=10))
    relocate(sim, 10001, "pve2")
    service = ExpiryService(db, proxmox, outbox, follower, policy, clock, owner="r")
    clock.advance(minutes=11)
    report = await service.tick()
    assert report.stopped == [10001]
    assert [(c.kind, c.node) for c in follower.calls] == [("stop", "pve2")]
    sim.advance(5)
    assert not sim.containers[10001].running
    assert "was stopped" in outbox.deliveries[-1].event.text  # type: ignore[union-attr]
    relocate(sim, 10001, "pve")  # moved back again
    clock.advance(days=3)
    report = await service.tick()
    assert report.destroyed == [10001]
    assert [(c.kind, c.node) for c in follower.calls][-1] == ("destroy", "pve")
    assert "is being destroyed" in outbox.deliveries[-1].event.text  # type: ignore[union-attr]
    sim.advance(5)
    assert 10001 not in sim.containers
