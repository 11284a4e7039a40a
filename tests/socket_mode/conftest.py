"""Fixtures for Socket Mode tests: the fake Socket Mode server next to the fake Slack Web API, for the
real app in this process (:func:`socket_app`) and for ``cardinal run`` processes (the reliability lab)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from handlers.runtime import connect_socket_mode
from handlers.socket_mode import SocketMode, Timing
from tests.conftest import ServerFactory
from tests.e2e.conftest import harness, policy_overrides, settings_overrides, sim_options
from tests.e2e.harness import Harness
from tests.fakes.socket_mode import APP_TOKEN, FakeSocketMode
from tests.reliability.conftest import Lab, lab, sim_faults

__all__ = ["harness", "lab", "policy_overrides", "settings_overrides", "sim_faults", "sim_options"]

FAST = Timing(ping_interval=0.4, hello_timeout=2.0, close_timeout=0.5, backoff=(0.05, 0.1, 0.2))
"""Short enough that a dead link is noticed and rebuilt in well under a second."""


async def until(predicate: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str) -> None:  # noqa: ASYNC109
    """Poll an async condition until it holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
async def socket_server(aiohttp_server: ServerFactory) -> FakeSocketMode:
    """The fake Socket Mode server, served (not yet attached to a fake Slack)."""
    fake = FakeSocketMode()
    fake.listen(await aiohttp_server(fake.app()))
    return fake


@pytest.fixture
async def socket_app(
    harness: Harness, socket_server: FakeSocketMode
) -> AsyncIterator[tuple[Harness, SocketMode]]:
    """The e2e Cardinal served over Socket Mode by the fake server (fast timing), connected."""
    socket_server.attach(harness.slack)
    harness.cardinal.slack_ok = True  # auth.test is the HTTP start's business; here only the socket counts
    socket = await connect_socket_mode(harness.cardinal, APP_TOKEN, timing=FAST)
    try:
        await until(socket.is_connected, what="the first Socket Mode connection")
        yield harness, socket
    finally:
        await socket.stop()


@pytest.fixture
def socket_lab(lab: Lab, socket_server: FakeSocketMode) -> FakeSocketMode:
    """The reliability lab's fake Slack with the Socket Mode server attached."""
    socket_server.attach(lab.slack)
    return socket_server
