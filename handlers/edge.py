"""The HTTP edge: only signed, well-formed Slack requests reach Bolt.

``POST /slack/events`` is open to the whole network, so everything about a request is hostile until its
signature holds. :func:`make_edge_app` reads the body (at most :data:`MAX_BODY` bytes, within
:data:`BODY_DEADLINE` seconds), checks Slack's v0 signature itself — strict timestamp, five-minute
window, constant-time comparison (docs/slack-platform.md, "Verifying requests from Slack") — and only
then parses the body and hands it to Bolt. Refusals are decided without parsing or logging the body:

- 413: the body is larger than :data:`MAX_BODY`; 408: it did not arrive within :data:`BODY_DEADLINE`;
- 401: the signature or its timestamp is missing, malformed, stale or wrong (whatever the reason, nothing
  else happens: no parsing, no Bolt, no outbound call; the log line holds the size and the reason only);
- 400: signed, but not a payload Slack sends (bad UTF-8 or JSON, a form without ``command`` or
  ``payload``, objects where Slack has objects missing or of the wrong type, a ``response_url`` that is
  not one of Slack's hooks URLs). The WARNING line names the reason, never the body.

``response_url`` is only ever posted to when it is under Slack's hooks URL (:func:`hooks_base`): the
real ``https://hooks.slack.com/``, or ``…/hooks/`` next to the ``…/api/`` base of a stand-in Slack.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

__all__ = [
    "BODY_DEADLINE",
    "MAX_BODY",
    "MAX_CLOCK_SKEW",
    "Refusal",
    "check_payload",
    "check_signature",
    "hooks_base",
    "is_slack_hook",
    "make_edge_app",
    "read_payload",
    "server_logger",
]

log = structlog.get_logger("cardinal.edge")

MAX_BODY = 1 << 20
"""Bytes a Slack request body may have (Slack's own payloads are far smaller)."""
BODY_DEADLINE = 10.0
"""Seconds a client has to send the whole body once its headers are in."""
MAX_CLOCK_SKEW = 300
"""Seconds a signature's timestamp may be off from now (Slack: five minutes, against replays)."""

_TIMESTAMP_DIGITS = 12  # seconds since 1970 have 10 digits until the year 2286
_SIGNATURE_PREFIX = "v0="
_SIGNATURE_LENGTH = len(_SIGNATURE_PREFIX) + 64  # v0= and a hex SHA-256
_HEX = frozenset("0123456789abcdef")
_MAX_FORM_FIELDS = 100

REAL_SLACK_HOOKS = "https://hooks.slack.com/"


class Refusal(Exception):
    """A request the edge does not pass on: ``status`` and a fixed, body-free ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- signature ------------------------------------------------------------------------------------------


def check_signature(
    secret: bytes, body: bytes, timestamp: str | None, signature: str | None, *, now: float
) -> str | None:
    """Why a request's Slack signature does not hold, or ``None`` when it does.

    The timestamp must be plain ASCII digits within :data:`MAX_CLOCK_SKEW` of ``now``; the signature
    ``v0=`` and 64 lower-case hex digits equal (in constant time) to HMAC-SHA256 of ``v0:<ts>:<body>``.
    The reasons are fixed texts: nothing the client sent is echoed.
    """
    if not timestamp:
        return "no X-Slack-Request-Timestamp"
    if len(timestamp) > _TIMESTAMP_DIGITS or not (timestamp.isascii() and timestamp.isdigit()):
        return "malformed X-Slack-Request-Timestamp"
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        return "stale X-Slack-Request-Timestamp"
    if not signature:
        return "no X-Slack-Signature"
    if (
        len(signature) != _SIGNATURE_LENGTH
        or not signature.startswith(_SIGNATURE_PREFIX)
        or not _HEX.issuperset(signature[len(_SIGNATURE_PREFIX) :])
    ):
        return "malformed X-Slack-Signature"
    expected = hmac.new(secret, b"v0:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256)
    if not hmac.compare_digest(_SIGNATURE_PREFIX + expected.hexdigest(), signature):
        return "wrong X-Slack-Signature"
    return None


# --- response_url ---------------------------------------------------------------------------------------


def hooks_base(api_url: str) -> str:
    """Where Slack's ``response_url`` hooks live for the Web API at ``api_url``.

    Real Slack (``https://slack.com/api/``) answers on ``https://hooks.slack.com/``; a stand-in at
    ``<origin>/<prefix>/api/`` serves them at ``<origin>/<prefix>/hooks/``.
    """
    parts = urlsplit(api_url)
    host = (parts.hostname or "").lower()
    if host == "slack.com" or host.endswith(".slack.com"):
        return REAL_SLACK_HOOKS
    path = parts.path.rstrip("/").removesuffix("/api")
    return f"{parts.scheme}://{parts.netloc}{path}/hooks/"


def is_slack_hook(url: object, base: str) -> bool:
    """True when ``url`` is a URL under the hooks ``base`` (same scheme and host, no ``..``, no userinfo)."""
    if not isinstance(url, str) or len(url) > 2048 or not url.isascii() or not url.isprintable():
        return False
    if " " in url or "\\" in url:
        return False
    want, got = urlsplit(base), urlsplit(url)
    return (
        got.scheme == want.scheme
        and got.netloc.lower() == want.netloc.lower()
        and got.path.startswith(want.path)
        and len(got.path) > len(want.path)
        and ".." not in got.path.split("/")
    )


# --- well-formedness ------------------------------------------------------------------------------------

_OBJECT_FIELDS = ("team", "user", "channel", "container", "view", "message", "enterprise", "event")
_NEEDS_USER = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}
)
_NEEDS_VIEW = frozenset({"view_submission", "view_closed"})
_EVENT_TYPES = frozenset({"url_verification", "event_callback", "app_rate_limited"})


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _check_objects(payload: Mapping[str, Any]) -> None:
    for name in _OBJECT_FIELDS:
        value = payload.get(name)
        if value is not None and not isinstance(value, dict):
            raise Refusal(400, f"{name} is not an object")


def _check_hooks(payload: Mapping[str, Any], base: str) -> None:
    urls: list[object] = []
    if "response_url" in payload:
        urls.append(payload["response_url"])
    if "response_urls" in payload:
        listed = payload["response_urls"]
        if not isinstance(listed, list) or not all(isinstance(u, dict) for u in listed):
            raise Refusal(400, "response_urls is not a list of objects")
        urls.extend(u.get("response_url") for u in listed)
    if not all(is_slack_hook(url, base) for url in urls):
        raise Refusal(400, "response_url is not a Slack hooks URL")


def _check_interactive(payload: Mapping[str, Any], base: str) -> None:
    kind = payload.get("type")
    if not _is_str(kind):
        raise Refusal(400, "interactive payload without a type")
    _check_objects(payload)
    if kind in _NEEDS_USER and not _is_str((payload.get("user") or {}).get("id")):
        raise Refusal(400, f"{kind} without user.id")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not all(
            isinstance(a, dict) and _is_str(a.get("action_id")) for a in actions
        ):
            raise Refusal(400, "block_actions without a list of actions")
    if kind in _NEEDS_VIEW:
        view = payload.get("view") or {}
        if not (_is_str(view.get("id")) and _is_str(view.get("callback_id"))):
            raise Refusal(400, f"{kind} without view.id and view.callback_id")
        if not _is_str(view.get("private_metadata", "")):
            raise Refusal(400, f"{kind} with a private_metadata that is not text")
        state = view.get("state")
        if kind == "view_submission" and not (
            isinstance(state, dict) and isinstance(state.get("values"), dict)
        ):
            raise Refusal(400, "view_submission without view.state.values")
    _check_hooks(payload, base)


def form_unquote(text: str) -> str:
    """``urllib.parse.unquote(text, errors="replace")``, decoded by C codecs when it can be.

    The stdlib's unquote loops in Python over every ``%XX``: a create form's payload (its whole modal,
    ~19 KB, every quote and brace escaped) has thousands, about 2 ms of CPU. Plain ASCII without a
    backslash becomes ``\\xXX`` escapes that ``unicode_escape`` decodes to the bytes, read as UTF-8;
    anything else (a backslash, non-ASCII, a ``%`` not followed by two hex digits) takes the stdlib's way.
    """
    if "%" not in text:
        return text
    if text.isascii() and "\\" not in text:
        try:
            escaped = text.replace("%", "\\x").encode("ascii")
            return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")
        except UnicodeDecodeError:  # a % without two hex digits: left as it is, as the stdlib does
            pass
    return unquote(text, errors="replace")


def parse_form(text: str) -> dict[str, list[str]]:
    """``urllib.parse.parse_qs(text, keep_blank_values=True, max_num_fields=100)``, with
    :func:`form_unquote`; raises ``ValueError`` for more than 100 fields, as ``parse_qs`` does."""
    if text.count("&") + 1 > _MAX_FORM_FIELDS:
        raise ValueError("Max number of fields exceeded")
    fields: dict[str, list[str]] = {}
    for pair in text.split("&") if text else ():
        if not pair:
            continue
        name, _, value = pair.partition("=")
        decoded = form_unquote(name.replace("+", " "))
        fields.setdefault(decoded, []).append(form_unquote(value.replace("+", " ")))
    return fields


def _check_form(text: str, base: str) -> dict[str, Any]:
    """Check a form-encoded body; return it as Bolt reads it (the ``payload`` JSON, or the fields)."""
    try:
        fields = parse_form(text)
    except ValueError:
        raise Refusal(400, "too many form fields") from None
    if any(len(values) != 1 for values in fields.values()):
        raise Refusal(400, "a form field is repeated")
    form = {name: values[0] for name, values in fields.items()}
    if "payload" in form:
        try:
            payload = json.loads(form["payload"])
        except ValueError:
            raise Refusal(400, "payload is not JSON") from None
        if not isinstance(payload, dict):
            raise Refusal(400, "payload is not a JSON object")
        _check_interactive(payload, base)
        return payload
    if "command" in form:
        if not form["command"].startswith("/") or not form.get("user_id"):
            raise Refusal(400, "slash command without command or user_id")
        _check_hooks(form, base)
    elif "ssl_check" not in form:
        raise Refusal(400, "form is neither a slash command nor an interactive payload")
    # Bolt's parse_body reads a form whose text mentions "payload" anywhere as an empty body.
    return {} if "payload" in text else form


def _check_json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        raise Refusal(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise Refusal(400, "body is not a JSON object")
    if "command" in body:
        raise Refusal(400, "slash commands are form-encoded, not JSON")
    kind = body.get("type")
    if kind not in _EVENT_TYPES:
        raise Refusal(400, "not an Events API envelope")
    if kind == "url_verification" and not _is_str(body.get("challenge")):
        raise Refusal(400, "url_verification without a challenge")
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not _is_str(event.get("type")):
            raise Refusal(400, "event_callback without an event object")
        for name in ("authorizations", "authed_users"):
            if body.get(name) is not None and not isinstance(body[name], list):
                raise Refusal(400, f"{name} is not a list")
    return body


def check_payload(body: bytes, content_type: str, hooks: str) -> str:
    """The body as text when it is a payload Slack sends; raises :class:`Refusal` (400) when not.

    ``hooks`` is the :func:`hooks_base` every ``response_url`` must be under.
    """
    return read_payload(body, content_type, hooks)[0]


def read_payload(body: bytes, content_type: str, hooks: str) -> tuple[str, dict[str, Any] | None]:
    """:func:`check_payload`, also returning the body as Bolt would parse it (``None`` when the text should
    be left to Bolt), so that a payload is decoded once: a create form's comes with its whole modal."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "body is not UTF-8") from None
    if content_type == "application/x-www-form-urlencoded":
        parsed = _check_form(text, hooks)
        # Bolt reads any body starting with "{" as JSON, whatever its content type: leave that to it.
        return text, (None if text.startswith("{") else parsed)
    if content_type == "application/json":
        return text, _check_json(text)
    raise Refusal(400, "unsupported Content-Type")


def _bolt_request(
    text: str, parsed: dict[str, Any] | None, query: str, headers: dict[str, str | Sequence[str]]
) -> AsyncBoltRequest:
    """Bolt's request for a body the edge has already parsed (Bolt's constructor would parse it again)."""
    if parsed is None:
        return AsyncBoltRequest(body=text, query=query, headers=headers)
    request = AsyncBoltRequest(body="", query=query, headers=headers)
    request.raw_body = text
    request.body = parsed
    request.context = build_async_context(AsyncBoltContext({}), parsed)
    return request


# --- the aiohttp server's own log -----------------------------------------------------------------------


class _WithoutRequestText(logging.Filter):
    """aiohttp's server logs a malformed request (bad request line, bad header) with the parser's message,
    which quotes what the client sent. Keep the fact and the error type; drop the quote and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        record.msg = "http.request_rejected" if record.levelno >= logging.WARNING else "http.server"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        if error is not None:
            record.error_type = type(error).__name__
        return True


def server_logger() -> logging.Logger:
    """The logger to give aiohttp's request handler (``AppRunner(..., logger=...)``) at the public edge."""
    logger = logging.getLogger("cardinal.edge.http")
    if not any(isinstance(f, _WithoutRequestText) for f in logger.filters):
        logger.addFilter(_WithoutRequestText())
    return logger


# --- the aiohttp application ----------------------------------------------------------------------------


async def _read_body(request: web.Request, max_body: int, deadline: float) -> bytes:
    length = request.content_length
    if length is not None and length > max_body:
        raise Refusal(413, f"body larger than {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(deadline):
            while chunk := await request.content.read(65536):
                size += len(chunk)
                if size > max_body:
                    raise Refusal(413, f"body larger than {max_body} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Refusal(408, f"body not received within {deadline:g} s") from None
    return b"".join(chunks)


def _refuse(refusal: Refusal, size: int | None) -> web.Response:
    log.warning("slack.request_refused", status=refusal.status, reason=refusal.reason, size=size)
    answer = web.json_response({"error": refusal.reason}, status=refusal.status)
    if refusal.status in (408, 413):
        answer.force_close()  # the rest of the body is not worth reading
    return answer


def make_edge_app(
    app: AsyncApp,
    *,
    signing_secret: bytes,
    api_url: str,
    path: str = "/slack/events",
    max_body: int = MAX_BODY,
    body_deadline: float = BODY_DEADLINE,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """An aiohttp app serving ``POST path``: verified, well-formed requests go to ``app``; see the module."""
    hooks = hooks_base(api_url)

    async def events(request: web.Request) -> web.StreamResponse:
        size = request.content_length
        try:
            body = await _read_body(request, max_body, body_deadline)
            size = len(body)
            reason = check_signature(
                signing_secret,
                body,
                request.headers.get("X-Slack-Request-Timestamp"),
                request.headers.get("X-Slack-Signature"),
                now=clock(),
            )
            if reason is not None:
                raise Refusal(401, reason)
        except Refusal as refusal:
            return _refuse(refusal, size)
        except Exception:  # whatever goes wrong before the signature holds is a refusal
            return _refuse(Refusal(401, "request could not be read or verified"), size)
        try:
            text, parsed = read_payload(body, request.content_type, hooks)
        except Refusal as refusal:
            return _refuse(refusal, size)
        try:
            bolt_request = _bolt_request(
                text,
                parsed,
                request.query_string,
                {k.lower(): request.headers.getall(k) for k in request.headers},
            )
        except Exception as exc:  # Bolt's own parsing of a payload that passed the checks above
            log.warning("slack.request_refused", status=400, reason=type(exc).__name__, size=size)
            return web.json_response({"error": "malformed payload"}, status=400)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    web_app = web.Application(client_max_size=max_body)
    web_app.router.add_post(path, events)
    return web_app
