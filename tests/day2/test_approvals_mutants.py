"""More of the day-2 approval model, as approvers and requesters see it: what the audit trail says
about a request, what a repeated or refused click learns, what the card and the requester's message
say, and that a decision stands when Slack fails to show it (bot.approvals; the basics are in
``test_approvals.py``)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from bot.access import AccessDenied, Actor
from bot.approvals import ActionApprovals, ApprovalNotOpen, card_key, outcome_key, plan_of
from bot.containers.results import DestroyPlan, ResizePlan
from bot.db import ApprovalStatus, Database
from bot.db.records import ActionApproval
from bot.errors import CardinalError
from bot.events import ActionApprovalCard, ActionDecided, Event
from bot.notify import RecordingNotifier
from bot.policy import Policy, Quota
from bot.proxmox import ProxmoxClient
from cardinal_sim.proxmox import Simulator
from tests.conftest import FakeClock
from tests.day2.conftest import APPROVER, OTHER, OWNER, Seed, requests_to
from tests.day2.test_approvals import approvals_on

SECOND_APPROVER = "U0APPROV4"
APPROVALS = "C0APPROVE"


class SlackDown(RuntimeError):
    """The notifier's transport failing (what a Slack outage looks like to the outbox)."""


class FlakyNotifier(RecordingNotifier):
    """Records like RecordingNotifier; card updates and outcome posts fail while ``down`` is set."""

    down: bool = False

    async def update(self, *, channel: str, ts: str, event: Event) -> None:
        if self.down:
            raise SlackDown("update")
        await super().update(channel=channel, ts=ts, event=event)

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        if self.down and key.endswith(":outcome"):
            raise SlackDown("post")
        return await super().post(key=key, channel=channel, thread_ts=thread_ts, event=event)


@pytest.fixture
def policy() -> Policy:
    return Policy(
        approvers=[APPROVER, SECOND_APPROVER],
        approval_channel=APPROVALS,
        quota=Quota(total_memory_mib=4096, total_disk_gib=100),
    )


@pytest.fixture
def notifier() -> FlakyNotifier:
    return FlakyNotifier()


@pytest.fixture
def approvals(
    db: Database, proxmox: ProxmoxClient, policy: Policy, notifier: FlakyNotifier, clock: FakeClock
) -> ActionApprovals:
    return approvals_on(db, proxmox, policy, notifier, clock)


async def ask_destroy(approvals: ActionApprovals, seed: Seed, *, by: str = OTHER) -> ActionApproval:
    await seed(10001)
    plan = await approvals.containers.request_destroy(Actor(by, is_approver=by == APPROVER), 10001)
    return await approvals.ask_destroy(plan, channel=APPROVALS)


async def ask_resize(approvals: ActionApprovals, seed: Seed) -> ActionApproval:
    await seed(10001, memory=1024, cores=1)
    result = await approvals.containers.resize(Actor(OWNER), 10001, cores=2, memory_mib=8192, disk_add_gib=3)
    assert not result.applied
    return await approvals.ask_resize(result.plan, channel=APPROVALS)


async def stored(db: Database, approval_id: str) -> ActionApproval:
    async with db.transaction(readonly=True) as tx:
        found = await tx.action_approvals.get(approval_id)
    assert found is not None
    return found


async def audit_detail(db: Database, action: str) -> dict[str, object]:
    async with db.transaction(readonly=True) as tx:
        events = await tx.audit.recent(vmid=10001, limit=100)
    [event] = [e for e in events if e.action == action]
    return dict(event.detail)


def test_outbox_keys_are_stable_and_distinct() -> None:
    """Stored in the outbox: a change would post every open card and outcome a second time."""
    assert card_key("A1") == "action-approval:A1:card"
    assert outcome_key("A1") == "action-approval:A1:outcome"


def test_a_forged_button_is_told_nothing_changed() -> None:
    refused = ApprovalNotOpen()
    assert refused.field == "approval"
    assert refused.what == "That button does not match an open approval."
    assert refused.hint is not None
    assert refused.hint.startswith("Nothing was changed.")


async def test_a_destroy_request_is_audited_with_its_card(
    approvals: ActionApprovals, seed: Seed, db: Database
) -> None:
    opened = await ask_destroy(approvals, seed)
    detail = await audit_detail(db, "container.destroy_approval_requested")
    assert detail == {
        "owner": OWNER,
        "approval_id": opened.id,
        "card_channel": APPROVALS,
        "card_ts": opened.card_ts,
    }
    assert isinstance(plan_of(opened), DestroyPlan)
    assert plan_of(opened).vmid == 10001


async def test_a_resize_request_records_and_audits_the_sizes_and_reason(
    approvals: ActionApprovals, seed: Seed, db: Database, notifier: FlakyNotifier
) -> None:
    opened = await ask_resize(approvals, seed)
    assert (opened.action, opened.requested_by, opened.status) == ("resize", OWNER, ApprovalStatus.PENDING)
    assert (opened.params["cores"], opened.params["memory_mib"], opened.params["disk_add_gib"]) == (
        2,
        8192,
        3,
    )
    plan = plan_of(opened)
    assert isinstance(plan, ResizePlan)
    assert plan.reason  # which quota the resize goes past
    detail = await audit_detail(db, "container.resize_approval_requested")
    assert detail == {
        "owner": OWNER,
        "reason": plan.reason,
        "cores": 2,
        "memory_mib": 8192,
        "disk_add_gib": 3,
        "approval_id": opened.id,
        "card_channel": APPROVALS,
        "card_ts": opened.card_ts,
    }
    [card] = notifier.posts_with_key(card_key(opened.id))
    assert card.event == ActionApprovalCard(opened.id, plan)


