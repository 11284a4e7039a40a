"""The task ledger: leases make every due task go to one replica, and stale owners cannot write."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from bot.db import Database, DuplicateUpid, NotifyState, Task, TaskStatus
from tests.conftest import T0

UPID = "UPID:pve1:000ABCDE:0123ABCD:6745A1B2:vzcreate:105:cardinal@pve!bot:"
DEADLINE = T0 + timedelta(minutes=30)
LEASE = 30.0


def upid(n: int) -> str:
    return f"UPID:pve1:{n:08X}:0123ABCD:6745A1B2:vzstart:{100 + n}:cardinal@pve!bot:"


async def _add(db: Database, *, upid_text: str | None = UPID, now: datetime = T0, **kw: object) -> Task:
    async with db.transaction() as tx:
        return await tx.ledger.add_task(
            "create", node="pve1", vmid=105, request_id=None, upid=upid_text,
            deadline_at=DEADLINE, now=now, **kw,  # type: ignore[arg-type]
        )  # fmt: skip


async def _claim(db: Database, owner: str, now: datetime, limit: int = 10) -> list[Task]:
    async with db.transaction() as tx:
        return await tx.ledger.claim_due(owner, now=now, lease_seconds=LEASE, limit=limit)


class TestAddAndSubmit:
    async def test_task_with_upid_is_running_with_start_time(self, db: Database) -> None:
        """A task added with its UPID is running, due now, and knows its start time from the UPID."""
        task = await _add(db)
        assert task.status is TaskStatus.RUNNING
        assert task.started_at == 0x6745A1B2
        assert task.next_poll_at == T0
        assert task.notify_state is NotifyState.PENDING

    async def test_submitting_task_is_leased_to_submitter_until_upid_recorded(self, db: Database) -> None:
        """While the create POST is in flight no sweep claims the row; the UPID then makes it running."""
        task = await _add(db, upid_text=None, lease_owner="submitter", lease_seconds=60)
        assert task.status is TaskStatus.SUBMITTING
        assert await _claim(db, "sweeper", T0 + timedelta(seconds=10)) == []

        async with db.transaction() as tx:
            assert await tx.ledger.set_upid(task.id, UPID, now=T0 + timedelta(seconds=2))
            assert not await tx.ledger.set_upid(task.id, UPID, now=T0)  # no longer submitting
        claimed = await _claim(db, "sweeper", T0 + timedelta(seconds=10))
        assert [(t.id, t.status, t.upid) for t in claimed] == [(task.id, TaskStatus.RUNNING, UPID)]

    async def test_submitter_that_died_leaves_row_for_recovery(self, db: Database) -> None:
        """A submitting row whose submitter's lease ran out is claimable, so recovery can look it up."""
        task = await _add(db, upid_text=None, lease_owner="dead", lease_seconds=60)
        claimed = await _claim(db, "sweeper", T0 + timedelta(seconds=61))
        assert [(t.id, t.status) for t in claimed] == [(task.id, TaskStatus.SUBMITTING)]

    async def test_same_upid_twice_is_refused(self, db: Database) -> None:
        """A UPID is tracked once; a second task with it raises DuplicateUpid."""
        await _add(db)
        with pytest.raises(DuplicateUpid):
            await _add(db)


