"""Cardinal's Slack client retries what is safe and never risks a duplicate post."""

from __future__ import annotations

import pytest
from aiohttp import ServerDisconnectedError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack_client import (
    SafeConnectionErrorRetryHandler,
    SafeServerErrorRetryHandler,
    make_web_client,
)
from tests.fakes.slack import FakeSlack


class TestPostMessage:
    async def test_429_is_retried(self, web_client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """A rate-limited post is retried after Retry-After and lands exactly once."""
        fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "0"})
        resp = await web_client.chat_postMessage(channel="C1", text="ready")
        assert resp["ok"]
        assert [c.status for c in fake_slack.calls("chat.postMessage")] == [429, 200]
        assert [m["text"] for m in fake_slack.messages("C1")] == ["ready"]

    async def test_5xx_is_not_retried(self, web_client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """A 500 on a post is reported, not retried: the post may have gone through."""
        fake_slack.fail_next("chat.postMessage", 500)
        with pytest.raises(SlackApiError) as exc:
            await web_client.chat_postMessage(channel="C1", text="ready")
        assert exc.value.response.status_code == 500
        assert len(fake_slack.calls("chat.postMessage")) == 1

    async def test_cut_connection_is_not_retried(
        self, web_client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        """When the answer to a post is lost, the post is not sent again (no duplicate message)."""
        fake_slack.drop_next("chat.postMessage")
        with pytest.raises(ServerDisconnectedError):
            await web_client.chat_postMessage(channel="C1", text="ready")
        assert len(fake_slack.messages("C1")) == 1
        assert len(fake_slack.calls("chat.postMessage")) == 1


class TestOtherMethods:
    async def test_5xx_is_retried(self, web_client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """Idempotent calls such as chat.update are retried after a 503."""
        posted = await web_client.chat_postMessage(channel="C1", text="creating")
        fake_slack.fail_next("chat.update", 503)
        await web_client.chat_update(channel="C1", ts=posted["ts"], text="ready")
        assert [c.status for c in fake_slack.calls("chat.update")] == [503, 200]
        assert fake_slack.messages("C1")[0]["text"] == "ready"

    async def test_cut_connection_is_retried(self, web_client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """A lost answer to chat.update is retried; applying the same edit twice is harmless."""
        posted = await web_client.chat_postMessage(channel="C1", text="creating")
        fake_slack.drop_next("chat.update")
        await web_client.chat_update(channel="C1", ts=posted["ts"], text="ready")
        assert len(fake_slack.calls("chat.update")) == 2
        assert fake_slack.messages("C1")[0]["text"] == "ready"

    async def test_retries_are_bounded(self, web_client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """A method that keeps failing gives up after the configured retries."""
        fake_slack.fail_next("users.info", 503, times=10)
        with pytest.raises(SlackApiError):
            await web_client.users_info(user="U1")
        assert len(fake_slack.calls("users.info")) == 3

    async def test_429_is_retried_for_views(self, web_client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """Rate limits are honoured on every method, e.g. views.open."""
        fake_slack.fail_next("views.open", 429, headers={"Retry-After": "0"})
        view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
        await web_client.views_open(trigger_id="1.2.3", view=view)
        assert len(fake_slack.views) == 1


class TestHandlers:
    async def test_handlers_refuse_post_message_on_unclear_outcome(self) -> None:
        """The custom handlers say no for chat.postMessage after a disconnect or a 5xx."""
        post = HttpRequest(method="POST", url="https://slack.com/api/chat.postMessage", headers={})
        update = HttpRequest(method="POST", url="https://slack.com/api/chat.update?team_id=T1", headers={})
        conn = SafeConnectionErrorRetryHandler()
        assert not await conn.can_retry_async(
            state=RetryState(), request=post, error=ServerDisconnectedError()
        )
        assert await conn.can_retry_async(state=RetryState(), request=update, error=ServerDisconnectedError())
        err500 = HttpResponse(status_code=500, headers={})
        server = SafeServerErrorRetryHandler()
        assert not await server.can_retry_async(state=RetryState(), request=post, response=err500)
        assert await server.can_retry_async(state=RetryState(), request=update, response=err500)

    def test_client_carries_the_handlers_and_base_url(self) -> None:
        """The factory sets the base URL (with a trailing slash) and all three retry kinds."""
        client = make_web_client("xoxb-x", "http://127.0.0.1:9/api")
        assert client.base_url == "http://127.0.0.1:9/api/"
        kinds = {type(h).__name__ for h in client.retry_handlers}
        assert kinds == {
            "RateLimitRetryHandler",
            "SafeServerErrorRetryHandler",
            "SafeConnectionErrorRetryHandler",
        }


async def test_retries_are_reported_to_the_hook(fake_slack: FakeSlack, api_url: str) -> None:
    """Each retry is reported with the API method and the reason (for the retries metric)."""
    seen: list[tuple[str, str]] = []
    client = make_web_client("xoxb-test", api_url, on_retry=lambda m, r: seen.append((m, r)))
    fake_slack.fail_next("auth.test", 503)
    await client.auth_test()
    assert seen == [("auth.test", "server_error")]
