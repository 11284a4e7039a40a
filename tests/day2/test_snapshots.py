"""Snapshots, rollback and resize through the day-2 service, against the Proxmox simulator."""

from __future__ import annotations

import pytest

from bot.access import AccessDenied, Actor
from bot.containers.service import ContainerService
from bot.db import Database
from bot.errors import InputError
from bot.policy import Policy
from cardinal_sim.proxmox import Simulator
from tests.conftest import FakeClock
from tests.day2.conftest import APPROVER, OTHER, OWNER, RecordingFollower, Seed, requests_to

OWNER_ACTOR = Actor(OWNER)
OTHER_ACTOR = Actor(OTHER)
APPROVER_ACTOR = Actor(APPROVER, is_approver=True)


async def _actions(db: Database, vmid: int) -> list[tuple[str, str]]:
    async with db.transaction() as tx:
        return [(e.actor, e.action) for e in await tx.audit.recent(vmid=vmid)]


# --- snapshot --------------------------------------------------------------------------------------


async def test_owner_snapshot_gets_a_default_name_and_is_followed(
    service: ContainerService,
    seed: Seed,
    sim: Simulator,
    db: Database,
    follower: RecordingFollower,
    clock: FakeClock,
) -> None:
    await seed(10001)
    result = await service.snapshot(OWNER_ACTOR, 10001)
    assert result.name == clock().strftime("s%Y%m%d-%H%M")
    [call] = follower.calls
    assert (call.kind, call.vmid, call.actor, str(call.upid)) == ("snapshot", 10001, OWNER, result.upid)
    assert (call.channel, call.thread_ts) == ("C0THREAD", "1700000000.000100")
    assert call.upid.type == "vzsnapshot"
    sim.advance(5)
    assert result.name in sim.containers[10001].snapshots
    assert (OWNER, "container.snapshot") in await _actions(db, 10001)
    detail = await service.status(OWNER_ACTOR, 10001)
    assert [s.name for s in detail.snapshots] == [result.name]


async def test_non_owner_snapshot_is_refused_before_proxmox(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001)
    with pytest.raises(AccessDenied):
        await service.snapshot(OTHER_ACTOR, 10001, "mine")
    assert requests_to(sim, "POST", "/snapshot") == []
    assert follower.calls == []
    assert (OTHER, "access.denied") in await _actions(db, 10001)


async def test_approver_may_snapshot_anyones_container(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001)
    result = await service.snapshot(APPROVER_ACTOR, 10001, "by-approver")
    assert result.name == "by-approver"
    assert len(requests_to(sim, "POST", "/lxc/10001/snapshot")) == 1


@pytest.mark.parametrize("name", ["1st", "a", "current", "has space", "x" * 41])
async def test_invalid_snapshot_names_never_reach_proxmox(
    service: ContainerService, seed: Seed, sim: Simulator, name: str
) -> None:
    await seed(10001)
    with pytest.raises(InputError) as info:
        await service.snapshot(OWNER_ACTOR, 10001, name)
    assert info.value.field == "name"
    assert requests_to(sim, "POST", "/snapshot") == []


async def test_snapshot_name_in_use_is_refused_with_a_hint(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001)
    await service.snapshot(OWNER_ACTOR, 10001, "before")
    sim.advance(5)
    with pytest.raises(InputError) as info:
        await service.snapshot(OWNER_ACTOR, 10001, "before")
    assert "already has a snapshot named `before`" in info.value.what
    assert len(requests_to(sim, "POST", "/snapshot")) == 1


# --- rollback --------------------------------------------------------------------------------------


async def test_rollback_plan_then_rollback_restarts_a_running_container(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001, cores=1)
    await service.snapshot(OWNER_ACTOR, 10001, "before")
    sim.advance(5)
    sim.containers[10001].config["cores"] = 4
    plan = await service.request_rollback(OWNER_ACTOR, 10001, "before")
    assert "before" in plan.confirm_text
    assert requests_to(sim, "POST", "/rollback") == []
    result = await service.rollback(OWNER_ACTOR, 10001, "before")
    assert result.restart
    assert follower.calls[-1].kind == "rollback"
    sim.advance(10)
    assert sim.containers[10001].config["cores"] == 1
    assert sim.containers[10001].running
    assert (OWNER, "container.rollback") in await _actions(db, 10001)