class TestClaim:
    async def test_only_due_unleased_tasks_are_claimed(self, db: Database) -> None:
        """A task is claimed when due; while leased, nobody else gets it; polls count in attempts."""
        task = await _add(db)
        assert await _claim(db, "A", T0 - timedelta(seconds=1)) == []
        (claimed,) = await _claim(db, "A", T0)
        assert (claimed.lease_owner, claimed.lease_until, claimed.attempts) == (
            "A", T0 + timedelta(seconds=LEASE), 1,
        )  # fmt: skip
        assert await _claim(db, "B", T0 + timedelta(seconds=5)) == []
        assert claimed.id == task.id

    async def test_expired_lease_is_reclaimable(self, db: Database) -> None:
        """A replica that died holding a lease loses it when it runs out; another replica takes over."""
        await _add(db)
        (first,) = await _claim(db, "dead-replica", T0)
        (second,) = await _claim(db, "B", T0 + timedelta(seconds=LEASE + 1))
        assert second.id == first.id
        assert second.lease_owner == "B"
        assert second.attempts == 2

    async def test_claims_most_overdue_first_up_to_limit(self, db: Database) -> None:
        """A sweep takes at most ``limit`` tasks, the ones waiting longest first."""
        for i in range(5):
            await _add(db, upid_text=upid(i), now=T0 + timedelta(seconds=i))
        claimed = await _claim(db, "A", T0 + timedelta(minutes=1), limit=3)
        assert [t.upid for t in claimed] == [upid(0), upid(1), upid(2)]

    async def test_three_replicas_claim_each_task_exactly_once(
        self, db: Database, db_factory: Callable[[], Awaitable[Database]]
    ) -> None:
        """300 due tasks, 3 replicas × 3 concurrent sweepers: every task is claimed by exactly one."""
        async with db.transaction() as tx:
            for i in range(300):
                await tx.ledger.add_task(
                    "start", node="pve1", vmid=100 + i, request_id=None, upid=upid(i),
                    deadline_at=DEADLINE, now=T0,
                )  # fmt: skip
        replicas = [db, await db_factory(), await db_factory()]
        claims: list[tuple[str, str]] = []

        async def sweeper(replica: Database, owner: str) -> None:
            while batch := await _claim(replica, owner, T0 + timedelta(seconds=1), limit=7):
                assert len(batch) <= 7
                claims.extend((t.id, owner) for t in batch)
                assert all(t.lease_owner == owner for t in batch)

        await asyncio.gather(*(sweeper(r, f"replica{n}") for n, r in enumerate(replicas) for _ in range(3)))

        per_task = Counter(task_id for task_id, _ in claims)
        assert len(per_task) == 300
        assert set(per_task.values()) == {1}
        async with db.transaction() as tx:
            stored = await tx.ledger.pending_tasks(limit=1000)
        owners = {t.id: t.lease_owner for t in stored}
        assert all(owners[task_id] == owner for task_id, owner in claims)


class TestFencedUpdates:
    async def test_stale_owner_cannot_write_after_takeover(self, db: Database) -> None:
        """Once another replica reclaimed the task, the old owner's poll, reschedule and finish fail."""
        await _add(db)
        (task,) = await _claim(db, "old", T0)
        later = T0 + timedelta(seconds=LEASE + 1)
        await _claim(db, "new", later)

        async with db.transaction() as tx:
            assert not await tx.ledger.record_poll(task.id, "old", now=later, next_poll_at=later)
            assert not await tx.ledger.reschedule(task.id, "old", now=later, next_poll_at=later, error="x")
            assert not await tx.ledger.finish(
                task.id, "old", status=TaskStatus.SUCCEEDED, now=later, exitstatus="OK"
            )
            current = await tx.ledger.get_task(task.id)
        assert current is not None
        assert (current.status, current.lease_owner, current.error) == (TaskStatus.RUNNING, "new", None)

    async def test_poll_and_reschedule_release_lease_and_set_next_poll(self, db: Database) -> None:
        """A poll result schedules the next poll and frees the task; errors are counted until a good poll."""
        await _add(db)
        (task,) = await _claim(db, "A", T0)
        t1 = T0 + timedelta(seconds=2)
        async with db.transaction() as tx:
            assert await tx.ledger.reschedule(task.id, "A", now=T0, next_poll_at=t1, error="HTTP 596")
        assert await _claim(db, "B", t1 - timedelta(seconds=1)) == []
        (again,) = await _claim(db, "B", t1)
        assert (again.consecutive_errors, again.error) == (1, "HTTP 596")

        t2 = t1 + timedelta(seconds=4)
        async with db.transaction() as tx:
            assert await tx.ledger.record_poll(task.id, "B", now=t1, next_poll_at=t2)
            polled = await tx.ledger.get_task(task.id)
        assert polled is not None
        assert (polled.consecutive_errors, polled.lease_owner, polled.next_poll_at) == (0, None, t2)

    async def test_finished_task_is_claimed_for_notification_until_marked(self, db: Database) -> None:
        """A final result whose Slack message was not confirmed is picked up again after the lease."""
        await _add(db)
        (task,) = await _claim(db, "A", T0)
        async with db.transaction() as tx:
            assert await tx.ledger.finish(
                task.id, "A", status=TaskStatus.FAILED, now=T0, exitstatus="command failed",
                error="storage full", result={"log_tail": ["line 1"]},
            )  # fmt: skip
        assert await _claim(db, "B", T0 + timedelta(seconds=1)) == []  # the finisher still notifies

        (retry,) = await _claim(db, "B", T0 + timedelta(seconds=LEASE + 1))
        assert retry.needs_notification
        assert retry.result == {"log_tail": ["line 1"]}
        async with db.transaction() as tx:
            assert await tx.ledger.mark_notified(task.id, now=T0)
        assert await _claim(db, "C", T0 + timedelta(hours=1)) == []

    async def test_finish_requires_a_final_status(self, db: Database) -> None:
        """Finishing with a non-final status is a programming error."""
        await _add(db)
        (task,) = await _claim(db, "A", T0)
        with pytest.raises(ValueError, match="final status"):
            async with db.transaction() as tx:
                await tx.ledger.finish(task.id, "A", status=TaskStatus.RUNNING, now=T0)

    async def test_release_leases_frees_tasks_for_other_replicas(self, db: Database) -> None:
        """On graceful shutdown a replica hands back its leases; others claim at once, not after expiry."""
        for i in range(3):
            await _add(db, upid_text=upid(i))
        assert len(await _claim(db, "leaving", T0)) == 3
        async with db.transaction() as tx:
            assert await tx.ledger.release_leases("leaving", now=T0) == 3
        assert len(await _claim(db, "staying", T0 + timedelta(seconds=1))) == 3


