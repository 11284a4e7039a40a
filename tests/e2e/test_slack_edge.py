"""The Slack edge as Slack sees it: signatures, the modal's field errors, denial with a reason, double
clicks, quota, several alike containers, and Proxmox being down."""

from __future__ import annotations

import time
from typing import Any

from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY, CALLBACK_CREATE, CALLBACK_DENY_REASON
from tests.e2e.harness import (
    APPROVALS,
    APPROVER,
    CHANNEL,
    REQUESTER,
    SIGNING_SECRET,
    Harness,
    button_value,
)
from tests.fakes.signing import form_body, number, plain, signed_request_headers, slash_command


async def _raw_post(h: Harness, body: bytes, headers: dict[str, str]) -> int:
    headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    resp = await h.http.post("/slack/events", data=body, headers=headers)
    return resp.status


async def test_bad_missing_and_stale_signatures_get_401_and_do_nothing(harness: Harness) -> None:
    body = form_body(slash_command("create", user=REQUESTER, channel=CHANNEL))
    now = int(time.time())
    forged = signed_request_headers(body, "not-the-secret", now)
    stale = signed_request_headers(body, SIGNING_SECRET, now - 10 * 60)
    assert await _raw_post(harness, body, forged) == 401
    assert await _raw_post(harness, body, {}) == 401
    assert await _raw_post(harness, body, stale) == 401
    assert harness.slack.calls("views.open") == []


async def test_modal_opens_at_once_then_fills_templates_with_the_view_hash(harness: Harness) -> None:
    await harness.command("create")
    [opened] = harness.slack.calls("views.open")
    [updated] = harness.slack.calls("views.update")
    assert opened.params["trigger_id"]
    assert updated.params["hash"]  # the update names the version it replaces
    view = harness.last_view(CALLBACK_CREATE)
    assert "debian-12-standard" in str(view["blocks"])


async def test_modal_opens_filled_in_one_call_while_cardinals_copies_are_fresh(harness: Harness) -> None:
    """Once Cardinal holds fresh copies of the nodes and template storages, ``/lxc create`` opens the modal
    with its templates in one Slack call; when they are stale it opens at once and fills them after."""
    await harness.command("create")
    proxmox_calls = len(harness.sim.request_log)
    await harness.command("create")
    assert len(harness.slack.calls("views.open")) == 2
    assert len(harness.slack.calls("views.update")) == 1  # only the first, cold, modal was filled later
    opened = harness.slack.calls("views.open")[-1].params["view"]
    assert "debian-12-standard" in str(opened)
    assert len(harness.sim.request_log) == proxmox_calls  # from the copies: Proxmox was not asked again

    harness.cardinal.proxmox.invalidate_snapshots()  # as after a change Cardinal made: the copies are stale
    await harness.command("create")
    assert len(harness.slack.calls("views.update")) == 2
    assert "debian-12-standard" in str(harness.last_view(CALLBACK_CREATE)["blocks"])


async def test_each_invalid_field_is_answered_in_the_modal_and_nothing_reaches_proxmox(
    harness: Harness,
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"hostname": {"value": plain("bad_name!")}}, "hostname"),
        ({"hostname": {"value": plain("a," + "b" * 10)}}, "hostname"),
        ({"count": {"value": number("99")}}, "count"),
        (
            {
                "net_mode": {"value": {"type": "radio_buttons", "selected_option": {"value": "static"}}},
                "ipv4": {"value": plain("10.0.0.5/33")},
            },
            "ipv4",
        ),
        (
            {
                "net_mode": {"value": {"type": "radio_buttons", "selected_option": {"value": "static"}}},
                "ipv4": {"value": plain("10.0.0.5/24")},
                "gateway": {"value": plain("192.168.1.1")},
            },
            "gateway",
        ),
        ({"vlan": {"value": number("4095")}}, "vlan"),
        ({"vlan": {"value": number("0")}}, "vlan"),
        ({"bridge": {"value": {"type": "static_select", "selected_option": {"value": "vmbr9"}}}}, "bridge"),
        ({"ssh_key": {"value": plain("ssh-rsa AAAA\nevil=1")}}, "ssh_key"),
        (
            {
                "template": {
                    "value": {"type": "static_select", "selected_option": {"value": "nfs:vztmpl/x.tar"}}
                }
            },
            "template",
        ),
    ]
    for fields, block in cases:
        status, body = await harness.request("web", fields=fields)
        assert status == 200
        assert body["response_action"] == "errors", fields
        assert block in body["errors"], (fields, body)
        assert body["errors"][block]  # says what is wrong
    assert harness.creates() == []
    assert harness.slack.messages(CHANNEL) == []


