"""Expiry reminders for a container without a thread are direct messages in Slack's sense: posted to, and
looked up in, the D… conversation from conversations.open — never the owner's user id, which Slack answers
with channel_not_found outside chat.postMessage (docs/slack-dm.md). Against the fake Slack."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.db import Database
from bot.expiry import ExpiryService
from bot.outbox import Outbox
from bot.policy import Policy
from bot.proxmox import ProxmoxClient
from handlers.notifier import SlackNotifier
from tests.conftest import FakeClock
from tests.day2.conftest import OWNER, RecordingFollower, Seed
from tests.fakes.slack import FakeSlack


async def test_reminder_cut_off_mid_post_is_found_in_the_dm_and_sent_once(
    db: Database,
    proxmox: ProxmoxClient,
    follower: RecordingFollower,
    policy: Policy,
    clock: FakeClock,
    seed: Seed,
    fake_slack: FakeSlack,
    api_url: str,
) -> None:
    """The owner gets exactly one reminder in their DM even when the first post's answer was lost."""
    await seed(10001, expires_in=timedelta(minutes=30), thread=False)
    client = AsyncWebClient(token="xoxb-test", base_url=api_url, retry_handlers=[])
    outbox = Outbox(db, SlackNotifier(client), clock, intent_grace=30)
    service = ExpiryService(db, proxmox, outbox, follower, policy, clock, owner="r", lease_seconds=60)

    fake_slack.drop_next("chat.postMessage")
    first = await service.tick()
    assert first.reminded == []
    assert len(first.errors) == 1
    clock.advance(minutes=2)  # past the slot's lease and the outbox's grace
    retry = await service.tick()
    assert retry.reminded == [(10001, timedelta(hours=1))]

    dm = fake_slack.dm_of(OWNER)
    (reminder,) = fake_slack.messages(dm)
    assert "expires in" in reminder["text"]
    assert [c.params["channel"] for c in fake_slack.calls("conversations.history")] == [dm]
    used = {str(c.params["channel"]) for c in fake_slack.recorded if "channel" in c.params}
    assert used == {dm}
