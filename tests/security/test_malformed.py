"""Signed payloads Slack never sends get 400 and one WARNING line naming the reason, never the body, and
cause no outbound call (issue: twelve of them answered 500)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.harness import CHANNEL, REQUESTER
from tests.fakes.signing import block_action, form_body, slash_command, view_submission

from .conftest import Edge

MARKER = "MALFORMED-MARKER-3c9e"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def interactive(payload: Any) -> bytes:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return form_body({"payload": raw, "marker": MARKER})


def incomplete_view_submission() -> dict[str, Any]:
    payload = view_submission("create_request", {}, user=REQUESTER)
    del payload["view"]["state"]
    payload["view"]["private_metadata"] = MARKER
    return payload


def action_with_string_channel() -> dict[str, Any]:
    payload = block_action("approval_approve", MARKER, user=REQUESTER, channel=CHANNEL)
    payload["channel"] = MARKER
    return payload


CASES: list[tuple[str, bytes, str]] = [
    ("bad JSON in payload=", interactive("{" + MARKER), FORM),
    ("payload=null", interactive("null"), FORM),
    ("payload=[]", interactive("[]"), FORM),
    ("payload=123", interactive("123"), FORM),
    ("event: null", json.dumps({"type": "event_callback", "event": None, "x": MARKER}).encode(), JSON),
    ("top-level array", json.dumps([{"type": "event_callback", "x": MARKER}]).encode(), JSON),
    ("bad UTF-8", b"command=%2Flxc&user_id=U1&text=" + MARKER.encode() + b"\xff\xfe", FORM),
    ("bad UTF-8 JSON", b'{"type": "event_callback", "x": "\xff' + MARKER.encode() + b'"}', JSON),
    ("incomplete view_submission", interactive(incomplete_view_submission()), FORM),
    ("slash command as JSON", json.dumps(slash_command(MARKER, user=REQUESTER)).encode(), JSON),
    ("a channel that is not an object", interactive(action_with_string_channel()), FORM),
    (
        "block_actions without actions",
        interactive({"type": "block_actions", "user": {"id": REQUESTER}}),
        FORM,
    ),
    ("interactive payload without type", interactive({"user": {"id": REQUESTER}, "x": MARKER}), FORM),
    ("form without command or payload", form_body({"text": MARKER}), FORM),
    ("unknown content type", form_body(slash_command(MARKER, user=REQUESTER)), "text/plain"),
    ("bad JSON body", b"{" + MARKER.encode(), JSON),
    ("repeated form field", form_body(slash_command(MARKER, user=REQUESTER)) + b"&command=%2Fother", FORM),
]


@pytest.mark.parametrize(("body", "content_type"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_signed_but_malformed_payloads_get_400_and_a_warning_without_the_body(
    edge: Edge, body: bytes, content_type: str
) -> None:
    status, answer = await edge.signed(body, content_type)
    assert status == 400, answer
    assert MARKER not in answer
    lines = edge.log_lines()
    refusals = [line for line in lines if line["event"] == "slack.request_refused"]
    assert [(r["level"], r["status"]) for r in refusals] == [("warning", 400)]
    assert refusals[0]["size"] == len(body)
    assert MARKER not in edge.log.getvalue()
    assert not [line for line in lines if line["level"] in ("error", "critical")]
    assert edge.outbound() == []


async def test_a_well_formed_signed_command_still_works(edge: Edge) -> None:
    status, answer = await edge.signed(
        form_body(slash_command("help", user=REQUESTER, channel=CHANNEL, response_url=edge.hook_url("h")))
    )
    assert status == 200
    assert "/lxc" in answer


async def test_url_verification_is_answered(edge: Edge) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode()
    status, answer = await edge.signed(body, JSON)
    assert status == 200
    assert json.loads(answer) == {"challenge": "c-123"}


async def test_bodies_over_the_cap_get_413(edge: Edge) -> None:
    body = b"text=" + b"a" * (1 << 20)
    status, _ = await edge.signed(body)
    assert status == 413
    assert edge.outbound() == []
