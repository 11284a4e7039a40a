"""Create → (approval) → container ready with its IP in the thread, driven through the real Slack app."""

from __future__ import annotations

from handlers.blocks.ids import ACTION_APPROVE
from tests.e2e.harness import APPROVALS, APPROVER, CHANNEL, OTHER, REQUESTER, Harness, button_value


async def test_small_request_is_auto_approved_and_reports_its_dhcp_address(harness: Harness) -> None:
    status, body = await harness.request("web")
    assert status == 200
    assert body == ""  # accepted: the modal closes
    ready = await harness.settle(
        lambda: [m for m in harness.slack.messages(CHANNEL) if "is ready" in m["text"]]
    )
    assert len(ready) == 1
    [root] = [m for m in harness.slack.messages(CHANNEL) if "thread_ts" not in m or m["thread_ts"] == m["ts"]]
    assert ready[0]["thread_ts"] == root["ts"]  # the result is a reply in the request's thread
    assert "ssh root@10." in str(ready[0]["blocks"])
    assert root["text"].startswith("✅ Ready")  # the root message was updated in place
    assert len(harness.creates()) == 1
    assert harness.slack.messages(APPROVALS) == []


async def test_request_beyond_auto_approval_waits_for_an_approver(harness: Harness) -> None:
    await harness.request("big", preset="large")
    card = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    assert harness.creates() == []
    value = button_value(card[0], ACTION_APPROVE)
    await harness.click(ACTION_APPROVE, value, user=APPROVER)
    await harness.settle(lambda: [t for t in harness.texts() if "is ready" in t])
    assert len(harness.creates()) == 1
    updated = harness.slack.messages(APPROVALS)[0]
    assert "approval_actions" not in str(updated["blocks"])  # buttons removed after the decision


async def test_self_approval_and_non_approver_clicks_change_nothing(harness: Harness) -> None:
    await harness.request("big", preset="large")
    card = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    value = button_value(card[0], ACTION_APPROVE)
    await harness.click(ACTION_APPROVE, value, user=REQUESTER)
    await harness.click(ACTION_APPROVE, value, user=OTHER)
    await harness.settle(lambda: True)
    assert harness.creates() == []
    said = " ".join(e.get("text", "") for e in harness.slack.ephemerals)
    assert "own request" in said
    assert "Only approvers" in said


async def test_forged_button_value_is_refused_with_a_message(harness: Harness) -> None:
    status, _ = await harness.click(ACTION_APPROVE, "x' OR 1=1; --", user=APPROVER)
    assert status == 200
    assert any("no longer matches a request" in t for t in harness.told(APPROVER))
    assert harness.creates() == []
