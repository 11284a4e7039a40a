"""Fixtures for Slack-edge tests: a FakeSlack served locally and Cardinal's client pointed at it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack_client import make_web_client
from tests.fakes.slack import FakeSlack

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture
def fake_slack() -> FakeSlack:
    """A fresh fake workspace."""
    return FakeSlack()


@pytest.fixture
async def slack_server(fake_slack: FakeSlack, aiohttp_server: ServerFactory) -> TestServer:
    """The fake served on 127.0.0.1 with a random port."""
    return await aiohttp_server(fake_slack.app())


@pytest.fixture
def api_url(slack_server: TestServer) -> str:
    """Base URL of the fake's Web API."""
    return str(slack_server.make_url("/api/"))


@pytest.fixture
def web_client(api_url: str) -> AsyncWebClient:
    """Cardinal's production client against the fake, with no pause between 5xx retries."""
    return make_web_client("xoxb-test", api_url, retry_interval=0.0)
