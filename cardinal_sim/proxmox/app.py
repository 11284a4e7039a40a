"""The HTTP face of the simulator: pve-http-server's request handling as an ``aiohttp.web`` app.

Order of events for a request (as in pveproxy/pvedaemon): faults → authentication (401s with an empty
body, after ``auth_delay``) → body extraction (GET/DELETE with a body → 501) → handler lookup (501) →
token restriction and schema permissions (403) → node resolution (500/595) → parameter validation
(400) → the handler. Every answer is recorded in ``sim.request_log``.
"""

from __future__ import annotations

import asyncio
import json
import re
import traceback
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from cardinal_sim.proxmox import api_cluster, api_lxc, api_pools, api_snapshot, ha, tags
from cardinal_sim.proxmox.api_cluster import proxy_target
from cardinal_sim.proxmox.auth import Identity
from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.errors import ApiError, auth_error, die, perm_error
from cardinal_sim.proxmox.routes import HANDLERS, Ctx, Paged
from cardinal_sim.proxmox.schema import Endpoint, normalize_lists, validate
from cardinal_sim.proxmox.state import Credential, RequestRecord

SIM_KEY = web.AppKey("sim", Simulator)
_PATH_RE = re.compile(r"^/api2/+([a-z][a-z0-9]+)(/.*)?$")
_FAULT_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    595: "Connection refused",
    596: "Connection timed out",
}
_ = (api_cluster, api_lxc, api_pools, api_snapshot, ha, tags)  # importing them registers their routes


def make_app(sim: Simulator) -> web.Application:
    """An aiohttp application serving ``sim`` under ``/api2/json``."""
    app = web.Application(client_max_size=4 << 20)
    app[SIM_KEY] = sim
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


def _headers() -> dict[str, str]:
    return {
        "Server": "pve-api-daemon/3.0",
        "Cache-Control": "max-age=0",
        "Pragma": "no-cache",
        "Expires": formatdate(usegmt=True),
    }


def _reason(message: str, status: int) -> str:
    first = message.split("\n", 1)[0].strip()
    first = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in first)
    return first or _FAULT_REASONS.get(status, "Error")


def _json_response(
    request: web.Request, payload: dict[str, Any], status: int = 200, reason: str | None = None
) -> web.Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    resp = web.Response(status=status, reason=reason, body=body, headers=_headers())
    resp.headers["Content-Type"] = "application/json;charset=UTF-8"
    if len(body) > 1024 and "gzip" in request.headers.get("Accept-Encoding", ""):
        resp.enable_compression()
    return resp


async def error_response(request: web.Request, sim: Simulator, exc: ApiError) -> web.Response:
    """Render an ``ApiError`` as pve-http-server does; 401s wait ``sim.auth_delay`` first."""
    if exc.status == 401 and sim.auth_delay > 0:
        await asyncio.sleep(sim.auth_delay)
    reason = _reason(exc.message, exc.status)
    if exc.empty_body:
        resp = web.Response(status=exc.status, reason=reason, headers=_headers())
    else:
        payload: dict[str, Any] = {"data": None}
        if exc.errors:
            payload["errors"] = exc.errors
        if sim.message_in_body:
            payload["message"] = exc.message
        resp = _json_response(request, payload, exc.status, reason)
    resp.force_close()
    return resp


