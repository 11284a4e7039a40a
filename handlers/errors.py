"""The one error boundary of the Slack edge.

A :class:`bot.errors.CardinalError` is meant for the person: they get an ephemeral "what happened" and
"what to do". Anything else is a bug or an outage: they get a short reference id, and the log gets the
full traceback under the same id with safe context (user, channel, command, action) — never tokens,
``response_url``s or typed text, which can hold secrets.

``render_error`` is pure; ``handle_error`` is the Bolt adapter (``app.error(handle_error)``) for failures
inside a listener; :func:`answer_failures` wraps the work a listener runs after its ``ack()``, and both
answer through :func:`report_failure`'s path: one log line, one message to the person, the same id.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable
from typing import Any

import structlog
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import CardinalError, InputError
from handlers.blocks.create_modal import read_private_metadata
from handlers.blocks.help import error_message
from handlers.blocks.kit import Block
from handlers.edge import hooks_base, is_slack_hook

__all__ = [
    "UNEXPECTED_HINT",
    "answer_failures",
    "error_context",
    "handle_error",
    "new_ref_id",
    "render_error",
    "report_failure",
]

log = structlog.get_logger("cardinal.slack")

UNEXPECTED_WHAT = "Something went wrong on Cardinal's side."
UNEXPECTED_HINT = "Try again in a moment; if it keeps happening, give the operators the reference below."


def new_ref_id() -> str:
    """A short reference id for correlating a user's report with the log (6 hex characters)."""
    return secrets.token_hex(3)


def render_error(error: BaseException, *, ref_id: str | None = None) -> tuple[str, list[Block], str | None]:
    """Turn an exception into ``(fallback text, blocks, ref_id)`` for an ephemeral message.

    Cardinal's own errors show their ``what`` and ``hint`` and have no reference id. Any other exception
    shows a generic message with a reference id (``ref_id`` or a new one) that the caller must log.
    """
    if isinstance(error, CardinalError):
        msg = error_message(error.what, error.hint)
        return msg["text"], msg["blocks"], None
    ref = ref_id or new_ref_id()
    msg = error_message(UNEXPECTED_WHAT, UNEXPECTED_HINT, ref)
    return msg["text"], msg["blocks"], ref


def error_context(body: dict[str, Any]) -> dict[str, Any]:
    """Safe, useful fields of a Slack payload for the log: ids and names, no tokens, URLs or free text."""
    ctx: dict[str, Any] = {
        "payload_type": body.get("type") or ("slash_command" if "command" in body else None)
    }
    user = body.get("user")
    ctx["user"] = user.get("id") if isinstance(user, dict) else body.get("user_id")
    channel = body.get("channel")
    ctx["channel"] = channel.get("id") if isinstance(channel, dict) else body.get("channel_id")
    team = body.get("team")
    ctx["team"] = team.get("id") if isinstance(team, dict) else body.get("team_id")
    if "command" in body:
        ctx["command"] = body.get("command")
        text = body.get("text")
        ctx["subcommand"] = text.split()[0][:20] if isinstance(text, str) and text.split() else None
    actions = body.get("actions")
    if isinstance(actions, list):
        ctx["actions"] = [a.get("action_id") for a in actions if isinstance(a, dict)]
    view = body.get("view")
    if isinstance(view, dict):
        ctx["callback_id"] = view.get("callback_id")
        ctx["view_id"] = view.get("id")
    return {k: v for k, v in ctx.items() if v is not None}


def _json_response(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})


def _error_view(blocks: list[Block]) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Cardinal", "emoji": True},
        "close": {"type": "plain_text", "text": "Back", "emoji": True},
        "blocks": blocks,
    }


def _view_field_errors(error: BaseException, body: dict[str, Any]) -> dict[str, str] | None:
    """Inline modal errors when an InputError names a field that is an input block of the view."""
    if not isinstance(error, InputError) or error.field is None:
        return None
    values = body.get("view", {}).get("state", {}).get("values", {})
    if error.field not in values:
        return None
    return {error.field: error.what[:2000]}


