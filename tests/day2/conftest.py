"""Fixtures for the day-2 services: the Proxmox simulator served locally, a client wired to it, and tiny
recording implementations of the two seams the services call (task follower and post-once outbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.containers.service import ContainerService
from bot.db import ContainerState, Database
from bot.db.records import Container
from bot.digest import DigestReady
from bot.events import Event
from bot.policy import Policy
from bot.proxmox import ProxmoxClient
from bot.proxmox.upid import Upid
from cardinal_sim.proxmox import Simulator
from cardinal_sim.proxmox.state import RequestRecord
from tests.conftest import FakeClock, ServerFactory
from tests.sim_client import serve_sim_client

TOKEN = "cardinal@pve!bot"
SECRET = "5f0c4a52-day2-4b1e-9d0c-0123456789ab"
OWNER = "U0OWNER1"
OTHER = "U0OTHER2"
APPROVER = "U0APPROV3"


@dataclass
class Tracked:
    """One ``track`` call."""

    kind: str
    upid: Upid
    vmid: int
    node: str
    actor: str
    channel: str | None
    thread_ts: str | None
    request_id: str | None


@dataclass
class RecordingFollower:
    """The task-follower seam: remembers what it was asked to follow."""

    calls: list[Tracked] = field(default_factory=list)

    async def track(
        self,
        kind: str,
        upid: Upid,
        *,
        vmid: int,
        node: str,
        actor: str,
        channel: str | None,
        thread_ts: str | None,
        request_id: str | None = None,
    ) -> None:
        self.calls.append(Tracked(kind, upid, vmid, node, actor, channel, thread_ts, request_id))


@dataclass
class Delivery:
    """One ``deliver`` call."""

    key: str
    channel: str
    thread_ts: str | None
    event: Event | DigestReady
    ts: str


@dataclass
class RecordingOutbox:
    """The post-once seam: records every delivery (no de-duplication, so repeats are visible)."""

    deliveries: list[Delivery] = field(default_factory=list)

    async def deliver(
        self, *, key: str, channel: str, thread_ts: str | None, event: Event | DigestReady
    ) -> str:
        ts = f"1700000000.{len(self.deliveries) + 1:06d}"
        self.deliveries.append(Delivery(key, channel, thread_ts, event, ts))
        return ts


@pytest.fixture
def sim() -> Simulator:
    """Two nodes (``pve``, ``pve2``), frozen clock (only ``sim.advance`` moves it), full-privilege token."""
    simulator = Simulator(nodes=2, speed=0, seed=11)
    simulator.add_token(TOKEN, SECRET)
    return simulator


@pytest.fixture
async def proxmox(sim: Simulator, aiohttp_server: ServerFactory) -> AsyncIterator[ProxmoxClient]:
    """A client talking to ``sim`` served on 127.0.0.1 (retries without real waiting)."""
    client = await serve_sim_client(sim, aiohttp_server, TOKEN, SECRET)
    yield client
    await client.close()
    assert sim.internal_errors == [], "the simulator crashed while handling a request"


@pytest.fixture
def follower() -> RecordingFollower:
    return RecordingFollower()


@pytest.fixture
def outbox() -> RecordingOutbox:
    return RecordingOutbox()


@pytest.fixture
def policy() -> Policy:
    """Defaults (reminders 24 h and 1 h, stop then destroy after 3 days, max lifetime 30 days)."""
    return Policy(approvers=[APPROVER])


@pytest.fixture
def service(
    db: Database, proxmox: ProxmoxClient, follower: RecordingFollower, policy: Policy, clock: FakeClock
) -> ContainerService:
    return ContainerService(db, proxmox, follower, policy, clock)


Seed = Callable[..., Awaitable[Container]]


@pytest.fixture
def seed(db: Database, sim: Simulator, clock: FakeClock) -> Seed:
    """Create a container in the simulator *and* in Cardinal's database (as a finished creation would)."""

    async def make(
        vmid: int,
        *,
        owner: str = OWNER,
        node: str = "pve",
        status: str = "running",
        hostname: str | None = None,
        expires_in: timedelta | None = timedelta(days=7),
        thread: bool = True,
        **config: Any,
    ) -> Container:
        name = hostname or f"ct{vmid}"
        sim.add_container(vmid, node=node, status=status, hostname=name, **config)
        expires_at: datetime | None = clock() + expires_in if expires_in is not None else None
        async with db.transaction() as tx:
            return await tx.containers.upsert(
                vmid=vmid,
                node=node,
                hostname=name,
                owner=owner,
                state=ContainerState.RUNNING if status == "running" else ContainerState.STOPPED,
                now=clock(),
                expires_at=expires_at,
                thread_channel="C0THREAD" if thread else None,
                thread_ts="1700000000.000100" if thread else None,
            )

    return make


def requests_to(sim: Simulator, method: str, suffix: str) -> list[RequestRecord]:
    """The simulator's log entries for ``method`` on paths ending with ``suffix``."""
    return [r for r in sim.request_log if r.method == method and r.path.endswith(suffix)]
