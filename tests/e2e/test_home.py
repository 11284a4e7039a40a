"""The App Home tab end to end: Slack's signed ``app_home_opened`` event publishes the person's containers
(and, for approvers, the pending approvals); Approve in the Home goes through the card's own path (first
decision wins) and the Home is refreshed after the decision."""

from __future__ import annotations

import json
import time
from typing import Any

from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY, ACTION_EXTEND, APPROVAL_ACTIONS_BLOCK
from handlers.home import HomeRefresher
from tests.e2e.harness import APPROVALS, APPROVER, CHANNEL, REQUESTER, SIGNING_SECRET, Harness, button_value
from tests.fakes.signing import block_action, interactive_body, signed_request_headers

TEAM = "T0001"


async def send(h: Harness, body: bytes, content_type: str) -> tuple[int, str]:
    """POST ``body`` to Cardinal signed as Slack signs it; returns (status, response text)."""
    headers = signed_request_headers(body, SIGNING_SECRET, int(time.time()), content_type=content_type)
    resp = await h.http.post("/slack/events", data=body, headers=headers)
    return resp.status, await resp.text()


def publishes(h: Harness, user: str) -> int:
    return sum(1 for c in h.slack.calls("views.publish") if c.params.get("user_id") == user)


async def open_home(h: Harness, user: str, *, seq: int = 1) -> dict[str, Any]:
    """The person opens Cardinal's Home tab: Slack sends the event; returns the view Cardinal published."""
    before = publishes(h, user)
    event = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0CARDINAL",
        "type": "event_callback",
        "event_id": f"Ev0HOME{seq:04d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": "UBOT0001", "is_bot": True}],
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user[1:]}",
            "tab": "home",
            "event_ts": f"{int(time.time())}.000100",
        },
    }
    status, _ = await send(h, json.dumps(event).encode(), "application/json")
    assert status == 200
    # Bolt runs event listeners after the ack: wait (bounded) for the publish, then for its follow-ups.
    await h.slack.wait_for(lambda: publishes(h, user) > before)
    await h.idle()
    return h.slack.home_views[user]


async def click_in_home(h: Harness, view: dict[str, Any], action_id: str, value: str, *, user: str) -> int:
    """Click a button in the Home tab (a ``block_actions`` payload from a view: no channel, no
    response_url)."""
    payload = block_action(action_id, value, user=user, view={**view, "id": "V0HOME0001"})
    status, _ = await send(h, interactive_body(payload), "application/x-www-form-urlencoded")
    await h.idle()
    return status


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def refresher(h: Harness) -> HomeRefresher:
    return h.cardinal.services.home


async def test_url_verification_is_answered(harness: Harness) -> None:
    body = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"}).encode()
    status, text = await send(harness, body, "application/json")
    assert status == 200
    assert "c-123" in text


async def test_opening_the_home_tab_shows_the_persons_containers(harness: Harness) -> None:
    await harness.request("web")
    await harness.settle(lambda: [t for t in harness.texts(CHANNEL) if "is ready" in t])
    view = await open_home(harness, REQUESTER)
    assert view["type"] == "home"
    text = text_of(view)
    assert "Your containers (1)" in text
    assert "`web`" not in text  # hostnames are bold, not code
    assert "*web*" in text
    assert "`10." in text, "the IP is shown"
    assert "Pending approvals" not in text, "a requester is no approver"
    actions = [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["lxc_power.stop", "lxc_power.reboot", ACTION_EXTEND]


async def test_an_approvers_home_shows_pending_approvals_with_the_card_buttons(harness: Harness) -> None:
    await harness.request("big", preset="large")
    card = (await harness.settle(lambda: harness.slack.messages(APPROVALS)))[0]
    view = await open_home(harness, APPROVER)
    text = text_of(view)
    assert "Pending approvals (1)" in text
    assert f"<@{REQUESTER}>" in text
    assert "`big`" in text
    approval_id = button_value(card, ACTION_APPROVE)
    assert button_value(view, ACTION_APPROVE) == approval_id
    assert button_value(view, ACTION_DENY) == approval_id


async def test_approve_from_the_home_decides_once_and_refreshes_the_homes(harness: Harness) -> None:
    refresher(harness).min_interval = 0.0  # publish on every change (the debounce has its own tests)
    await harness.request("big", preset="large")
    card = (await harness.settle(lambda: harness.slack.messages(APPROVALS)))[0]
    card_value = button_value(card, ACTION_APPROVE)
    await open_home(harness, REQUESTER, seq=1)
    home = await open_home(harness, APPROVER, seq=2)
    requester_before, approver_before = publishes(harness, REQUESTER), publishes(harness, APPROVER)

    value = button_value(home, ACTION_APPROVE)
    assert value == card_value, "the Home's button is the card's button"
    assert await click_in_home(harness, home, ACTION_APPROVE, value, user=APPROVER) == 200
    await harness.settle(lambda: [t for t in harness.texts() if "is ready" in t])
    assert len(harness.creates()) == 1
    decided_card = harness.slack.messages(APPROVALS)[0]
    assert APPROVAL_ACTIONS_BLOCK not in str(decided_card["blocks"]), "the card shows the decision"
    assert "Approved by" in str(decided_card["blocks"])

    # The Homes were refreshed after the decision: no pending approval is left to click.
    assert publishes(harness, APPROVER) > approver_before
    assert publishes(harness, REQUESTER) > requester_before
    refreshed = harness.slack.home_views[APPROVER]
    assert "Pending approvals (0)" in text_of(refreshed)
    assert ACTION_APPROVE not in text_of(refreshed)

    # A second click, from the card, changes nothing: the first decision won.
    await harness.click(ACTION_APPROVE, card_value, user=APPROVER)
    await harness.settle(lambda: True)
    assert len(harness.creates()) == 1
    assert any("Already decided" in t for t in harness.ephemeral_texts(APPROVER))


async def test_a_quick_action_in_the_home_stops_the_container_answers_by_dm_and_refreshes(
    harness: Harness,
) -> None:
    refresher(harness).min_interval = 0.0
    await harness.request("web")
    await harness.settle(lambda: [t for t in harness.texts(CHANNEL) if "is ready" in t])
    home = await open_home(harness, REQUESTER)
    before = publishes(harness, REQUESTER)
    value = button_value(home, "lxc_power.stop")
    vmid = int(value.split(":")[0])

    assert await click_in_home(harness, home, "lxc_power.stop", value, user=REQUESTER) == 200
    # The same listener as /lxc status's button did it; its answer came as a DM (a Home has no thread).
    dm = [m["text"] for m in harness.slack.messages(f"D{REQUESTER[1:]}")]
    assert any(t.startswith(f"⏳ Stopping CT {vmid}") for t in dm)
    assert publishes(harness, REQUESTER) > before, "the Home was refreshed after the action"
    await harness.settle(lambda: not harness.sim.containers[vmid].running)


async def test_a_forged_home_click_is_refused_by_dm_and_changes_nothing(harness: Harness) -> None:
    await harness.request("web")
    await harness.settle(lambda: [t for t in harness.texts(CHANNEL) if "is ready" in t])
    home = await open_home(harness, REQUESTER)
    assert await click_in_home(harness, home, "lxc_power.stop", "1; DROP TABLE", user=REQUESTER) == 200
    dm = " ".join(m["text"] for m in harness.slack.messages(f"D{REQUESTER[1:]}"))
    assert "does not match a container Cardinal knows" in dm
    assert [r for r in harness.sim.request_log if r.path.endswith("/status/stop")] == []
