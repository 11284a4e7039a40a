"""A day-2 environment for Slack-edge tests: the Proxmox simulator served locally, a real database, the
real ContainerService and DigestJob, and ``Services`` as the app gets them.

The seams Cardinal's own services call out through (task follower, post-once outbox, creation queue)
are the small recording implementations of :mod:`tests.day2.conftest` — the tracker is exercised by the
end-to-end tests instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import ActionApprovals
from bot.containers.service import ContainerService
from bot.db import ContainerState, Database
from bot.db.records import Container
from bot.digest import DigestJob
from bot.notify import Notifier, RecordingNotifier
from bot.ops.metrics import Metrics
from bot.outbox import Outbox
from bot.policy import Policy
from bot.proxmox import ProxmoxClient
from bot.requests import RequestService, StaticApprovers
from bot.tracker.tracker import CreationItem
from cardinal_sim.proxmox import Simulator
from cardinal_sim.proxmox.state import RequestRecord
from handlers.background import Background
from handlers.home import HomeRefresher
from handlers.metadata import MetadataSeal
from handlers.services import Services
from tests.conftest import FakeClock, ServerFactory
from tests.day2.conftest import APPROVER, OTHER, OWNER, SECRET, TOKEN, RecordingFollower, RecordingOutbox
from tests.sim_client import serve_sim_client

__all__ = ["APPROVER", "OTHER", "OWNER", "UI_URL", "Day2Env", "day2_env"]

UI_URL = "https://pve.example:8006"
THREAD_CHANNEL = "C0THREAD"
THREAD_TS = "1700000000.000100"


class _NoPublisher:
    """The request service's publisher seam (creation is not what these tests are about)."""

    async def deliver(self, key: str, channel: str, thread_ts: str | None, event: Any) -> str:
        return "1700000000.000001"

    async def revise(self, channel: str, ts: str, event: Any) -> None:
        return None


class _NoQueue:
    """The request service's provisioning seam."""

    async def enqueue_creations(self, request_id: str, items: list[CreationItem]) -> None:
        return None


@dataclass
class Day2Env:
    """Everything one test needs; ``services`` is what ``create_app`` and ``subcommands.run`` take."""

    sim: Simulator
    db: Database
    proxmox: ProxmoxClient
    follower: RecordingFollower
    outbox: RecordingOutbox
    clock: FakeClock
    policy: Policy
    containers: ContainerService
    services: Services

    async def seed(
        self,
        vmid: int,
        *,
        owner: str = OWNER,
        status: str = "running",
        hostname: str | None = None,
        expires_in: timedelta | None = timedelta(days=7),
        **config: Any,
    ) -> Container:
        """A container in the simulator *and* in Cardinal's database, as a finished creation leaves it."""
        name = hostname or f"ct{vmid}"
        self.sim.add_container(vmid, node="pve", status=status, hostname=name, **config)
        now = self.clock()
        async with self.db.transaction() as tx:
            return await tx.containers.upsert(
                vmid=vmid,
                node="pve",
                hostname=name,
                owner=owner,
                state=ContainerState.RUNNING if status == "running" else ContainerState.STOPPED,
                now=now,
                expires_at=now + expires_in if expires_in is not None else None,
                thread_channel=THREAD_CHANNEL,
                thread_ts=THREAD_TS,
            )

    def requests_to(self, method: str, suffix: str) -> list[RequestRecord]:
        """The simulator's log entries for ``method`` on paths ending with ``suffix``."""
        return [r for r in self.sim.request_log if r.method == method and r.path.endswith(suffix)]

    async def expiry_of(self, vmid: int) -> Any:
        """The expiry Cardinal's database holds for ``vmid``."""
        async with self.db.transaction(readonly=True) as tx:
            container = await tx.containers.get(vmid)
        assert container is not None
        return container.expires_at

    async def audit_actions(self, vmid: int) -> list[tuple[str, str]]:
        """``(actor, action)`` of the audit events about ``vmid``, oldest first."""
        async with self.db.transaction(readonly=True) as tx:
            events = await tx.audit.recent(vmid=vmid, limit=100)
        return [(e.actor, e.action) for e in reversed(events)]


@asynccontextmanager
async def day2_env(
    db: Database,
    aiohttp_server: ServerFactory,
    clock: FakeClock,
    client: AsyncWebClient,
    *,
    policy: Policy | None = None,
    notifier: Notifier | None = None,
) -> AsyncIterator[Day2Env]:
    """Start the simulator on 127.0.0.1 and wire the services to it. Approval cards go through a real
    outbox to ``notifier`` (e.g. a ``SlackNotifier`` on the fake Slack; by default a recording one); the
    App Home publishes through ``client`` (the one given to ``create_app``)."""
    sim = Simulator(nodes=2, speed=0, seed=11)
    sim.add_token(TOKEN, SECRET)
    proxmox = await serve_sim_client(sim, aiohttp_server, TOKEN, SECRET)
    policy = policy or Policy(approvers=[APPROVER], digest=[])
    approvers = StaticApprovers(frozenset(policy.approver_users))
    follower, outbox = RecordingFollower(), RecordingOutbox()
    containers = ContainerService(db, proxmox, follower, policy, clock)
    requests = RequestService(db, proxmox, _NoPublisher(), _NoQueue(), policy, approvers, clock)
    background = Background()
    services = Services(
        requests=requests,
        proxmox=proxmox,
        policy=policy,
        approvers=approvers,
        seal=MetadataSeal(b"test-key"),
        background=background,
        containers=containers,
        approvals=ActionApprovals(
            db, containers, Outbox(db, notifier or RecordingNotifier(), clock), approvers, clock
        ),
        digest=DigestJob(db, proxmox, outbox, policy, clock, "test-replica"),
        home=HomeRefresher(
            requests=requests,
            approvers=approvers,
            containers=containers,
            background=background,
            client=client,
        ),
        metrics=Metrics(),
        ui_url=UI_URL,
    )
    try:
        yield Day2Env(sim, db, proxmox, follower, outbox, clock, policy, containers, services)
    finally:
        await services.background.drain()
        await proxmox.close()
        assert sim.internal_errors == [], "the simulator crashed while handling a request"