async def _deliver(
    body: dict[str, Any],
    text: str,
    blocks: list[Block],
    respond: AsyncRespond | None,
    client: AsyncWebClient | None,
) -> bool:
    """Show the error to the person who acted: via response_url when there is one, else ephemerally in
    the channel, else in their direct messages with Cardinal.

    ``response_url`` is only posted to when it is one of Slack's hooks URLs for the Web API base the
    ``client`` talks to (:func:`handlers.edge.is_slack_hook`); without a ``client`` nothing is sent. A
    ``respond`` without a ``response_url`` (a click in the Home tab) is not used: the DM goes out here.
    """
    if client is None:
        return False
    url = getattr(respond, "response_url", None)
    if respond is not None and url is not None and is_slack_hook(url, hooks_base(client.base_url)):
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return True
    ctx = error_context(body)
    channel = ctx.get("channel")
    if channel is None and isinstance(body.get("view"), dict):
        channel = read_private_metadata(str(body["view"].get("private_metadata", ""))).get("channel")
    user = ctx.get("user")
    if not isinstance(user, str) or not user:
        return False
    if isinstance(channel, str) and channel:
        await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
        return True
    # The DM's D… id from conversations.open, not the user id (docs/slack-dm.md).
    opened = await client.conversations_open(users=user)
    await client.chat_postMessage(channel=opened["channel"]["id"], text=text, blocks=blocks)
    return True


def _log_failure(error: BaseException, ctx: dict[str, Any]) -> tuple[str, list[Block], str | None]:
    """Render ``error`` and log it once: a Cardinal error at INFO, anything else at ERROR with its
    traceback under the reference id the person is shown."""
    text, blocks, ref = render_error(error)
    if ref is None:
        log.info("slack.user_error", error_type=type(error).__name__, what=str(error), **ctx)
    else:
        log.error("slack.unexpected_error", ref=ref, error_type=type(error).__name__, exc_info=error, **ctx)
    return text, blocks, ref


async def _show(
    ref: str | None,
    ctx: dict[str, Any],
    body: dict[str, Any],
    text: str,
    blocks: list[Block],
    respond: AsyncRespond | None,
    client: AsyncWebClient | None,
) -> None:
    try:
        delivered = await _deliver(body, text, blocks, respond, client)
    except (SlackApiError, OSError, KeyError) as exc:
        log.warning("slack.error_not_delivered", ref=ref, reason=type(exc).__name__, **ctx)
        delivered = False
    if not delivered:
        log.warning("slack.error_not_shown", ref=ref, **ctx)


async def report_failure(
    error: BaseException,
    body: dict[str, Any],
    *,
    respond: AsyncRespond | None,
    client: AsyncWebClient,
) -> str | None:
    """The one answer to a failure after the ack: log it once and tell the person who acted.

    A :class:`~bot.errors.CardinalError` shows its "what happened / what to do"; anything else shows a
    short message with a reference id, which is the ``ref`` of the log line. Returns that id (``None``
    for Cardinal's own errors). Delivery is best effort (see :func:`_deliver`) and never raises.
    """
    ctx = error_context(body)
    text, blocks, ref = _log_failure(error, ctx)
    await _show(ref, ctx, body, text, blocks, respond, client)
    return ref


async def answer_failures(
    work: Awaitable[object],
    body: dict[str, Any],
    *,
    respond: AsyncRespond | None,
    client: AsyncWebClient,
) -> None:
    """Await a listener's post-ack ``work``; whatever it raises is answered by :func:`report_failure`.

    Every listener wraps the work it hands to :class:`~handlers.background.Background` in this, so no
    failure after the ack is left to a log line alone.
    """
    try:
        await work
    except Exception as exc:
        await report_failure(exc, body, respond=respond, client=client)


async def handle_error(
    error: Exception,
    body: dict[str, Any],
    response: BoltResponse | None = None,
    respond: AsyncRespond | None = None,
    client: AsyncWebClient | None = None,
) -> BoltResponse | None:
    """Bolt's global error handler: ``app.error(handle_error)``.

    If the listener failed before ``ack()`` (``response`` is not None), the answer goes in the ack itself:
    an ephemeral reply for slash commands, inline field errors or a pushed error view for modal
    submissions. Otherwise it is delivered like :func:`report_failure`'s.
    """
    if isinstance(error, BoltUnhandledRequestError):
        log.warning("slack.unhandled_request", **error_context(body))
        return None
    ctx = error_context(body)
    text, blocks, ref = _log_failure(error, ctx)
    if response is not None:  # not acknowledged yet: answer in the ack
        if body.get("type") == "view_submission":
            field_errors = _view_field_errors(error, body)
            if field_errors is not None:
                return _json_response({"response_action": "errors", "errors": field_errors})
            return _json_response({"response_action": "push", "view": _error_view(blocks)})
        if "command" in body:
            return _json_response({"response_type": "ephemeral", "text": text, "blocks": blocks})
        acked = BoltResponse(status=200, body="")
    else:
        acked = None
    await _show(ref, ctx, body, text, blocks, respond, client)
    return acked
