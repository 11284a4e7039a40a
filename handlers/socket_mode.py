"""Socket Mode: Cardinal's WebSocket to Slack, watched and rebuilt, and stopped when told.

The protocol (api.slack.com/apis/connections/socket-implement; Slack's own clients: node-slack-sdk
``packages/socket-mode/src/SocketModeClient.ts``, python-slack-sdk ``slack_sdk/socket_mode``):

- ``apps.connections.open`` with the app-level token (``xapp-…``) returns a single-use ``wss://`` URL;
  ``invalid_auth``, ``not_authed``, ``not_allowed_token_type`` … mean the token itself is wrong, and
  retrying cannot help (node-slack-sdk stops on them: ``UnrecoverableSocketModeStartError``);
- Slack speaks first: ``hello``. Then envelopes ``{envelope_id, type, payload, accepts_response_payload}``
  of type ``slash_commands``, ``interactive`` and ``events_api``, each acknowledged on the socket with
  ``{envelope_id, payload?}`` within 3 s (the payload carries what an HTTP response body would: a
  command's answer, a modal's ``response_action``);
- ``disconnect`` with reason ``warning`` or ``refresh_requested`` announces that Slack will close this
  connection soon: Cardinal opens a new one first and closes the old one once the new one said ``hello``,
  so nothing is delivered into a gap. ``link_disabled`` means Socket Mode was turned off for the app.

Why not slack_sdk's aiohttp ``SocketModeClient`` (what Bolt's ``AsyncSocketModeHandler`` uses): its
``connect()`` retries every error — a refused token too — forever, every ``ping_interval`` seconds, so a
wrong ``SLACK_APP_TOKEN`` never surfaced; and its reconnect can end in a state it never leaves
(python-slack-sdk issues 1446: an exception between replacing the session and restarting the monitor;
1922: a closed ``ClientSession`` reused for every later attempt). Here one supervisor task owns the
connection: it opens it, watches it (aiohttp's heartbeat pings every ``ping_interval`` seconds and closes
a connection whose pong does not come back within half of that; a connection that closed or was cut ends
its reader), rebuilds it with back-off (first attempt at once, then :data:`BACKOFF`, never longer than
:data:`BACKOFF`'s last step), and is cancelled by :meth:`SocketMode.stop` in whatever state it is.
Envelopes are dispatched to the Bolt app exactly as Bolt's own Socket Mode adapter does
(``AsyncBoltRequest(mode="socket_mode")``, retry headers from the envelope).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger(__name__)

REFUSED = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "user_removed_from_team",
        "team_disabled",
    }
)
"""``apps.connections.open`` errors that say the app-level token is wrong: retrying cannot help."""
BACKOFF = (1.0, 2.0, 5.0, 10.0, 20.0)
"""Seconds between attempts to (re)connect after the first, immediate one (the last one repeats). Its
sum before the third attempt plus the time to notice a dead link stays under 30 s."""


class SocketModeRefused(Exception):
    """Slack refused the app-level token (``error`` is Slack's error code)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class Timing:
    """How quickly the connection is watched and rebuilt (tests shorten these)."""

    ping_interval: float = 10.0
    """Ping after this many seconds without traffic; no pong within half of it = the link is dead."""
    hello_timeout: float = 10.0
    """Seconds a new connection may take to say ``hello`` (and to complete its handshake)."""
    close_timeout: float = 2.0
    """Seconds to wait for Slack's close frame when Cardinal closes a connection."""
    backoff: tuple[float, ...] = BACKOFF


@dataclass(eq=False)
class _Link:
    """One WebSocket connection and its reader."""

    number: int
    ws: aiohttp.ClientWebSocketResponse
    hello: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    refresh: str | None = None
    """The ``disconnect`` reason Slack announced, if it did."""
    refresh_seen: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return self.hello.is_set() and not self.ended.is_set() and not self.ws.closed

    async def close(self, timeout: float) -> None:  # noqa: ASYNC109
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


class SocketMode:
    """Serve ``app`` over Socket Mode with ``app_token``; ``client`` calls ``apps.connections.open``."""

    def __init__(
        self, app: AsyncApp, app_token: str, client: AsyncWebClient, *, timing: Timing | None = None
    ) -> None:
        self._app = app
        self._token = app_token
        self._client = client
        self._timing = timing or Timing()
        self._session: aiohttp.ClientSession | None = None
        self._current: _Link | None = None
        self._links: set[_Link] = set()
        self._numbers = itertools.count(1)
        self._supervisor: asyncio.Task[None] | None = None
        self._envelopes: set[asyncio.Task[None]] = set()
        self._stopped = False

    # --- public -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Get a first WebSocket URL, retrying what may pass (network, 5xx, rate limit) with back-off,
        then keep a connection up in the background. Raises :class:`SocketModeRefused` at once if Slack
        refuses the token. Cancellable at every step."""
        url = await self._first_url()
        self._session = aiohttp.ClientSession(trust_env=True)
        self._supervisor = asyncio.create_task(self._supervise(url), name="socket-mode")

    async def is_connected(self) -> bool:
        """A connection is up: it said ``hello`` and is neither closed nor found dead."""
        return self._current is not None and self._current.up

    async def stop(self) -> None:
        """Close everything: the supervisor (in whatever state), the connections, in-flight acks.
        Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for task in list(self._envelopes):
            task.cancel()
        for link in list(self._links):
            await link.close(self._timing.close_timeout)
        self._links.clear()
        self._current = None
        if self._session is not None:
            await self._session.close()
        log.info("slack.socket_closed")

    # --- connecting -------------------------------------------------------------------------------

    async def _open_url(self) -> str:
        """``apps.connections.open``: a fresh single-use URL (never logged: it holds a ticket)."""
        try:
            answer = await self._client.apps_connections_open(app_token=self._token)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error in REFUSED:
                raise SocketModeRefused(error) from None
            raise
        return str(answer["url"])

    async def _first_url(self) -> str:
        for attempt in itertools.count():
            try:
                return await self._open_url()
            except SocketModeRefused:
                raise
            except (SlackApiError, SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = self._delay(attempt)
                log.warning("slack.socket_retry", error=_describe(exc), retry_in=delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int) -> float:
        steps = self._timing.backoff
        return steps[min(attempt, len(steps) - 1)]

    async def _establish(self, url: str | None) -> _Link:
        """Open a connection and wait for its ``hello``; retry with back-off until one is up."""
        for attempt in itertools.count():
            try:
                return await self._connect(url or await self._open_url())
            except SocketModeRefused as exc:
                # Revoked or deleted while running: say so in the log and keep trying slowly — the
                # process stays alive for the other jobs, /readyz says Slack is down.
                delay = self._timing.backoff[-1]
                log.error("slack.socket_refused", error=exc.error, setting="SLACK_APP_TOKEN", retry_in=delay)
                await asyncio.sleep(delay)
            except (SlackApiError, SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = self._delay(attempt)
                log.warning("slack.socket_retry", error=_describe(exc), retry_in=delay)
                await asyncio.sleep(delay)
            url = None  # a URL is good for one connection
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self, url: str) -> _Link:
        assert self._session is not None
        timing = self._timing
        async with asyncio.timeout(timing.hello_timeout):
            ws = await self._session.ws_connect(
                url,
                heartbeat=timing.ping_interval,
                timeout=aiohttp.ClientWSTimeout(ws_close=timing.close_timeout),
            )
        link = _Link(next(self._numbers), ws)
        self._links.add(link)
        link.reader = asyncio.create_task(self._read(link), name=f"socket-mode-read-{link.number}")
        hello = asyncio.ensure_future(link.hello.wait())
        ended = asyncio.ensure_future(link.ended.wait())
        try:
            await asyncio.wait(
                {hello, ended}, timeout=timing.hello_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            hello.cancel()
            ended.cancel()
        if not link.up:
            await self._forget(link)
            raise TimeoutError("the connection closed or stayed silent before Slack's hello")
        return link

    async def _forget(self, link: _Link) -> None:
        self._links.discard(link)
        await link.close(self._timing.close_timeout)

    # --- watching ---------------------------------------------------------------------------------

    async def _supervise(self, url: str) -> None:
        link = await self._establish(url)
        self._current = link
        while True:
            await _first(link.ended, link.refresh_seen)
            if not link.ended.is_set():
                # warning / refresh_requested: the old connection keeps serving until the new one is up.
                log.info("slack.socket_refresh", reason=link.refresh)
                new = await self._establish(None)
                self._current = new
                await self._forget(link)
                link = new
                continue
            self._current = None
            log.warning("slack.socket_dropped", reason=link.refresh or _close_reason(link.ws))
            await self._forget(link)
            link = await self._establish(None)
            self._current = link
            log.info("slack.socket_reconnected")

    async def _read(self, link: _Link) -> None:
        try:
            while True:
                msg = await link.ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    return
                if msg.type == aiohttp.WSMsgType.ERROR:
                    return
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = json.loads(msg.data)
                except ValueError:
                    log.warning("slack.socket_unreadable", length=len(msg.data))
                    continue
                if isinstance(message, dict):
                    await self._on_message(link, message)
        finally:
            link.ended.set()

    async def _on_message(self, link: _Link, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "hello":
            debug = message.get("debug_info") or {}
            log.info(
                "slack.socket_connected",
                connections=message.get("num_connections"),
                expires_in=debug.get("approximate_connection_time"),
            )
            link.hello.set()
        elif kind == "disconnect":
            reason = str(message.get("reason", ""))
            link.refresh = reason
            if reason == "link_disabled":
                log.error(
                    "slack.socket_disabled",
                    problem="Socket Mode is turned off for the app; turn it on (app settings → Socket Mode) "
                    "or unset SLACK_APP_TOKEN to serve HTTP",
                )
                await link.ws.close()
            else:
                link.refresh_seen.set()
        else:
            request = SocketModeRequest.from_dict(message)
            if request is not None:
                task = asyncio.create_task(self._dispatch(link, request))
                self._envelopes.add(task)
                task.add_done_callback(self._envelopes.discard)

    async def _dispatch(self, link: _Link, request: SocketModeRequest) -> None:
        bolt_request = AsyncBoltRequest(
            mode="socket_mode", body=request.payload, headers=build_headers(request)
        )
        try:
            response = await self._app.async_dispatch(bolt_request)
        except Exception:  # Bolt answers listener errors itself; this is a failure of Bolt's own
            log.exception("slack.socket_dispatch_failed", type=request.type)
            return
        ack = _ack(request.envelope_id, response)
        if ack is None:
            log.info("slack.socket_unhandled", type=request.type, status=response.status)
            return
        for target in (link, self._current):
            if target is not None and not target.ws.closed:
                try:
                    await target.ws.send_str(json.dumps(ack))
                except (ConnectionError, aiohttp.ClientError, RuntimeError):
                    continue
                return
        log.warning("slack.socket_ack_lost", type=request.type)


def _ack(envelope_id: str, response: BoltResponse) -> dict[str, Any] | None:
    """The acknowledgement for a Bolt response, as Bolt's Socket Mode adapter builds it
    (``slack_bolt/adapter/socket_mode/async_internals.py``): JSON bodies become the payload, text
    becomes ``{"text": …}``; a non-200 (no listener) is not acknowledged."""
    if response.status != 200:
        return None
    if not response.body:
        return {"envelope_id": envelope_id}
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        return {"envelope_id": envelope_id, "payload": json.loads(response.body)}
    return {"envelope_id": envelope_id, "payload": {"text": response.body}}


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _close_reason(ws: aiohttp.ClientWebSocketResponse) -> str:
    exc = ws.exception()
    if exc is not None:
        return _describe(exc)
    return f"closed (code {ws.close_code})" if ws.close_code is not None else "connection lost"


def _describe(exc: BaseException) -> str:
    """One line for the log, without the URL: a WebSocket URL carries a connection ticket."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error', 'an error')}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: HTTP {exc.status} {exc.message}".rstrip()
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
