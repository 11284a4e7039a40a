"""The notifier interface the domain needs, and a recording one for tests and the demo.

``handlers/`` implements :class:`Notifier` with Slack. Posting is at-most-once per ``key`` thanks to
:mod:`bot.outbox`, which records the intent before calling :meth:`Notifier.post` and asks
:meth:`Notifier.find_posted` after a crash. Messages carry the key as metadata so they can be found.

Channels are conversation ids (``C…``, ``G…``, ``D…``). A person is reached in the app's direct
message, whose ``D…`` id :meth:`Notifier.open_dm` returns: Slack accepts a user id only for posting,
while reading and editing need the conversation id (docs/slack-dm.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.errors import CardinalError
from bot.events import Event

CHANNEL_REFUSALS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
"""Slack's answers to a post in a conversation the bot may not use; repeating the post never helps
(docs.slack.dev/reference/methods/chat.postMessage, "Errors")."""


class ChannelUnavailable(CardinalError):
    """Slack refuses Cardinal a conversation for good: the bot is not a member (``not_in_channel``), the
    conversation is private or a direct message between other people (``channel_not_found``), or it is
    archived (``is_archived``). Only a person can fix it, by inviting the bot, so retrying is useless."""

    def __init__(self, channel: str, reason: str) -> None:
        what = {
            "is_archived": f"<#{channel}> is archived, so Cardinal cannot post there.",
            "not_in_channel": f"Cardinal is not a member of <#{channel}>, so it cannot post there.",
        }.get(reason, "Cardinal cannot post in this conversation: it is private or a direct message.")
        super().__init__(what, hint="Invite Cardinal with `/invite @Cardinal` in that channel.")
        self.channel = channel
        self.reason = reason


class Notifier(Protocol):
    """Where the domain's events go."""

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        """Post a new message tagged with ``key``; return its ``ts``. Raises :class:`ChannelUnavailable`
        when Slack refuses the conversation itself."""
        ...

    async def update(self, *, channel: str, ts: str, event: Event) -> None:
        """Replace an earlier message (idempotent)."""
        ...

    async def find_posted(
        self, *, channel: str, key: str, oldest: datetime, thread_ts: str | None = None
    ) -> str | None:
        """Return the ``ts`` of a message tagged with ``key`` posted since ``oldest`` (in the thread
        ``thread_ts`` when given), if any."""
        ...

    async def open_dm(self, *, user: str) -> str:
        """The conversation id (``D…``) of the app's direct message with ``user``, opened if needed."""
        ...

    async def send_direct(self, *, user: str, text: str) -> None:
        """Post plain ``text`` to ``user``'s direct message, untagged and not recorded anywhere (e.g. a
        generated password). Raises when Slack did not confirm the post."""
        ...


def is_user_id(channel: str) -> bool:
    """True for a Slack user id (``U…``, or ``W…`` on Enterprise Grid) rather than a conversation id."""
    return channel[:1] in {"U", "W"}


@dataclass
class Recorded:
    key: str | None
    channel: str
    thread_ts: str | None
    ts: str
    event: Event | str
    user: str | None = None
    posted_at: datetime | None = None


@dataclass
class RecordingNotifier:
    """Keeps every message in memory; used by tests before Slack is wired and by the domain's own tests.

    :meth:`find_posted` searches like Slack does: a thread's replies when ``thread_ts`` is given
    (``conversations.replies``), otherwise only top-level messages (``conversations.history``), and, when
    ``clock`` is set, only messages posted at or after ``oldest``.
    """

    posts: list[Recorded] = field(default_factory=list)
    updates: list[Recorded] = field(default_factory=list)
    directs: list[Recorded] = field(default_factory=list)
    clock: Callable[[], datetime] | None = None
    _seq: int = 0

    def _next_ts(self) -> str:
        self._seq += 1
        return f"1700000000.{self._seq:06d}"

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        ts = self._next_ts()
        posted_at = self.clock() if self.clock is not None else None
        self.posts.append(Recorded(key, channel, thread_ts, ts, event, posted_at=posted_at))
        return ts

    async def update(self, *, channel: str, ts: str, event: Event) -> None:
        self.updates.append(Recorded(None, channel, None, ts, event))

    async def find_posted(
        self, *, channel: str, key: str, oldest: datetime, thread_ts: str | None = None
    ) -> str | None:
        for rec in self.posts:
            if rec.key != key or rec.channel != channel or rec.thread_ts != thread_ts:
                continue
            if rec.posted_at is not None and rec.posted_at < oldest:
                continue
            return rec.ts
        return None

    async def open_dm(self, *, user: str) -> str:
        return "D" + user[1:]

    async def send_direct(self, *, user: str, text: str) -> None:
        channel = await self.open_dm(user=user)
        self.directs.append(Recorded(None, channel, None, self._next_ts(), text, user))

    def posts_with_key(self, key: str) -> list[Recorded]:
        return [p for p in self.posts if p.key == key]