async def test_an_approved_resize_applies_every_recorded_size_and_keeps_the_result(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, notifier: FlakyNotifier
) -> None:
    opened = await ask_resize(approvals, seed)
    decision = await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    assert decision.approval_id == opened.id
    assert (decision.action, decision.won, decision.approved, decision.decided_by) == (
        "resize",
        True,
        True,
        APPROVER,
    )
    config = sim.containers[10001].config
    assert (config["cores"], config["memory"]) == (2, 8192)
    assert requests_to(sim, "PUT", "/lxc/10001/resize")
    decided = await stored(db, opened.id)
    assert decided.result is not None
    assert decided.result["applied"] is True
    assert str(decided.result["upid"]).startswith("UPID:")
    [revised] = notifier.updates
    assert isinstance(revised.event, ActionApprovalCard)
    assert revised.event == ActionApprovalCard(opened.id, revised.event.plan, APPROVER, True)
    [told] = notifier.posts_with_key(outcome_key(opened.id))
    assert told.event == ActionDecided(revised.event.plan, APPROVER, True)


async def test_a_denied_resize_changes_nothing_and_the_requester_hears_it(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, notifier: FlakyNotifier
) -> None:
    opened = await ask_resize(approvals, seed)
    decision = await approvals.decide(opened.id, clicker=APPROVER, approve=False)
    assert (decision.action, decision.won, decision.approved) == ("resize", True, False)
    assert requests_to(sim, "PUT", "/lxc/10001/config") == []
    assert (await stored(db, opened.id)).result is None
    [told] = notifier.posts_with_key(outcome_key(opened.id))
    assert told.channel == await notifier.open_dm(user=OWNER)
    assert told.event == ActionDecided(plan_of(opened), APPROVER, False)
    [revised] = notifier.updates
    assert revised.event == ActionApprovalCard(opened.id, plan_of(opened), APPROVER, False)


async def test_an_approved_destroy_records_its_task(
    approvals: ActionApprovals, seed: Seed, db: Database
) -> None:
    opened = await ask_destroy(approvals, seed)
    decision = await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    assert decision.action == "destroy"
    decided = await stored(db, opened.id)
    assert decided.result is not None
    assert decided.result["already_gone"] is False
    assert str(decided.result["upid"]).startswith("UPID:")


async def test_an_approved_then_clicked_again_record_reports_the_approval(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, notifier: FlakyNotifier
) -> None:
    opened = await ask_destroy(approvals, seed)
    await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    again = await approvals.decide(opened.id, clicker=SECOND_APPROVER, approve=False)
    assert again.approval_id == opened.id
    assert (again.action, again.won, again.approved, again.decided_by) == ("destroy", False, True, APPROVER)
    assert len(requests_to(sim, "DELETE", "/lxc/10001")) == 1
    decided = await stored(db, opened.id)
    assert (decided.status, decided.decided_by) == (ApprovalStatus.APPROVED, APPROVER)
    assert len(notifier.updates) == 1
    assert len(notifier.posts_with_key(outcome_key(opened.id))) == 1


async def test_a_non_approver_clicking_a_decided_record_is_refused_not_told(
    approvals: ActionApprovals, seed: Seed
) -> None:
    opened = await ask_destroy(approvals, seed)
    await approvals.decide(opened.id, clicker=APPROVER, approve=False)
    with pytest.raises(AccessDenied):
        await approvals.decide(opened.id, clicker=OWNER, approve=True)


async def test_a_failed_destroy_says_why_on_the_card(
    approvals: ActionApprovals, seed: Seed, db: Database, notifier: FlakyNotifier, clock: FakeClock
) -> None:
    opened = await ask_destroy(approvals, seed)
    async with db.transaction() as tx:
        await tx.containers.mark_destroyed(10001, now=clock())
    with pytest.raises(CardinalError) as info:
        await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    what = info.value.what
    decided = await stored(db, opened.id)
    assert decided.result == {"error": what}
    [revised] = notifier.updates
    assert revised.ts == opened.card_ts
    assert revised.event == ActionApprovalCard(
        opened.id, plan_of(opened), APPROVER, True, f"The destroy failed: {what}"
    )
    assert notifier.posts_with_key(outcome_key(opened.id)) == []


async def test_the_decision_stands_when_slack_cannot_show_it(
    approvals: ActionApprovals, seed: Seed, db: Database, sim: Simulator, notifier: FlakyNotifier
) -> None:
    opened = await ask_destroy(approvals, seed)
    notifier.down = True
    with capture_logs() as logs:
        decision = await approvals.decide(opened.id, clicker=APPROVER, approve=True)
    assert (decision.won, decision.approved) == (True, True)
    assert len(requests_to(sim, "DELETE", "/lxc/10001")) == 1
    assert (await stored(db, opened.id)).status is ApprovalStatus.APPROVED
    assert notifier.updates == []
    assert notifier.posts_with_key(outcome_key(opened.id)) == []
    # the operator sees which approval Slack could not show, and why
    warned = [dict(line) for line in logs if line["log_level"] == "warning"]
    assert warned == [
        {
            "event": "approval.card_not_revised",
            "log_level": "warning",
            "approval_id": opened.id,
            "error": "SlackDown",
        },
        {
            "event": "approval.requester_not_told",
            "log_level": "warning",
            "approval_id": opened.id,
            "error": "SlackDown",
        },
    ]
