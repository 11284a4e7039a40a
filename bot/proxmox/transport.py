"""HTTP transport for the Proxmox API: pooled session, auth, encoding, retries, breaker, error mapping.

Everything that touches bytes lives here; :mod:`bot.proxmox.client` only names endpoints and builds
models. The rules follow the real API (docs/proxmox-api.md §2–3):

- POST/PUT send ``application/x-www-form-urlencoded`` bodies, booleans as ``1``/``0``, ``None`` dropped;
  GET/DELETE send their parameters in the query string and never a body.
- Errors: the JSON ``message`` (libpve-http-server ≥ 5.2.0) or else the HTTP reason phrase; ``errors``
  holds per-parameter messages. 595–599 are pveproxy's node-to-node proxy failures (AnyEvent::HTTP).
- Only GETs are retried (connection errors, timeouts, 5xx); a write is never sent twice, except after a
  401 with ticket auth, which proves the request was not executed.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlencode

import aiohttp
import structlog
from pydantic import BaseModel, SecretStr
from yarl import URL

from bot.proxmox.breaker import CircuitBreaker
from bot.proxmox.errors import (
    CircuitOpenError,
    ProxmoxAuthError,
    ProxmoxConflictError,
    ProxmoxError,
    ProxmoxExistsError,
    ProxmoxLockedError,
    ProxmoxNotFoundError,
    ProxmoxPermissionError,
    ProxmoxServerError,
    ProxmoxTimeoutError,
    ProxmoxTLSError,
    ProxmoxUnreachableError,
    ProxmoxValidationError,
)
from bot.proxmox.tls import SslArg, mismatch_error, verification_error

_log = structlog.get_logger(__name__)

CallClass = Literal["read", "write", "long"]
RequestHook = Callable[[str, str, int | None, float], None]
"""``on_request(method, endpoint_template, status_or_None, seconds)``: one call per HTTP attempt."""

T = TypeVar("T")

FAST_DECODE_MAX_BYTES = 256 * 1024
"""Answers up to this size are validated straight from their bytes (:class:`Envelope`); larger ones (e.g.
``/cluster/resources`` of a big cluster) go through ``json.loads``: pydantic builds the whole parsed
document natively first, which for 10,000 guests peaks ~9 MB higher than ``json.loads`` does."""


class Envelope(BaseModel, Generic[T]):
    """An answer's ``{"data": …, "total": …}``, validated straight from its bytes.

    :meth:`Transport.get_enveloped` uses it for reads whose ``data`` has a model: pydantic parses the JSON
    and builds the models in one pass, instead of ``json.loads`` building dicts that are then validated
    (for answers up to :data:`FAST_DECODE_MAX_BYTES`).
    """

    data: T
    total: Any = None


# AnyEvent::HTTP pseudo-status codes that pveproxy passes through when proxying to another node.
ANYEVENT_STATUS = {
    595: "Errors during connection establishment, proxy handshake",
    596: "Errors during TLS negotiation, request sending and header processing",
    597: "Errors during body receiving or processing",
    598: "User aborted request via on_header or on_body",
    599: "Other, usually nonretryable, errors (garbled URL etc.)",
}

UNKNOWN_OUTCOME_HINT = (
    "Whether Proxmox carried out the change is unknown; Cardinal looks at the container before trying again."
)
KEEPALIVE_SECONDS = 4.0
TICKET_LIFETIME = 7200.0
"""Proxmox tickets (and CSRF tokens) live 2 h (pve-access-control ``$ticket_lifetime``)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed per call class: quick reads, writes (create, power), long calls (whole logs)."""

    read: float = 10.0
    write: float = 30.0
    long: float = 120.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter for idempotent GETs. ``attempts`` counts the first try."""

    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 4.0
    jitter: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): base·2^(n-1), capped, minus jitter."""
        d = min(self.max_delay, self.base_delay * (2.0 ** (retry - 1)))
        return d * (1.0 - self.jitter * random.random())


def form_value(value: Any) -> str:
    """Proxmox's form encoding of one value: booleans as ``1``/``0``, everything else as text."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> str:
    """``k=v&…`` for a query string or form body; ``None`` values are dropped, lists repeat the key."""
    if not params:
        return ""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            items.extend((key, form_value(v)) for v in value)
        else:
            items.append((key, form_value(value)))
    return urlencode(items)


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text.strip())


