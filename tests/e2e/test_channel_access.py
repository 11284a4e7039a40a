"""Requests typed where Cardinal may not post end with the requester holding the result.

Slack refuses a bot with ``chat:write`` a channel it was never invited to (``not_in_channel``), a private
channel or a direct message between people (``channel_not_found``) and an archived channel
(``is_archived``) — docs.slack.dev/reference/methods/chat.postMessage. The fake answers the same way.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.db import RequestState
from cardinal_sim.slack.payloads import create_values
from handlers.blocks.ids import ACTION_APPROVE, CALLBACK_CREATE
from tests.conftest import SIM_TEMPLATE
from tests.e2e.harness import APPROVALS, APPROVER, REQUESTER, Harness, button_value

NOT_INVITED = "C0NOTINVIT"
PEOPLE_DM = "D0PEOPLE01"
ARCHIVED = "C0ARCHIVED"


async def _request_from(harness: Harness, channel: str, hostname: str, preset: str = "small") -> None:
    await harness.command("create", channel=channel)
    view = harness.last_view(CALLBACK_CREATE)
    values = create_values(hostname, template=SIM_TEMPLATE, preset=preset)
    status, body = await harness.submit_view(view, values, user=REQUESTER)
    assert (status, body) == (200, "")


@pytest.mark.parametrize(
    ("channel", "member", "private", "archived", "why"),
    [
        (NOT_INVITED, False, False, False, "not a member of"),
        (PEOPLE_DM, False, False, False, "cannot post in the conversation"),
        (ARCHIVED, True, False, True, "is archived"),
    ],
)
async def test_request_from_a_channel_cardinal_cannot_post_in_goes_on_in_the_requesters_dm(
    harness: Harness, channel: str, member: bool, private: bool, archived: bool, why: str
) -> None:
    harness.slack.add_channel(channel, member=member, private=private, archived=archived)
    await _request_from(harness, channel, "web")
    dm = harness.slack.dm_of(REQUESTER)
    ready = await harness.settle(lambda: [m for m in harness.slack.messages(dm) if "is ready" in m["text"]])
    assert "ssh root@10." in str(ready[0]["blocks"])
    said = " ".join(harness.texts(dm))
    assert why in said
    assert "/invite @Cardinal" in said
    assert harness.slack.messages(channel) == []
    assert len(harness.creates()) == 1


async def test_request_moved_to_the_dm_is_not_retried_in_its_channel(harness: Harness) -> None:
    harness.slack.add_channel(NOT_INVITED, member=False)
    await _request_from(harness, NOT_INVITED, "web")
    await harness.settle(
        lambda: [t for t in harness.texts(harness.slack.dm_of(REQUESTER)) if "is ready" in t]
    )
    posts_before = len(harness.slack.calls("chat.postMessage"))
    requests = harness.cardinal.services.requests
    resumed = await requests.resume_stalled(owner="e2e-replica", older_than=timedelta(seconds=1))
    harness.clock.advance(seconds=120)
    resumed += await requests.resume_stalled(owner="e2e-replica", older_than=timedelta(seconds=1))
    assert resumed == 0
    refused = [c for c in harness.slack.calls("chat.postMessage") if c.params.get("channel") == NOT_INVITED]
    assert len(refused) == 1  # one refusal, then the DM; nothing retries the channel
    assert len(harness.slack.calls("chat.postMessage")) == posts_before


async def test_approval_channel_without_cardinal_tells_the_requester_and_posts_once_invited(
    harness: Harness,
) -> None:
    harness.slack.add_channel(APPROVALS, member=False)
    await _request_from(harness, "C0LAB0001", "big", preset="large")
    await harness.idle()
    thread = harness.texts("C0LAB0001")
    assert any("Approvers have not been asked yet" in t and "/invite @Cardinal" in t for t in thread)
    assert harness.slack.messages(APPROVALS) == []

    harness.slack.add_channel(APPROVALS, member=True)  # an admin invites Cardinal
    harness.clock.advance(seconds=120)
    requests = harness.cardinal.services.requests
    assert await requests.resume_stalled(owner="e2e-replica") == 1
    card = harness.slack.messages(APPROVALS)
    value = button_value(card[0], ACTION_APPROVE)
    await harness.click(ACTION_APPROVE, value, user=APPROVER)
    await harness.settle(lambda: [t for t in harness.texts("C0LAB0001") if "is ready" in t])
    notices = [t for t in harness.texts("C0LAB0001") if "Approvers have not been asked yet" in t]
    assert len(notices) == 1


async def test_request_nobody_can_be_told_about_ends_failed_and_is_not_retried(harness: Harness) -> None:
    harness.slack.add_channel(NOT_INVITED, member=False)
    harness.slack.add_channel(harness.slack.dm_of(REQUESTER), member=False)  # DMs with Cardinal are off
    await _request_from(harness, NOT_INVITED, "web")
    requests = harness.cardinal.services.requests
    harness.clock.advance(seconds=120)
    assert await requests.resume_stalled(owner="e2e-replica") == 0
    assert harness.creates() == []
    posts = harness.slack.calls("chat.postMessage")
    assert len(posts) == 2  # the channel once, the DM once; nothing retries
    async with harness.cardinal.db.transaction(readonly=True) as tx:
        [request] = await tx.requests.list_by_requester(REQUESTER)
        events = [e.action for e in await tx.audit.recent(request_id=request.id)]
    assert request.state is RequestState.FAILED
    assert "request.undeliverable" in events
