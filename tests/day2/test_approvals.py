"""The day-2 approval model (bot.approvals): a record per card, decided once, by an approver other than the
requester checked at click time; forged ids change nothing. Runs against the Proxmox simulator and a real
database (SQLite and PostgreSQL), with the real outbox posting to a recording notifier."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from bot.access import AccessDenied, Actor
from bot.approvals import ActionApprovals, ApprovalNotOpen, card_key, outcome_key
from bot.containers.errors import ContainerNotManaged
from bot.containers.service import ContainerService
from bot.db import ApprovalStatus, Database
from bot.db.records import ActionApproval
from bot.events import ActionApprovalCard, ActionDecided
from bot.notify import RecordingNotifier
from bot.outbox import Outbox
from bot.policy import Policy, Quota
from bot.proxmox import ProxmoxClient
from bot.requests import StaticApprovers
from cardinal_sim.proxmox import Simulator
from tests.conftest import FakeClock
from tests.day2.conftest import APPROVER, OTHER, OWNER, RecordingFollower, Seed, requests_to

SECOND_APPROVER = "U0APPROV4"
APPROVALS = "C0APPROVE"


@pytest.fixture
def policy() -> Policy:
    return Policy(
        approvers=[APPROVER, SECOND_APPROVER],
        approval_channel=APPROVALS,
        quota=Quota(total_memory_mib=4096, total_disk_gib=100),
    )


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


def approvals_on(
    db: Database,
    proxmox: ProxmoxClient,
    policy: Policy,
    notifier: RecordingNotifier,
    clock: FakeClock,
) -> ActionApprovals:
    """One replica's approval service (its own ContainerService and outbox on ``db``)."""
    containers = ContainerService(db, proxmox, RecordingFollower(), policy, clock)
    approvers = StaticApprovers(frozenset(policy.approver_users))
    return ActionApprovals(db, containers, Outbox(db, notifier, clock), approvers, clock)


@pytest.fixture
def approvals(
    db: Database, proxmox: ProxmoxClient, policy: Policy, notifier: RecordingNotifier, clock: FakeClock
) -> ActionApprovals:
    return approvals_on(db, proxmox, policy, notifier, clock)


async def ask_destroy(approvals: ActionApprovals, seed: Seed, *, by: str = OTHER) -> ActionApproval:
    """``by`` asks to destroy OWNER's 10001: the card is posted and the record is open."""
    await seed(10001)
    plan = await approvals.containers.request_destroy(Actor(by, is_approver=by == APPROVER), 10001)
    assert plan.needs_approval
    return await approvals.ask_destroy(plan, channel=APPROVALS)


async def record(db: Database, approval_id: str) -> ActionApproval:
    async with db.transaction(readonly=True) as tx:
        found = await tx.action_approvals.get(approval_id)
    assert found is not None
    return found


async def decisions_audited(db: Database) -> list[tuple[str, str]]:
    async with db.transaction(readonly=True) as tx:
        events = await tx.audit.recent(vmid=10001, limit=100)
    return [(e.actor, e.action) for e in events if e.action.endswith(("_approved", "_denied"))]


async def test_asking_records_the_request_and_posts_a_card_carrying_only_its_id(
    approvals: ActionApprovals, seed: Seed, db: Database, notifier: RecordingNotifier
) -> None:
    opened = await ask_destroy(approvals, seed)
    assert (opened.action, opened.vmid, opened.requested_by) == ("destroy", 10001, OTHER)
    assert opened.status is ApprovalStatus.PENDING
    [card] = notifier.posts_with_key(card_key(opened.id))
    assert card.channel == APPROVALS
    assert isinstance(card.event, ActionApprovalCard)
    assert card.event.approval_id == opened.id
    assert (opened.card_channel, opened.card_ts) == (APPROVALS, card.ts)
    async with db.transaction(readonly=True) as tx:
        [asked] = await tx.audit.recent(vmid=10001, limit=10)
    assert (asked.actor, asked.action) == (OTHER, "container.destroy_approval_requested")
    assert asked.detail["approval_id"] == opened.id


