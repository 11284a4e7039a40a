"""Post-once outbox for Slack messages: record the intent, post, then record Slack's ``ts``.

``chat.postMessage`` has no idempotency key, so every post Cardinal makes goes through a key such as
``request:<id>:root`` or ``task:<id>:final``. Later changes are ``chat.update(ts)``, which is idempotent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from bot.db._sql import dialect_insert
from bot.db.enums import OutboxState
from bot.db.records import SlackMessage
from bot.db.tables import slack_message as t

# Built once (every post goes through them; building and keying them per call costs more than running them).
_CLAIMS: dict[str, Insert] = {}
_MARK_POSTED = (
    update(t)
    .where(t.c.key == bindparam("b_key"), t.c.state == OutboxState.INTENT.value)
    .values(ts=bindparam("b_ts"), state=OutboxState.POSTED.value, posted_at=bindparam("b_now"))
)


def _claim(dialect: str) -> Insert:
    """``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key`` for ``dialect``, built once."""
    if dialect not in _CLAIMS:
        stmt = dialect_insert(dialect, t).on_conflict_do_nothing(index_elements=["key"])
        _CLAIMS[dialect] = stmt.returning(t.c.key)
    return _CLAIMS[dialect]


class OutboxRepo:
    """Reads and writes ``slack_message``."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim_post(
        self,
        key: str,
        channel: str,
        thread_ts: str | None = None,
        *,
        now: datetime,
        payload_hash: str | None = None,
    ) -> SlackMessage | None:
        """Record the intent to post under ``key``; ``None`` means "recorded — post it now".

        If ``key`` is already known, the existing row is returned and nothing is written:
        ``existing.posted`` → the message is in Slack at ``existing.ts`` (update it, don't post);
        otherwise an earlier attempt stopped between intent and post — look for the message in the
        channel (by its metadata) before posting again.
        """
        values = {
            "key": key,
            "channel": channel,
            "thread_ts": thread_ts,
            "state": OutboxState.INTENT.value,
            "payload_hash": payload_hash,
            "created_at": now,
        }
        inserted = (await self._conn.execute(_claim(self._conn.dialect.name), values)).first()
        if inserted is not None:
            return None
        existing = await self.get(key)
        assert existing is not None  # the conflicting row exists and rows are never deleted here
        return existing

    async def mark_posted(self, key: str, ts: str, *, now: datetime) -> bool:
        """Slack returned ``ts`` for the post under ``key``; False if the key is unknown or already posted."""
        result = await self._conn.execute(_MARK_POSTED, {"b_key": key, "b_ts": ts, "b_now": now})
        return result.rowcount == 1

    async def get(self, key: str) -> SlackMessage | None:
        """The outbox row for ``key``, or ``None``."""
        row = (await self._conn.execute(select(t).where(t.c.key == key))).first()
        return None if row is None else SlackMessage.from_row(row)
