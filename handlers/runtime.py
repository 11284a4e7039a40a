"""The composition root: settings → database → Proxmox → services → Slack app → scheduler → servers.

:func:`assemble` builds one Cardinal process from settings (tests, the demo and the benchmarks use it
too, with their own Slack client and clock); :func:`run` is ``cardinal run``: it serves Slack (Socket
Mode when ``SLACK_APP_TOKEN`` is set, else HTTP on ``--port``), the internal ops port, and the periodic
jobs, until SIGTERM/SIGINT, then shuts down gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
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
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import ActionApprovals
from bot.containers.service import ContainerService
from bot.db import Clock, Database, is_at_head, open_database, utc_now
from bot.db.retention import Retention
from bot.digest import DigestJob
from bot.errors import CardinalError, ConfigError
from bot.expiry import ExpiryService
from bot.logs import configure_logging
from bot.notifications import NotificationRouter
from bot.ops.health import make_ops_app, readiness_from_probes, start_ops_server
from bot.ops.metrics import Metrics
from bot.ops.startup import (
    StartupError,
    database_error,
    describe,
    policy_problems,
    port_error,
    proxmox_error,
    slack_app_token_refused,
    slack_refused,
    slack_unreachable,
)
from bot.ops.webhooks import add_notify_route
from bot.outbox import Outbox
from bot.policy import Policy, load_policy
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError
from bot.reconcile import reconcile
from bot.requests import RequestService
from bot.settings import Settings
from bot.tracker.scheduler import Scheduler
from bot.tracker.tracker import Tracker, default_owner
from handlers.app import create_app
from handlers.approvers import SlackApproverDirectory
from handlers.background import Background
from handlers.edge import BODY_DEADLINE, make_edge_app, server_logger
from handlers.home import HomeRefresher
from handlers.metadata import MetadataSeal
from handlers.notifier import SlackNotifier
from handlers.services import Services
from handlers.slack_client import make_web_client
from handlers.socket_mode import SocketMode, SocketModeRefused, Timing

log = structlog.get_logger(__name__)

EXPIRY_EVERY = 60.0
DIGEST_EVERY = 60.0
RECONCILE_EVERY = 300.0
RESUME_EVERY = 30.0
RETENTION_EVERY = 600.0  # bot.db.retention: a bounded prune of finished records past the policy horizon
RESUME_AFTER = 60.0
"""Seconds a request may sit half-way (failed post, crash, Proxmox down) before it is carried on."""
PROXMOX_BACKOFF = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Seconds between attempts to reach a Proxmox that was unreachable at start (the last one repeats)."""
ADVISORY_PROBES = frozenset({"proxmox"})
"""Readiness probes shown in ``/readyz`` that do not make it answer 503. An unreachable Proxmox leaves
Cardinal ready: it still acknowledges Slack within 3 s and tells users Proxmox is down (a replica taken
out of service would leave Slack with timeouts instead), and it retries by itself."""
#: Listen on every interface: the process runs in a container or behind a load balancer.
LISTEN_ALL = "0.0.0.0"  # noqa: S104
SLACK_TIMEOUT = 30
"""Seconds a Slack Web API call may take (the same as :func:`make_web_client`'s default)."""
HEADER_DEADLINE = 10.0
"""Seconds an HTTP client has to send a request's headers (see :func:`serve_http`)."""
LINGER = 1.0
"""Seconds the rest of a refused body is still read (so the client sees the answer) before closing."""
SLACK_SDK_LOGGERS = ("slack_sdk.web.async_base_client", "slack_sdk.webhook.async_client")
"""slack_sdk formats whole request and response bodies for DEBUG whenever its logger's *own* level is
unset (it tests ``logger.level``, not the effective level); :func:`assemble` gives them the level of the
``slack_sdk`` logger (WARNING unless ``LOG_LEVEL=DEBUG``, see :func:`bot.logs.configure_logging`)."""


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
    proxmox_status: str | None = None
    """Why Proxmox is not usable right now (``None`` = it answered); shown in ``/readyz``."""
    _closers: list[Any] = field(default_factory=list)
    _proxmox_watch: asyncio.Task[None] | None = None

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
        await reconcile(self.db, self.proxmox, self.clock, pool=self.services.policy.placement.pool)

    async def readiness(self) -> dict[str, bool | str]:
        """The probes behind ``/readyz`` (``proxmox`` is advisory: see :data:`ADVISORY_PROBES`)."""
        probes = readiness_from_probes(
            {
                "database": self._db_ok,
                "migrations": self._migrated,
                "scheduler": self._scheduler_running,
                "slack": self._slack_connected,
                "proxmox": self._proxmox_usable,
            }
        )
        return await probes()

    async def _proxmox_usable(self) -> bool | str:
        if self.proxmox_status is not None:
            return self.proxmox_status
        if self.proxmox.breaker.state == "open":
            return "failing repeatedly (circuit breaker open); retrying"
        return True

    def watch_proxmox(self, first: ProxmoxError) -> None:
        """Retry an unreachable Proxmox in the background with back-off, one log line per step."""
        self._proxmox_watch = asyncio.create_task(self._watch_proxmox(first), name="proxmox-watch")

    async def _watch_proxmox(self, error: ProxmoxError) -> None:
        for attempt in itertools.count():
            delay = PROXMOX_BACKOFF[min(attempt, len(PROXMOX_BACKOFF) - 1)]
            refused = proxmox_error(error, uses_token=self.settings.uses_token)
            if refused is not None:  # e.g. the token was deleted while Proxmox was down
                log.error("proxmox.misconfigured", problem=refused.problems[0], retry_in=delay)
            else:
                log.warning("proxmox.unreachable", error=describe(error), retry_in=delay)
            await asyncio.sleep(delay)
            try:
                version = await self.proxmox.version()
            except ProxmoxError as exc:
                error = exc
                self.proxmox_status = f"unreachable ({describe(exc)}); retrying"
                continue
            self.proxmox_status = None
            log.info("proxmox.connected", version=version.version)
            return

    async def _db_ok(self) -> bool | str:
        await self.db.ping()
        return True

    async def _migrated(self) -> bool | str:
        return True if await is_at_head(self.db.reader) else "database is not at the latest migration"

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
        await self.abort()

    async def abort(self) -> None:
        """Close the connections of a process that never started its jobs (a failed start)."""
        if self._proxmox_watch is not None:
            self._proxmox_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._proxmox_watch
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
        client,
        frozenset(policy.approver_users),
        tuple(policy.approver_groups),
        clock=lambda: clock().timestamp(),
    )
    requests = RequestService(
        db,
        proxmox,
        outbox,
        tracker,
        policy,
        approvers,
        clock,
        observer=metrics,
        default_node=settings.proxmox_node,
    )
    metrics.watch_breaker(lambda: proxmox.breaker.state)
    containers = ContainerService(
        db, proxmox, tracker, policy, clock, default_node=settings.proxmox_node, poster=outbox
    )
    approvals = ActionApprovals(db, containers, outbox, approvers, clock)
    secret = settings.slack_signing_secret or settings.slack_bot_token
    background = Background()
    services = Services(
        requests=requests,
        proxmox=proxmox,
        policy=policy,
        approvers=approvers,
        seal=MetadataSeal(secret.get_secret_value().encode()),
        background=background,
        containers=containers,
        approvals=approvals,
        digest=DigestJob(db, proxmox, outbox, policy, clock, owner),
        home=HomeRefresher(
            requests=requests,
            approvers=approvers,
            containers=containers,
            background=background,
            client=client,
        ),
        metrics=metrics,
        ui_url=settings.proxmox_web_url,
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
    level = max(logging.getLogger("slack_sdk").getEffectiveLevel(), logging.INFO)
    for name in SLACK_SDK_LOGGERS:
        logging.getLogger(name).setLevel(level)


def make_internal_app(cardinal: Cardinal) -> web.Application:
    """The internal port's app: ``/healthz``, ``/readyz``, ``/metrics`` and, when
    ``PROXMOX_NOTIFY_SECRET`` is set, ``POST /proxmox/notify`` (Proxmox notification webhooks)."""
    app = make_ops_app(cardinal.readiness, cardinal.metrics.registry, advisory=ADVISORY_PROBES)
    router = NotificationRouter(cardinal.db, cardinal.outbox, cardinal.policy, cardinal.clock)
    add_notify_route(app, router, cardinal.settings.proxmox_notify_secret)
    return app


async def serve_http(
    cardinal: Cardinal,
    port: int,
    host: str = LISTEN_ALL,
    *,
    header_deadline: float = HEADER_DEADLINE,
    body_deadline: float = BODY_DEADLINE,
) -> web.AppRunner:
    """Serve ``POST /slack/events`` (signed requests, checked by :mod:`handlers.edge`) on ``host:port``.

    A connection must deliver a request's headers within ``header_deadline`` seconds of opening (or of the
    previous answer: aiohttp's keep-alive timer, which data arriving does not reset), and its body within
    ``body_deadline`` seconds after that; slow clients are cut off, others are not held up.
    No access log: a line per Slack request cost more CPU than the whole acknowledgement (bench/ack_latency)
    and says nothing the command's own log lines do not.
    """
    secret = cardinal.settings.slack_signing_secret
    if secret is None:
        raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET")
    edge = make_edge_app(
        cardinal.app,
        signing_secret=secret.get_secret_value().encode(),
        api_url=cardinal.settings.slack_api_url,
        body_deadline=body_deadline,
    )
    # lingering_time: after an early answer (408, 413) aiohttp drains the unread body for this long at most.
    runner = web.AppRunner(
        edge,
        access_log=None,
        logger=server_logger(),
        keepalive_timeout=header_deadline,
        lingering_time=LINGER,
    )
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run(settings: Settings, *, port: int | None = None) -> int:
    """``cardinal run``: serve until SIGTERM/SIGINT; return the exit code.

    Every start-up failure a setting can cause raises :class:`~bot.ops.startup.StartupError` (one line
    naming the setting and the fix); parts already opened are closed first. An unreachable Proxmox does
    not stop the start: it is retried in the background and shown in ``/readyz``. SIGTERM and SIGINT are
    honoured from the first moment: during the start (e.g. while Socket Mode retries for a URL) they
    cancel it, close what was opened and exit 0.
    """
    configure_logging(settings.log_level, settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        served = await _until_stopped(_start(settings, port), stop)
        if served is None:
            log.info("cardinal.stopped", during="start")
            return 0
        served.cardinal.start_jobs()
        log.info("cardinal.started", **served.started)
        await stop.wait()
        log.info("cardinal.stopping")
        await served.close()
        log.info("cardinal.stopped")
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _until_stopped(start: Awaitable[_Served], stop: asyncio.Event) -> _Served | None:
    """Run the start until it is done, or cancel it (it closes what it opened) when ``stop`` is set."""
    starting = asyncio.ensure_future(start)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if starting.done():
        return starting.result()
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    return None


@dataclass
class _Served:
    """A started process: what :func:`run` shuts down, in order."""

    cardinal: Cardinal
    started: dict[str, Any]
    ops: web.AppRunner | None = None
    socket: SocketMode | None = None
    runner: web.AppRunner | None = None

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.cardinal.close()
        if self.ops is not None:
            await self.ops.cleanup()


async def _start(settings: Settings, port: int | None) -> _Served:
    try:
        policy = load_policy(settings.policy_file)
    except ConfigError as exc:
        raise StartupError(policy_problems(exc.problems, settings.policy_file)) from None
    try:
        db = await open_database(settings.database_url)
    except CardinalError:
        raise
    except Exception as exc:  # any failure to open or migrate is the database's (or DATABASE_URL's)
        raise database_error(exc) from None
    cardinal = await assemble(settings, policy=policy, db=db)
    served = _Served(cardinal, {})
    try:
        if settings.internal_port:
            try:
                served.ops = await start_ops_server(
                    make_internal_app(cardinal), LISTEN_ALL, settings.internal_port
                )
            except OSError as exc:
                raise port_error(exc, "INTERNAL_PORT", settings.internal_port) from None
        await _connect_slack(cardinal)
        await _connect_proxmox(cardinal)
        if settings.slack_app_token is not None:
            served.socket = await connect_socket_mode(cardinal, settings.slack_app_token.get_secret_value())
            served.started = {"mode": "socket"}
        else:
            http_port = port or settings.http_port
            try:
                served.runner = await serve_http(cardinal, http_port)
            except OSError as exc:
                raise port_error(exc, "--port" if port else "HTTP_PORT", http_port) from None
            served.started = {"mode": "http", "port": http_port}
    except BaseException:
        await cardinal.abort()
        if served.ops is not None:
            await served.ops.cleanup()
        raise
    _freeze_startup_heap()
    return served


async def _connect_slack(cardinal: Cardinal) -> None:
    """``auth.test`` with the bot token: refused → ``SLACK_BOT_TOKEN``, no answer → ``SLACK_API_URL``."""
    try:
        auth = await cardinal.client.auth_test()
    except SlackApiError as exc:
        raise slack_refused(str(exc.response.get("error", "unknown_error"))) from None
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise slack_unreachable(exc, cardinal.settings.slack_api_url) from None
    cardinal.slack_ok = bool(auth.get("ok"))
    log.info("slack.connected", team=auth.get("team"), bot_user=auth.get("user_id"))


async def connect_socket_mode(
    cardinal: Cardinal, app_token: str, *, timing: Timing | None = None
) -> SocketMode:
    """Serve ``cardinal.app`` over Socket Mode (:mod:`handlers.socket_mode`): a refused app-level token
    stops the start (``SLACK_APP_TOKEN``); anything else is retried, and ``/readyz`` says whether the
    WebSocket is up. Cancellable at every step (SIGTERM during the start)."""
    socket = SocketMode(cardinal.app, app_token, cardinal.client, timing=timing)
    cardinal.socket_connected = socket.is_connected
    try:
        await socket.start()
    except SocketModeRefused as exc:
        raise slack_app_token_refused(exc.error) from None
    except BaseException:
        await socket.stop()
        raise
    cardinal._closers.append(socket.stop)
    return socket


async def _connect_proxmox(cardinal: Cardinal) -> None:
    """One authenticated call (``GET /version``): refused credentials or an untrusted certificate stop the
    start; an unreachable Proxmox is retried in the background (:meth:`Cardinal.watch_proxmox`)."""
    try:
        version = await cardinal.proxmox.version()
    except ProxmoxError as exc:
        error = proxmox_error(exc, uses_token=cardinal.settings.uses_token)
        if error is not None:
            raise error from None
        cardinal.proxmox_status = f"unreachable ({describe(exc)}); retrying"
        cardinal.watch_proxmox(exc)
        return
    cardinal.proxmox_status = None
    log.info("proxmox.connected", version=version.version)
