"""The one place Cardinal posts to a ``response_url``, over the app's pooled keep-alive session.

Bolt's own ``respond`` (``slack_bolt.context.respond.async_respond.AsyncRespond``) builds a new
``AsyncWebhookClient`` without a session for every answer, and slack_sdk then opens (and closes) a new
``aiohttp.ClientSession`` per post — a new TCP and TLS connection to ``hooks.slack.com`` for every
``/lxc list``, ``templates`` or button answer. :func:`register` adds a middleware that swaps it for
:class:`SharedSessionRespond`, which posts through :class:`ResponseUrlPoster` on the session the Web API
client already keeps open (``handlers.runtime.assemble`` gives the client one).

The poster takes an ``allowed(url)`` predicate: a URL it rejects is never posted to (the answer is
dropped and logged without the URL, which carries a secret token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

__all__ = ["ResponseUrlPoster", "SharedSessionRespond", "allow_any", "register"]

log = structlog.get_logger("cardinal.slack")

SessionSource = Callable[[], aiohttp.ClientSession | None]


def allow_any(url: str) -> bool:
    """The default predicate: every ``response_url`` Slack sent may be answered."""
    return True


class ResponseUrlPoster:
    """Posts answers to ``response_url``\\ s on one shared session (when ``session()`` gives one)."""

    def __init__(self, session: SessionSource, *, allowed: Callable[[str], bool] = allow_any) -> None:
        self._session = session
        self._allowed = allowed

    async def post(self, url: str, message: dict[str, Any]) -> WebhookResponse:
        """Send ``message`` (a built webhook body) to ``url``; a refused URL is not contacted."""
        if not self._allowed(url):
            log.warning("response_url.refused")
            return WebhookResponse(url="", status_code=400, body="response_url refused", headers={})
        client = AsyncWebhookClient(url=url, session=self._session())
        return await client.send_dict(message)


class SharedSessionRespond(AsyncRespond):
    """Bolt's ``respond`` with the same arguments, posting through a :class:`ResponseUrlPoster`."""

    def __init__(self, poster: ResponseUrlPoster, response_url: str) -> None:
        super().__init__(response_url=response_url)
        self._poster = poster
        self._url = response_url

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        return await self._poster.post(self._url, message)


def register(app: AsyncApp, poster: ResponseUrlPoster) -> None:
    """Make every listener's (and the error handler's) ``respond`` post through ``poster``."""

    @app.middleware
    async def respond_on_shared_session(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        url = context.response_url
        if isinstance(url, str) and url:
            context["respond"] = SharedSessionRespond(poster, url)
        await next()
