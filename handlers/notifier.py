"""The domain's :class:`bot.notify.Notifier`, implemented with Slack's Web API.

Every post carries message metadata ``{"event_type": "cardinal_message", "event_payload": {"key": …}}`` so
that after a crash between posting and recording the post, :meth:`find_posted` finds it again instead of
posting twice. ``chat.postMessage`` is not retried blindly on connection errors (see slack_client).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.events import Event
from handlers.blocks import render_event

METADATA_EVENT = "cardinal_message"


class SlackNotifier:
    """Posts, updates and finds Cardinal's messages."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        msg = render_event(event)
        resp = await self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=msg["text"],
            blocks=msg["blocks"],
            metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
            unfurl_links=False,
        )
        return str(resp["ts"])

    async def update(self, *, channel: str, ts: str, event: Event) -> None:
        msg = render_event(event)
        await self._client.chat_update(channel=channel, ts=ts, text=msg["text"], blocks=msg["blocks"])

    async def find_posted(
        self, *, channel: str, key: str, oldest: datetime, thread_ts: str | None = None
    ) -> str | None:
        since = f"{oldest.timestamp() - 1:.6f}"
        if thread_ts:
            resp = await self._client.conversations_replies(
                channel=channel, ts=thread_ts, oldest=since, include_all_metadata=True, limit=200
            )
        else:
            resp = await self._client.conversations_history(
                channel=channel, oldest=since, include_all_metadata=True, limit=200
            )
        messages: list[dict[str, Any]] = resp.get("messages", []) or []
        for message in messages:
            if _key_of(message) == key:
                return str(message["ts"])
        return None

    async def whisper(self, *, channel: str, user: str, text: str) -> None:
        await self._client.chat_postEphemeral(channel=channel, user=user, text=text)


def _key_of(message: dict[str, Any]) -> str | None:
    meta = message.get("metadata") or {}
    if meta.get("event_type") != METADATA_EVENT:
        return None
    payload = meta.get("event_payload") or {}
    key = payload.get("key")
    return str(key) if key is not None else None