async def test_rollback_to_unknown_snapshot_names_the_existing_ones(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001)
    await service.snapshot(OWNER_ACTOR, 10001, "before")
    sim.advance(5)
    with pytest.raises(InputError) as info:
        await service.request_rollback(OWNER_ACTOR, 10001, "after")
    assert "`before`" in info.value.what


async def test_non_owner_rollback_is_refused(service: ContainerService, seed: Seed, sim: Simulator) -> None:
    await seed(10001)
    with pytest.raises(AccessDenied):
        await service.rollback(OTHER_ACTOR, 10001, "before")
    assert requests_to(sim, "POST", "/rollback") == []


# --- resize ----------------------------------------------------------------------------------------


@pytest.fixture
def policy() -> Policy:
    """Quota: 4096 MiB memory and 20 GiB disk per person."""
    return Policy(approvers=[APPROVER], quota={"total_memory_mib": 4096, "total_disk_gib": 20})


async def test_resize_within_quota_applies_at_once(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001, cores=1, memory=512)
    result = await service.resize(OWNER_ACTOR, 10001, cores=2, memory_mib=1024, disk_add_gib=2)
    assert result.applied
    config = sim.containers[10001].config
    assert (config["cores"], config["memory"]) == (2, 1024)
    [call] = follower.calls
    assert (call.kind, call.upid.type, str(call.upid)) == ("resize", "resize", result.upid)
    sim.advance(5)
    assert sim.containers[10001].config["rootfs"].endswith("size=10G")
    assert (result.plan.disk_before_gib, result.plan.disk_after_gib) == (8, 10)
    assert (OWNER, "container.resized") in await _actions(db, 10001)


async def test_resize_beyond_quota_returns_a_plan_and_changes_nothing(
    service: ContainerService, seed: Seed, sim: Simulator, follower: RecordingFollower
) -> None:
    await seed(10001, memory=512)
    await seed(10002, memory=2048)
    result = await service.resize(OWNER_ACTOR, 10001, memory_mib=3072)
    assert not result.applied
    assert result.plan.needs_approval
    assert result.plan.reason is not None
    assert "4096 MiB" in result.plan.reason
    assert (result.plan.memory_before_mib, result.plan.memory_after_mib) == (512, 3072)
    assert requests_to(sim, "PUT", "/config") == []
    assert sim.containers[10001].config["memory"] == 512
    assert follower.calls == []


async def test_resize_beyond_quota_with_an_approver_applies(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database
) -> None:
    await seed(10001)
    result = await service.resize(OWNER_ACTOR, 10001, disk_add_gib=20, approved_by=APPROVER_ACTOR)
    assert result.applied
    sim.advance(5)
    assert sim.containers[10001].config["rootfs"].endswith("size=28G")
    async with db.transaction() as tx:
        [event] = [e for e in await tx.audit.recent(vmid=10001) if e.action == "container.resized"]
    assert event.detail["approved_by"] == APPROVER


async def test_requester_cannot_approve_their_own_resize(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001, owner=APPROVER)
    with pytest.raises(AccessDenied):
        await service.resize(APPROVER_ACTOR, 10001, disk_add_gib=30, approved_by=APPROVER_ACTOR)
    assert requests_to(sim, "PUT", "/resize") == []


async def test_non_owner_resize_is_refused(service: ContainerService, seed: Seed, sim: Simulator) -> None:
    await seed(10001)
    with pytest.raises(AccessDenied):
        await service.resize(OTHER_ACTOR, 10001, cores=2)
    assert requests_to(sim, "PUT", "/config") == []


async def test_resize_to_the_same_size_is_an_input_error(service: ContainerService, seed: Seed) -> None:
    await seed(10001, cores=2)
    with pytest.raises(InputError):
        await service.resize(OWNER_ACTOR, 10001, cores=2)
