"""A local Socket Mode server: Slack's WebSocket end of Socket Mode, for tests.

It pairs with :class:`tests.fakes.slack.FakeSlack`: served and told where (:meth:`FakeSocketMode.listen`),
:meth:`FakeSocketMode.attach` makes the fake Web API's
``apps.connections.open`` accept :data:`APP_TOKEN` and answer with a single-use ``ws://…/link/?ticket=…``
URL on this server. What it does is what Slack does, per the Socket Mode documentation
(api.slack.com/apis/connections/socket-implement) and Slack's own clients (node-slack-sdk
``packages/socket-mode/src/SocketModeClient.ts``, python-slack-sdk ``slack_sdk/socket_mode``):

- the first message on a new connection is ``hello`` (``num_connections``, ``debug_info`` with
  ``approximate_connection_time`` in seconds, ``connection_info.app_id``);
- payloads arrive in envelopes ``{envelope_id, type: slash_commands|interactive|events_api, payload,
  accepts_response_payload}`` (events also carry ``retry_attempt`` / ``retry_reason``); the app answers
  ``{envelope_id, payload?}`` on the socket within 3 s;
- ``{"type": "disconnect", "reason": "warning"|"refresh_requested"|"link_disabled"}`` announces that Slack
  is about to close the connection (the app should already be on a new one), or that Socket Mode was
  turned off for the app;
- a ticket is good for one connection; a used or unknown one is refused at the handshake.

Faults a network adds: :meth:`drop` cuts the TCP connection without a close frame, :meth:`go_silent` stops
answering pings (a half-open link), :attr:`hold_handshake` leaves a new connection hanging before the
upgrade. Tests wait on conditions (:meth:`wait_for`), never on time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from tests.fakes.slack import FakeSlack

T = TypeVar("T")

APP_TOKEN = "xapp-1-A0CARDINAL-1-0123456789abcdef"
APP_ID = "A0CARDINAL"
EnvelopeType = Literal["slash_commands", "interactive", "events_api"]
DisconnectReason = Literal["warning", "refresh_requested", "link_disabled"]


@dataclass
class Link:
    """One WebSocket connection an app opened."""

    number: int
    ws: web.WebSocketResponse
    request: web.Request
    silent: bool = False
    ended_by: str | None = None
    """``client`` (the app closed it), ``server`` (Slack closed it) or ``drop`` (cut, no close frame)."""
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.ended_by is None


class FakeSocketMode:
    """Slack's Socket Mode WebSocket service. One per test; serve :meth:`app` and :meth:`attach` it."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.events: list[str] = []
        """What happened, in order: ``open 1``, ``close 1 by client`` … (for ordering assertions)."""
        self.refused_handshakes = 0
        self.hold_handshake = False
        self._base: str | None = None
        self._tickets: set[str] = set()
        self._numbers = itertools.count(1)
        self._released = asyncio.Event()

    # --- wiring -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application to serve (``GET /link/`` upgrades to the WebSocket)."""
        app = web.Application()
        app.router.add_get("/link/", self._link)
        app.on_shutdown.append(self._shutdown)
        return app

    def listen(self, server: TestServer) -> None:
        """Tell the fake where :meth:`app` is served (the host and port its URLs name)."""
        self._base = str(server.make_url("/link/")).replace("http://", "ws://", 1)

    def attach(self, slack: FakeSlack, app_token: str = APP_TOKEN) -> None:
        """Make ``slack``'s ``apps.connections.open`` accept ``app_token`` and hand out URLs of this fake."""
        slack.app_tokens.add(app_token)
        slack.socket_url = self.issue_url

    def issue_url(self) -> str:
        """A new single-use WebSocket URL, as ``apps.connections.open`` returns it."""
        assert self._base is not None, "attach() the server first"
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return f"{self._base}?ticket={ticket}&app_id={APP_ID}"

    # --- inspection -------------------------------------------------------------------------------

    def open_links(self) -> list[Link]:
        """Connections the app holds open now, oldest first."""
        return [link for link in self.links if link.open]

    @property
    def current(self) -> Link:
        """The newest open connection (where Slack delivers)."""
        links = self.open_links()
        assert links, f"no open Socket Mode connection; events: {self.events}"
        return links[-1]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Poll ``predicate`` until it is truthy and return its value; fail after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() >= deadline:
                raise AssertionError(f"condition not met within {timeout}s; events: {self.events}")
            await asyncio.sleep(0.005)

    async def wait_for_links(self, count: int, timeout: float = 10.0) -> Link:  # noqa: ASYNC109
        """Wait until ``count`` connections were opened in all; return the newest open one."""
        await self.wait_for(lambda: len(self.links) >= count and self.links[-1].open, timeout)
        return self.links[-1]

    # --- what Slack sends -------------------------------------------------------------------------

    async def envelope(
        self,
        kind: EnvelopeType,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        link: Link | None = None,
    ) -> str:
        """Deliver ``payload`` in an envelope; returns its ``envelope_id``."""
        envelope_id = str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = kind == "slash_commands" or payload.get("type") in {
                "view_submission",
                "block_suggestion",
            }
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            message["retry_attempt"] = 0
            message["retry_reason"] = ""
        await (link or self.current).ws.send_json(message)
        return envelope_id

    async def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The app's acknowledgement of ``envelope_id`` (waits for it)."""
        return await self.wait_for(lambda: self.acks.get(envelope_id), timeout)

    async def disconnect(self, reason: DisconnectReason, link: Link | None = None) -> Link:
        """Send ``disconnect`` with ``reason``. ``link_disabled`` also closes the connection, as Slack
        does when Socket Mode is turned off; for ``warning`` and ``refresh_requested`` the connection stays
        up until the app leaves it (Slack closes it a few seconds later; see :meth:`close`)."""
        link = link or self.current
        await link.ws.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake-1"}}
        )
        if reason == "link_disabled":
            await self.close(link)
        return link

    async def close(self, link: Link) -> None:
        """Close ``link`` from Slack's side with a close frame."""
        if link.open:
            link.ended_by = "server"
            self.events.append(f"close {link.number} by server")
            await link.ws.close()

    def drop(self, link: Link | None = None) -> Link:
        """Cut the TCP connection: no close frame, no disconnect message (a network failure)."""
        link = link or self.current
        link.ended_by = "drop"
        self.events.append(f"drop {link.number}")
        transport = link.request.transport
        assert transport is not None
        transport.abort()
        return link

    def go_silent(self, link: Link | None = None) -> Link:
        """Stop answering pings and sending anything on ``link`` (the TCP connection stays up)."""
        link = link or self.current
        link.silent = True
        self.events.append(f"silent {link.number}")
        return link

    def release(self) -> None:
        """Stop holding handshakes: held ones are answered 503 (the client must retry), new ones succeed."""
        self.hold_handshake = False
        self._released.set()

    # --- the server -------------------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            self.refused_handshakes += 1
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        if self.hold_handshake:
            self.events.append("handshake held")
            await self._released.wait()
            return web.Response(status=503)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        link = Link(next(self._numbers), ws, request)
        self.links.append(link)
        self.events.append(f"open {link.number}")
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.open_links()),
                "debug_info": {
                    "host": "applink-fake-1",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    if not link.silent:
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.TEXT and not link.silent:
                    body = json.loads(msg.data)
                    link.messages.append(body)
                    if "envelope_id" in body:
                        self.acks[str(body["envelope_id"])] = body
        except ConnectionResetError:
            pass
        finally:
            if link.ended_by is None:
                link.ended_by = "client"
                self.events.append(f"close {link.number} by client")
        return ws

    async def _shutdown(self, _: web.Application) -> None:
        self._released.set()
        for link in self.open_links():
            link.ended_by = "server"
            await link.ws.close()
