"""The composition root: settings → database → Proxmox → services → Slack app → scheduler → servers.

:func:`assemble` builds one Cardinal process from settings (tests, the demo and the benchmarks use it
too, with their own Slack client and clock); :func:`run` is ``cardinal run``: it serves Slack (Socket
Mode when ``SLACK_APP_TOKEN`` is set, else HTTP on ``--port``), the internal ops port, and the periodic
jobs, until SIGTERM/SIGINT, then shuts down gracefully.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.db import Clock, Database, is_at_head, open_database, utc_now
from bot.db.retention import Retention
from bot.digest import DigestJob
from bot.expiry import ExpiryService
from bot.lifecycle import ContainerService
from bot.logs import configure_logging
from bot.notifications import NotificationRouter
from bot.ops.health import make_ops_app, readiness_from_probes, start_ops_server
from bot.ops.metrics import Metrics
from bot.ops.webhooks import add_notify_route
from bot.outbox import Outbox
from bot.policy import Policy, load_policy
from bot.proxmox.client import ProxmoxClient
from bot.reconcile import reconcile
from bot.requests import RequestService
from bot.settings import Settings
from bot.tracker.scheduler import Scheduler
from bot.tracker.tracker import Tracker, default_owner
from handlers.app import Services, create_app
from handlers.approvers import SlackApproverDirectory
from handlers.background import Background
from handlers.metadata import MetadataSeal
from handlers.notifier import SlackNotifier
from handlers.slack_client import make_web_client

log = structlog.get_logger(__name__)

EXPIRY_EVERY = 60.0
DIGEST_EVERY = 60.0
RECONCILE_EVERY = 300.0
RESUME_EVERY = 30.0
RETENTION_EVERY = 600.0  # bot.db.retention: a bounded prune of finished records past the policy horizon
RESUME_AFTER = 60.0
"""Seconds a request may sit half-way (failed post, crash, Proxmox down) before it is carried on."""
#: Listen on every interface: the process runs in a container or behind a load balancer.
LISTEN_ALL = "0.0.0.0"  # noqa: S104
SLACK_TIMEOUT = 30
"""Seconds a Slack Web API call may take (the same as :func:`make_web_client`'s default)."""
SLACK_SDK_LOGGERS = ("slack_sdk.web.async_base_client", "slack_sdk.webhook.async_client")
"""slack_sdk formats whole request and response bodies for DEBUG whenever its logger's *own* level is
unset (it tests ``logger.level``, not the effective level); :func:`assemble` gives them the root's level."""


@dataclass
class Cardinal:
    """One assembled Cardinal process (everything but the network listeners)."""

    settings: Settings
    policy: Policy
    db: Database
    proxmox: ProxmoxClient
    client: AsyncWebClient
    outbox: Outbox
    tracker: Tracker
    services: Services
    app: AsyncApp
    scheduler: Scheduler
    metrics: Metrics
    expiry: ExpiryService
    digest: DigestJob
    owner: str
    clock: Clock
    slack_ok: bool = False
    socket_connected: Callable[[], Awaitable[bool]] | None = None  # Socket Mode: is the WebSocket up?
    _closers: list[Any] = field(default_factory=list)

    def start_jobs(self) -> None:
        """Register and start the periodic jobs (sweep, expiry, digests, reconcile, provisioning retry)."""
        s = self.scheduler
        s.add_tracker(self.tracker)
        s.every("expiry", EXPIRY_EVERY, self.expiry.tick, jitter=5)
        s.every("digest", DIGEST_EVERY, self.digest.run_due, jitter=5)
        s.every("reconcile", RECONCILE_EVERY, self._reconcile, jitter=30)
        s.every("resume_requests", RESUME_EVERY, self._resume_requests, jitter=5)
        s.every(
            "retention",
            RETENTION_EVERY,
            Retention(self.db, self.policy.retention.horizon, self.clock).prune,
            jitter=60,
        )
        s.start()

    async def _resume_requests(self) -> None:
        await self.services.requests.resume_stalled(
            owner=self.owner, older_than=timedelta(seconds=RESUME_AFTER)
        )

    async def _reconcile(self) -> None:
        await reconcile(self.db, self.proxmox, self.clock)

    async def readiness(self) -> dict[str, bool | str]:
        """The probes behind ``/readyz``."""
        probes = readiness_from_probes(
            {
                "database": self._db_ok,
                "migrations": self._migrated,
                "scheduler": self._scheduler_running,
                "slack": self._slack_connected,
            }
        )
        return await probes()

    async def _db_ok(self) -> bool | str:
        await self.db.ping()
        return True

    async def _migrated(self) -> bool | str:
        return True if await is_at_head(self.db.engine) else "database is not at the latest migration"

    async def _scheduler_running(self) -> bool | str:
        return True if self.scheduler.running else "scheduler is not running"

    async def _slack_connected(self) -> bool | str:
        if not self.slack_ok:
            return "Slack connection not established"
        if self.socket_connected is not None and not await self.socket_connected():
            return "Socket Mode connection is down (reconnecting)"
        return True

    async def close(self) -> None:
        """Graceful stop: no new work, finish the sweep in flight, release leases, close connections."""
        await self.scheduler.shutdown(grace=30.0)
        await self.services.background.drain()
        for closer in reversed(self._closers):
            await closer()
        await self.proxmox.close()
        await self.db.dispose()


async def assemble(
    settings: Settings,
    *,
    policy: Policy | None = None,
    client: AsyncWebClient | None = None,
    clock: Clock = utc_now,
    owner: str | None = None,
    proxmox: ProxmoxClient | None = None,
    metrics: Metrics | None = None,
    tracker_options: dict[str, Any] | None = None,
    db: Database | None = None,
) -> Cardinal:
    """Build every part of Cardinal from ``settings``; migrates the database (under a lock) first,
    unless an open ``db`` is given."""
    policy = policy if policy is not None else load_policy(settings.policy_file)
    _align_slack_sdk_loggers()
    owner = owner or default_owner()
    metrics = metrics or Metrics()
    if db is None:
        db = await open_database(settings.database_url)
    if proxmox is None:
        proxmox = ProxmoxClient.from_settings(settings, on_request=metrics.observe_proxmox)
    closers: list[Any] = []
    if client is None:
        client = make_web_client(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            timeout=SLACK_TIMEOUT,
            on_retry=metrics.slack_retry,
        )
        # One pooled keep-alive session for every Web API call. Without it slack_sdk opens a new session
        # (a new TCP + TLS connection) per call; Bolt hands this session on to its per-request clients.
        client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT))
        closers.append(client.session.close)
    outbox = Outbox(db, SlackNotifier(client), clock)
    tracker = Tracker.from_settings(
        settings, db, proxmox, outbox, owner=owner, clock=clock, observer=metrics, **(tracker_options or {})
    )
    approvers = SlackApproverDirectory(
        client, frozenset(policy.approver_users), tuple(policy.approver_groups)
    )
    requests = RequestService(db, proxmox, outbox, tracker, policy, approvers, clock, observer=metrics)
    metrics.watch_breaker(lambda: proxmox.breaker.state)
    containers = ContainerService(db, proxmox, tracker, policy, clock)
    secret = settings.slack_signing_secret or settings.slack_bot_token
    services = Services(
        requests=requests,
        proxmox=proxmox,
        policy=policy,
        approvers=approvers,
        seal=MetadataSeal(secret.get_secret_value().encode()),
        background=Background(),
        containers=containers,
        digest=DigestJob(db, proxmox, outbox, policy, clock, owner),
        ui_url=settings.proxmox_web_url,
        metrics=metrics,
    )
    signing = None if settings.socket_mode else settings.slack_signing_secret
    app = create_app(services, client=client, signing_secret=signing.get_secret_value() if signing else None)
    return Cardinal(
        settings=settings,
        policy=policy,
        db=db,
        proxmox=proxmox,
        client=client,
        outbox=outbox,
        tracker=tracker,
        services=services,
        app=app,
        scheduler=Scheduler(timezone=settings.timezone),
        metrics=metrics,
        expiry=ExpiryService(db, proxmox, outbox, tracker, policy, clock, owner),
        digest=services.digest,
        owner=owner,
        clock=clock,
        _closers=closers,
    )


