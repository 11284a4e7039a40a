"""Cardinal served as ``cardinal run`` serves it in HTTP mode (:func:`handlers.runtime.serve_http` on a real
port), a fake Slack, and an "internal" server that must never be reached: the attacker's target."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.logs import configure_logging
from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.server import serve
from handlers.runtime import Cardinal, assemble, serve_http
from handlers.slack_client import make_web_client
from tests.conftest import ServerFactory
from tests.e2e.harness import (
    BOT_TOKEN,
    REQUESTER,
    SIGNING_SECRET,
    TOKEN_ID,
    TOKEN_SECRET,
    e2e_policy,
    e2e_settings,
)
from tests.fakes.signing import signed_request_headers
from tests.fakes.slack import FakeSlack

HEADER_DEADLINE = 0.5
BODY_DEADLINE = 0.5


@dataclass
class Target:
    """An internal endpoint an attacker would like Cardinal to call: it records every request."""

    server: TestServer
    hits: list[str] = field(default_factory=list)

    def url(self, path: str = "/admin/reset") -> str:
        return str(self.server.make_url(path))


@dataclass
class Edge:
    """Cardinal's HTTP listener and what it may touch."""

    base: str
    cardinal: Cardinal
    slack: FakeSlack
    target: Target
    log: io.StringIO
    session: aiohttp.ClientSession

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def hook_url(self, hook_id: str) -> str:
        return self.cardinal.settings.slack_api_url.removesuffix("/api/") + f"/hooks/{hook_id}"

    async def post(
        self, body: bytes, headers: dict[str, str], content_type: str = "application/x-www-form-urlencoded"
    ) -> tuple[int, str]:
        """POST ``body`` to /slack/events with exactly ``headers`` (plus Content-Type)."""
        async with self.session.post(
            self.base + "/slack/events", data=body, headers={**headers, "Content-Type": content_type}
        ) as resp:
            return resp.status, await resp.text()

    async def signed(
        self, body: bytes, content_type: str = "application/x-www-form-urlencoded"
    ) -> tuple[int, str]:
        """POST ``body`` signed with the app's signing secret, as Slack does."""
        return await self.post(
            body, signed_request_headers(body, SIGNING_SECRET, int(time.time())), content_type
        )

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line.strip()]

    def outbound(self) -> list[str]:
        """Every call Cardinal made because of a request: Web API calls, hook posts, the target's hits."""
        return [c.method for c in self.slack.recorded] + self.target.hits


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Cardinal's log lines (JSON, INFO: the default level) in memory."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
async def edge(db: Any, aiohttp_server: ServerFactory, captured_log: io.StringIO) -> AsyncIterator[Edge]:
    """Cardinal listening on 127.0.0.1 (random port) with short read deadlines, Slack faked."""
    sim = Simulator(nodes=1, speed=0)
    sim.add_token(TOKEN_ID, TOKEN_SECRET)
    proxmox = await serve(sim, tls=True)
    slack = FakeSlack()
    slack.add_user(REQUESTER)
    slack_server = await aiohttp_server(slack.app())
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path}")
        return web.Response(text="ok")

    target_app = web.Application()
    target_app.router.add_route("*", "/{tail:.*}", record)
    target = Target(await aiohttp_server(target_app), hits)
    settings = e2e_settings(proxmox, str(slack_server.make_url("/api/")), "sqlite+aiosqlite:///unused.db")
    cardinal = await assemble(
        settings,
        policy=e2e_policy(),
        client=make_web_client(BOT_TOKEN, settings.slack_api_url, retry_interval=0.0),
        owner="security",
        db=db,
    )
    runner = await serve_http(
        cardinal, 0, "127.0.0.1", header_deadline=HEADER_DEADLINE, body_deadline=BODY_DEADLINE
    )
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as session:
        yield Edge(f"http://{host}:{port}", cardinal, slack, target, captured_log, session)
    await runner.cleanup()
    await cardinal.services.background.drain()
    await cardinal.scheduler.shutdown(grace=1)
    await cardinal.proxmox.close()
    await proxmox.close()
