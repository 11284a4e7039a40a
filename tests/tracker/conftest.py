"""A tracker world: the Proxmox simulator (frozen clock, moved by hand), a real client talking to it over
HTTP, the recording notifier, and helpers to make requests and drive sweeps."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from bot.containers.spec import ContainerSpec, Features, NetSpec
from bot.containers.stored import RequestSpec
from bot.db import ContainerRequest, Database, RequestState
from bot.events import Event
from bot.notify import RecordingNotifier
from bot.outbox import Outbox
from bot.proxmox import ProxmoxClient, RetryPolicy, Timeouts
from bot.tracker import Backoff, CreationItem, Tracker
from cardinal_sim.proxmox import Simulator, serve
from tests.conftest import T0

TOKEN_ID = "cardinal@pve!bot"
TOKEN_SECRET = "0b6a5e3c-7d1f-4c55-9d0e-5f1f3a1b2c3d"
TEMPLATE = "local:vztmpl/debian-13-standard_13.6-1_amd64.tar.zst"
CHANNEL = "C0REQUESTS"
REQUESTER = "U0ALICE"
ROOT_TS = "1690000000.000100"
UI = "https://pve.example.com:8006"


async def _no_sleep(_delay: float) -> None:
    return None


def spec(hostname: str = "web-1", *, template: str = TEMPLATE, **kw: Any) -> ContainerSpec:
    """A valid container spec (DHCP on vmbr0 unless ``nets`` says otherwise) with the features Cardinal's
    default policy gives an unprivileged container (nesting on)."""
    kw.setdefault("features", Features(nesting=True))
    return ContainerSpec(hostname=hostname, template=template, storage="local-lvm", **kw)


def static_spec(hostname: str = "db-1") -> ContainerSpec:
    """A spec with a static IPv4 address."""
    net = NetSpec(mode="static", ipv4_cidr="192.0.2.10/24", gateway="192.0.2.1")
    return spec(hostname, nets=[net])


@dataclass
class World:
    """Everything a tracker test needs; ``now()`` is the simulator's clock (one time source)."""

    sim: Simulator
    px: ProxmoxClient
    db: Database
    notifier: RecordingNotifier
    trackers: list[Tracker] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim.now(), UTC)

    def outbox(self, db: Database | None = None, notifier: Any = None) -> Outbox:
        return Outbox(db or self.db, notifier or self.notifier, self.now)

    def tracker(
        self,
        owner: str = "replica-a",
        *,
        db: Database | None = None,
        notifier: Any = None,
        proxmox: Any = None,
        **kw: Any,
    ) -> Tracker:
        kw.setdefault("concurrency", 5)
        kw.setdefault("sweep_interval", 1.0)
        kw.setdefault("lease_seconds", 60.0)
        kw.setdefault("ui_url", UI)
        kw.setdefault("address_attempts", 8)
        kw.setdefault("submit_grace", 10.0)
        kw.setdefault("poll_backoff", Backoff(base=1.0, factor=1.5, cap=3.0, jitter=0))
        kw.setdefault("address_backoff", Backoff(base=1.0, factor=1.5, cap=3.0, jitter=0))
        kw.setdefault("error_backoff", Backoff(base=1.0, factor=2.0, cap=8.0, jitter=0))
        tracker = Tracker(
            db or self.db,
            proxmox or self.px,
            self.outbox(db, notifier),
            owner=owner,
            clock=self.now,
            seed=1,
            **kw,
        )
        self.trackers.append(tracker)
        return tracker

    async def request(
        self,
        specs: Sequence[ContainerSpec],
        *,
        node: str = "pve",
        generate_password: bool = False,
        thread_ts: str | None = ROOT_TS,
    ) -> tuple[ContainerRequest, list[CreationItem]]:
        """An approved request with reserved VMIDs and its creation items (not yet enqueued)."""
        now = self.now()
        first = specs[0]
        async with self.db.transaction() as tx:
            req = await tx.requests.create_request(
                requester=REQUESTER,
                channel=CHANNEL,
                spec=RequestSpec.model_validate(first.model_dump()),
                now=now,
                count=len(specs),
                purpose="testing",
                state=RequestState.APPROVED,
                thread_ts=thread_ts,
                expires_at=now + timedelta(days=7),
            )
            items = []
            for s in specs:
                vmid = await tx.vmids.reserve_vmid(req.id, 100, 999, set(), now=now)
                items.append(
                    CreationItem(
                        hostname=s.hostname,
                        vmid=vmid,
                        node=node,
                        params=s.to_create_params(vmid),
                        channel=CHANNEL,
                        thread_ts=thread_ts,
                        requester=REQUESTER,
                        generate_password=generate_password,
                        expires_at=req.expires_at,
                    )
                )
        return req, items

    async def request_state(self, request_id: str) -> RequestState:
        async with self.db.transaction(readonly=True) as tx:
            req = await tx.requests.get_request(request_id)
        assert req is not None
        return req.state

    async def drive(
        self,
        until: Callable[[], Awaitable[bool]],
        *,
        trackers: Sequence[Tracker] | None = None,
        step: float = 1.0,
        max_steps: int = 120,
    ) -> int:
        """Sweep (all trackers at once), check ``until``, advance the simulator by ``step``; repeat.

        Returns the number of steps taken; fails when ``until`` never holds within ``max_steps``.
        """
        group = list(trackers or self.trackers)
        for i in range(max_steps):
            await asyncio.gather(*(t.sweep() for t in group))
            if await until():
                return i
            self.sim.advance(step)
        raise AssertionError(f"condition not reached within {max_steps} steps")

    async def until_request_final(self, request_id: str, **kw: Any) -> int:
        finals = {RequestState.READY, RequestState.FAILED, RequestState.PARTIALLY_FAILED}

        async def done() -> bool:
            return await self.request_state(request_id) in finals

        return await self.drive(done, **kw)

    def posts_of(self, kind: type) -> list[Any]:
        return [p for p in self.notifier.posts if isinstance(p.event, kind)]

    def requests_to(self, method: str, fragment: str) -> list[Any]:
        return [r for r in self.sim.request_log if r.method == method and fragment in r.path]

    def root_events(self) -> list[Event | str]:
        return [u.event for u in self.notifier.updates if u.ts == ROOT_TS]


def post_counts(notifier: RecordingNotifier) -> Counter[str | None]:
    """How many posts were made per key."""
    return Counter(p.key for p in notifier.posts)


@pytest.fixture
def sim() -> Simulator:
    """Three nodes, frozen clock starting at T0 (only ``advance`` moves it)."""
    s = Simulator(nodes=3, speed=0, start_time=T0.timestamp(), seed=7)
    s.add_token(TOKEN_ID, TOKEN_SECRET)
    return s


@pytest.fixture
async def px(sim: Simulator) -> AsyncIterator[ProxmoxClient]:
    running = await serve(sim)
    client = ProxmoxClient(
        running.api_url,
        token_id=TOKEN_ID,
        token_secret=SecretStr(TOKEN_SECRET),
        timeouts=Timeouts(read=5, write=5, long=5),
        retries=RetryPolicy(attempts=2, sleep=_no_sleep),
    )
    try:
        yield client
    finally:
        await client.close()
        await running.close()


@pytest.fixture
async def world(sim: Simulator, px: ProxmoxClient, db: Database) -> AsyncIterator[World]:
    w = World(sim=sim, px=px, db=db, notifier=RecordingNotifier())
    try:
        yield w
    finally:
        for tracker in w.trackers:
            if not tracker.stopping:
                await tracker.shutdown(grace=5)