def _multi(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


async def _extract_params(request: web.Request) -> dict[str, Any]:
    method = request.method
    raw = await request.read()
    params: dict[str, Any] = {}
    if method in ("POST", "PUT"):
        if raw:
            if request.content_type == "application/json":
                try:
                    decoded = json.loads(raw)
                except ValueError as exc:
                    raise die(f"malformed JSON string: {exc}") from None
                if not isinstance(decoded, dict):
                    raise die("malformed JSON string: expected an object")
                params.update(decoded)
            else:
                params.update(_multi(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
    elif raw:
        raise ApiError(501, f"Unexpected content for method '{method}'\n")
    query = _multi(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
    params.update(query)
    params.pop("_dc", None)
    return params


def _authenticate(request: web.Request, sim: Simulator, public: bool) -> Identity | None:
    """Cookie ticket, then ``PVEAuthCookie=`` in Authorization, then ``PVEAPIToken``."""
    authz = request.headers.get("Authorization", "")
    ticket = request.cookies.get("PVEAuthCookie")
    if ticket is None:
        m = re.search(r"(?:^|\s)PVEAuthCookie=([^;]*)", authz)
        ticket = m.group(1) if m else None
    if ticket:
        ident = sim.access.ticket_identity(unquote(ticket))
        if ident is None:
            if public:
                return None
            raise auth_error("Authentication failed!")
        if request.method != "GET" and not public:
            csrf = request.headers.get("CSRFPreventionToken")
            if not sim.access.verify_csrf(ident.userid, csrf):
                raise auth_error("Permission denied - invalid csrf token")
        return ident
    m = re.search(r"(?:^|\s)PVEAPIToken(?:=| )([^;]*)", authz)
    if m is not None:
        ident = sim.access.token(unquote(m.group(1)).strip())
        if ident is None and not public:
            raise auth_error("Authentication failed!")
        return ident
    if public:
        return None
    raise auth_error("No ticket")


def _check_schema_permissions(sim: Simulator, ident: Identity, ep: Endpoint, params: dict[str, Any]) -> None:
    check = ep.permissions.get("check")
    if not isinstance(check, list) or not check or check[0] != "perm":
        return
    path = re.sub(r"\{(\w+)\}", lambda m: str(params.get(m.group(1), "")), str(check[1]))
    privs = [str(p) for p in check[2]]
    any_of = len(check) > 4 and check[3] == "any" and bool(check[4])
    sim.access.check(ident, path, privs, any_of=any_of)


async def _dispatch(request: web.Request, sim: Simulator, rec: RequestRecord) -> web.Response:
    m = _PATH_RE.match(request.path)
    if m is None:
        raise ApiError(501, "no such uri\n")
    if m.group(1) != "json":
        raise ApiError(501, f"unsupported format '{m.group(1)}'\n")
    rel = (m.group(2) or "/").rstrip("/") or "/"
    rel = re.sub(r"/+", "/", rel)
    rec.path = rel
    method = request.method
    match = sim.schema.match(method, rel)
    public = match is not None and match[0].permissions.get("user") == "world"
    ident = _authenticate(request, sim, public)
    if ident is not None:
        rec.user = ident.userid
    params = await _extract_params(request)
    rec.params = {k: ("***" if k == "password" else v) for k, v in params.items()}
    if match is None or (method, match[0].path) not in HANDLERS:
        raise ApiError(501, f"Method '{method} {rel}' not implemented")
    ep, uri_params = match
    if ep.path.endswith("/interfaces") and "/lxc/" in ep.path and sim.version_tuple < (8, 1, 0):
        raise ApiError(501, f"Method '{method} {rel}' not implemented")
    for key, value in uri_params.items():
        if key in params and params[key] != value:
            raise ApiError(
                400,
                "Parameter verification failed.\n",
                errors={key: "duplicate parameter (already defined in URI) with conflicting values!"},
            )
        params[key] = value
    if ident is not None and ident.is_token and not ep.allowtoken:
        raise perm_error(f"URI '{rel}' not available with API token, need proper ticket.\n")
    if ident is not None:
        _check_schema_permissions(sim, ident, ep, params)
    if "node" in uri_params:
        proxy_target(sim.nodes, uri_params["node"])
    coerced = validate(ep, normalize_lists(ep, params))
    anonymous = Identity("", _ANON, is_token=False, via_ticket=False)
    ctx = Ctx(sim, ident or anonymous, ep, coerced, method, rel)
    result = await HANDLERS[(method, ep.path)](ctx)
    if isinstance(result, Paged):
        payload: dict[str, Any] = {"data": result.data}
        if result.total:
            payload["total"] = result.total
    else:
        payload = {"data": result}
    return _json_response(request, payload)


_ANON = Credential(userid="", secret="", privileges={})


def _fault_applies(sim: Simulator, path: str) -> bool:
    f = sim.faults
    if not path.startswith("/api2/"):
        return False
    if not (f.error_rate or f.hang_rate or f.reset_rate or f.latency[1] > 0):
        return False
    return not f.only_paths or any(p in path for p in f.only_paths)


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _handle(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM_KEY]
    sim.tick()
    rec = RequestRecord(method=request.method, path=request.path, params={}, status=0)
    plan: str | None = None
    if _fault_applies(sim, request.path):
        f = sim.faults
        rng = sim.fault_rng()
        r_lat, r_kind, r_code, r_phase = rng.random(), rng.random(), rng.random(), rng.random()
        lo, hi = f.latency
        if hi > 0:
            await asyncio.sleep(lo + (hi - lo) * r_lat)
        phase = "before" if r_phase < 0.5 else "after"
        if r_kind < f.error_rate:
            code = f.error_codes[int(r_code * len(f.error_codes)) % len(f.error_codes)]
            plan = f"status:{code}"
        elif r_kind < f.error_rate + f.hang_rate:
            plan = f"hang:{phase}"
        elif r_kind < f.error_rate + f.hang_rate + f.reset_rate:
            plan = f"reset:{phase}"
    if plan is not None and plan.startswith("status:"):
        code = int(plan.split(":")[1])
        rec.fault, rec.status = plan, code
        sim.request_log.append(rec)
        sim.counters[f"fault:{code}"] += 1
        if code == 500:
            return await error_response(request, sim, ApiError(500, "Internal Server Error\n"))
        return await error_response(
            request, sim, ApiError(code, _FAULT_REASONS.get(code, "Error"), empty_body=True)
        )
    if plan in ("hang:before", "reset:before"):
        return await _disconnect(request, sim, rec, plan)
    try:
        resp = await _dispatch(request, sim, rec)
    except ApiError as exc:
        resp = await error_response(request, sim, exc)
    except Exception as exc:
        sim.internal_errors.append(traceback.format_exc())
        resp = await error_response(request, sim, ApiError(500, f"internal simulator error - {exc!r}\n"))
    rec.status = resp.status
    sim.request_log.append(rec)
    sim.counters[f"{rec.method} {rec.status}"] += 1
    sim.counters["requests"] += 1
    if plan in ("hang:after", "reset:after"):
        rec.fault = plan
        return await _disconnect(request, sim, rec, plan, logged=True)
    return resp


async def _disconnect(
    request: web.Request, sim: Simulator, rec: RequestRecord, plan: str, *, logged: bool = False
) -> web.StreamResponse:
    rec.fault = plan
    sim.counters[f"fault:{plan}"] += 1
    if not logged:
        rec.status = 0
        sim.request_log.append(rec)
    if plan.startswith("hang"):
        await asyncio.sleep(sim.faults.hang_seconds)
    _abort(request)
    return web.Response(status=500, reason="Connection reset")