async def test_an_approved_destroy_runs_once_revises_the_card_and_tells_the_requester(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, notifier: RecordingNotifier
) -> None:
    opened = await ask_destroy(approvals, seed)
    decision = await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    assert (decision.won, decision.approved, decision.decided_by) == (True, True, APPROVER)
    [delete] = requests_to(sim, "DELETE", "/lxc/10001")
    assert delete.params.get("purge") in (1, "1", True)
    decided = await record(db, opened.id)
    assert (decided.status, decided.decided_by) == (ApprovalStatus.APPROVED, APPROVER)
    assert decided.result is not None
    assert decided.result["upid"]
    [revised] = notifier.updates
    assert revised.ts == opened.card_ts
    assert isinstance(revised.event, ActionApprovalCard)
    assert (revised.event.decided_by, revised.event.approved) == (APPROVER, True)
    [told] = notifier.posts_with_key(outcome_key(opened.id))
    assert told.channel == await notifier.open_dm(user=OTHER)  # the DM with the requester
    assert told.event == ActionDecided(revised.event.plan, APPROVER, approved=True)
    assert await decisions_audited(db) == [(APPROVER, "container.destroy_approved")]


async def test_a_denied_destroy_touches_nothing_in_proxmox(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, notifier: RecordingNotifier
) -> None:
    opened = await ask_destroy(approvals, seed)
    decision = await approvals.decide(opened.id, clicker=APPROVER, approve=False)
    assert decision.won
    assert requests_to(sim, "DELETE", "/lxc/10001") == []
    assert (await record(db, opened.id)).status is ApprovalStatus.DENIED
    [revised] = notifier.updates
    assert isinstance(revised.event, ActionApprovalCard)
    assert revised.event.approved is False
    assert await decisions_audited(db) == [(APPROVER, "container.destroy_denied")]


class MeetingApprovers:
    """Approver lookups of the two deciders wait for each other, so both clicks have read the open record
    before either claims it: the claim itself has to pick the winner."""

    def __init__(self, policy: Policy, deciders: set[str]) -> None:
        self._static = StaticApprovers(frozenset(policy.approver_users))
        self._waiting = set(deciders)
        self._barrier = asyncio.Barrier(len(deciders))

    async def is_approver(self, user_id: str) -> bool:
        if user_id in self._waiting:
            self._waiting.discard(user_id)
            await self._barrier.wait()
        return await self._static.is_approver(user_id)


async def test_the_first_decision_wins_when_two_replicas_claim_at_once(
    seed: Seed,
    db: Database,
    db_factory: Callable[[], Awaitable[Database]],
    proxmox: ProxmoxClient,
    policy: Policy,
    notifier: RecordingNotifier,
    clock: FakeClock,
    sim: Simulator,
) -> None:
    """Approve on one replica and Deny on another, both past every check at the same moment: exactly one
    decision counts, and the container is destroyed if and only if the approval won."""
    first = approvals_on(db, proxmox, policy, notifier, clock)
    second = approvals_on(await db_factory(), proxmox, policy, notifier, clock)
    opened = await ask_destroy(first, seed)
    first.approvers = second.approvers = MeetingApprovers(policy, {APPROVER, SECOND_APPROVER})
    approve, deny = await asyncio.gather(
        first.decide(opened.id, clicker=APPROVER, approve=True),
        second.decide(opened.id, clicker=SECOND_APPROVER, approve=False),
    )
    assert [approve.won, deny.won].count(True) == 1
    winner = approve if approve.won else deny
    loser = deny if approve.won else approve
    assert loser.decided_by == winner.decided_by
    decided = await record(db, opened.id)
    assert decided.decided_by == winner.decided_by
    assert len(requests_to(sim, "DELETE", "/lxc/10001")) == (1 if approve.won else 0)
    assert len(await decisions_audited(db)) == 1
    assert len(notifier.posts_with_key(outcome_key(opened.id))) == 1


