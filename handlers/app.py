"""Build the Bolt ``AsyncApp`` from injected services: no globals, no work at import time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import bind_context, clear_context, new_request_id
from handlers import actions, commands, container_actions, home, response_url, views
from handlers.edge import check_signature, hooks_base, is_slack_hook
from handlers.errors import handle_error
from handlers.services import Services

log = structlog.get_logger("cardinal.edge")

_Next = Callable[[], Awaitable[BoltResponse]]


class _SignedOnly(AsyncMiddleware):
    """Bolt's first middleware in HTTP mode: a request whose signature does not hold is answered 401 and
    goes no further, whatever is wrong with it (Bolt's own check lets a malformed timestamp raise into the
    error handler, which then treated the unverified body as real). :mod:`handlers.edge` checks the same
    before Bolt is reached; this keeps Bolt safe when it is served some other way."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse, next: _Next) -> BoltResponse:
        if req.mode == "socket_mode":  # the WebSocket is authenticated; its payloads are not signed
            return await next()
        reason = check_signature(
            self._secret,
            req.raw_body.encode("utf-8", "surrogateescape"),
            _first(req.headers.get("x-slack-request-timestamp")),
            _first(req.headers.get("x-slack-signature")),
            now=time.time(),
        )
        if reason is None:
            return await next()
        log.warning("slack.request_refused", status=401, reason=reason, size=len(req.raw_body))
        return BoltResponse(status=401, body={"error": "invalid request"})


class _SlackHooksOnly(AsyncMiddleware):
    """``respond()`` only posts to Slack's hooks URLs: any other ``response_url`` is dropped (with a
    WARNING), so no payload can make Cardinal post to an address of its choosing."""

    def __init__(self, hooks: str) -> None:
        self._hooks = hooks

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse, next: _Next) -> BoltResponse:
        url = req.context.response_url
        if url is not None and not is_slack_hook(url, self._hooks):
            log.warning("slack.response_url_refused", reason="not a Slack hooks URL")
            del req.context["response_url"]
            req.context.pop("respond", None)
        return await next()


class _LogContext(AsyncMiddleware):
    """Every request starts with a clean log context: a new request id, the Slack user and, where the
    payload has them, the channel, the command, the button's action id, the modal's callback id and the
    event type. Listeners run (and start their post-ack work) in a copy of this context, so every line
    logged for the request carries them."""

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse, next: _Next) -> BoltResponse:
        clear_context()
        bind_context(request_id=new_request_id(), **_log_fields(req.body, req.context))
        return await next()


def _log_fields(body: dict[str, Any], context: AsyncBoltContext) -> dict[str, str]:
    """The safe, cheap fields of a request for the log context: ids and names, never tokens, URLs or
    typed text."""
    fields: dict[str, Any] = {"slack_user": context.user_id, "channel": context.channel_id}
    fields["command"] = body.get("command")
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        fields["action"] = actions[0].get("action_id")
    view = body.get("view")
    if body.get("type") in ("view_submission", "view_closed") and isinstance(view, dict):
        fields["callback_id"] = view.get("callback_id")
    event = body.get("event")
    if isinstance(event, dict):
        fields["event"] = event.get("type")
    return {k: v[:80] for k, v in fields.items() if isinstance(v, str) and v}


def _first(values: Any) -> str | None:
    if isinstance(values, list | tuple):
        return str(values[0]) if values else None
    return values if isinstance(values, str) else None


def create_app(services: Services, *, client: AsyncWebClient, signing_secret: str | None) -> AsyncApp:
    """The Slack app with every listener on ``services`` (built by the caller, complete; nothing here
    adds to it). ``signing_secret=None`` is for Socket Mode, where requests are not signed.

    With a signing secret the first middleware refuses (401) every request whose signature does not hold;
    in every mode ``respond()`` is only wired to ``response_url`` values under Slack's hooks URL for the
    Web API base the ``client`` points at (:func:`handlers.edge.hooks_base`).
    """
    app = AsyncApp(
        # Without a name Bolt walks the call stack (inspect.stack) to make one up. Bolt sets the level of
        # the stdlib logger of that name, so it must not be "cardinal" (the parent of Cardinal's loggers).
        name="cardinal-bolt",
        client=client,
        signing_secret=signing_secret or "socket-mode-has-no-signatures",
        request_verification_enabled=False,  # _SignedOnly below, first of all
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )
    # Bolt builds its middleware list in the constructor; the log context comes before all of it, and the
    # signature check before that (a refused request binds nothing it carries).
    app._async_middleware_list.insert(0, _LogContext())
    if signing_secret is not None:
        app._async_middleware_list.insert(0, _SignedOnly(signing_secret.encode()))
    hooks = hooks_base(client.base_url)
    app.use(_SlackHooksOnly(hooks))
    # Before the listeners: their `respond` posts on the client's pooled session (one connection), and
    # only ever to Slack's own hooks (a second line behind _SlackHooksOnly).
    poster = response_url.ResponseUrlPoster(
        lambda: client.session, allowed=lambda url: is_slack_hook(url, hooks)
    )
    response_url.register(app, poster)
    commands.register(app, services)
    views.register(app, services)
    actions.register(app, services)
    container_actions.register(app, services)
    home.register(app, services.home)
    app.error(handle_error)
    return app
