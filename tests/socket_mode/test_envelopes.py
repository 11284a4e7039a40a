"""The real app served over Socket Mode: slash commands, button clicks, modal submissions and events arrive
in envelopes from the fake Socket Mode server, and each answer travels back in the envelope's ack — the
payload an HTTP response body would carry (a command's text, a modal's ``response_action``)."""

from __future__ import annotations

import json
from typing import Any

from cardinal_sim.slack.payloads import create_values
from handlers.blocks.ids import ACTION_APPROVE, CALLBACK_CREATE
from handlers.socket_mode import SocketMode
from tests.conftest import SIM_TEMPLATE
from tests.e2e.harness import APPROVALS, APPROVER, CHANNEL, REQUESTER, Harness, button_value
from tests.fakes.signing import block_action, slash_command, view_submission
from tests.fakes.socket_mode import FakeSocketMode

Served = tuple[Harness, SocketMode]


async def _command(
    harness: Harness, fake: FakeSocketMode, text: str, *, user: str = REQUESTER
) -> dict[str, Any]:
    harness.trigger_seq += 1
    payload = slash_command(
        text,
        user=user,
        channel=CHANNEL,
        trigger_id=f"sm-trigger-{harness.trigger_seq}",
        response_url=harness.hook_url(f"sm-cmd-{harness.trigger_seq}"),
    )
    ack = await fake.ack(await fake.envelope("slash_commands", payload))
    await harness.idle()
    return ack


async def _interactive(harness: Harness, fake: FakeSocketMode, payload: dict[str, Any]) -> dict[str, Any]:
    ack = await fake.ack(await fake.envelope("interactive", payload))
    await harness.idle()
    return ack


def _create_values(hostname: str, preset: str) -> dict[str, Any]:
    return create_values(hostname, template=SIM_TEMPLATE, preset=preset)


async def test_a_slash_command_is_answered_in_its_ack(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    harness, _ = socket_app
    ack = await _command(harness, socket_server, "help")
    payload = ack["payload"]
    assert "/lxc create" in json.dumps(payload)
    # The same command over HTTP answers with the same body: one app, two transports.
    _, http_body = await harness.command("help")
    assert payload == http_body


async def test_a_modal_submission_with_a_bad_field_is_answered_with_errors_in_the_ack(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    harness, _ = socket_app
    ack = await _command(harness, socket_server, "create")
    assert set(ack) == {"envelope_id"}  # the modal opens by views.open, not in the ack
    view = harness.last_view(CALLBACK_CREATE)
    payload = view_submission(
        view["callback_id"], _create_values("bad_name!", "small"), user=REQUESTER, view=view
    )
    ack = await _interactive(harness, socket_server, payload)
    assert ack["payload"]["response_action"] == "errors"
    assert "hostname" in ack["payload"]["errors"]
    assert harness.creates() == []


async def test_a_request_made_and_approved_over_socket_mode_is_created(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    harness, _ = socket_app
    await _command(harness, socket_server, "create")
    view = harness.last_view(CALLBACK_CREATE)
    submission = view_submission(
        view["callback_id"], _create_values("big", "large"), user=REQUESTER, view=view
    )
    ack = await _interactive(harness, socket_server, submission)
    assert ack.get("payload", {}).get("response_action") != "errors"
    card = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    click = block_action(
        ACTION_APPROVE,
        button_value(card[0], ACTION_APPROVE),
        user=APPROVER,
        channel=APPROVALS,
        trigger_id="sm-click-1",
        response_url=harness.hook_url("sm-act-1"),
    )
    ack = await _interactive(harness, socket_server, click)
    assert set(ack) == {"envelope_id"}
    await harness.settle(lambda: [t for t in harness.texts() if "is ready" in t])
    assert len(harness.creates()) == 1


async def test_an_event_is_acknowledged_and_handled(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    harness, _ = socket_app
    event = {
        "token": "legacy",
        "team_id": "T0001",
        "api_app_id": "A0CARDINAL",
        "type": "event_callback",
        "event_id": "Ev0SOCKET1",
        "event_time": 1700000000,
        "event": {"type": "app_home_opened", "user": REQUESTER, "channel": "D0REQUEST", "tab": "home"},
    }
    ack = await socket_server.ack(await socket_server.envelope("events_api", event))
    assert ack == {"envelope_id": ack["envelope_id"]}
    await harness.slack.wait_for(lambda: REQUESTER in harness.slack.home_views)
