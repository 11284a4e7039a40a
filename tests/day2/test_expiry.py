"""Expiry: reminders, stop at expiry, destroy after the grace period — each exactly once across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.access import Actor
from bot.containers.service import ContainerService
from bot.db import Database
from bot.events import Notice
from bot.expiry import ExpiryService
from bot.policy import ExpiryPolicy, Policy
from bot.proxmox import ProxmoxClient
from cardinal_sim.proxmox import Simulator
from tests.conftest import FakeClock
from tests.day2.conftest import OWNER, RecordingFollower, RecordingOutbox, Seed, requests_to

DbFactory = Callable[[], Awaitable[Database]]


async def replicas(
    n: int,
    db_factory: DbFactory,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
) -> list[ExpiryService]:
    """``n`` expiry services, each with its own database engine, as separate replicas would have."""
    return [
        ExpiryService(await db_factory(), proxmox, outbox, follower, policy, clock, owner=f"replica-{i}")
        for i in range(n)
    ]


async def tick_all(services: list[ExpiryService], clock: FakeClock) -> None:
    await asyncio.gather(*(s.tick(clock()) for s in services))


def notices(outbox: RecordingOutbox) -> list[Notice]:
    out = []
    for d in outbox.deliveries:
        assert isinstance(d.event, Notice)
        out.append(d.event)
    return out


async def test_reminders_go_out_once_each_across_two_replicas(
    db_factory: DbFactory,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
    seed: Seed,
) -> None:
    await seed(10001, expires_in=timedelta(days=2))
    services = await replicas(2, db_factory, proxmox, outbox, follower, policy, clock)
    await tick_all(services, clock)
    assert outbox.deliveries == []
    clock.advance(hours=24, minutes=1)  # 23 h 59 m left
    await tick_all(services, clock)
    await tick_all(services, clock)
    assert len(outbox.deliveries) == 1
    first = outbox.deliveries[0]
    assert (first.channel, first.thread_ts) == ("C0THREAD", "1700000000.000100")
    notice = notices(outbox)[0]
    assert notice.actions == (("lxc_extend", "Extend 3d", "10001:3d"),)
    assert f"<@{OWNER}>" in notice.text
    assert "expires in 23h59m" in notice.text
    clock.advance(hours=23, minutes=30)  # 29 m left
    await tick_all(services, clock)
    await tick_all(services, clock)
    assert len(outbox.deliveries) == 2
    assert "expires in 29m" in notices(outbox)[1].text
    assert outbox.deliveries[0].key != outbox.deliveries[1].key


async def test_reminder_without_a_thread_is_a_direct_message(
    db: Database,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
    seed: Seed,
) -> None:
    await seed(10001, expires_in=timedelta(minutes=30), thread=False)
    report = await ExpiryService(db, proxmox, outbox, follower, policy, clock, owner="r").tick()
    # both offsets are due (Cardinal just learned of it): only the nearest one is sent
    assert report.reminded == [(10001, timedelta(hours=1))]
    [delivery] = outbox.deliveries
    assert (delivery.channel, delivery.thread_ts) == (OWNER, None)


async def test_stop_at_expiry_then_destroy_after_grace(
    db_factory: DbFactory,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
    seed: Seed,
    sim: Simulator,
) -> None:
    await seed(10001, status="running", expires_in=timedelta(minutes=10))
    services = await replicas(2, db_factory, proxmox, outbox, follower, policy, clock)
    clock.advance(minutes=11)
    await tick_all(services, clock)
    await tick_all(services, clock)
    assert len(requests_to(sim, "POST", "/lxc/10001/status/stop")) == 1
    assert [c.kind for c in follower.calls] == ["stop"]
    sim.advance(5)
    assert not sim.containers[10001].running
    stopped = notices(outbox)[-1]
    assert "was stopped" in stopped.text
    assert "will be destroyed on 2026-11-28T12:10:00Z" in stopped.text
    assert stopped.actions  # still extendable
    clock.advance(days=3, minutes=-2)  # just before the grace period ends
    await tick_all(services, clock)
    assert requests_to(sim, "DELETE", "/lxc/10001") == []
    clock.advance(minutes=2)
    await tick_all(services, clock)
    await tick_all(services, clock)
    [delete] = requests_to(sim, "DELETE", "/lxc/10001")
    assert (delete.params["purge"], delete.params["destroy-unreferenced-disks"]) == ("1", "1")
    assert [c.kind for c in follower.calls] == ["stop", "destroy"]
    assert "being destroyed" in notices(outbox)[-1].text
    sim.advance(5)
    assert 10001 not in sim.containers


async def test_policy_stop_only_never_destroys(
    db: Database,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    clock: FakeClock,
    seed: Seed,
    sim: Simulator,
) -> None:
    policy = Policy(expiry=ExpiryPolicy(action="stop"))
    await seed(10001, status="stopped", expires_in=timedelta(minutes=10))
    service = ExpiryService(db, proxmox, outbox, follower, policy, clock, owner="r")
    clock.advance(minutes=11)
    report = await service.tick()
    assert report.stopped == [10001]
    assert "is stopped" in notices(outbox)[-1].text  # it was already stopped: no task
    assert follower.calls == []
    clock.advance(days=30)
    await service.tick()
    assert requests_to(sim, "DELETE", "/lxc/10001") == []


async def test_down_through_the_grace_period_destroys_without_a_separate_stop(
    db: Database,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
    seed: Seed,
    sim: Simulator,
) -> None:
    await seed(10001, status="running", expires_in=timedelta(hours=2))
    clock.advance(days=4)
    service = ExpiryService(db, proxmox, outbox, follower, policy, clock, owner="r")
    await service.tick()
    await service.tick()
    assert requests_to(sim, "POST", "/status/stop") == []
    assert len(requests_to(sim, "DELETE", "/lxc/10001")) == 1
    assert len(outbox.deliveries) == 1


async def test_extending_resets_the_schedule(
    db: Database,
    proxmox: ProxmoxClient,
    outbox: RecordingOutbox,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
    seed: Seed,
    sim: Simulator,
) -> None:
    await seed(10001, expires_in=timedelta(hours=30))
    service = ExpiryService(db, proxmox, outbox, follower, policy, clock, owner="r")
    clock.advance(hours=7)  # 23 h left
    await service.tick()
    assert len(outbox.deliveries) == 1
    containers = ContainerService(db, proxmox, follower, policy, clock)
    extended = await containers.extend(Actor(OWNER), 10001, timedelta(days=3))
    await service.tick()
    assert len(outbox.deliveries) == 1  # nothing due for the new expiry yet
    clock.advance(hours=30)  # past the old expiry: no stop
    await service.tick()
    assert requests_to(sim, "POST", "/status/stop") == []
    clock.now = extended.expires_at - timedelta(hours=23)
    await service.tick()
    assert len(outbox.deliveries) == 2
    assert "expires in 23h" in notices(outbox)[-1].text


async def test_a_failed_step_is_retried_after_its_lease_and_does_not_block_others(
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
    await seed(10002, status="running", expires_in=timedelta(minutes=20))
    service = ExpiryService(db, proxmox, outbox, follower, policy, clock, owner="r", lease_seconds=120)
    clock.advance(minutes=21)
    sim.faults.error_rate = 1.0
    sim.faults.only_paths = ("/lxc/10001/status/stop",)
    report = await service.tick()
    assert report.stopped == [10002]
    assert [e.split(":")[0] for e in report.errors] == ["10001"]
    sim.faults.error_rate = 0.0
    within_lease = await service.tick()
    assert within_lease.stopped == []  # the claimed slot is not retried before its lease runs out
    clock.advance(minutes=3)
    retry = await service.tick()
    assert retry.stopped == [10001]
    assert [c.vmid for c in follower.calls] == [10002, 10001]
