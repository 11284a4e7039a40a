"""The outbox posts each key at most once, even across crashes between posting and recording."""

from __future__ import annotations

from typing import Any

import pytest

from bot.db import Database
from bot.events import Notice
from bot.notify import RecordingNotifier
from bot.outbox import Outbox, OutboxBusy
from tests.conftest import FakeClock


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


async def test_same_key_is_posted_once_and_later_updates_revise_it(
    db: Database, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    """Delivering twice under one key posts once and returns the same ts; revise updates in place."""
    outbox = Outbox(db, notifier, clock)
    ts1 = await outbox.deliver("k1", "C1", "111.1", Notice("hello"))
    ts2 = await outbox.deliver("k1", "C1", "111.1", Notice("hello again"))
    assert ts1 == ts2
    assert len(notifier.posts) == 1
    await outbox.revise("C1", ts1, Notice("edited"))
    assert [(u.ts, u.event) for u in notifier.updates] == [(ts1, Notice("edited"))]


async def test_intent_without_ts_finds_the_message_instead_of_posting(
    db: Database, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    """A crash after posting but before recording the ts: the message is found by its key."""
    ts = await notifier.post(key="k1", channel="C1", thread_ts=None, event=Notice("hi"))
    async with db.transaction() as tx:
        assert await tx.outbox.claim_post("k1", "C1", None, now=clock()) is None  # the lost intent
    outbox = Outbox(db, notifier, clock)
    assert await outbox.deliver("k1", "C1", None, Notice("hi")) == ts
    assert len(notifier.posts) == 1
    async with db.transaction(readonly=True) as tx:
        msg = await tx.outbox.get("k1")
    assert msg is not None
    assert msg.posted
    assert msg.ts == ts


async def test_fresh_intent_of_another_worker_is_left_alone_until_it_is_old(
    db: Database, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    """An intent a moment old may be mid-post elsewhere (busy); once older than the grace, post it."""
    async with db.transaction() as tx:
        await tx.outbox.claim_post("k1", "C1", None, now=clock())
    outbox = Outbox(db, notifier, clock, intent_grace=30)
    with pytest.raises(OutboxBusy):
        await outbox.deliver("k1", "C1", None, Notice("hi"))
    assert notifier.posts == []
    clock.advance(seconds=31)
    ts = await outbox.deliver("k1", "C1", None, Notice("hi"))
    assert [p.ts for p in notifier.posts] == [ts]


async def test_failed_post_leaves_an_intent_that_the_retry_resolves(db: Database, clock: FakeClock) -> None:
    """Slack failing the post keeps the intent; the retry searches, finds nothing, and posts once."""

    class Flaky(RecordingNotifier):
        fail = True

        async def post(self, **kw: Any) -> str:
            if self.fail:
                self.fail = False
                raise ConnectionError("slack 503")
            return await super().post(**kw)

    flaky = Flaky()
    outbox = Outbox(db, flaky, clock, intent_grace=0)
    with pytest.raises(ConnectionError):
        await outbox.deliver("k1", "C1", None, Notice("hi"))
    await outbox.deliver("k1", "C1", None, Notice("hi"))
    assert len(flaky.posts) == 1


async def test_an_intent_recorded_in_the_callers_transaction_is_posted_once(
    db: Database, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    """``intend`` records the intent with the caller's own writes; ``deliver(recorded=True)`` then posts
    without claiming again, and the key stays posted once for every later delivery."""
    outbox = Outbox(db, notifier, clock, intent_grace=0)
    async with db.transaction() as tx:
        assert await outbox.intend(tx, "k1", "C1", None)
        assert not await outbox.intend(tx, "k1", "C1", None)  # known already: deliver as usual
        assert not await outbox.intend(tx, "k2", "U0PERSON1", None)  # a person: its DM is opened first
    async with db.transaction(readonly=True) as tx:
        msg = await tx.outbox.get("k1")
    assert msg is not None
    assert not msg.posted  # recorded before anything is posted
    ts = await outbox.deliver("k1", "C1", None, Notice("hi"), recorded=True)
    assert await outbox.deliver("k1", "C1", None, Notice("hi")) == ts
    assert [p.ts for p in notifier.posts] == [ts]


async def test_what_the_caller_notes_about_a_post_commits_with_its_ts(
    db: Database, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    """``then(tx, ts)`` runs in the transaction recording the post, and again (alone) when the message was
    posted earlier, so a caller that stopped before noting it catches up without posting twice."""
    outbox = Outbox(db, notifier, clock)
    noted: list[tuple[str, bool]] = []

    async def then(tx: Any, ts: str) -> None:
        msg = await tx.outbox.get("k1")
        noted.append((ts, msg is not None and msg.posted))  # the same transaction sees the ts recorded

    ts = await outbox.deliver("k1", "C1", None, Notice("hi"), then=then)
    assert noted == [(ts, True)]
    assert await outbox.deliver("k1", "C1", None, Notice("hi"), then=then) == ts
    assert noted == [(ts, True), (ts, True)]
    assert len(notifier.posts) == 1

    async def broken(tx: Any, ts: str) -> None:
        raise RuntimeError("the caller's write failed")

    with pytest.raises(RuntimeError):
        await outbox.deliver("k2", "C1", None, Notice("hi"), then=broken)
    async with db.transaction(readonly=True) as tx:
        msg = await tx.outbox.get("k2")
    assert msg is not None
    assert not msg.posted  # the ts was not recorded without the caller's note: a retry searches first
