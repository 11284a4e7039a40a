"""Requests and approvals: state changes are compare-and-set, and the first decision wins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.containers.stored import RequestSpec
from bot.db import ApprovalStatus, ContainerRequest, Database, RequestState
from tests.conftest import T0

SPEC = RequestSpec(
    hostname="web",
    hostnames=["web-1", "web-2", "web-3"],
    template="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
    storage="local-lvm",
    cores=2,
)


async def _request(db: Database, requester: str = "U_REQ") -> ContainerRequest:
    async with db.transaction() as tx:
        return await tx.requests.create_request(
            requester=requester, channel="C1", spec=SPEC, count=3, purpose="load test", now=T0
        )


class TestRequests:
    async def test_created_request_reads_back(self, db: Database) -> None:
        """A stored request comes back with its spec, count and the initial state."""
        created = await _request(db)
        async with db.transaction() as tx:
            got = await tx.requests.get_request(created.id)
        assert got == created
        assert got is not None
        assert got.spec == SPEC
        assert got.count == 3
        assert got.state is RequestState.REQUESTED
        assert got.thread_ts is None

    async def test_unknown_request_is_none(self, db: Database) -> None:
        """Looking up an id that does not exist gives None."""
        async with db.transaction() as tx:
            assert await tx.requests.get_request("no-such-id") is None

    async def test_set_state_with_expect_refuses_other_states(self, db: Database) -> None:
        """A conditional move only happens from the expected state; otherwise nothing changes."""
        req = await _request(db)
        async with db.transaction() as tx:
            assert not await tx.requests.set_state(
                req.id, RequestState.CREATING, now=T0, expect=RequestState.APPROVED
            )
            assert await tx.requests.set_state(
                req.id, RequestState.CANCELLED, now=T0, expect=[RequestState.REQUESTED]
            )
            got = await tx.requests.get_request(req.id)
        assert got is not None
        assert got.state is RequestState.CANCELLED

    async def test_thread_ts_and_listing(self, db: Database) -> None:
        """The root message ts is remembered; a person's requests and requests by state are listed."""
        first = await _request(db, "U_A")
        await _request(db, "U_B")
        async with db.transaction() as tx:
            assert await tx.requests.set_thread_ts(first.id, "1712345678.000100", now=T0)
            mine = await tx.requests.list_by_requester("U_A")
            requested = await tx.requests.list_by_state(RequestState.REQUESTED)
        assert [r.id for r in mine] == [first.id]
        assert mine[0].thread_ts == "1712345678.000100"
        assert len(requested) == 2


class TestApprovals:
    async def test_open_approval_marks_request_pending(self, db: Database) -> None:
        """Opening an approval puts the request in pending_approval and lists it with its age."""
        req = await _request(db)
        async with db.transaction() as tx:
            approval = await tx.approvals.open_approval(req.id, now=T0, card_channel="C_APPR")
            assert await tx.approvals.set_card(approval.id, channel="C_APPR", ts="1.2")
        async with db.transaction() as tx:
            got = await tx.requests.get_request(req.id)
            pending = await tx.approvals.pending_approvals(now=T0 + timedelta(minutes=42))
        assert got is not None
        assert got.state is RequestState.PENDING_APPROVAL
        assert [p.approval.id for p in pending] == [approval.id]
        assert pending[0].request.id == req.id
        assert pending[0].age == timedelta(minutes=42)
        assert pending[0].approval.card_ts == "1.2"

    async def test_decision_moves_request_and_writes_audit(self, db: Database) -> None:
        """Denying records who and why on the approval and the request, plus one audit event."""
        req = await _request(db)
        async with db.transaction() as tx:
            approval = await tx.approvals.open_approval(req.id, now=T0)
        later = T0 + timedelta(minutes=5)
        async with db.transaction() as tx:
            assert await tx.approvals.decide(
                approval.id, approve=False, by="U_BOSS", reason="too big", now=later
            )
        async with db.transaction() as tx:
            a = await tx.approvals.get_approval(approval.id)
            r = await tx.requests.get_request(req.id)
            events = await tx.audit.recent(request_id=req.id)
            pending = await tx.approvals.pending_approvals(now=later)
        assert a is not None
        assert a.status is ApprovalStatus.DENIED
        assert (a.decided_by, a.decided_at, a.reason) == ("U_BOSS", later, "too big")
        assert r is not None
        assert r.state is RequestState.DENIED
        assert (r.decided_by, r.decision_reason) == ("U_BOSS", "too big")
        assert [(e.actor, e.action) for e in events] == [("U_BOSS", "request.denied")]
        assert pending == []

    async def test_second_click_changes_nothing(self, db: Database) -> None:
        """After an approval, a later deny (double click, other approver) returns False and is ignored."""
        req = await _request(db)
        async with db.transaction() as tx:
            approval = await tx.approvals.open_approval(req.id, now=T0)
        async with db.transaction() as tx:
            assert await tx.approvals.decide(approval.id, approve=True, by="U1", reason=None, now=T0)
        async with db.transaction() as tx:
            assert not await tx.approvals.decide(approval.id, approve=False, by="U2", reason="x", now=T0)
            r = await tx.requests.get_request(req.id)
            events = await tx.audit.recent(request_id=req.id)
        assert r is not None
        assert r.state is RequestState.APPROVED
        assert r.decided_by == "U1"
        assert len(events) == 1

    async def test_concurrent_deciders_exactly_one_wins(
        self, db: Database, db_factory: Callable[[], Awaitable[Database]]
    ) -> None:
        """Ten deciders on two replicas at once: exactly one True, and the stored outcome is the winner's."""
        req = await _request(db)
        async with db.transaction() as tx:
            approval = await tx.approvals.open_approval(req.id, now=T0)
        other = await db_factory()

        async def decide(i: int) -> tuple[int, bool]:
            replica = db if i % 2 else other
            async with replica.transaction() as tx:
                won = await tx.approvals.decide(
                    approval.id, approve=i % 3 != 0, by=f"U{i}", reason=f"r{i}", now=T0
                )
            return i, won

        results = await asyncio.gather(*(decide(i) for i in range(10)))

        winners = [i for i, won in results if won]
        assert len(winners) == 1
        (w,) = winners
        async with db.transaction() as tx:
            a = await tx.approvals.get_approval(approval.id)
            r = await tx.requests.get_request(req.id)
            events = await tx.audit.recent(request_id=req.id)
        expected = RequestState.APPROVED if w % 3 != 0 else RequestState.DENIED
        assert a is not None
        assert a.decided_by == f"U{w}"
        assert r is not None
        assert r.state is expected
        assert r.decided_by == f"U{w}"
        assert len(events) == 1
