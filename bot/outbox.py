"""Post-once delivery of the domain's events to people (Slack), on top of the ``slack_message`` table.

:meth:`Outbox.deliver` records the intent under a key *before* posting and Slack's ``ts`` after, so a
message is posted at most once per key even across crashes and replicas. If an intent exists without a
``ts`` (the process died between posting and recording), the channel is searched for a message tagged
with the key (:meth:`bot.notify.Notifier.find_posted`) before posting again.

A caller that writes anyway may record the intent in its own transaction (:meth:`Outbox.intend`, then
``deliver(..., recorded=True)``) and note what the post's ``ts`` means for it in the transaction that
records it (``deliver(..., then=...)``): the same guarantees with fewer transactions.

Intents are stored and searched by conversation id only. A message for a person (a user id ``U…``/``W…``,
e.g. an expiry reminder to a container's owner) goes to the app's direct message with them: its ``D…`` id
comes from :meth:`bot.notify.Notifier.open_dm` before the intent is recorded, because Slack answers
``conversations.history`` and ``chat.update`` with a user id as ``channel_not_found`` (docs/slack-dm.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from bot.db import Clock, Database, Tx
from bot.events import Event
from bot.notify import Notifier, is_user_id

log = structlog.get_logger(__name__)

Then = Callable[[Tx, str], Awaitable[object]]
"""What the caller records with a message's ``ts``, in the transaction that records the post."""


class OutboxBusy(Exception):
    """Another worker recorded the intent moments ago and may be posting right now; try again later."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the post {key!r} may be in progress elsewhere; retry later")
        self.key = key


class Outbox:
    """Delivers events at most once per key and revises earlier messages.

    ``intent_grace`` (seconds): an intent younger than this whose message cannot be found is assumed to
    be in flight elsewhere (:class:`OutboxBusy`) rather than lost; older ones are posted again.
    """

    def __init__(self, db: Database, notifier: Notifier, clock: Clock, *, intent_grace: float = 30.0) -> None:
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.intent_grace = timedelta(seconds=intent_grace)
        self._dms: dict[str, str] = {}

    async def conversation(self, channel: str) -> str:
        """``channel`` as a conversation id: a user id becomes the ``D…`` id of the app's DM with them."""
        if not is_user_id(channel):
            return channel
        if channel not in self._dms:
            self._dms[channel] = await self.notifier.open_dm(user=channel)
        return self._dms[channel]

    async def intend(self, tx: Tx, key: str, channel: str, thread_ts: str | None) -> bool:
        """Record the intent to post under ``key`` in the caller's transaction ``tx``.

        True when ``tx`` recorded it (the key was new): once ``tx`` has committed, the caller may
        :meth:`deliver` with ``recorded=True``, which posts without claiming again. False when the key was
        known already, or ``channel`` is a user id (its DM must be opened first, outside any transaction):
        then :meth:`deliver` as usual. Either way a message is recorded before it is posted.
        """
        if is_user_id(channel):
            return False
        return await tx.outbox.claim_post(key, channel, thread_ts, now=self.clock()) is None

    async def deliver(
        self,
        key: str,
        channel: str,
        thread_ts: str | None,
        event: Event,
        *,
        recorded: bool = False,
        then: Then | None = None,
    ) -> str:
        """Post ``event`` under ``key`` unless it was posted already; return the message's ``ts``.

        ``channel`` is a conversation id, or a user id for a direct message (opened first). Raises
        :class:`OutboxBusy` when another worker's fresh intent exists and no message is found yet; errors
        from the notifier propagate (the intent stays, so a retry searches first).

        ``recorded``: the caller's committed transaction recorded this intent (:meth:`intend` answered
        True), so it is posted without claiming it again. ``then(tx, ts)`` runs in the transaction that
        records the post's ``ts`` (or, when the message was posted earlier, in a transaction of its own),
        so what the caller notes about the message commits with it.
        """
        channel = await self.conversation(channel)
        if not recorded:
            now = self.clock()
            async with self.db.transaction() as tx:
                existing = await tx.outbox.claim_post(key, channel, thread_ts, now=now)
            if existing is not None:
                if existing.posted and existing.ts is not None:
                    if then is not None:
                        async with self.db.transaction() as tx:
                            await then(tx, existing.ts)
                    return existing.ts
                # An intent recorded by an older version may hold a user id: search its DM instead.
                where = await self.conversation(existing.channel)
                found = await self._find(key, where, existing.created_at, existing.thread_ts)
                if found is not None:
                    await self._record(key, found, then)
                    log.info("outbox.recovered", key=key)
                    return found
                if now - existing.created_at < self.intent_grace:
                    raise OutboxBusy(key)
        ts = await self.post_intended(key, channel, thread_ts, event)
        await self._record(key, ts, then)
        return ts

    async def post_intended(self, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        """Post a message whose intent the caller's committed transaction recorded (:meth:`intend` answered
        True) and return its ``ts`` *without* recording it: the caller records it with :meth:`posted` in
        a transaction of its choosing (e.g. one for a whole batch). Until then the intent stays open, so
        a retry searches the channel before posting again."""
        return await self.notifier.post(key=key, channel=channel, thread_ts=thread_ts, event=event)

    async def posted(self, tx: Tx, key: str, ts: str) -> None:
        """Record in ``tx`` that the message under ``key`` is in Slack at ``ts`` (:meth:`post_intended`)."""
        await tx.outbox.mark_posted(key, ts, now=self.clock())

    async def _find(self, key: str, channel: str, since: datetime, thread_ts: str | None) -> str | None:
        # Look a little before the intent: clocks of replicas and Slack differ slightly. A thread reply
        # is only listed by conversations.replies, never by conversations.history: search its thread.
        return await self.notifier.find_posted(
            channel=channel, key=key, oldest=since - timedelta(minutes=5), thread_ts=thread_ts
        )

    async def _record(self, key: str, ts: str, then: Then | None = None) -> None:
        async with self.db.transaction() as tx:
            await self.posted(tx, key, ts)
            if then is not None:
                await then(tx, ts)

    async def revise(self, channel: str, ts: str, event: Event) -> None:
        """Replace the message at ``ts`` with ``event`` (idempotent, so safe to repeat)."""
        await self.notifier.update(channel=await self.conversation(channel), ts=ts, event=event)
