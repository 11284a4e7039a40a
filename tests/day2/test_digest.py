"""The digest: its content, one post per cron slot across replicas, quiet when nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.containers.stored import RequestSpec
from bot.db import Database, TaskStatus
from bot.digest import DigestJob, DigestReady, build_digest, digest_fingerprint, latest_due_slot
from bot.policy import DigestSchedule, Policy
from bot.proxmox import ProxmoxClient
from cardinal_sim.proxmox import Simulator
from tests.conftest import FakeClock
from tests.day2.conftest import OTHER, OWNER, RecordingOutbox, Seed

DbFactory = Callable[[], Awaitable[Database]]
SCHEDULE = DigestSchedule(channel="C0DIGEST", cron="0 9 * * *", timezone="Europe/Berlin")
DIGEST_POLICY = Policy(digest=[SCHEDULE])


def test_latest_due_slot_uses_the_schedules_time_zone() -> None:
    # 09:00 in Berlin (CET, +01:00) is 08:00 UTC
    now = datetime(2026, 11, 26, 8, 0, 30, tzinfo=UTC)
    slot = latest_due_slot(SCHEDULE, now)
    assert slot is not None
    assert slot.isoformat() == "2026-11-26T09:00:00+01:00"
    assert latest_due_slot(SCHEDULE, now - timedelta(minutes=1)) == slot - timedelta(days=1)
    every_minute = DigestSchedule(channel="C0DIGEST", cron="*/15 * * * *")
    assert latest_due_slot(every_minute, now) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    monthly = DigestSchedule(channel="C0DIGEST", cron="0 6 1 * *")
    assert latest_due_slot(monthly, now) == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


async def test_build_digest_content(
    db: Database, proxmox: ProxmoxClient, seed: Seed, clock: FakeClock, sim: Simulator
) -> None:
    await seed(10001, owner=OWNER, expires_in=timedelta(hours=20))
    await seed(10002, owner=OWNER, expires_in=timedelta(days=10))
    await seed(10003, owner=OTHER, expires_in=None, node="pve2")
    now = clock()
    async with db.transaction() as tx:
        request = await tx.requests.create_request(
            requester=OTHER,
            channel="C0REQ",
            spec=RequestSpec(
                hostname="big-1",
                template="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                storage="local-lvm",
            ),
            now=now - timedelta(hours=5),
        )
        await tx.approvals.open_approval(request.id, now=now - timedelta(hours=5))
        failed = await tx.ledger.add_task(
            "start",
            node="pve",
            vmid=10001,
            request_id=None,
            upid=None,
            deadline_at=now + timedelta(hours=1),
            now=now - timedelta(hours=2),
            lease_owner="r1",
        )
        await tx.ledger.finish(
            failed.id, "r1", status=TaskStatus.FAILED, now=now - timedelta(hours=2), error="boom"
        )
        old = await tx.ledger.add_task(
            "start",
            node="pve",
            vmid=10001,
            request_id=None,
            upid=None,
            deadline_at=now,
            now=now - timedelta(days=3),
            lease_owner="r1",
        )
        await tx.ledger.finish(
            old.id, "r1", status=TaskStatus.FAILED, now=now - timedelta(days=2), error="old"
        )
    digest = await build_digest(db, proxmox, Policy(), now)
    assert [(o.owner, [c.vmid for c in o.containers]) for o in digest.per_owner] == [
        (OTHER, [10003]),
        (OWNER, [10001, 10002]),
    ]
    assert [c.vmid for c in digest.expiring_soon] == [10001]
    [pending] = digest.pending_approvals
    assert (pending.requester, pending.hostname, pending.age) == (OTHER, "big-1", timedelta(hours=5))
    assert [(t.vmid, t.error) for t in digest.failed_tasks] == [(10001, "boom")]
    assert [n.node for n in digest.capacity] == ["pve", "pve2"]
    for node in digest.capacity:
        assert 0.0 < node.mem_fraction < 1.0
        assert 0.0 < node.disk_fraction < 1.0
    assert digest.capacity_error is None


async def test_fingerprint_ignores_time_passing_but_not_changes(
    db: Database, proxmox: ProxmoxClient, seed: Seed, clock: FakeClock
) -> None:
    await seed(10001, expires_in=timedelta(days=10))
    first = digest_fingerprint(await build_digest(db, proxmox, Policy(), clock()))
    assert digest_fingerprint(await build_digest(db, proxmox, Policy(), clock.advance(hours=1))) == first
    await seed(10002)
    assert digest_fingerprint(await build_digest(db, proxmox, Policy(), clock())) != first


async def test_one_post_per_slot_across_three_replicas_and_quiet_when_unchanged(
    db_factory: DbFactory, proxmox: ProxmoxClient, outbox: RecordingOutbox, seed: Seed, clock: FakeClock
) -> None:
    await seed(10001, expires_in=timedelta(days=20))
    jobs = [
        DigestJob(await db_factory(), proxmox, outbox, DIGEST_POLICY, clock, owner=f"replica-{i}")
        for i in range(3)
    ]

    async def run_all() -> None:
        await asyncio.gather(*(job.run_due(clock()) for job in jobs))

    await run_all()  # T0 is 13:00 in Berlin: today's 09:00 slot is hours old and is skipped
    assert outbox.deliveries == []
    clock.now = datetime(2026, 11, 26, 8, 0, 30, tzinfo=UTC)
    await run_all()
    await run_all()
    [posted] = outbox.deliveries
    assert posted.channel == "C0DIGEST"
    assert isinstance(posted.event, DigestReady)
    assert posted.event.digest.container_count == 1
    clock.now = datetime(2026, 11, 27, 8, 1, tzinfo=UTC)  # next slot, nothing changed
    await run_all()
    assert len(outbox.deliveries) == 1
    await seed(10002)
    clock.now = datetime(2026, 11, 28, 8, 1, tzinfo=UTC)
    await run_all()
    assert len(outbox.deliveries) == 2
    assert outbox.deliveries[1].key != posted.key


async def test_posts_every_slot_when_not_quiet(
    db: Database, proxmox: ProxmoxClient, outbox: RecordingOutbox, clock: FakeClock
) -> None:
    policy = Policy(digest=[SCHEDULE.model_copy(update={"quiet_when_unchanged": False})])
    job = DigestJob(db, proxmox, outbox, policy, clock, owner="r")
    for day in (26, 27):
        clock.now = datetime(2026, 11, day, 8, 0, 5, tzinfo=UTC)
        await job.run_due()
    assert len(outbox.deliveries) == 2


async def test_post_now(
    db: Database, proxmox: ProxmoxClient, outbox: RecordingOutbox, clock: FakeClock
) -> None:
    job = DigestJob(db, proxmox, outbox, Policy(), clock, owner="r")
    ts = await job.post_now("C0HERE")
    [posted] = outbox.deliveries
    assert (posted.channel, posted.ts) == ("C0HERE", ts)
    assert isinstance(posted.event, DigestReady)
