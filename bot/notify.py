"""The notifier interface the domain needs, and a recording one for tests and the demo.

``handlers/`` implements :class:`Notifier` with Slack. Posting is at-most-once per ``key`` thanks to
:mod:`bot.outbox`, which records the intent before calling :meth:`Notifier.post` and asks
:meth:`Notifier.find_posted` after a crash. Messages carry the key as metadata so they can be found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.events import Event


class Notifier(Protocol):
    """Where the domain's events go."""

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        """Post a new message tagged with ``key``; return its ``ts``."""
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

    async def whisper(self, *, channel: str, user: str, text: str) -> None:
        """Say something only ``user`` sees (e.g. a generated password)."""
        ...


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
    whispers: list[Recorded] = field(default_factory=list)
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

    async def whisper(self, *, channel: str, user: str, text: str) -> None:
        self.whispers.append(Recorded(None, channel, None, self._next_ts(), text, user))

    def posts_with_key(self, key: str) -> list[Recorded]:
        return [p for p in self.posts if p.key == key]
