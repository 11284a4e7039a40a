"""After a crash the outbox finds its post again, in the right thread, before posting a second copy.

The notifier here searches the way Slack does (``bot.notify.RecordingNotifier``): a thread reply is
only found by searching that thread (``conversations.replies``), a top-level message only by searching
the channel (``conversations.history``), and only messages at or after ``oldest`` are returned
(``Slack's platform documentation (docs.slack.dev)``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.db import Database
from bot.events import Notice
from bot.notify import RecordingNotifier
from bot.outbox import Outbox, OutboxBusy
from tests.conftest import FakeClock

THREAD = "1690000000.000100"


class SearchCountingNotifier(RecordingNotifier):
    """Counts searches: each one is a Slack API call (rate-limited, tier 3)."""

    searches: int = 0

    async def find_posted(self, **kw: Any) -> str | None:
        self.searches += 1
        return await super().find_posted(**kw)


@pytest.fixture
def notifier(clock: FakeClock) -> SearchCountingNotifier:
    return SearchCountingNotifier(clock=clock)


async def lost_intent(db: Database, key: str, channel: str, thread_ts: str | None, now: datetime) -> None:
    """The intent a crashed worker recorded before posting; the ts it got back was never stored."""
    async with db.transaction() as tx:
        assert await tx.outbox.claim_post(key, channel, thread_ts, now=now) is None


async def stored_ts(db: Database, key: str) -> str | None:
    async with db.transaction(readonly=True) as tx:
        msg = await tx.outbox.get(key)
    assert msg is not None
    return msg.ts if msg.posted else None


async def test_first_delivery_posts_the_event_and_stores_the_ts_slack_returned(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    ts = await Outbox(db, notifier, clock).deliver("k1", "C1", THREAD, Notice("hi"))
    assert [(p.key, p.channel, p.thread_ts, p.ts, p.event) for p in notifier.posts] == [
        ("k1", "C1", THREAD, ts, Notice("hi"))
    ]
    assert await stored_ts(db, "k1") == ts


class LostResponseNotifier(SearchCountingNotifier):
    """Slack takes the first post but the response never arrives (a timeout after sending)."""

    lose_next: bool = True

    async def post(self, **kw: Any) -> str:
        ts = await super().post(**kw)
        if self.lose_next:
            self.lose_next = False
            raise TimeoutError("no response from chat.postMessage")
        return ts


async def test_a_reply_whose_response_was_lost_is_found_in_its_thread_not_posted_twice(
    db: Database, clock: FakeClock
) -> None:
    notifier = LostResponseNotifier(clock=clock)
    outbox = Outbox(db, notifier, clock, intent_grace=0)
    with pytest.raises(TimeoutError):
        await outbox.deliver("reply-1", "C1", THREAD, Notice("step 2"))
    [first] = notifier.posts
    clock.advance(seconds=5)
    with capture_logs() as logs:
        assert await outbox.deliver("reply-1", "C1", THREAD, Notice("step 2")) == first.ts
    assert len(notifier.posts) == 1
    assert await stored_ts(db, "reply-1") == first.ts
    # Operators can see that a post was recovered rather than sent again.
    assert [(e["event"], e["key"]) for e in logs if e["event"].startswith("outbox.")] == [
        ("outbox.recovered", "reply-1")
    ]


async def test_an_already_posted_key_returns_its_ts_without_searching_slack(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    outbox = Outbox(db, notifier, clock)
    ts = await outbox.deliver("k1", "C1", None, Notice("hi"))
    clock.advance(hours=1)
    assert await outbox.deliver("k1", "C1", None, Notice("hi")) == ts
    assert notifier.searches == 0
    assert len(notifier.posts) == 1


async def test_a_thread_reply_posted_before_a_crash_is_found_in_its_thread(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    await lost_intent(db, "reply-1", "C1", THREAD, clock())
    ts = await notifier.post(key="reply-1", channel="C1", thread_ts=THREAD, event=Notice("step 2"))
    clock.advance(minutes=10)  # the restarted worker gets to it later
    assert await Outbox(db, notifier, clock).deliver("reply-1", "C1", THREAD, Notice("step 2")) == ts
    assert len(notifier.posts) == 1
    assert await stored_ts(db, "reply-1") == ts


async def test_recovery_searches_the_thread_of_the_intent(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    """The retry searches where the first attempt posted, even if called with another thread."""
    await lost_intent(db, "reply-1", "C1", THREAD, clock())
    ts = await notifier.post(key="reply-1", channel="C1", thread_ts=THREAD, event=Notice("step 2"))
    clock.advance(minutes=1)
    assert await Outbox(db, notifier, clock).deliver("reply-1", "C1", None, Notice("step 2")) == ts
    assert len(notifier.posts) == 1


async def test_a_top_level_post_before_a_crash_is_found_in_the_channel(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    await lost_intent(db, "root-1", "C1", None, clock())
    ts = await notifier.post(key="root-1", channel="C1", thread_ts=None, event=Notice("request"))
    clock.advance(minutes=10)
    assert await Outbox(db, notifier, clock).deliver("root-1", "C1", None, Notice("request")) == ts
    assert len(notifier.posts) == 1


async def test_a_post_slightly_before_the_intent_is_still_found(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    """Replicas' clocks and Slack's differ a little: the search looks back a few minutes."""
    ts = await notifier.post(key="k1", channel="C1", thread_ts=THREAD, event=Notice("hi"))
    clock.advance(minutes=4)
    await lost_intent(db, "k1", "C1", THREAD, clock())
    clock.advance(minutes=10)
    assert await Outbox(db, notifier, clock).deliver("k1", "C1", THREAD, Notice("hi")) == ts
    assert len(notifier.posts) == 1


async def test_a_lost_intent_whose_post_never_arrived_is_posted_once(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    await lost_intent(db, "k1", "C1", THREAD, clock())
    clock.advance(minutes=10)
    outbox = Outbox(db, notifier, clock)
    ts = await outbox.deliver("k1", "C1", THREAD, Notice("hi"))
    assert [(p.thread_ts, p.ts) for p in notifier.posts] == [(THREAD, ts)]
    assert await stored_ts(db, "k1") == ts
    assert await outbox.deliver("k1", "C1", THREAD, Notice("hi")) == ts
    assert len(notifier.posts) == 1


async def test_another_workers_intent_is_busy_until_the_default_grace_of_30_seconds(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    await lost_intent(db, "k1", "C1", None, clock())
    outbox = Outbox(db, notifier, clock)
    clock.advance(seconds=29)
    with pytest.raises(OutboxBusy) as info:
        await outbox.deliver("k1", "C1", None, Notice("hi"))
    assert info.value.key == "k1"
    assert str(info.value) == "the post 'k1' may be in progress elsewhere; retry later"
    assert notifier.posts == []
    clock.advance(seconds=1)
    ts = await outbox.deliver("k1", "C1", None, Notice("hi"))
    assert [p.ts for p in notifier.posts] == [ts]


async def test_revise_replaces_the_message_where_it_is(
    db: Database, notifier: SearchCountingNotifier, clock: FakeClock
) -> None:
    outbox = Outbox(db, notifier, clock)
    ts = await outbox.deliver("k1", "C9", None, Notice("v1"))
    await outbox.revise("C9", ts, Notice("v2"))
    assert [(u.channel, u.ts, u.event) for u in notifier.updates] == [("C9", ts, Notice("v2"))]
