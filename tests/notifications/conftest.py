"""Fixtures for the Proxmox notification tests: owned containers with threads, a router on a recording
notifier, and an assembled Cardinal whose internal app serves ``POST /proxmox/notify`` to a fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.db import Container, ContainerState, Database
from bot.notifications import NotificationRouter
from bot.notify import RecordingNotifier
from bot.ops.webhooks import NOTIFY_PATH
from bot.outbox import Outbox
from bot.policy import Policy
from bot.settings import Settings
from handlers.runtime import Cardinal, assemble, make_internal_app
from handlers.slack_client import make_web_client
from tests.conftest import T0, FakeClock
from tests.fakes.slack import FakeSlack

NOTIFY_SECRET = "pve-notify-0123456789abcdef0123456789abcdef"
OPS = "C0OPS0001"
LAB = "C0LAB0001"
OWNER = "U0OWNER01"
BOT_TOKEN = "xoxb-notify-test-token"

ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


async def add_container(
    db: Database,
    vmid: int,
    *,
    node: str = "pve1",
    hostname: str | None = None,
    thread: tuple[str, str] | None = (LAB, "1700000000.000100"),
    state: ContainerState = ContainerState.RUNNING,
) -> Container:
    """Record a container Cardinal owns (with its Slack thread unless ``thread=None``)."""
    async with db.transaction() as tx:
        return await tx.containers.upsert(
            vmid=vmid,
            node=node,
            hostname=hostname or f"ct-{vmid}",
            owner=OWNER,
            state=state,
            now=T0,
            thread_channel=thread[0] if thread else None,
            thread_ts=thread[1] if thread else None,
        )


@dataclass
class RouterEnv:
    """A router on a real database whose posts land in a :class:`RecordingNotifier`."""

    db: Database
    notifier: RecordingNotifier
    router: NotificationRouter
    clock: FakeClock


def make_router(
    db: Database, clock: FakeClock, *, ops_channel: str | None = OPS, notifier: Any = None
) -> RouterEnv:
    """A :class:`RouterEnv` with the given ops channel (``None``: unset)."""
    rec = notifier if notifier is not None else RecordingNotifier()
    outbox = Outbox(db, rec, clock)
    router = NotificationRouter(db, outbox, Policy(ops_channel=ops_channel), clock)
    return RouterEnv(db, rec, router, clock)


@pytest.fixture
def router_env(db: Database, clock: FakeClock) -> RouterEnv:
    """A router with an ops channel, on SQLite and PostgreSQL."""
    return make_router(db, clock)


@dataclass
class Live:
    """Cardinal assembled against a fake Slack, its internal app served over HTTP."""

    cardinal: Cardinal
    slack: FakeSlack
    http: TestClient[Any, Any]

    @property
    def url(self) -> str:
        return str(self.http.make_url(NOTIFY_PATH))

    async def thread_root(self, channel: str = LAB) -> str:
        """Post a root message (as a request's thread would have) and return its ts."""
        resp = await self.cardinal.client.chat_postMessage(channel=channel, text="web-1 is ready")
        return str(resp["ts"])


async def start_live(
    db: Database,
    clock: FakeClock,
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
    *,
    secret: str | None = NOTIFY_SECRET,
    ops_channel: str | None = OPS,
) -> tuple[Live, Callable[[], Awaitable[None]]]:
    """Assemble Cardinal (``PROXMOX_NOTIFY_SECRET=secret``) and serve its internal app; return it and
    a closer."""
    slack = FakeSlack()
    slack_server = await aiohttp_server(slack.app())
    settings = Settings(
        _env_file=None,
        proxmox_host="127.0.0.1",
        proxmox_token="cardinal@pve!test",
        proxmox_secret="5f0c8a4e-1b2c-4d3e-8f9a-0b1c2d3e4f50",
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="notify-test-signing-secret",
        slack_api_url=str(slack_server.make_url("/api/")),
        database_url="sqlite+aiosqlite:///unused.db",
        proxmox_notify_secret=secret,
    )
    client = make_web_client(BOT_TOKEN, settings.slack_api_url, retry_interval=0.0)
    cardinal = await assemble(
        settings,
        policy=Policy(ops_channel=ops_channel),
        client=client,
        clock=clock,
        owner="notify-test",
        db=db,
    )
    app: web.Application = make_internal_app(cardinal)
    http = await aiohttp_client(app)

    async def close() -> None:
        await cardinal.proxmox.close()

    return Live(cardinal, slack, http), close


@pytest.fixture
async def live(
    sqlite_db: Database, clock: FakeClock, aiohttp_server: ServerFactory, aiohttp_client: ClientFactory
) -> AsyncIterator[Live]:
    """Cardinal with the notification endpoint enabled and an ops channel."""
    env, close = await start_live(sqlite_db, clock, aiohttp_server, aiohttp_client)
    try:
        yield env
    finally:
        await close()
