"""Fixtures: a FakeSlack served on a random local port and a client pointed at it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

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
    """Base URL of the fake's Web API, for ``AsyncWebClient(base_url=...)``."""
    return str(slack_server.make_url("/api/"))
