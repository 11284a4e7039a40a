"""A generated root password, through the real Slack app: it arrives by direct message, or the request's
thread says it did not and what to do — the requester is never left with a silent "ready"."""

from __future__ import annotations

import re

from tests.e2e.harness import CHANNEL, REQUESTER, Harness
from tests.fakes.signing import checked


def _thread_texts(harness: Harness) -> list[str]:
    return [m["text"] for m in harness.slack.messages(CHANNEL)]


async def test_generated_password_arrives_by_direct_message(harness: Harness) -> None:
    await harness.request("pw", fields={"password": {"value": checked("generate")}})
    await harness.settle(lambda: [t for t in _thread_texts(harness) if "is ready" in t])

    dm = harness.slack.dm_of(REQUESTER)
    (message,) = harness.slack.messages(dm)
    match = re.search(r"Root password for pw \(CT \d+\): `([^`]+)`", message["text"])
    assert match is not None
    password = match.group(1)
    assert not any(password in str(m) for m in harness.slack.messages(CHANNEL))
    assert not any("could not be delivered" in t for t in _thread_texts(harness))
    assert not [e for e in harness.slack.ephemerals if password in str(e)]


async def test_password_that_cannot_be_delivered_is_told_in_the_thread(harness: Harness) -> None:
    """Slack fails every attempt to open the DM (and an ephemeral would be channel_not_found): the thread
    says the password could not be delivered, what to do, and the ready message repeats it."""
    harness.slack.fail_next("conversations.open", 500, times=3)
    harness.slack.fail_next(
        "chat.postEphemeral", 200, body={"ok": False, "error": "channel_not_found"}, times=4
    )
    await harness.request("pw", fields={"password": {"value": checked("generate")}})
    ready = await harness.settle(
        lambda: [m for m in harness.slack.messages(CHANNEL) if "is ready" in m["text"]]
    )

    told = [t for t in _thread_texts(harness) if "could not be delivered" in t]
    assert len(told) == 1
    assert f"<@{REQUESTER}>" in told[0]
    assert "SSH key" in told[0]
    assert "/lxc destroy" in told[0]
    assert "generated root password did not reach you" in str(ready[0]["blocks"])
    assert harness.slack.messages(harness.slack.dm_of(REQUESTER)) == []
    assert len(harness.slack.calls("conversations.open")) == 3  # retried by the Web API client
