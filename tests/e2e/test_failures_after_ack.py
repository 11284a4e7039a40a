"""A failure after the ack reaches the person who acted, in every kind of listener: a short message with a
reference id, and exactly one ERROR line in the log under the same id, carrying the request's log context
(request id, Slack user…) bound once for the request and kept by the work that ran after the ack.

Failures are forced at the fake Slack (a Web API method answering ``ok: false``), so the real app runs
end to end: signed request → Bolt → listener → ack → background work → the error path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.testing import capture_logs

from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY, CALLBACK_CREATE
from tests.e2e.harness import APPROVALS, APPROVER, REQUESTER, Harness, button_value
from tests.e2e.test_home import click_in_home, open_home

REF = re.compile(r"ref ([0-9a-f]{6})\)")
REQUEST_ID = re.compile(r"[0-9a-f]{16}")
SLACK_DOWN = {"ok": False, "error": "internal_error"}


@contextmanager
def logs_with_context() -> Iterator[list[dict[str, Any]]]:
    """Log entries as emitted, with the bound context merged in (as the real configuration does)."""
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        yield logs


def ref_in(texts: list[str]) -> str:
    """The one reference id shown in ``texts``."""
    refs = [m.group(1) for t in texts for m in REF.finditer(t)]
    assert len(refs) == 1, f"expected one reference id in {texts!r}"
    return refs[0]


def the_error_line(logs: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    """The one ERROR entry for the failure; it carries ``ref``."""
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1, f"one ERROR line per failure, got {[e['event'] for e in errors]}"
    [entry] = errors
    assert entry["ref"] == ref
    assert entry["exc_info"] is not None
    return entry


async def pending_card(h: Harness) -> str:
    """Request something that needs an approver; the approval id its card carries."""
    await h.request("big", preset="large")
    card = (await h.settle(lambda: h.slack.messages(APPROVALS)))[0]
    return button_value(card, ACTION_APPROVE)


async def test_a_slash_command_that_fails_after_the_ack_tells_the_person(harness: Harness) -> None:
    harness.slack.fail_next("views.open", 200, body=SLACK_DOWN)
    with logs_with_context() as logs:
        status, _ = await harness.command("create")
    assert status == 200
    told = harness.told(REQUESTER)
    ref = ref_in(told)
    assert "Something went wrong on Cardinal's side." in told[0]
    entry = the_error_line(logs, ref)
    assert entry["slack_user"] == REQUESTER
    assert entry["command"] == "/lxc"
    assert REQUEST_ID.fullmatch(entry["request_id"])


async def test_a_button_that_fails_after_the_ack_tells_the_clicker(harness: Harness) -> None:
    approval_id = await pending_card(harness)
    harness.slack.fail_next("views.open", 200, body=SLACK_DOWN)
    with logs_with_context() as logs:
        status, _ = await harness.click(ACTION_DENY, approval_id, user=APPROVER)
    assert status == 200
    told = harness.told(APPROVER)
    entry = the_error_line(logs, ref_in(told))
    assert entry["slack_user"] == APPROVER
    assert entry["action"] == ACTION_DENY
    assert entry["channel"] == APPROVALS


async def test_a_modal_submission_that_fails_after_the_ack_tells_the_person(harness: Harness) -> None:
    harness.slack.fail_next("chat.postMessage", 200, body=SLACK_DOWN)
    with logs_with_context() as logs:
        status, ack = await harness.request("web")
    assert (status, ack) == (200, ""), "the form was valid: the modal closes"
    told = harness.told(REQUESTER)
    entry = the_error_line(logs, ref_in(told))
    assert entry["slack_user"] == REQUESTER
    assert entry["callback_id"] == CALLBACK_CREATE
    [ephemeral] = [e for e in harness.slack.ephemerals if e.get("user") == REQUESTER]
    assert ephemeral["channel"] == "C0LAB0001", "shown in the channel the form was opened from"


async def test_a_home_tab_click_that_fails_after_the_ack_tells_the_clicker_by_dm(harness: Harness) -> None:
    await pending_card(harness)
    home = await open_home(harness, APPROVER)
    harness.slack.fail_next("views.open", 200, body=SLACK_DOWN)
    with logs_with_context() as logs:
        status = await click_in_home(
            harness, home, ACTION_DENY, button_value(home, ACTION_DENY), user=APPROVER
        )
    assert status == 200
    dm = [m.get("text", "") for m in harness.slack.messages(harness.slack.dm_of(APPROVER))]
    entry = the_error_line(logs, ref_in(dm))
    assert entry["slack_user"] == APPROVER
    assert entry["action"] == ACTION_DENY


async def test_each_request_gets_its_own_log_context(harness: Harness) -> None:
    harness.slack.fail_next("views.open", 200, body=SLACK_DOWN, times=2)
    with logs_with_context() as logs:
        await harness.command("create", user=REQUESTER)
        await harness.command("create", user=APPROVER)
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["slack_user"] for e in errors] == [REQUESTER, APPROVER]
    assert errors[0]["request_id"] != errors[1]["request_id"]