class TestQueries:
    async def test_pending_recent_failed_and_counts(self, db: Database) -> None:
        """Digest/`/lxc tasks` queries: pending ones, recent ones, failures in a window, counts."""
        old = T0 - timedelta(days=2)
        for i in range(4):
            await _add(db, upid_text=upid(i), now=old)
        claimed = await _claim(db, "A", T0)
        ids = [t.id for t in claimed]
        async with db.transaction() as tx:
            await tx.ledger.finish(ids[0], "A", status=TaskStatus.SUCCEEDED, now=T0, exitstatus="OK")
            await tx.ledger.finish(ids[1], "A", status=TaskStatus.FAILED, now=T0, error="boom")
            await tx.ledger.finish(ids[2], "A", status=TaskStatus.TIMED_OUT, now=old)
        async with db.transaction(readonly=True) as tx:
            pending = await tx.ledger.pending_tasks()
            recent = await tx.ledger.recent_tasks(limit=2)
            failed = await tx.ledger.failed_since(T0 - timedelta(hours=24))
            counts = await tx.ledger.count_by_status()
        assert [t.id for t in pending] == [ids[3]]
        assert len(recent) == 2
        assert [t.id for t in failed] == [ids[1]]
        assert counts[TaskStatus.RUNNING] == 1
        assert counts[TaskStatus.SUCCEEDED] == 1
        assert counts[TaskStatus.UNKNOWN] == 0

    async def test_watched_running_lists_running_upids_never_claimed_by_node_and_start(
        self, db: Database
    ) -> None:
        """The rows a sweep follows through task lists alone: running, with a UPID, never claimed —
        ordered by node and start; rows without a UPID, finished rows and claimed rows are left out."""
        rows = [("pve2", 2000), ("pve1", 1010), ("pve1", 1000), ("pve1", 900)]
        ids = []
        async with db.transaction() as tx:
            for i, (node, start) in enumerate(rows):
                text = f"UPID:{node}:{i + 1:08X}:0123ABCD:{start:08X}:vzstart:{100 + i}:cardinal@pve!bot:"
                task = await tx.ledger.add_task(
                    "start", node=node, vmid=100 + i, request_id=None, upid=text, deadline_at=DEADLINE, now=T0
                )
                ids.append(task.id)
            await tx.ledger.add_step(
                "create_ip", node="pve3", vmid=51, request_id=None, deadline_at=DEADLINE, now=T0
            )
            assert await tx.ledger.claim_by_upids("A", [(await tx.ledger.get_task(ids[3])).upid], now=T0,
                                                   lease_seconds=LEASE)  # fmt: skip
        async with db.transaction(readonly=True) as tx:
            watched = await tx.ledger.watched_running()
        assert [(w.node, w.started_at) for w in watched] == [("pve1", 1000), ("pve1", 1010), ("pve2", 2000)]
