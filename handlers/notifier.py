"""The domain's :class:`bot.notify.Notifier`, implemented with Slack's Web API.

Every post carries message metadata ``{"event_type": "cardinal_message", "event_payload": {"key": …}}`` so
that after a crash between posting and recording the post, :meth:`find_posted` finds it again instead of
posting twice. ``chat.postMessage`` is not retried blindly on connection errors (see slack_client).

Direct messages go to the ``D…`` conversation id from ``conversations.open`` (scope ``im:write``): Slack
accepts a user id as ``channel`` only in ``chat.postMessage``; ``conversations.history``,
``conversations.replies`` and ``chat.update`` answer ``channel_not_found`` for it (docs/slack-dm.md).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.events import Event
from bot.notify import CHANNEL_REFUSALS, ChannelUnavailable
from handlers.blocks.events import render_event

METADATA_EVENT = "cardinal_message"


DIRECT_ATTEMPTS = 3
"""How often :meth:`SlackNotifier.send_direct` posts before giving up on a 5xx or a cut connection."""


class SlackNotifier:
    """Posts, updates and finds Cardinal's messages.

    ``direct_retry_interval`` (seconds, times the attempt number) is the pause before posting a direct
    message again after Slack answered 5xx or the connection broke.
    """

    def __init__(self, client: AsyncWebClient, *, direct_retry_interval: float = 1.0) -> None:
        self._client = client
        self._direct_retry_interval = direct_retry_interval

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        msg = render_event(event)
        try:
            resp = await self._client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=msg["text"],
                blocks=msg["blocks"],
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
                unfurl_links=False,
            )
        except SlackApiError as exc:
            _raise_if_refused(exc, channel)
            raise
        return str(resp["ts"])

    async def update(self, *, channel: str, ts: str, event: Event) -> None:
        msg = render_event(event)
        await self._client.chat_update(channel=channel, ts=ts, text=msg["text"], blocks=msg["blocks"])

    async def find_posted(
        self, *, channel: str, key: str, oldest: datetime, thread_ts: str | None = None
    ) -> str | None:
        since = f"{oldest.timestamp() - 1:.6f}"
        try:
            if thread_ts:
                resp = await self._client.conversations_replies(
                    channel=channel, ts=thread_ts, oldest=since, include_all_metadata=True, limit=200
                )
            else:
                resp = await self._client.conversations_history(
                    channel=channel, oldest=since, include_all_metadata=True, limit=200
                )
        except SlackApiError as exc:
            _raise_if_refused(exc, channel)
            raise
        messages: list[dict[str, Any]] = resp.get("messages", []) or []
        for message in messages:
            if _key_of(message) == key:
                return str(message["ts"])
        return None

    async def open_dm(self, *, user: str) -> str:
        resp = await self._client.conversations_open(users=user)
        channel = resp.get("channel") or {}
        return str(channel["id"])

    async def send_direct(self, *, user: str, text: str) -> None:
        # The client does not repeat chat.postMessage after a 5xx or a cut connection (it may have
        # posted). Here a repeat is harmless — the same text to the same person — and losing the message
        # is not, so it is posted again a few times; Slack's refusals (4xx answers) are final.
        channel = await self.open_dm(user=user)
        for attempt in range(1, DIRECT_ATTEMPTS + 1):
            try:
                await self._client.chat_postMessage(
                    channel=channel, text=text, unfurl_links=False, unfurl_media=False
                )
                return
            except SlackApiError as exc:
                if exc.response.status_code < 500 or attempt == DIRECT_ATTEMPTS:
                    raise
            except (ClientError, TimeoutError):
                if attempt == DIRECT_ATTEMPTS:
                    raise
            await asyncio.sleep(self._direct_retry_interval * attempt)


def _raise_if_refused(exc: SlackApiError, channel: str) -> None:
    """Turn Slack's final refusals of a conversation into :class:`ChannelUnavailable`."""
    error = exc.response.get("error") if exc.response is not None else None
    if error in CHANNEL_REFUSALS:
        raise ChannelUnavailable(channel, str(error)) from exc


def _key_of(message: dict[str, Any]) -> str | None:
    meta = message.get("metadata") or {}
    if meta.get("event_type") != METADATA_EVENT:
        return None
    payload = meta.get("event_payload") or {}
    key = payload.get("key")
    return str(key) if key is not None else None