def _decode_error_body(body: bytes) -> tuple[str | None, dict[str, str]]:
    if not body:
        return None, {}
    try:
        doc = json.loads(body)
    except ValueError:
        return None, {}
    if not isinstance(doc, dict):
        return None, {}
    message = doc.get("message")
    errors = doc.get("errors")
    errs = {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
    return (message if isinstance(message, str) and message.strip() else None), errs


def error_from_response(status: int, reason: str | None, body: bytes) -> ProxmoxError:
    """Map a failed HTTP answer to the typed error tree, with a message a Slack user can read."""
    message, errors = _decode_error_body(body)
    text = _one_line(message or reason or "") or f"HTTP {status}"
    if status == 401:
        return ProxmoxAuthError(f"Proxmox refused Cardinal's credentials ({text})", status=status)
    if status == 403:
        return ProxmoxPermissionError(f"Proxmox refused: {text}", status=status, errors=errors)
    if status in ANYEVENT_STATUS:
        return ProxmoxUnreachableError(
            f"Proxmox could not reach a cluster node ({status} {ANYEVENT_STATUS[status]}: {text})",
            status=status,
        )
    what = f"Proxmox refused: {text}"
    haystack = " ".join((text, *errors.values())).lower()
    if status == 404 or any(s in haystack for s in ("does not exist", "no such task", "no such uri")):
        return ProxmoxNotFoundError(what, status=status, errors=errors)
    if "already exists" in haystack:
        return ProxmoxExistsError(what, status=status, errors=errors)
    if "is locked" in haystack or "can't lock file" in haystack:
        return ProxmoxLockedError(what, status=status, errors=errors)
    if any(s in haystack for s in ("already running", "not running", "container is running", "file changed")):
        return ProxmoxConflictError(what, status=status, errors=errors)
    if status == 400:
        return ProxmoxValidationError(what, status=status, errors=errors)
    if status >= 500:
        return ProxmoxServerError(f"Proxmox failed: {text}", status=status, errors=errors)
    return ProxmoxError(what, status=status, errors=errors)


def error_from_exception(exc: BaseException, *, method: str, template: str, timeout: float) -> ProxmoxError:
    """Map a transport failure (no HTTP answer) to the typed error tree."""
    hint = None if method == "GET" else UNKNOWN_OUTCOME_HINT
    if isinstance(exc, aiohttp.ServerFingerprintMismatch):
        return mismatch_error(exc)
    if isinstance(exc, aiohttp.ClientSSLError):
        return verification_error(exc)
    if isinstance(exc, TimeoutError):
        return ProxmoxTimeoutError(
            f"Proxmox did not answer {method} {template} within {timeout:g} s", hint=hint
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ProxmoxUnreachableError(
            f"The Proxmox host {exc.host} could not be found (DNS: {exc.strerror or exc.os_error})"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProxmoxUnreachableError(
            f"Proxmox at {exc.host}:{exc.port} could not be reached: {exc.strerror or exc.os_error}"
        )
    detail = str(exc) or type(exc).__name__
    return ProxmoxUnreachableError(
        f"The connection to Proxmox broke during {method} {template}: {detail}", hint=hint
    )


def blames_host(exc: ProxmoxError) -> bool:
    """True for failures that count against the circuit breaker (unreachable, timeout, 5xx)."""
    if isinstance(exc, CircuitOpenError):
        return False
    if isinstance(exc, ProxmoxUnreachableError):
        return True
    return isinstance(exc, ProxmoxServerError) and exc.status != 501


def retryable(exc: ProxmoxError) -> bool:
    """True when a GET that failed this way may be sent again."""
    return blames_host(exc) and not isinstance(exc, ProxmoxTLSError)


class Transport:
    """One pooled keep-alive session plus auth; :meth:`request` returns the decoded ``{"data": …}``."""

    def __init__(
        self,
        base_url: str,
        *,
        token_id: str | None = None,
        token_secret: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
        ssl: SslArg = True,
        timeouts: Timeouts | None = None,
        retries: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_connections: int = 20,
        on_request: RequestHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        ticket_renew_after: float = 3600.0,
    ) -> None:
        if token_id and token_secret is not None:
            self._ticket_mode = False
        elif username and password is not None:
            self._ticket_mode = True
        else:
            raise ValueError("ProxmoxClient needs token_id + token_secret, or username + password")
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._ssl = ssl
        self.timeouts = timeouts or Timeouts()
        self.retries = retries or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._max_connections = max_connections
        self._on_request = on_request
        self._clock = clock
        self._renew_after = ticket_renew_after
        t = self.timeouts
        self._client_timeouts: dict[CallClass, tuple[float, aiohttp.ClientTimeout]] = {
            "read": (t.read, aiohttp.ClientTimeout(total=t.read)),
            "write": (t.write, aiohttp.ClientTimeout(total=t.write)),
            "long": (t.long, aiohttp.ClientTimeout(total=t.long)),
        }
        self._session: aiohttp.ClientSession | None = None
        self._auth_lock = asyncio.Lock()
        self._auth_generation = 0
        self._ticket: str | None = None
        self._ticket_at: float | None = None
        self._form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        if self._ticket_mode:
            self._read_headers: dict[str, str] = {}
            self._write_headers: dict[str, str] = {}
        else:
            assert token_secret is not None
            auth = {"Authorization": f"PVEAPIToken={token_id}={token_secret.get_secret_value()}"}
            self._read_headers = auth
            self._write_headers = auth
        self._form_headers = {**self._write_headers, **self._form_type}

    # --- session ------------------------------------------------------------------------------

    def _session_now(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            # pveproxy drops idle keep-alive connections after 5 s (APIServer::AnyEvent ``timeout``);
            # release ours sooner so a write is not sent on a connection the server is closing.
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ssl=self._ssl, keepalive_timeout=KEEPALIVE_SECONDS
            )
            session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
            # aiohttp silently resends PUT/DELETE when a reused connection drops; a write must be sent
            # at most once (its outcome is checked instead), and GETs have our own retry policy.
            session._retry_connection = False
            self._session = session
        return session

    async def close(self) -> None:
        """Close the pooled session; a later request opens a new one."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- requests -----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        template: str,
        params: Mapping[str, Any] | None = None,
        *,
        call: CallClass | None = None,
    ) -> dict[str, Any]:
        """Send one API call (``path`` already URL-encoded, starting with ``/``) and return the envelope.

        ``template`` names the endpoint for metrics and errors, e.g. ``/nodes/{node}/lxc/{vmid}/config``.
        """
        envelope: dict[str, Any] = await self._request(method, path, template, params, call, None)
        return envelope

    async def get_enveloped(
        self,
        path: str,
        template: str,
        envelope: type[Envelope[T]],
        params: Mapping[str, Any] | None = None,
    ) -> Envelope[T] | dict[str, Any]:
        """A GET whose answer is validated straight from its bytes as ``envelope``.

        When the answer does not fit (e.g. ``data`` is something the model refuses) or is larger than
        :data:`FAST_DECODE_MAX_BYTES`, it is decoded as :meth:`request` decodes it and that plain envelope
        is returned instead, so the caller validates it as before and raises the same errors. Transport
        errors, retries and the breaker are as for :meth:`request`.
        """
        result: Envelope[T] | dict[str, Any] = await self._request(
            "GET", path, template, params, None, envelope
        )
        return result

    async def _request(
        self,
        method: str,
        path: str,
        template: str,
        params: Mapping[str, Any] | None,
        call: CallClass | None,
        fast: type[Envelope[Any]] | None,
    ) -> Any:
        encoded = encode_params(params)
        body: bytes | None = None
        if method in ("POST", "PUT"):
            url = URL(self.base_url + path, encoded=True)
            body = encoded.encode() if encoded else None
        else:
            url = URL(f"{self.base_url}{path}?{encoded}" if encoded else self.base_url + path, encoded=True)
        limit = self._client_timeouts[call or ("read" if method == "GET" else "write")]
        attempts = self.retries.attempts if method == "GET" else 1
        attempt = 1
        while True:
            try:
                return await self._attempt(method, url, body, template, limit, fast)
            except ProxmoxError as exc:
                if attempt >= attempts or not retryable(exc):
                    raise
                delay = self.retries.delay(attempt)
                _log.warning(
                    "proxmox_retry", endpoint=template, attempt=attempt, delay=round(delay, 3), error=exc.what
                )
                attempt += 1
                await self.retries.sleep(delay)

    async def _attempt(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        template: str,
        limit: tuple[float, aiohttp.ClientTimeout],
        fast: type[Envelope[Any]] | None,
    ) -> Any:
        """One send with current credentials; with a ticket, a 401 means log in again and resend once."""
        if not self._ticket_mode:
            headers = self._read_headers if method == "GET" or body is None else self._form_headers
            return await self._send(method, url, body, headers, template, limit, fast)
        await self._ensure_ticket()
        for resend in (False, True):
            generation = self._auth_generation
            if method == "GET":
                headers = self._read_headers
            else:
                headers = self._form_headers if body is not None else self._write_headers
            try:
                return await self._send(method, url, body, headers, template, limit, fast)
            except ProxmoxAuthError:
                if resend:
                    raise
                await self._relogin(generation)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        template: str,
        limit: tuple[float, aiohttp.ClientTimeout],
        fast: type[Envelope[Any]] | None = None,
    ) -> Any:
        seconds, client_timeout = limit
        breaker = self.breaker
        breaker.before_call()
        status: int | None = None
        started = time.perf_counter()
        try:
            async with self._session_now().request(
                method, url, data=body, headers=headers, timeout=client_timeout
            ) as resp:
                status = resp.status
                raw = await resp.read()
                if not 200 <= status < 300:
                    raise error_from_response(status, resp.reason, raw)
            envelope: Any = None
            if fast is not None and len(raw) <= FAST_DECODE_MAX_BYTES:
                try:
                    envelope = fast.model_validate_json(raw)
                except ValueError:  # pydantic's ValidationError: decoded below, validated by the caller
                    envelope = None
            if envelope is None:
                try:
                    envelope = json.loads(raw)
                except ValueError:
                    raise ProxmoxServerError(
                        f"Proxmox answered {method} {template} with something that is not JSON",
                        status=status,
                    ) from None
                if not isinstance(envelope, dict):
                    raise ProxmoxServerError(f"Proxmox answered {method} {template} without a data envelope")
        except ProxmoxError as exc:
            if blames_host(exc):
                breaker.record_failure()
            else:
                breaker.record_success()
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            breaker.record_failure()
            raise error_from_exception(exc, method=method, template=template, timeout=seconds) from exc
        except BaseException:
            breaker.release()
            raise
        finally:
            if self._on_request is not None:
                self._on_request(method, template, status, time.perf_counter() - started)
        breaker.record_success()
        return envelope

    # --- ticket auth --------------------------------------------------------------------------

    async def _ensure_ticket(self) -> None:
        at = self._ticket_at
        if at is not None and self._clock() - at < self._renew_after:
            return
        async with self._auth_lock:
            at = self._ticket_at
            if at is not None and self._clock() - at < self._renew_after:
                return
            if at is not None and self._clock() - at < TICKET_LIFETIME - 300:
                try:
                    await self._login(renew=True)
                    return
                except ProxmoxAuthError:
                    _log.info("proxmox_ticket_renewal_refused")
            await self._login(renew=False)

    async def _relogin(self, seen_generation: int) -> None:
        async with self._auth_lock:
            if self._auth_generation == seen_generation:
                await self._login(renew=False)

    async def _login(self, *, renew: bool) -> None:
        assert self._username is not None
        assert self._password is not None
        secret = self._ticket if renew and self._ticket else self._password.get_secret_value()
        body = urlencode({"username": self._username, "password": secret}).encode()
        url = URL(self.base_url + "/access/ticket", encoded=True)
        try:
            envelope = await self._send(
                "POST",
                url,
                body,
                headers=self._form_type,
                template="/access/ticket",
                limit=self._client_timeouts["write"],
            )
        except ProxmoxAuthError as exc:
            what = exc.what.replace("Cardinal's credentials", f"the login for {self._username}", 1)
            raise ProxmoxAuthError(what, status=exc.status) from None
        data = envelope.get("data")
        if not isinstance(data, dict) or data.get("NeedTFA"):
            raise ProxmoxAuthError(
                f"Proxmox wants two-factor authentication for {self._username}; Cardinal cannot answer it",
                hint="Use an API token (PROXMOX_TOKEN and PROXMOX_SECRET) instead of a password.",
            )
        ticket, csrf = data.get("ticket"), data.get("CSRFPreventionToken")
        if not isinstance(ticket, str) or not isinstance(csrf, str):
            raise ProxmoxAuthError("Proxmox answered the login without a ticket")
        self._ticket = ticket
        self._ticket_at = self._clock()
        self._auth_generation += 1
        self._read_headers = {"Cookie": f"PVEAuthCookie={ticket}"}
        self._write_headers = {**self._read_headers, "CSRFPreventionToken": csrf}
        self._form_headers = {**self._write_headers, **self._form_type}
        _log.info("proxmox_ticket_renewed" if renew else "proxmox_logged_in", user=self._username)
