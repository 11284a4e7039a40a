"""Fixtures: a local fake Proxmox (plain HTTP) and clients wired to it with instant, recorded backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.proxmox import CircuitBreaker, ProxmoxClient, RetryPolicy, Timeouts
from tests.proxmox.fake_pve import PASSWORD, TOKEN_ID, TOKEN_SECRET, USERNAME, FakePVE

ServerFactory = Callable[..., Awaitable[TestServer]]


class Sleeps:
    """A recording stand-in for asyncio.sleep so backoff never waits for real."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Clock:
    """An injectable monotonic clock that tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake() -> FakePVE:
    return FakePVE()


@pytest.fixture
async def pve_url(aiohttp_server: ServerFactory, fake: FakePVE) -> str:
    app: web.Application = fake.app()
    server = await aiohttp_server(app)
    return str(server.make_url("/api2/json"))


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_client(
    pve_url: str, sleeps: Sleeps, clock: Clock
) -> AsyncIterator[Callable[..., ProxmoxClient]]:
    """Build clients against the fake; token auth unless ``ticket=True``. Closed at teardown."""
    made: list[ProxmoxClient] = []

    def build(*, ticket: bool = False, url: str | None = None, **kwargs: Any) -> ProxmoxClient:
        kwargs.setdefault("retries", RetryPolicy(attempts=3, base_delay=0.01, sleep=sleeps))
        kwargs.setdefault("breaker", CircuitBreaker(failure_threshold=100, clock=clock))
        kwargs.setdefault("timeouts", Timeouts(read=2.0, write=2.0, long=2.0))
        kwargs.setdefault("clock", clock)
        if ticket:
            kwargs.setdefault("username", USERNAME)
            kwargs.setdefault("password", SecretStr(PASSWORD))
        else:
            kwargs.setdefault("token_id", TOKEN_ID)
            kwargs.setdefault("token_secret", SecretStr(TOKEN_SECRET))
        client = ProxmoxClient(url or pve_url, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.close()


@pytest.fixture
def client(make_client: Callable[..., ProxmoxClient]) -> ProxmoxClient:
    return make_client()
