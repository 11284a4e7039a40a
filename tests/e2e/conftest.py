"""Fixtures for end-to-end tests: simulator over TLS, fake Slack, database, and the assembled app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.proxmox.breaker import CircuitBreaker
from bot.proxmox.client import ProxmoxClient
from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.server import serve
from handlers.runtime import assemble
from handlers.slack_client import make_web_client
from tests.conftest import FakeClock, ServerFactory
from tests.e2e.harness import (
    APPROVER,
    BOT_TOKEN,
    OTHER,
    REQUESTER,
    TOKEN_ID,
    TOKEN_SECRET,
    Harness,
    e2e_policy,
    e2e_settings,
)
from tests.fakes.slack import FakeSlack

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def policy_overrides() -> dict[str, Any]:
    """Override in a test module to change the policy."""
    return {}


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """Override in a test module to build the simulator differently (e.g. ``node_templates``)."""
    return {}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to add settings (e.g. ``proxmox_node``)."""
    return {}


@pytest.fixture
async def harness(
    db: Any,
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
    clock: FakeClock,
    policy_overrides: dict[str, Any],
    sim_options: dict[str, Any],
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Harness]:
    """Cardinal wired to the simulator (3 nodes, frozen clock moved by the test) and a fake Slack."""
    options: dict[str, Any] = {
        "nodes": 3,
        "speed": 0,
        "dhcp_delay": 4.0,
        "task_durations": {"vzcreate": 20.0, "vzstart": 3.0},
        **sim_options,
    }
    privileges = options.pop("token_privileges", None)
    sim = Simulator(**options)
    sim.add_token(TOKEN_ID, TOKEN_SECRET, privileges)
    proxmox = await serve(sim, tls=True)
    slack = FakeSlack(clock=lambda: clock().timestamp())  # trigger_ids age with the test's clock
    for user in (REQUESTER, APPROVER, OTHER):
        slack.add_user(user)
    slack_server = await aiohttp_server(slack.app())
    settings = e2e_settings(
        proxmox, str(slack_server.make_url("/api/")), "sqlite+aiosqlite:///unused.db", **settings_overrides
    )
    client = make_web_client(BOT_TOKEN, settings.slack_api_url, retry_interval=0.0)
    # The breaker's cool-down follows the test's clock, like everything else time-driven.
    proxmox_client = ProxmoxClient.from_settings(
        settings, breaker=CircuitBreaker(clock=lambda: clock().timestamp())
    )
    cardinal = await assemble(
        settings,
        policy=e2e_policy(**policy_overrides),
        client=client,
        proxmox=proxmox_client,
        clock=clock,
        owner="e2e-replica",
        tracker_options={"seed": 1},
        db=db,
    )
    http = await aiohttp_client(cardinal.app.web_app(path="/slack/events", port=0))
    h = Harness(sim=sim, slack=slack, cardinal=cardinal, http=http, clock=clock)
    try:
        yield h
    finally:
        await h.idle()
        await cardinal.scheduler.shutdown(grace=5)
        await cardinal.services.background.drain()
        await cardinal.proxmox.close()
        await proxmox.close()
