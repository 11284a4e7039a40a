"""A local Slack stand-in: an aiohttp app that answers the Web API like Slack and records every call.

``cardinal demo`` serves it on 127.0.0.1 so the real Cardinal can talk "Slack" with no credentials and
no network; the test suite uses it as its fake Slack (``tests.fakes.slack`` re-exports it). Point
``AsyncWebClient(base_url=".../api/")`` at it. ``response_url`` webhooks go to ``/hooks/<id>`` on the
same server. It models what Cardinal relies on: message ``ts`` values that increase, threads, message
metadata in ``conversations.history``, ``views.update`` hash conflicts, user groups, channel membership
(:meth:`FakeSlack.add_channel`), Block Kit limits on every payload
(:func:`cardinal_sim.slack.blockkit.block_kit_problems`), answers
to modal submissions (:meth:`FakeSlack.view_response`), ``trigger_id`` expiry, and faults
(``fail_next`` for 429/5xx, ``drop_next`` for a connection cut after Slack has seen the call — the case
where a post's outcome is unknown). :attr:`FakeSlack.activity` is the workspace's timeline — every post,
edit, ephemeral, ``response_url`` answer and modal, in order — which the demo prints as a conversation.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from cardinal_sim.slack.blockkit import (
    MESSAGE_BLOCKS,
    block_kit_problems,
    view_problems,
    view_response_problems,
)
from cardinal_sim.slack.records import Activity, ActivityKind, Call, _Channel, _Fault, _View

T = TypeVar("T")

TRIGGER_TTL = 3.0
"""Seconds a ``trigger_id`` stays valid for views.open."""
JSON_FIELDS = {"blocks", "attachments", "metadata", "view", "users"}
DEFAULT_SCOPES = ("commands", "chat:write", "users:read", "usergroups:read", "im:write", "im:history")


def _is_user(channel: str) -> bool:
    """A user id (``U…``, or ``W…`` on Enterprise Grid) rather than a conversation id."""
    return channel[:1] in {"U", "W"}


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


class FakeSlack:
    """In-memory Slack workspace with a Web API. Not thread-safe; one per test."""

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        bot_user_id: str = "UBOT0001",
        bot_id: str = "BBOT0001",
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        validate_blocks: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.scopes = scopes
        self.validate_blocks = validate_blocks
        self.recorded: list[Call] = []
        self.activity: list[Activity] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.hooks: dict[str, list[dict[str, Any]]] = {}
        self.hook_connections: set[object] = set()  # (host, port) of each connection that posted
        self.views: dict[str, _View] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, _Channel] = {}
        self.block_kit_refusals: list[str] = []
        self.refused_responses: list[dict[str, Any]] = []
        self.clock = clock
        self._waited = 0.0
        self._latency: dict[str, float] = {}
        self._triggers: dict[str, float] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._last_ts = 0
        self._ids = itertools.count(1)
        self.app_tokens: set[str] = set()
        """App-level tokens (``xapp-…``) ``apps.connections.open`` accepts; others get ``invalid_auth``."""
        self.socket_url: Callable[[], str] | None = None
        """Issues a Socket Mode WebSocket URL for ``apps.connections.open`` (a Socket Mode server's)."""

    # --- setup ------------------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
        """Register a user for ``users.info``; ``fields`` override the defaults (e.g. ``deleted=True``)."""
        name = name or user_id.lower()
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_bot": False,
            "is_admin": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "tz": "Europe/Berlin",
            "profile": {"display_name": name, "real_name": name.title(), "email": f"{name}@example.com"},
        }
        user.update(fields)
        self.users[user_id] = user
        return user

    def add_usergroup(self, group_id: str, members: list[str]) -> None:
        """Register a user group (``S…``) for ``usergroups.users.list``."""
        self.usergroups[group_id] = list(members)

    def add_channel(
        self, channel_id: str, *, member: bool = True, private: bool = False, archived: bool = False
    ) -> None:
        """Register a conversation and whether the bot is in it.

        A conversation never registered behaves as one the bot was invited to (the configured channels
        of the tests); register one with ``member=False`` for a channel the bot was never invited to, or
        a ``D…`` id with ``member=False`` for a direct message between two people.
        """
        self.channels[channel_id] = _Channel(channel_id, member, private, archived)

    def issue_trigger(self) -> str:
        """A new ``trigger_id``, as Slack puts in a slash command or interaction payload; views.open
        answers ``expired_trigger_id`` once :data:`TRIGGER_TTL` seconds of :meth:`now` have passed
        (Bolt: "Pass a valid trigger_id within 3 seconds of receiving it"; slackapi/bolt-python#434;
        Slack's platform documentation (docs.slack.dev) §1.5). Ids the fake did not issue never expire."""
        trigger = self._next_id("trigger.")
        self._triggers[trigger] = self.now()
        return trigger

    def now(self) -> float:
        """The workspace's clock: ``clock`` plus the time slow answers took (:meth:`slow`)."""
        return self.clock() + self._waited

    def slow(self, method: str, seconds: float) -> None:
        """Every answer of ``method`` takes ``seconds`` of the fake's clock (no real waiting): issued
        ``trigger_id`` values age by that much."""
        self._latency[method] = seconds

    def fail_next(
        self,
        method: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` (e.g. 429 + Retry-After, 500).

        ``body`` may be a dict (sent as JSON) or a string (sent as text/html, like Slack's error pages).
        The call is recorded but has no effect.
        """
        if body is None:
            body = {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"}
        self._faults.setdefault(method, []).append(_Fault(status, dict(headers or {}), body, times))

    def drop_next(self, method: str, times: int = 1) -> None:
        """Process the next ``times`` calls of ``method`` normally, then cut the connection unanswered.

        This is the "did it post or not?" case: the effect happens, the client sees a disconnect.
        """
        self._faults.setdefault(method, []).append(_Fault(0, {}, None, times, drop=True))

    # --- inspection -------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls in arrival order, optionally only those of one method."""
        return [c for c in self.recorded if method is None or c.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message in a channel (roots and thread replies) in posting order, as currently edited."""
        return list(self._messages.get(channel, []))

    def dm_of(self, user: str) -> str:
        """The conversation id (``D…``) of the app's DM with ``user``, as conversations.open answers it."""
        return self._channel(user)

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The root message ``ts`` followed by its replies, in order."""
        return [m for m in self._messages.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts]

    def hook_posts(self, hook_id: str) -> list[dict[str, Any]]:
        """Bodies posted to ``/hooks/<hook_id>`` (``response_url`` answers), in order."""
        return list(self.hooks.get(hook_id, []))

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Poll ``predicate`` until it returns something truthy and return that; fail after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() >= deadline:
                raise AssertionError(
                    f"condition not met within {timeout}s; calls: {[c.method for c in self.recorded]}"
                )
            await asyncio.sleep(0.005)

    # --- the server -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application()
        app.router.add_route("POST", "/api/{method}", self._api)
        app.router.add_route("GET", "/api/{method}", self._api)
        app.router.add_post("/hooks/{hook_id}", self._hook)
        return app

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            elif raw:
                params.update(parse_qsl(raw.decode(), keep_blank_values=True))
        for key in JSON_FIELDS & params.keys():
            value = params[key]
            if isinstance(value, str) and value[:1] in "[{":
                params[key] = json.loads(value)
        return params

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization")
        if auth is None and "token" in params:
            auth = f"Bearer {params['token']}"
        call = Call(method, params, auth)
        self.recorded.append(call)
        self._waited += self._latency.get(method, 0.0)
        fault = self._take_fault(method)
        if fault is not None and not fault.drop:
            call.status = fault.status
            if isinstance(fault.body, str):
                return web.Response(
                    status=fault.status, headers=fault.headers, text=fault.body, content_type="text/html"
                )
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        if method == "apps.connections.open":
            answer: dict[str, Any] = self._connections_open(auth)
        elif auth is None or not auth.startswith("Bearer xox"):
            answer = {"ok": False, "error": "not_authed"}
        else:
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            answer = handler(params) if handler is not None else {"ok": False, "error": "unknown_method"}
        if fault is not None and fault.drop:
            call.status = 0
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("dropped by FakeSlack.drop_next")
        headers = {"x-oauth-scopes": ",".join(self.scopes)} if method == "auth.test" else None
        return web.json_response(answer, headers=headers)

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        hook_id = request.match_info["hook_id"]
        if request.transport is not None:
            self.hook_connections.add(request.transport.get_extra_info("peername"))
        if isinstance(body, dict) and body.get("blocks") is not None:
            problems = block_kit_problems(
                body["blocks"], max_blocks=MESSAGE_BLOCKS, models=self.validate_blocks
            )
            if problems:
                # A response_url answers a refused message with a 4xx and the error as text.
                self.block_kit_refusals += problems
                return web.Response(status=400, text="invalid_blocks")
        self.hooks.setdefault(hook_id, []).append(body)
        self._note("response", "", hook_id, body)
        return web.Response(text="ok")

    # --- helpers ----------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        """Like Slack's: the current epoch time with microseconds, strictly increasing."""
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _channel(self, channel: str) -> str:
        # Posting to a user id opens (or reuses) the DM with that user, as Slack does.
        return "D" + channel[1:] if _is_user(channel) else channel

    def _conversation(self, channel: str, *, reading: bool = False) -> dict[str, Any] | None:
        """The error Slack answers when ``channel`` is not a conversation id this call may use.

        Only chat.postMessage takes a user id (it posts to the app's DM with that user); every other
        method needs the conversation id — ``D…`` from conversations.open — and answers a user id with
        ``channel_not_found``. Reading a DM's messages needs ``im:history``. Sources: docs.slack.dev
        reference for conversations.history / conversations.replies / chat.update ("channel: conversation
        ID"), conversations.open ("You can then send a message to the conversation using
        chat.postMessage") and the im:history scope.
        """
        if not channel or _is_user(channel):
            return {"ok": False, "error": "channel_not_found"}
        if reading and channel.startswith("D") and "im:history" not in self.scopes:
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "im:history",
                "provided": ",".join(self.scopes),
            }
        return self._membership(channel, posting=not reading)

    def _membership(self, channel: str, *, posting: bool) -> dict[str, Any] | None:
        """The error Slack answers a bot token for a conversation it is not in (None: it may use it).

        With ``chat:write`` alone a bot posts only where it is a member: a public channel it was not
        invited to answers ``not_in_channel``; a private channel, or a direct message between other
        people, is invisible to it and answers ``channel_not_found``; an archived channel refuses posts
        with ``is_archived``. Reading history follows the same membership rule. Sources:
        docs.slack.dev/reference/methods/chat.postMessage (errors ``not_in_channel``,
        ``channel_not_found``, ``is_archived``), docs.slack.dev/reference/scopes/chat:write.public
        ("Send messages to channels your Slack app isn't a member of"; not modelled: Cardinal does not
        ask for it) and Slack's platform documentation (docs.slack.dev).
        """
        known = self.channels.get(channel)
        if known is None:
            return None
        if not known.member:
            hidden = known.private or channel.startswith(("D", "G"))
            return {"ok": False, "error": "channel_not_found" if hidden else "not_in_channel"}
        if known.archived and posting:
            return {"ok": False, "error": "is_archived"}
        return None

    def _bad_blocks(self, blocks: Any, limit: int) -> str | None:
        if blocks is None:
            return None
        problems = block_kit_problems(blocks, max_blocks=limit, models=self.validate_blocks)
        self.block_kit_refusals += problems
        return "invalid_blocks" if problems else None

    def view_response(self, view: Mapping[str, Any], response: Any) -> list[str]:
        """Take the app's answer to a submission of ``view`` as Slack does; return why it was rejected
        (empty when accepted). Rejections are kept in :attr:`refused_responses`."""
        problems = view_response_problems(view, response)
        if problems:
            self.refused_responses.append({"view": dict(view), "response": response, "problems": problems})
        return problems

    def _note(
        self, kind: ActivityKind, channel: str, ts: str, message: dict[str, Any], user: str | None = None
    ) -> None:
        public = {k: v for k, v in message.items() if k != "edits"}
        self.activity.append(Activity(kind, channel, ts, copy.deepcopy(public), user))

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    # --- methods ----------------------------------------------------------------------------------

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "cardinal",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _connections_open(self, auth: str | None) -> dict[str, Any]:
        """``apps.connections.open`` takes only an app-level token: a bot or user token is
        ``not_allowed_token_type``, an unknown one ``invalid_auth`` (docs.slack.dev reference for
        apps.connections.open; the connections:write scope lives on the app-level token)."""
        token = (auth or "").removeprefix("Bearer ")
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token.startswith("xox"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token not in self.app_tokens or self.socket_url is None:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.socket_url()}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if len(str(params.get("text") or "")) > 40_000:
            return {"ok": False, "error": "msg_too_long"}
        error = self._bad_blocks(params.get("blocks"), 50)
        if error:
            return {"ok": False, "error": error}
        channel = self._channel(str(params["channel"]))
        refused = self._membership(channel, posting=True)
        if refused:
            return refused
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None and self._find(channel, str(thread_ts)) is None:
            return {"ok": False, "error": "thread_not_found"}
        message: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": self._next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": params.get("text") or "",
            "blocks": params.get("blocks") or [],
            "edits": 0,
        }
        if thread_ts is not None:
            message["thread_ts"] = str(thread_ts)
            root = self._find(channel, str(thread_ts))
            if root is not None:
                root["reply_count"] = root.get("reply_count", 0) + 1
                root.setdefault("thread_ts", root["ts"])
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        self._messages.setdefault(channel, []).append(message)
        self._note("post", channel, message["ts"], message)
        public = {k: v for k, v in message.items() if k not in {"channel", "edits"}}
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": public}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        refused = self._conversation(channel)
        if refused:
            return refused
        message = self._find(channel, str(params.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        error = self._bad_blocks(params.get("blocks"), 50)
        if error:
            return {"ok": False, "error": error}
        for key in ("text", "blocks", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edits"] += 1
        self._note("update", channel, message["ts"], message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"]}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return {
                "ok": False,
                "error": "channel_not_found" if not params.get("channel") else "user_not_found",
            }
        refused = self._conversation(str(params["channel"]))
        if refused:
            return refused
        error = self._bad_blocks(params.get("blocks"), 50)
        if error:
            return {"ok": False, "error": error}
        ts = self._next_ts()
        self.ephemerals.append({**params, "message_ts": ts})
        self._note("ephemeral", str(params["channel"]), ts, dict(params), str(params["user"]))
        return {"ok": True, "message_ts": ts}

    def _m_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        ts = str(params.get("message_ts", ""))
        refused = self._conversation(channel)
        if refused:
            return refused
        if self._find(channel, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _store_view(self, view: dict[str, Any], user: str | None = None) -> dict[str, Any]:
        view_id = self._next_id("V")
        stored = _View(view_id, self._next_id("h"), dict(view), user)
        self.views[view_id] = stored
        return self._view_answer(stored)

    def _view_answer(self, stored: _View) -> dict[str, Any]:
        body = {
            **stored.view,
            "id": stored.id,
            "hash": stored.hash,
            "team_id": self.team_id,
            "state": {"values": {}},
            "private_metadata": stored.view.get("private_metadata", ""),
            "callback_id": stored.view.get("callback_id", ""),
            "external_id": stored.view.get("external_id", ""),
            "bot_id": self.bot_id,
        }
        return {"ok": True, "view": body}

    def _check_view(self, params: dict[str, Any]) -> dict[str, Any] | None:
        view = params.get("view")
        if not isinstance(view, dict) or "type" not in view:
            return {"ok": False, "error": "invalid_arguments"}
        if len(json.dumps(view)) > 250_000 or len(str(view.get("private_metadata", ""))) > 3000:
            return {"ok": False, "error": "view_too_large"}
        problems = view_problems(view, models=self.validate_blocks)
        if problems:
            self.block_kit_refusals += problems
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}
        return None

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger = str(params.get("trigger_id", ""))
        if not trigger:
            return {"ok": False, "error": "invalid_arguments"}
        issued = self._triggers.get(trigger)
        if trigger.startswith("expired") or (issued is not None and self.now() - issued > TRIGGER_TTL):
            return {"ok": False, "error": "expired_trigger_id"}
        problem = self._check_view(params)
        if problem:
            return problem
        answer = self._store_view(params["view"])
        self._note("view_open", "", str(answer["view"]["id"]), dict(params["view"]))
        return answer

    def _m_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._m_views_open(params)

    def _m_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        stored: _View | None = None
        if params.get("view_id"):
            stored = self.views.get(str(params["view_id"]))
        elif params.get("external_id"):
            stored = next(
                (v for v in self.views.values() if v.view.get("external_id") == params["external_id"]), None
            )
        if stored is None:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != stored.hash:
            return {"ok": False, "error": "hash_conflict"}
        problem = self._check_view(params)
        if problem:
            return problem
        stored.history.append(stored.view)
        stored.view = dict(params["view"])
        stored.hash = self._next_id("h")
        self._note("view_update", "", stored.id, stored.view)
        return self._view_answer(stored)

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id", ""))
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        problem = self._check_view(params)
        if problem:
            return problem
        self.home_views[user] = params["view"]
        return self._store_view(params["view"], user)

    def _m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = params.get("users")
        first = (users[0] if isinstance(users, list) else str(users or "").split(",")[0]).strip()
        if not first:
            return {"ok": False, "error": "users_list_not_supplied"}
        if "im:write" not in self.scopes:
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "im:write",
                "provided": ",".join(self.scopes),
            }
        if not _is_user(first):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": self._channel(first)}}

    def _m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        refused = self._conversation(channel, reading=True)
        if refused:
            return refused
        if channel not in self._messages:
            return {"ok": True, "messages": [], "has_more": False}
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        inclusive = _truthy(params.get("inclusive"))
        with_meta = _truthy(params.get("include_all_metadata"))
        limit = int(params.get("limit") or 100)
        roots = [m for m in self._messages[channel] if m.get("thread_ts") in (None, m["ts"])]
        picked = [
            m
            for m in roots
            if (float(m["ts"]) >= oldest if inclusive else float(m["ts"]) > oldest)
            and float(m["ts"]) <= latest
        ]
        picked.reverse()  # Slack returns the newest first
        out = [
            {k: v for k, v in m.items() if k not in {"channel", "edits"} and (with_meta or k != "metadata")}
            for m in picked
        ]
        return {"ok": True, "messages": out[:limit], "has_more": len(out) > limit}

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        refused = self._conversation(channel, reading=True)
        if refused:
            return refused
        thread = self.thread(channel, str(params.get("ts", "")))
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return {
            "ok": True,
            "messages": [{k: v for k, v in m.items() if k not in {"channel", "edits"}} for m in thread],
        }
