"""``POST /proxmox/notify`` on the internal port: Proxmox VE's notification webhook, authenticated.

The route lives on the ops app (``INTERNAL_PORT``), so it works in Socket Mode too. It exists only when
``PROXMOX_NOTIFY_SECRET`` is set (else 404). Each call must carry that secret as ``X-Cardinal-Secret``
or ``Authorization: Bearer …`` (401 otherwise, before the body is read), a JSON content type (415) and
at most :data:`MAX_BODY` bytes (413). Malformed JSON is 400; JSON that is not a notification is logged
and answered 202 (ignored); a routed notification is 200, or 502 when a post failed (Proxmox then logs
the failure). The secret and the message text never reach a log line.
"""

from __future__ import annotations

import hmac
import json
from typing import Protocol

import structlog
from aiohttp import web
from pydantic import SecretStr

from bot.notifications import Outcome

log = structlog.get_logger(__name__)

NOTIFY_PATH = "/proxmox/notify"
SECRET_HEADER = "X-Cardinal-Secret"  # noqa: S105 - a header name, not a secret
MAX_BODY = 64 * 1024
"""Largest accepted body in bytes (a vzdump report of a few hundred guests fits)."""
_CHUNK = 16 * 1024


class NotificationReceiver(Protocol):
    """What the route hands a decoded body to (:class:`bot.notifications.NotificationRouter`)."""

    async def receive(self, document: object) -> Outcome:
        """Route one decoded JSON body."""
        ...


def _presented(request: web.Request) -> list[bytes]:
    out: list[bytes] = []
    header = request.headers.get(SECRET_HEADER)
    if header is not None:
        out.append(header.strip().encode("utf-8", "replace"))
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        out.append(token.strip().encode("utf-8", "replace"))
    return out


def is_authorized(request: web.Request, expected: bytes) -> bool:
    """The request carries the shared secret (constant-time comparison)."""
    # Compare every presented value, so timing does not depend on which header matched.
    results = [hmac.compare_digest(value, expected) for value in _presented(request)]
    return any(results)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` as soon as it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, error: str, **context: object) -> web.Response:
    log.warning("proxmox.notify.refused", status=status, error=error, **context)
    return web.json_response({"status": "refused", "error": error}, status=status)


def add_notify_route(
    app: web.Application,
    receiver: NotificationReceiver,
    secret: SecretStr | None,
    *,
    max_body: int = MAX_BODY,
) -> bool:
    """Add ``POST /proxmox/notify`` to ``app`` when ``secret`` is set; return whether it was added."""
    if secret is None:
        log.info("proxmox.notify.disabled", reason="PROXMOX_NOTIFY_SECRET is unset")
        return False
    expected = secret.get_secret_value().encode("utf-8")

    async def notify(request: web.Request) -> web.Response:
        remote = request.remote
        if not is_authorized(request, expected):
            presented = "none" if not _presented(request) else "wrong"
            return _refuse(
                401, f"missing or wrong shared secret ({SECRET_HEADER})", remote=remote, secret=presented
            )
        length = request.content_length
        if length is not None and length > max_body:
            return _refuse(413, f"body larger than {max_body} bytes", remote=remote, length=length)
        if not _is_json(request.content_type):
            return _refuse(
                415, "Content-Type must be application/json", remote=remote, got=request.content_type
            )
        body = await _read_limited(request, max_body)
        if body is None:
            return _refuse(413, f"body larger than {max_body} bytes", remote=remote)
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _refuse(400, f"body is not valid JSON: {type(exc).__name__}", remote=remote)
        outcome = await receiver.receive(document)
        if outcome.status == "ignored":
            status = 202
        elif outcome.failed:
            status = 502
        else:
            status = 200
        log.info(
            "proxmox.notify.answered",
            status=status,
            remote=remote,
            digest=(outcome.digest or "")[:16] or None,
            posted=list(outcome.posted),
            duplicates=list(outcome.duplicates),
            logged=list(outcome.logged),
            failed=list(outcome.failed),
        )
        return web.json_response(outcome.as_json(), status=status)

    app.router.add_post(NOTIFY_PATH, notify)
    log.info("proxmox.notify.enabled", path=NOTIFY_PATH)
    return True
