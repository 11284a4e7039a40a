"""Reconcile with Proxmox, adopt from the ownership written into containers, and the CLI entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.access import Actor
from bot.containers.service import ContainerService
from bot.db import ContainerState, Database, open_database
from bot.ownership import ownership_line
from bot.policy import Policy
from bot.proxmox import ProxmoxClient
from bot.reconcile import adopt, reconcile, run
from bot.settings import Settings
from cardinal_sim.proxmox import Simulator, serve
from tests.conftest import FakeClock
from tests.day2.conftest import OTHER, OWNER, SECRET, TOKEN, RecordingFollower, Seed

EXPIRES = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
REQUEST = "f0e1d2c3-0000-4000-8000-000000000001"


async def test_notices_a_container_destroyed_outside_cardinal(
    db: Database, proxmox: ProxmoxClient, seed: Seed, sim: Simulator, clock: FakeClock
) -> None:
    await seed(10001)
    await seed(10002)
    sim.drop_container(10002)  # someone ran `pct destroy 10002`
    report = await reconcile(db, proxmox, clock)
    assert report.removed_outside == [10002]
    assert report.unchanged == [10001]
    async with db.transaction() as tx:
        gone = await tx.containers.get(10002)
        [event] = await tx.audit.recent(vmid=10002)
    assert gone is not None
    assert gone.state is ContainerState.DESTROYED
    assert event.action == "container.removed_outside"
    assert event.detail["note"] == "removed outside Cardinal"
    again = await reconcile(db, proxmox, clock)
    assert again.removed_outside == []
    assert again.checked == 1


async def test_a_destroy_cardinal_asked_for_is_not_reported_as_outside(
    db: Database, proxmox: ProxmoxClient, seed: Seed, sim: Simulator, clock: FakeClock
) -> None:
    await seed(10001)
    await seed(10002)
    service = ContainerService(db, proxmox, RecordingFollower(), Policy(), clock)
    await service.destroy(Actor(OWNER), 10002)
    sim.advance(5)
    report = await reconcile(db, proxmox, clock)
    assert report.destroyed_by_cardinal == [10002]
    assert report.removed_outside == []


async def test_records_moves_and_state_changes(
    db: Database, proxmox: ProxmoxClient, seed: Seed, sim: Simulator, clock: FakeClock
) -> None:
    await seed(10001, status="running")
    await seed(10002, status="running")
    sim.containers[10001].node = "pve2"  # migrated by an operator
    sim.set_stopped(sim.containers[10002])
    report = await reconcile(db, proxmox, clock)
    assert report.moved == [(10001, "pve", "pve2")]
    assert report.state_changed == [(10002, "running", "stopped")]
    async with db.transaction() as tx:
        moved = await tx.containers.get(10001)
        stopped = await tx.containers.get(10002)
    assert moved is not None
    assert stopped is not None
    assert moved.node == "pve2"
    assert moved.thread_channel == "C0THREAD"  # nothing else lost
    assert stopped.state is ContainerState.STOPPED
    assert stopped.last_seen_at == clock()


async def test_marks_nothing_when_proxmox_shows_none_of_them(
    db: Database, proxmox: ProxmoxClient, seed: Seed, sim: Simulator, clock: FakeClock
) -> None:
    await seed(10001)
    await seed(10002)
    sim.drop_container(10001)
    sim.drop_container(10002)
    report = await reconcile(db, proxmox, clock)
    assert report.removed_outside == []
    assert "VM.Audit" in report.warnings[0]


def _populate_owned(sim: Simulator) -> None:
    sim.add_container(
        10001,
        status="running",
        hostname="web-1",
        tags="cardinal;owner-u0owner1",
        description="Purpose: tests\n" + ownership_line(OWNER, EXPIRES, REQUEST),
    )
    sim.add_container(10002, node="pve2", hostname="db-1", tags="cardinal;owner-u0other2")
    sim.add_container(10003, tags="cardinal", description="cardinal: owner=not-an-id")
    sim.add_container(10004, tags="web", description=ownership_line(OWNER, EXPIRES, None))


async def test_adopt_rebuilds_ownership_from_tags_and_description(
    db: Database, proxmox: ProxmoxClient, sim: Simulator, clock: FakeClock
) -> None:
    _populate_owned(sim)
    report = await adopt(db, proxmox, clock)
    assert report.adopted == [10001, 10002]
    assert report.not_adoptable == [10003]
    async with db.transaction() as tx:
        web = await tx.containers.get(10001)
        dbct = await tx.containers.get(10002)
        untagged = await tx.containers.get(10004)
        [event] = await tx.audit.recent(vmid=10001)
    assert web is not None
    assert dbct is not None
    assert (web.owner, web.expires_at, web.hostname, web.state) == (
        OWNER,
        EXPIRES,
        "web-1",
        ContainerState.RUNNING,
    )
    assert web.request_id is None  # the request is not in this database
    assert (dbct.owner, dbct.expires_at, dbct.node, dbct.state) == (
        OTHER,
        None,
        "pve2",
        ContainerState.STOPPED,
    )
    assert untagged is None
    assert event.action == "container.adopted"
    again = await adopt(db, proxmox, clock)
    assert again.adopted == []
    assert again.already_known == [10001, 10002]


async def test_extend_then_adopt_round_trips_the_expiry(
    db: Database, proxmox: ProxmoxClient, seed: Seed, clock: FakeClock, tmp_path: Path
) -> None:
    await seed(10001, tags="x")
    result = await ContainerService(db, proxmox, RecordingFollower(), Policy(), clock).extend(
        Actor(OWNER), 10001, timedelta(days=1)
    )
    fresh = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        report = await adopt(fresh, proxmox, clock)
        async with fresh.transaction() as tx:
            rebuilt = await tx.containers.get(10001)
    finally:
        await fresh.dispose()
    assert report.adopted == [10001]
    assert rebuilt is not None
    assert (rebuilt.owner, rebuilt.expires_at) == (OWNER, result.expires_at)


async def test_cli_entry_adopts_and_prints_a_summary(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate_owned(sim)
    running = await serve(sim, tls=True)
    try:
        settings = Settings(
            _env_file=None,
            proxmox_host=running.host,
            proxmox_port=running.port,
            proxmox_token=TOKEN,
            proxmox_secret=SecretStr(SECRET),
            proxmox_fingerprint=running.fingerprint,
            slack_bot_token=SecretStr("xoxb-1-2-abc"),
            slack_signing_secret=SecretStr("signing-secret"),
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        )
        assert await run(settings, adopt=True) == 0
        assert "adopted: 10001, 10002" in capsys.readouterr().out
        assert await run(settings, adopt=False) == 0
        assert "checked 2 container(s)" in capsys.readouterr().out
    finally:
        await running.close()