async def test_a_repeated_click_only_learns_who_decided(
    approvals: ActionApprovals, seed: Seed, sim: Simulator
) -> None:
    opened = await ask_destroy(approvals, seed)
    await approvals.decide(opened.id, clicker=APPROVER, approve=False)
    again = await approvals.decide(opened.id, clicker=SECOND_APPROVER, approve=True)
    assert (again.won, again.decided_by, again.approved) == (False, APPROVER, False)
    assert requests_to(sim, "DELETE", "/lxc/10001") == []


@pytest.mark.parametrize("forged", [str(uuid.uuid4()), "10001:U0OTHER2", ""])
async def test_a_forged_id_is_refused_and_changes_nothing(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, forged: str
) -> None:
    opened = await ask_destroy(approvals, seed)
    with pytest.raises(ApprovalNotOpen) as info:
        await approvals.decide(forged, clicker=APPROVER, approve=True)
    assert "does not match an open approval" in info.value.what
    assert requests_to(sim, "DELETE", "/lxc/10001") == []
    assert (await record(db, opened.id)).status is ApprovalStatus.PENDING


async def test_an_approver_cannot_approve_their_own_request(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator
) -> None:
    opened = await ask_destroy(approvals, seed, by=APPROVER)
    with pytest.raises(AccessDenied) as info:
        await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    assert "own request" in info.value.what
    assert requests_to(sim, "DELETE", "/lxc/10001") == []
    assert (await record(db, opened.id)).status is ApprovalStatus.PENDING


@pytest.mark.parametrize("clicker", [OWNER, OTHER, "U0STRANGER"])
async def test_only_approvers_decide_checked_at_click_time(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, clicker: str
) -> None:
    opened = await ask_destroy(approvals, seed)
    with pytest.raises(AccessDenied) as info:
        await approvals.decide(opened.id, clicker=clicker, approve=True)
    assert "Only approvers" in info.value.what
    assert requests_to(sim, "DELETE", "/lxc/10001") == []
    assert (await record(db, opened.id)).status is ApprovalStatus.PENDING


async def test_an_approved_resize_applies_the_recorded_sizes(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, notifier: RecordingNotifier
) -> None:
    await seed(10001, memory=1024)
    result = await approvals.containers.resize(Actor(OWNER), 10001, memory_mib=8192)
    assert not result.applied
    opened = await approvals.ask_resize(result.plan, channel=APPROVALS)
    assert opened.params["memory_mib"] == 8192
    assert requests_to(sim, "PUT", "/lxc/10001/config") == []
    decision = await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    assert decision.won
    [put] = requests_to(sim, "PUT", "/lxc/10001/config")
    assert int(put.params["memory"]) == 8192
    assert sim.containers[10001].config["memory"] == 8192
    [told] = notifier.posts_with_key(outcome_key(opened.id))
    assert isinstance(told.event, ActionDecided)
    assert told.event.approved
    assert await decisions_audited(db) == [(APPROVER, "container.resize_approved")]


async def test_a_failed_action_is_shown_on_the_card_and_the_decision_stands(
    approvals: ActionApprovals, seed: Seed, db: Database, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    """The container was destroyed another way before the approval: the clicker hears it, the card says
    so, and the approval cannot be decided again."""
    opened = await ask_destroy(approvals, seed)
    async with db.transaction() as tx:
        await tx.containers.mark_destroyed(10001, now=clock())
    with pytest.raises(ContainerNotManaged):
        await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    decided = await record(db, opened.id)
    assert decided.status is ApprovalStatus.APPROVED
    assert decided.result is not None
    assert "destroyed" in decided.result["error"]
    [revised] = notifier.updates
    assert isinstance(revised.event, ActionApprovalCard)
    assert revised.event.note is not None
    assert "The destroy failed" in revised.event.note
    again = await approvals.decide(opened.id, clicker=SECOND_APPROVER, approve=True)
    assert not again.won