async def test_deny_asks_for_a_reason_and_tells_the_requester(harness: Harness) -> None:
    await harness.request("big", preset="large")
    [card] = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    await harness.click(ACTION_DENY, button_value(card, ACTION_DENY), user=APPROVER)
    modal = harness.last_view(CALLBACK_DENY_REASON)
    _, body = await harness.submit_view(modal, {"reason": {"value": plain("")}}, user=APPROVER)
    assert body["response_action"] == "errors"  # a denial needs a reason
    await harness.submit_view(modal, {"reason": {"value": plain("use the shared staging DB")}}, user=APPROVER)
    told = await harness.settle(lambda: [t for t in harness.texts() if "denied" in t])
    assert "use the shared staging DB" in told[0]
    assert harness.creates() == []
    assert "approval_actions" not in str(harness.slack.messages(APPROVALS)[0]["blocks"])


async def test_double_click_and_second_approver_change_nothing(harness: Harness) -> None:
    harness.slack.add_user("U0APPROV2")
    harness.cardinal.services.requests.approvers.user_ids = frozenset({APPROVER, "U0APPROV2"})  # type: ignore[attr-defined]
    await harness.request("big", preset="large")
    [card] = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    value = button_value(card, ACTION_APPROVE)
    await harness.click(ACTION_APPROVE, value, user=APPROVER)
    await harness.click(ACTION_APPROVE, value, user=APPROVER)
    await harness.click(ACTION_DENY, value, user="U0APPROV2")
    await harness.settle(lambda: [t for t in harness.texts() if "is ready" in t])
    assert len(harness.creates()) == 1
    said = [e.get("text", "") for e in harness.slack.ephemerals]
    assert any("Already decided" in t for t in said)


async def test_several_alike_share_one_thread_and_each_reports(harness: Harness) -> None:
    await harness.request("web", preset="small", count=3)
    [card] = await harness.settle(lambda: harness.slack.messages(APPROVALS))  # 3 > auto-approve count
    await harness.click(ACTION_APPROVE, button_value(card, ACTION_APPROVE), user=APPROVER)
    ready = await harness.settle(
        lambda: (
            (r := [m for m in harness.slack.messages(CHANNEL) if "is ready" in m["text"]])
            and len(r) == 3
            and r
        )
    )
    assert sorted(m["text"].split()[1] for m in ready) == ["web-1", "web-2", "web-3"]
    assert len({m["thread_ts"] for m in ready}) == 1
    assert len(harness.creates()) == 3


async def test_quota_exceeded_is_refused_in_the_modal(harness: Harness) -> None:
    for name in ("q1", "q2", "q3", "q4", "q5"):
        _, body = await harness.request(name)
        assert body == "", body
    _, body = await harness.request("q6")
    assert body["response_action"] == "errors"
    assert "quota" in " ".join(body["errors"].values())


async def test_proxmox_down_keeps_the_request_and_creates_it_later(harness: Harness) -> None:
    harness.sim.faults.error_rate = 1.0
    harness.sim.faults.error_codes = (595,)
    _, body = await harness.request("web")
    assert body == ""
    notice = await harness.settle(lambda: [t for t in harness.texts() if "unreachable" in t])
    assert "kept" in notice[0]
    assert harness.creates() == []
    harness.sim.faults.error_rate = 0.0
    harness.clock.advance(minutes=1)  # the circuit breaker's cool-down passes
    assert await harness.cardinal.services.requests.provision_pending() == 1
    await harness.settle(lambda: [t for t in harness.texts() if "is ready" in t])
    assert len(harness.creates()) == 1


async def test_readiness_reports_a_dropped_socket_mode_connection(harness: Harness) -> None:
    """/readyz is not ready until Slack answered, and again not while Socket Mode is reconnecting."""
    assert (await harness.cardinal.readiness())["slack"] == "Slack connection not established"
    harness.cardinal.slack_ok = True
    connected = True

    async def is_connected() -> bool:
        return connected

    harness.cardinal.socket_connected = is_connected
    assert (await harness.cardinal.readiness())["slack"] is True
    connected = False
    assert "Socket Mode connection is down" in str((await harness.cardinal.readiness())["slack"])