def _freeze_startup_heap() -> None:
    """Move everything alive after start (modules, schemas, the app) out of the garbage collector's sight.

    A full collection otherwise walks that whole heap again and again, pausing the event loop for tens of
    milliseconds; those pauses were the tail of the slash-command ack latency (bench/ack_latency).
    """
    gc.collect()
    gc.freeze()


def _align_slack_sdk_loggers() -> None:
    # Never below INFO: slack_sdk's DEBUG lines carry request bodies (e.g. a whispered root password).
    level = max(logging.getLogger().getEffectiveLevel(), logging.INFO)
    for name in SLACK_SDK_LOGGERS:
        logging.getLogger(name).setLevel(level)


def make_internal_app(cardinal: Cardinal) -> web.Application:
    """The internal port's app: ``/healthz``, ``/readyz``, ``/metrics`` and, when
    ``PROXMOX_NOTIFY_SECRET`` is set, ``POST /proxmox/notify`` (Proxmox notification webhooks)."""
    app = make_ops_app(cardinal.readiness, cardinal.metrics.registry)
    router = NotificationRouter(cardinal.db, cardinal.outbox, cardinal.policy, cardinal.clock)
    add_notify_route(app, router, cardinal.settings.proxmox_notify_secret)
    return app


async def serve_http(cardinal: Cardinal, port: int, host: str = LISTEN_ALL) -> web.AppRunner:
    """Serve ``POST /slack/events`` (signed requests) on ``host:port``.

    No access log: a line per Slack request cost more CPU than the whole acknowledgement (bench/ack_latency)
    and says nothing the command's own log lines do not.
    """
    runner = web.AppRunner(cardinal.app.web_app(path="/slack/events", port=port), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run(settings: Settings, *, port: int | None = None) -> int:
    """``cardinal run``: serve until SIGTERM/SIGINT; return the exit code."""
    configure_logging(settings.log_level, settings.log_format)
    cardinal = await assemble(settings)
    _freeze_startup_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ops = None
    if settings.internal_port:
        ops = await start_ops_server(
            make_internal_app(cardinal),
            LISTEN_ALL,
            settings.internal_port,
        )
    auth = await cardinal.client.auth_test()
    cardinal.slack_ok = bool(auth.get("ok"))
    log.info("slack.connected", team=auth.get("team"), bot_user=auth.get("user_id"))
    socket_handler: Any = None
    runner: web.AppRunner | None = None
    if settings.slack_app_token is not None:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        socket_handler = AsyncSocketModeHandler(cardinal.app, settings.slack_app_token.get_secret_value())
        await socket_handler.connect_async()
        cardinal.socket_connected = socket_handler.client.is_connected
        log.info("cardinal.started", mode="socket")
    else:
        runner = await serve_http(cardinal, port or settings.http_port)
        log.info("cardinal.started", mode="http", port=port or settings.http_port)
    cardinal.start_jobs()
    await stop.wait()
    log.info("cardinal.stopping")
    if socket_handler is not None:
        await socket_handler.disconnect_async()
    if runner is not None:
        await runner.cleanup()
    await cardinal.close()
    if ops is not None:
        await ops.cleanup()
    log.info("cardinal.stopped")
    return 0
