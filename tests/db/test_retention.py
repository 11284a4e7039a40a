"""Retention: finished records older than the horizon go, in bounded batches; open things stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.containers.stored import RequestSpec
from bot.db import Database, TaskStatus
from bot.db.enums import ContainerState, RequestState
from bot.db.retention import Retention
from tests.conftest import T0, FakeClock

SPEC = RequestSpec(hostname="old", template="local:vztmpl/debian-12.tar.zst", storage="local-lvm")

HORIZON = timedelta(days=30)
OLD = T0
LATER = T0 + HORIZON + timedelta(days=1)  # "now" when pruning: everything written at OLD is past the horizon


async def _request(db: Database, state: RequestState, *, now: datetime = OLD) -> str:
    async with db.transaction() as tx:
        req = await tx.requests.create_request(requester="U1", channel="C1", spec=SPEC, now=now, state=state)
        await tx.approvals.open_approval(req.id, now=now)
    return req.id


async def _task(db: Database, n: int, *, final: bool, notified: bool, now: datetime = OLD) -> str:
    async with db.transaction() as tx:
        task = await tx.ledger.add_task(
            "start",
            node="pve1",
            vmid=10000 + n,
            request_id=None,
            upid=f"UPID:pve1:{n:08X}:00000000:00000000:vzstart:{10000 + n}:root@pam:",
            deadline_at=now + timedelta(hours=1),
            now=now,
            lease_owner="A",
        )
        if final:
            assert await tx.ledger.finish(task.id, "A", status=TaskStatus.SUCCEEDED, now=now)
        if notified:
            assert await tx.ledger.mark_notified(task.id, now=now)
    return task.id


async def _seed(db: Database) -> dict[str, str]:
    """Old rows of every kind, finished and still open."""
    ids = {
        "ready": await _request(db, RequestState.READY),
        "pending": await _request(db, RequestState.PENDING_APPROVAL),
        "ready_alive": await _request(db, RequestState.READY),
        "ready_recent": await _request(db, RequestState.READY, now=LATER - timedelta(days=1)),
        "task_done": await _task(db, 1, final=True, notified=True),
        "task_unnotified": await _task(db, 2, final=True, notified=False),
        "task_running": await _task(db, 3, final=False, notified=False),
    }
    async with db.transaction() as tx:
        await tx.containers.upsert(
            vmid=10100, node="pve1", hostname="alive", owner="U1", state=ContainerState.RUNNING,
            now=OLD, request_id=ids["ready_alive"],
        )  # fmt: skip
        for n in range(7):
            await tx.audit.append("U1", "request.created", now=OLD, detail={"n": n})
        await tx.audit.append("U1", "request.created", now=LATER - timedelta(hours=1))
        assert await tx.outbox.claim_post("posted", "C1", now=OLD) is None
        assert await tx.outbox.mark_posted("posted", "1.1", now=OLD)
        assert await tx.outbox.claim_post("intent", "C1", now=OLD) is None
        assert await tx.jobs.try_start_slot("digest", "old", "A", now=OLD, lease_seconds=60)
        assert await tx.jobs.try_start_slot("digest", "new", "A", now=LATER, lease_seconds=60)
    return ids


async def test_prunes_old_finished_rows_and_keeps_open_and_recent_ones(db: Database) -> None:
    ids = await _seed(db)
    report = await Retention(db, HORIZON, FakeClock(LATER)).prune()
    assert report.deleted == {
        "audit_event": 7,
        "tracked_task": 1,
        "slack_message": 1,
        "job_run": 1,
        "container_request": 1,
    }
    assert not report.more
    async with db.transaction(readonly=True) as tx:
        assert await tx.requests.get_request(ids["ready"]) is None
        assert await tx.approvals.for_request(ids["ready"]) == []
        for kept in ("pending", "ready_alive", "ready_recent"):
            assert await tx.requests.get_request(ids[kept]) is not None
            assert len(await tx.approvals.for_request(ids[kept])) == 1
        assert await tx.ledger.get_task(ids["task_done"]) is None
        assert await tx.ledger.get_task(ids["task_unnotified"]) is not None
        assert await tx.ledger.get_task(ids["task_running"]) is not None
        assert await tx.outbox.get("posted") is None
        assert await tx.outbox.get("intent") is not None
        assert await tx.jobs.get_slot("digest", "old") is None
        assert await tx.jobs.get_slot("digest", "new") is not None
        assert len(await tx.audit.recent(limit=50)) == 1


async def test_nothing_inside_the_horizon_is_pruned(db: Database) -> None:
    await _seed(db)
    report = await Retention(db, HORIZON, FakeClock(OLD + HORIZON - timedelta(hours=1))).prune()
    assert report.total == 0


async def test_a_backlog_is_pruned_in_bounded_batches_over_several_runs(db: Database) -> None:
    async with db.transaction() as tx:
        for n in range(25):
            await tx.audit.append("U1", "request.created", now=OLD, detail={"n": n})
    retention = Retention(db, HORIZON, FakeClock(LATER), batch=4, max_batches=3)
    first = await retention.prune()
    assert first.deleted["audit_event"] == 12
    assert first.more
    assert (await retention.sizes())["audit_event"] == 13
    await retention.prune()
    third = await retention.prune()
    assert third.deleted["audit_event"] == 1
    assert not third.more
    assert (await retention.sizes())["audit_event"] == 0
