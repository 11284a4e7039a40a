"""Cardinal's answers to modal submissions are ones Slack accepts.

Slack rejects a whole ``response_action: errors`` answer whose keys are not block_ids of the view's input
blocks (docs.slack.dev/surfaces/modals, "Displaying errors in views"); the person then sees a generic
error and no hint. The fake Slack refuses such answers
(:func:`cardinal_sim.slack.blockkit.view_response_problems`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.blocks.create_modal import TEMPLATE_UNAVAILABLE_BLOCK
from handlers.blocks.ids import ACTION_DENY, CALLBACK_DENY_REASON
from tests.e2e.harness import APPROVALS, APPROVER, OTHER, Harness, button_value
from tests.fakes.signing import number, plain, selected

APPROVER_GROUP = "S0APPROVERS"


def _opened_view(harness: Harness) -> dict[str, Any]:
    """The create modal as views.open showed it: the template list still loading."""
    [opened] = harness.slack.calls("views.open")
    view = opened.params["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


async def test_submitting_while_templates_load_marks_the_template_field_in_the_view(harness: Harness) -> None:
    await harness.command("create")
    loading = _opened_view(harness)
    assert TEMPLATE_UNAVAILABLE_BLOCK in {b.get("block_id") for b in loading["blocks"]}
    values = {
        "hostname": {"value": plain("web")},
        "count": {"value": number("1")},
        TEMPLATE_UNAVAILABLE_BLOCK: {"value": selected("__unavailable__")},
        "preset": {"value": selected("small")},
        "net_mode": {"value": selected("dhcp", "radio_buttons")},
        "bridge": {"value": selected("vmbr0")},
        "lifetime": {"value": selected("7d")},
        "node": {"value": selected("auto")},
        "purpose": {"value": plain("testing")},
    }
    status, body = await harness.submit_view(loading, values, user="U0REQUEST")
    assert status == 200
    assert body["response_action"] == "errors"
    assert "loading" in body["errors"][TEMPLATE_UNAVAILABLE_BLOCK]
    assert harness.slack.refused_responses == []
    assert harness.creates() == []


@pytest.mark.parametrize("policy_overrides", [{"approvers": [APPROVER_GROUP]}])
async def test_deny_modal_opens_although_the_approver_lookup_takes_longer_than_a_trigger_lives(
    harness: Harness,
) -> None:
    """Approver groups are read from Slack at click time; that lookup may take longer than the 3 s a
    trigger_id lives, so the deny modal must be open before it."""
    harness.slack.add_usergroup(APPROVER_GROUP, [APPROVER])
    await harness.request("big", preset="large")
    card = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    harness.clock.advance(minutes=5)  # the approver group is read from Slack again at the click
    harness.slack.slow("usergroups.users.list", 4.0)
    await harness.click(ACTION_DENY, button_value(card[0], ACTION_DENY), user=APPROVER)
    shown = [a for a in harness.slack.activity if a.kind in ("view_open", "view_update")]
    opened = [a for a in shown if a.message.get("callback_id") == CALLBACK_DENY_REASON]
    assert opened, "the deny modal never opened"
    deny = harness.last_view(CALLBACK_DENY_REASON)
    assert "big" in str(deny["blocks"])  # filled in once the lookup answered
    status, body = await harness.submit_view(deny, {"reason": {"value": plain("too big")}}, user=APPROVER)
    assert (status, body) == (200, "")
    await harness.settle(lambda: [t for t in harness.texts() if "Denied" in t or "denied" in t])


async def test_a_non_approvers_deny_modal_is_replaced_by_the_refusal(harness: Harness) -> None:
    await harness.request("big", preset="large")
    card = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    await harness.click(ACTION_DENY, button_value(card[0], ACTION_DENY), user=OTHER)
    opened = [a for a in harness.slack.activity if a.kind == "view_open"]
    assert opened[-1].message["callback_id"] == CALLBACK_DENY_REASON
    [update] = [a for a in harness.slack.activity if a.kind == "view_update" and a.ts == opened[-1].ts]
    assert "Only approvers can deny" in str(update.message["blocks"])
    assert "submit" not in update.message
    assert any("Only approvers" in t for t in harness.ephemeral_texts(OTHER))
