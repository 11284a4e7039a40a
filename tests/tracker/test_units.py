"""Small pieces: backoff, run-once-per-slot, addresses from config and interfaces, the scheduler."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.db import Database
from bot.proxmox.models import parse_interfaces
from bot.tracker import SWEEP_JOB_ID, Backoff, Scheduler, run_once_per_slot
from bot.tracker.followups import addresses_from_config, addresses_from_interfaces
from tests.conftest import FakeClock
from tests.tracker.conftest import World


def test_backoff_grows_to_the_cap_and_jitter_stays_within_it() -> None:
    """Delays grow geometrically, stop at the cap, and equal jitter keeps at least half the ceiling."""
    exact = Backoff(base=2, factor=1.5, cap=10, jitter=0)
    assert [exact.delay(n) for n in range(6)] == [2, 3, 4.5, 6.75, 10, 10]
    assert exact.delay(10_000) == 10
    jittered = Backoff(base=2, factor=2, cap=30, jitter=0.5, rng=random.Random(3))
    for n in range(8):
        ceiling = jittered.ceiling(n)
        assert all(ceiling / 2 <= jittered.delay(n) <= ceiling for _ in range(50))
    with pytest.raises(ValueError):
        Backoff(base=5, cap=1)


async def test_run_once_per_slot_has_one_winner_among_three_replicas(
    db_factory: Callable[[], Awaitable[Database]], clock: FakeClock
) -> None:
    """Three replicas firing the daily digest at the same moment: one runs it, once."""
    runs: list[str] = []

    def job(owner: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        async def run() -> dict[str, Any]:
            runs.append(owner)
            return {"posted": True}

        return run

    dbs = [await db_factory() for _ in range(3)]
    won = await asyncio.gather(
        *(
            run_once_per_slot(d, "daily_digest", "2026-11-26", f"r{i}", job(f"r{i}"), clock=clock)
            for i, d in enumerate(dbs)
        )
    )
    assert sorted(won) == [False, False, True]
    assert len(runs) == 1
    async with dbs[0].transaction(readonly=True) as tx:
        slot = await tx.jobs.get_slot("daily_digest", "2026-11-26")
    assert slot is not None
    assert slot.owner == runs[0]
    assert slot.finished_at is not None
    assert slot.result == {"posted": True}
    # Later ticks in the same slot do nothing.
    assert not await run_once_per_slot(dbs[1], "daily_digest", "2026-11-26", "r1", job("r1"), clock=clock)


async def test_failed_slot_run_can_be_taken_over_after_its_lease(db: Database, clock: FakeClock) -> None:
    """A runner that fails leaves the slot unfinished; after the lease another replica runs it."""

    async def boom() -> None:
        raise RuntimeError("slack down")

    async def ok() -> None:
        return None

    with pytest.raises(RuntimeError):
        await run_once_per_slot(db, "digest", "s1", "a", boom, clock=clock, lease_seconds=60)
    assert not await run_once_per_slot(db, "digest", "s1", "b", ok, clock=clock, lease_seconds=60)
    clock.advance(seconds=61)
    assert await run_once_per_slot(db, "digest", "s1", "b", ok, clock=clock, lease_seconds=60)


def test_addresses_from_config_reads_static_and_dhcp_interfaces() -> None:
    """Static CIDRs become addresses; DHCP/SLAAC interfaces must be asked at runtime."""
    config = {
        "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=192.0.2.10/24,gw=192.0.2.1,type=veth",
        "net1": "name=eth1,bridge=vmbr1,hwaddr=BC:24:11:00:00:02,ip=dhcp,ip6=auto,type=veth",
        "hostname": "db-1",
    }
    assert addresses_from_config(config) == (["192.0.2.10"], True, True)
    assert addresses_from_config({"net0": "name=eth0,bridge=vmbr0,ip6=fd00::5/64"}) == (
        ["fd00::5"],
        False,
        False,
    )


def test_addresses_from_interfaces_prefers_ipv4_and_skips_link_local() -> None:
    """``lo`` and fe80:: are not addresses anyone can reach."""
    data = [
        {"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"},
        {
            "name": "eth0",
            "hardware-address": "bc:24:11:89:67:07",
            "ip-addresses": [
                {"ip-address-type": "inet", "ip-address": "192.168.3.95", "prefix": 22},
                {"ip-address-type": "inet6", "ip-address": "fe80::be24:11ff:fe89:6707", "prefix": 64},
                {"ip-address-type": "inet6", "ip-address": "2001:db8::5", "prefix": 64},
            ],
        },
    ]
    assert addresses_from_interfaces(parse_interfaces(data)) == (["192.168.3.95"], ["2001:db8::5"])
    assert addresses_from_interfaces(parse_interfaces(None)) == ([], [])


async def test_scheduler_runs_the_sweep_and_stops_cleanly(world: World) -> None:
    """The sweep is registered under a fixed id and runs on its own; shutdown stops the tracker too."""
    tracker = world.tracker()
    scheduler = Scheduler()
    ticks = asyncio.Event()

    async def tick() -> None:
        ticks.set()

    scheduler.add_tracker(tracker, interval=0.05, jitter=0)
    scheduler.every("probe", 0.05, tick, jitter=0)
    scheduler.start()
    try:
        assert scheduler.running
        assert scheduler.job_ids() == ["probe", SWEEP_JOB_ID]
        await asyncio.wait_for(ticks.wait(), timeout=5)
    finally:
        await scheduler.shutdown(grace=5)
    assert not scheduler.running
    assert tracker.stopping


def test_a_sweep_that_swallows_its_next_tick_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """An overlapping tick is skipped by design (max_instances=1); a busy replica must not log one per tick,
    while APScheduler's other warnings still come through."""
    from bot.tracker.scheduler import Scheduler

    Scheduler()
    logger = logging.getLogger("apscheduler.scheduler")
    with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
        logger.warning(
            'Execution of job "%s" skipped: maximum number of running instances reached (%d)', "sweep", 1
        )
        logger.warning('Run time of job "%s" was missed by %s', "digest", "0:00:05")
    assert [r.getMessage() for r in caplog.records] == ['Run time of job "digest" was missed by 0:00:05']
