"""Cross-replica coordination: run-once job slots, VMID reservations, the Slack outbox, event dedupe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from bot.containers.stored import RequestSpec
from bot.db import Database, VmidRangeExhausted
from tests.conftest import T0

Factory = Callable[[], Awaitable[Database]]

SPEC = RequestSpec(
    hostname="web", template="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", storage="local-lvm"
)


async def _replicas(db: Database, db_factory: Factory) -> list[Database]:
    return [db, await db_factory(), await db_factory()]


class TestJobSlots:
    async def test_three_replicas_one_winner(self, db: Database, db_factory: Factory) -> None:
        """Three replicas reaching the daily digest slot at once: exactly one runs it."""
        replicas = await _replicas(db, db_factory)

        async def attempt(n: int, replica: Database) -> bool:
            async with replica.transaction() as tx:
                return await tx.jobs.try_start_slot(
                    "daily_digest", "2026-11-25", f"r{n}", now=T0, lease_seconds=300
                )

        results = await asyncio.gather(*(attempt(n, r) for n, r in enumerate(replicas)))

        assert results.count(True) == 1
        async with db.transaction() as tx:
            run = await tx.jobs.get_slot("daily_digest", "2026-11-25")
        assert run is not None
        assert run.owner == f"r{results.index(True)}"

    async def test_finished_slot_never_runs_again(self, db: Database) -> None:
        """After the winner finishes, later attempts (even after the lease) are refused."""
        async with db.transaction() as tx:
            assert await tx.jobs.try_start_slot("digest", "s1", "A", now=T0, lease_seconds=60)
            assert await tx.jobs.finish_slot("digest", "s1", "A", now=T0, result={"ts": "1.2"})
        async with db.transaction() as tx:
            assert not await tx.jobs.try_start_slot(
                "digest", "s1", "B", now=T0 + timedelta(hours=1), lease_seconds=60
            )
            run = await tx.jobs.get_slot("digest", "s1")
        assert run is not None
        assert run.finished_at == T0
        assert run.result == {"ts": "1.2"}

    async def test_dead_runner_is_taken_over_once(self, db: Database) -> None:
        """A slot whose runner died is taken over after its lease, but only once, and only by one."""
        later = T0 + timedelta(seconds=61)
        async with db.transaction() as tx:
            assert await tx.jobs.try_start_slot("digest", "s1", "A", now=T0, lease_seconds=60)
            assert not await tx.jobs.try_start_slot(
                "digest", "s1", "B", now=T0 + timedelta(seconds=30), lease_seconds=60
            )
            assert await tx.jobs.try_start_slot("digest", "s1", "B", now=later, lease_seconds=60)
            assert not await tx.jobs.try_start_slot(
                "digest", "s1", "C", now=later + timedelta(hours=1), lease_seconds=60
            )
            assert not await tx.jobs.finish_slot("digest", "s1", "A", now=later)  # A lost the slot
            run = await tx.jobs.get_slot("digest", "s1")
        assert run is not None
        assert (run.owner, run.takeovers) == ("B", 1)

    async def test_other_slots_and_jobs_are_independent(self, db: Database) -> None:
        """The next day's slot and another job's slot each get their own winner."""
        async with db.transaction() as tx:
            assert await tx.jobs.try_start_slot("digest", "d1", "A", now=T0, lease_seconds=60)
            assert await tx.jobs.try_start_slot("digest", "d2", "B", now=T0, lease_seconds=60)
            assert await tx.jobs.try_start_slot("expiry", "d1", "B", now=T0, lease_seconds=60)


class TestVmids:
    async def test_lowest_free_id_skipping_reserved_and_taken(self, db: Database) -> None:
        """Reservations take the lowest id not used in Proxmox nor reserved; released ids come back."""
        async with db.transaction() as tx:
            req = await tx.requests.create_request(requester="U1", channel="C1", spec=SPEC, now=T0)
            a = await tx.vmids.reserve_vmid(req.id, 100, 110, {100, 102}, now=T0)
            b = await tx.vmids.reserve_vmid(req.id, 100, 110, {100, 102}, now=T0)
            assert (a, b) == (101, 103)
            assert await tx.vmids.release(101)
            assert await tx.vmids.reserve_vmid(None, 100, 110, {100, 102}, now=T0) == 101
            assert await tx.vmids.release_for_request(req.id) == 1
            assert await tx.vmids.reserved(100, 110) == {101}

    async def test_full_range_is_a_clear_error(self, db: Database) -> None:
        """With every id in use, the caller gets VmidRangeExhausted naming the range and what to do."""
        async with db.transaction() as tx:
            assert await tx.vmids.reserve_vmid(None, 200, 201, {200}, now=T0) == 201
        async with db.transaction() as tx:
            with pytest.raises(VmidRangeExhausted) as err:
                await tx.vmids.reserve_vmid(None, 200, 201, {200}, now=T0)
        assert "200–201" in err.value.user_message
        assert "widen the VMID range" in err.value.user_message

    async def test_concurrent_reservations_never_collide(self, db: Database, db_factory: Factory) -> None:
        """Thirty reservations racing on three replicas get thirty distinct ids: the lowest free ones."""
        replicas = await _replicas(db, db_factory)
        taken = {1000, 1003}

        async def reserve(i: int) -> int:
            async with replicas[i % 3].transaction() as tx:
                return await tx.vmids.reserve_vmid(None, 1000, 1099, taken, now=T0)

        got = await asyncio.gather(*(reserve(i) for i in range(30)))

        assert len(set(got)) == 30
        expected = [v for v in range(1000, 1100) if v not in taken][:30]
        assert sorted(got) == expected


class TestOutbox:
    async def test_first_claim_posts_then_existing_ts_is_returned(self, db: Database) -> None:
        """The first claim says "post it"; after mark_posted every claim returns the posted ts instead."""
        key = "task:abc:final"
        async with db.transaction() as tx:
            assert await tx.outbox.claim_post(key, "C1", "111.000", now=T0, payload_hash="h1") is None
        async with db.transaction() as tx:
            assert await tx.outbox.mark_posted(key, "111.222", now=T0 + timedelta(seconds=1))
        async with db.transaction() as tx:
            existing = await tx.outbox.claim_post(key, "C1", "111.000", now=T0 + timedelta(minutes=1))
        assert existing is not None
        assert existing.posted
        assert (existing.ts, existing.thread_ts, existing.payload_hash) == ("111.222", "111.000", "h1")

    async def test_unfinished_intent_is_reported_not_reposted(self, db: Database) -> None:
        """A claim after a crash between intent and post returns the intent (no ts) instead of "post"."""
        async with db.transaction() as tx:
            assert await tx.outbox.claim_post("request:r1:root", "C1", now=T0) is None
        async with db.transaction() as tx:
            again = await tx.outbox.claim_post("request:r1:root", "C1", now=T0)
        assert again is not None
        assert not again.posted
        assert again.ts is None

    async def test_mark_posted_only_once_and_only_known_keys(self, db: Database) -> None:
        """A second mark_posted or one for an unknown key changes nothing."""
        async with db.transaction() as tx:
            await tx.outbox.claim_post("k", "C1", now=T0)
            assert await tx.outbox.mark_posted("k", "1.1", now=T0)
            assert not await tx.outbox.mark_posted("k", "9.9", now=T0)
            assert not await tx.outbox.mark_posted("unknown", "1.1", now=T0)
            stored = await tx.outbox.get("k")
        assert stored is not None
        assert stored.ts == "1.1"

    async def test_concurrent_claims_let_one_post(self, db: Database, db_factory: Factory) -> None:
        """Three replicas claiming the same key at once: exactly one is told to post."""
        replicas = await _replicas(db, db_factory)

        async def claim(replica: Database) -> bool:
            async with replica.transaction() as tx:
                return await tx.outbox.claim_post("digest:C1:2026-11-25", "C1", now=T0) is None

        assert (await asyncio.gather(*(claim(r) for r in replicas))).count(True) == 1


class TestSeenEvents:
    async def test_first_time_then_repeat_then_pruned(self, db: Database) -> None:
        """An event id is new once; pruning old ids forgets them."""
        async with db.transaction() as tx:
            assert await tx.seen.first_time("Ev1", now=T0)
            assert not await tx.seen.first_time("Ev1", now=T0 + timedelta(seconds=1))
            assert await tx.seen.first_time("Ev2", now=T0 + timedelta(hours=2))
            assert await tx.seen.prune(T0 + timedelta(hours=1)) == 1
            assert await tx.seen.first_time("Ev1", now=T0 + timedelta(hours=3))
            assert not await tx.seen.first_time("Ev2", now=T0 + timedelta(hours=3))
