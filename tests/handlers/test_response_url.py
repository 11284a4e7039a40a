"""``response_url`` answers go out on the app's one pooled session, and only to allowed URLs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.db import Database
from handlers.app import create_app
from handlers.response_url import ResponseUrlPoster
from tests.conftest import FakeClock, ServerFactory
from tests.fakes.signing import slash_command
from tests.fakes.slack import FakeSlack
from tests.handlers.day2_env import OWNER, Day2Env, day2_env


@pytest.fixture
async def env(
    sqlite_db: Database, aiohttp_server: ServerFactory, clock: FakeClock, web_client: AsyncWebClient
) -> AsyncIterator[Day2Env]:
    async with day2_env(sqlite_db, aiohttp_server, clock, web_client) as e:
        yield e


@pytest.fixture
async def pooled_client(web_client: AsyncWebClient) -> AsyncIterator[AsyncWebClient]:
    """The client as ``assemble`` sets it up in production: one keep-alive session."""
    web_client.session = aiohttp.ClientSession()
    yield web_client
    await web_client.session.close()


async def test_answers_to_several_commands_share_one_connection(
    env: Day2Env, fake_slack: FakeSlack, slack_server: TestServer, pooled_client: AsyncWebClient
) -> None:
    await env.seed(10001)
    app = create_app(env.services, client=pooled_client, signing_secret=None)
    for n in range(4):
        url = str(slack_server.make_url(f"/hooks/h{n}"))
        body = dict(slash_command("list", user=OWNER, response_url=url))
        resp = await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        assert resp.status == 200
        await env.services.background.idle()
    answers = [fake_slack.hook_posts(f"h{n}") for n in range(4)]
    assert all(len(a) == 1 and a[0]["text"] == "Your containers: 1" for a in answers)
    # Bolt's own `respond` would have opened four connections, one per answer.
    assert len(fake_slack.hook_connections) == 1


async def test_a_refused_url_is_never_contacted(fake_slack: FakeSlack, slack_server: TestServer) -> None:
    seen: list[str] = []

    def allowed(url: str) -> bool:
        seen.append(url)
        return False

    async with aiohttp.ClientSession() as session:
        poster = ResponseUrlPoster(lambda: session, allowed=allowed)
        url = str(slack_server.make_url("/hooks/x"))
        answer: dict[str, Any] = {"text": "hi", "response_type": "ephemeral"}
        resp = await poster.post(url, answer)
    assert resp.status_code == 400
    assert seen == [url]
    assert fake_slack.hook_posts("x") == []


async def test_handling_a_request_leaves_cardinals_info_lines_on(
    env: Day2Env, slack_server: TestServer, pooled_client: AsyncWebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bolt sets the level of the stdlib logger named like the app (to the root's) on every request it
    dispatches; were the app named after Cardinal's own logger tree, Cardinal's INFO lines would go
    silent whenever the root logger is quieter than INFO."""
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)
    monkeypatch.setattr(logging.getLogger("cardinal"), "level", logging.INFO)  # as an operator configured
    monkeypatch.setattr(logging.getLogger("cardinal.edge"), "level", logging.NOTSET)
    await env.seed(10001)
    app = create_app(env.services, client=pooled_client, signing_secret=None)
    url = str(slack_server.make_url("/hooks/h0"))
    body = dict(slash_command("list", user=OWNER, response_url=url))
    resp = await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
    assert resp.status == 200
    await env.services.background.idle()
    assert logging.getLogger("cardinal.edge").isEnabledFor(logging.INFO)
