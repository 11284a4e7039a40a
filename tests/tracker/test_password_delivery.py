"""A generated root password reaches its requester by direct message, or the request's thread says that it
did not and what to do — never silently lost. Against the simulator and the fake Slack."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from handlers.notifier import SlackNotifier
from tests.fakes.slack import FakeSlack
from tests.tracker.conftest import CHANNEL, REQUESTER, World, spec


@pytest.fixture
async def slack(api_url: str) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=api_url, retry_handlers=[])


async def _create_with_password(
    world: World, slack: AsyncWebClient, faults: Callable[[], None]
) -> tuple[str, int]:
    """Post the request's root, arm ``faults``, then run an approved request with a generated password to
    its end; return the thread ts and vmid."""
    root = await slack.chat_postMessage(channel=CHANNEL, text="⏳ web-1 for alice")
    faults()
    tracker = world.tracker(notifier=SlackNotifier(slack, direct_retry_interval=0))
    req, items = await world.request([spec("web-1")], generate_password=True, thread_ts=str(root["ts"]))
    await tracker.enqueue_creations(req.id, items)
    await world.until_request_final(req.id)
    return str(root["ts"]), items[0].vmid


def _replies(fake_slack: FakeSlack, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in fake_slack.thread(CHANNEL, thread_ts) if m["ts"] != thread_ts]


async def test_password_is_sent_by_direct_message(
    world: World, slack: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    """The password goes to the requester's DM (the D… id from conversations.open), retried after a
    Slack 5xx; the thread and the "ready" message say nothing about it."""
    thread_ts, vmid = await _create_with_password(
        world, slack, lambda: fake_slack.fail_next("chat.postMessage", 500)
    )

    dm = fake_slack.dm_of(REQUESTER)
    (message,) = fake_slack.messages(dm)
    match = re.search(r"Root password for web-1 \(CT (\d+)\): `([^`]+)`", message["text"])
    assert match is not None
    assert int(match.group(1)) == vmid
    password = match.group(2)
    assert len(password) >= 12
    assert [c.params["users"] for c in fake_slack.calls("conversations.open")] == [REQUESTER]
    replies = _replies(fake_slack, thread_ts)
    assert [r["text"] for r in replies if "is ready" in r["text"]]
    assert not any("password" in json.dumps(r) for r in replies)
    assert password not in json.dumps(fake_slack.messages(CHANNEL))


@pytest.mark.parametrize(
    ("method", "status", "body"),
    [
        ("conversations.open", 200, {"ok": False, "error": "user_disabled"}),
        ("chat.postMessage", 500, None),  # 500 on every attempt
    ],
)
async def test_undelivered_password_is_told_in_the_thread(
    world: World,
    slack: AsyncWebClient,
    fake_slack: FakeSlack,
    method: str,
    status: int,
    body: dict[str, Any] | None,
) -> None:
    """When the DM cannot be delivered, the request's thread tells the requester — without the secret —
    how to get in instead, and the "ready" message does not pretend all is well."""

    def faults() -> None:
        fake_slack.fail_next(method, status, body=body, times=3)
        fake_slack.fail_next("chat.postEphemeral", 200, body={"ok": False, "error": "channel_not_found"})

    thread_ts, vmid = await _create_with_password(world, slack, faults)

    assert fake_slack.messages(fake_slack.dm_of(REQUESTER)) == []
    replies = _replies(fake_slack, thread_ts)
    told = [r["text"] for r in replies if "could not be delivered" in r["text"]]
    assert len(told) == 1
    assert f"<@{REQUESTER}>" in told[0]
    assert f"`pct enter {vmid}`" in told[0]
    assert f"/lxc destroy {vmid}" in told[0]
    assert "`" not in told[0].replace(f"`pct enter {vmid}`", "").replace("`passwd`", "").replace(
        f"`/lxc destroy {vmid}`", ""
    )  # nothing else quoted: no password
    (ready,) = [r for r in replies if "is ready" in r["text"]]
    assert "generated root password did not reach you" in json.dumps(ready["blocks"])
    assert replies.index(ready) > replies.index(next(r for r in replies if r["text"] == told[0]))
