"""Direct messages through the outbox, against the fake Slack: Slack accepts a user id only for posting, so
intents are recorded and searched by the DM's ``D…`` id from conversations.open (docs/slack-dm.md)."""

from __future__ import annotations

import pytest
from aiohttp import ClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.db import Database
from bot.events import Notice
from bot.outbox import Outbox
from handlers.notifier import SlackNotifier
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlack

OWNER = "U0ALICE"


@pytest.fixture
def outbox(db: Database, clock: FakeClock, api_url: str) -> Outbox:
    client = AsyncWebClient(token="xoxb-test", base_url=api_url, retry_handlers=[])
    return Outbox(db, SlackNotifier(client), clock, intent_grace=30)


def _channels_used(fake_slack: FakeSlack) -> set[tuple[str, str]]:
    return {(c.method, str(c.params["channel"])) for c in fake_slack.recorded if "channel" in c.params}


async def test_dm_is_posted_to_the_conversation_and_recorded_by_it(
    outbox: Outbox, db: Database, fake_slack: FakeSlack
) -> None:
    """A message for a user goes to the D… id conversations.open returns; the intent holds that id, and
    revising the message edits it in the DM."""
    ts = await outbox.deliver("k1", OWNER, None, Notice("your container expires"))
    (opened,) = fake_slack.calls("conversations.open")
    dm = fake_slack.dm_of(OWNER)
    assert opened.params["users"] == OWNER
    assert [m["text"] for m in fake_slack.messages(dm)] == ["your container expires"]
    async with db.transaction(readonly=True) as tx:
        record = await tx.outbox.get("k1")
    assert record is not None
    assert (record.channel, record.ts, record.posted) == (dm, ts, True)

    await outbox.revise(OWNER, ts, Notice("extended"))
    assert fake_slack.messages(dm)[0]["text"] == "extended"
    assert all(not channel.startswith("U") for _method, channel in _channels_used(fake_slack))


async def test_dm_cut_off_mid_post_is_found_in_the_dm_not_posted_twice(
    outbox: Outbox, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    """The connection breaks after Slack posted the DM: the retry looks in the DM's history (by its D…
    id — a user id there is channel_not_found in Slack) and finds the message instead of posting again."""
    fake_slack.drop_next("chat.postMessage")
    with pytest.raises(ClientError):  # the client sees a cut connection
        await outbox.deliver("k1", OWNER, None, Notice("expires in 1h"))
    clock.advance(seconds=31)
    ts = await outbox.deliver("k1", OWNER, None, Notice("expires in 1h"))
    dm = fake_slack.dm_of(OWNER)
    assert [m["ts"] for m in fake_slack.messages(dm)] == [ts]
    history = fake_slack.calls("conversations.history")
    assert [c.params["channel"] for c in history] == [dm]


async def test_intent_recorded_with_a_user_id_is_searched_in_the_dm(
    outbox: Outbox, db: Database, clock: FakeClock, fake_slack: FakeSlack, api_url: str
) -> None:
    """An intent an older version recorded with the user id is looked up in the DM, not re-posted."""
    client = AsyncWebClient(token="xoxb-test", base_url=api_url, retry_handlers=[])
    posted = await SlackNotifier(client).post(key="k1", channel=OWNER, thread_ts=None, event=Notice("hi"))
    async with db.transaction() as tx:
        assert await tx.outbox.claim_post("k1", OWNER, None, now=clock()) is None
    clock.advance(seconds=31)
    assert await outbox.deliver("k1", OWNER, None, Notice("hi")) == posted
    assert len(fake_slack.messages(fake_slack.dm_of(OWNER))) == 1
