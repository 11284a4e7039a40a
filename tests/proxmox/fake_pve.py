"""A small local fake Proxmox VE API for the client tests (aiohttp app, no network).

It reproduces what the client depends on (docs/proxmox-api.md): the ``{"data": …}`` envelope, errors as
reason phrase + JSON body (with ``message`` from libpve-http-server 5.2.0, or reason-only before it),
401s with empty bodies, token and ticket auth with CSRF on writes, strict form booleans, DELETE without
body, ``nextid`` as a string, ``interfaces`` null for stopped CTs, UPIDs and task logs with ``total``.

Tests steer it through data: :meth:`FakePVE.script` queues canned answers (errors, connection resets,
slow answers) for one method and path; every request is recorded in :attr:`FakePVE.requests`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

TOKEN_ID = "cardinal@pve!bot"
TOKEN_SECRET = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
USERNAME = "cardinal@pve"
PASSWORD = "correct horse battery"
NODE = "pve"
BOOLEAN_PARAMS = {
    "force",
    "purge",
    "destroy-unreferenced-disks",
    "start",
    "unprivileged",
    "onboot",
    "forceStop",
}


@dataclass
class Seen:
    """One request as the fake received it (path is decoded, below ``/api2/json``)."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class Scripted:
    """A canned answer: an error (status + message [+ errors]), a reset, or a delay before answering."""

    status: int = 200
    message: str = ""
    errors: dict[str, str] | None = None
    data: Any = None
    reset: bool = False
    delay: float = 0.0
    reason_only: bool | None = None
    raw: bytes | None = None


@dataclass
class FakeTask:
    upid: str
    status: str = "stopped"
    exitstatus: str | None = "OK"
    log: list[str] = field(default_factory=lambda: ["TASK OK"])


def make_upid(node: str, kind: str, ident: str, serial: int, user: str = TOKEN_ID) -> str:
    pid, pstart, starttime = 0x1000 + serial, 0x2000 + serial, 0x68D7279C + serial
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{ident}:{user}:"


class FakePVE:
    """State and behaviour of the fake; ``app()`` builds the aiohttp application."""

    def __init__(self, *, error_format: Literal["message", "reason"] = "message") -> None:
        self.error_format = error_format
        self.requests: list[Seen] = []
        self.scripts: dict[tuple[str, str], deque[Scripted]] = {}
        self.containers: dict[int, dict[str, Any]] = {
            101: {"status": "running", "config": {"hostname": "web", "memory": 512, "net0": "name=eth0"}},
            102: {"status": "stopped", "config": {"hostname": "db", "memory": 1024}},
        }
        self.tasks: dict[str, FakeTask] = {}
        self.tickets: dict[str, str] = {}  # ticket -> CSRF token
        self.logins: list[str] = []  # "password" or "ticket" per successful /access/ticket
        self.nextid: int = 103
        self.interfaces_84 = True
        self._serial = 0

    # --- test controls ------------------------------------------------------------------------------

    def script(self, method: str, path: str, *answers: Scripted) -> None:
        """Queue canned answers for ``method path`` (decoded path below /api2/json); used in order."""
        self.scripts.setdefault((method, path), deque()).extend(answers)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    def last(self, method: str, path: str) -> Seen:
        return [r for r in self.requests if r.method == method and r.path == path][-1]

    def forget_tickets(self) -> None:
        """Simulate expired tickets (or a restarted cluster): every issued ticket is now refused."""
        self.tickets.clear()

    def add_task(
        self,
        kind: str,
        ident: str,
        *,
        status: str = "stopped",
        exitstatus: str | None = "OK",
        log: list[str] | None = None,
        node: str = NODE,
    ) -> str:
        self._serial += 1
        upid = make_upid(node, kind, ident, self._serial)
        self.tasks[upid] = FakeTask(
            upid, status, exitstatus, log if log is not None else [f"TASK {exitstatus}"]
        )
        return upid

    # --- http ----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api2/json/{path:.*}", self._handle)
        return app

    def error(
        self, status: int, message: str, errors: dict[str, str] | None = None, reason_only: bool | None = None
    ) -> web.Response:
        reason = message.split("\n", 1)[0]
        if status == 401 and not message.startswith("authentication failure"):
            return web.Response(status=status, reason=reason)
        doc: dict[str, Any] = {"data": None}
        if errors:
            doc["errors"] = errors
        if not (reason_only if reason_only is not None else self.error_format == "reason"):
            doc["message"] = message if message.endswith("\n") else message + "\n"
        return web.Response(
            status=status, reason=reason, body=json.dumps(doc).encode(), content_type="application/json"
        )

    @staticmethod
    def ok(data: Any, **extra: Any) -> web.Response:
        return web.Response(
            body=json.dumps({"data": data, **extra}).encode(), content_type="application/json"
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body = await request.read()
        seen = Seen(request.method, path, dict(request.query), body, dict(request.headers))
        self.requests.append(seen)
        queue = self.scripts.get((request.method, path))
        if queue:
            answer = queue.popleft()
            if answer.reset:
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.raw is not None:
                return web.Response(status=answer.status, body=answer.raw, content_type="text/html")
            if answer.status != 200:
                return self.error(answer.status, answer.message, answer.errors, answer.reason_only)
            return self.ok(answer.data)
        if request.method in ("GET", "DELETE") and body:
            return self.error(501, f"Unexpected content for method '{request.method}'")
        params = dict(request.query)
        if request.method in ("POST", "PUT"):
            params.update(seen.form)
        for key in BOOLEAN_PARAMS & params.keys() if request.method != "GET" else ():
            if params[key] not in ("0", "1"):
                return self.error(
                    400,
                    "Parameter verification failed.",
                    {key: f"type check ('boolean') failed - got '{params[key]}'"},
                )
        if path == "/access/ticket" and request.method == "POST":
            return self._login(params)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        return self._route(request.method, path, params)

    def _authenticate(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("PVEAPIToken="):
            if auth != f"PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}":
                return self.error(401, "Authentication failed!")
            return None
        ticket = request.cookies.get("PVEAuthCookie")
        if ticket is None:
            return self.error(401, "No ticket")
        if ticket not in self.tickets:
            return self.error(401, "Authentication failed!")
        if request.method != "GET" and request.headers.get("CSRFPreventionToken") != self.tickets[ticket]:
            return self.error(401, "Permission denied - invalid csrf token")
        return None

    def _login(self, params: dict[str, str]) -> web.Response:
        password = params.get("password", "")
        if params.get("username") != USERNAME or (password != PASSWORD and password not in self.tickets):
            return self.error(401, "authentication failure")
        self.logins.append("ticket" if password in self.tickets else "password")
        n = len(self.logins)
        ticket = f"PVE:{USERNAME}:{0x6743A1B2 + n:08X}::c2lnbmF0dXJl{n}=="
        csrf = f"{0x6743A1B2 + n:08X}:csrf{n}"
        self.tickets[ticket] = csrf
        return self.ok({"username": USERNAME, "ticket": ticket, "CSRFPreventionToken": csrf, "cap": {}})

    # --- endpoints -----------------------------------------------------------------------------

    def _route(self, method: str, path: str, params: dict[str, str]) -> web.Response:
        if path == "/version":
            return self.ok({"version": "9.1.2", "release": "9.1", "repoid": "14a22df35955d97d"})
        if path == "/nodes":
            return self.ok(
                [{"node": NODE, "status": "online", "maxmem": 8 << 30, "mem": 2 << 30, "type": "node"}]
            )
        if path == "/cluster/resources":
            return self.ok(
                [
                    {"id": f"lxc/{vmid}", "type": "lxc", "vmid": vmid, "node": NODE, "status": ct["status"]}
                    for vmid, ct in self.containers.items()
                ]
            )
        if path == "/cluster/nextid":
            if "vmid" in params:
                if int(params["vmid"]) in self.containers:
                    return self.error(
                        400, "Parameter verification failed.", {"vmid": f"VM {params['vmid']} already exists"}
                    )
                return self.ok(params["vmid"])
            return self.ok(str(self.nextid))
        if path == "/access/permissions":
            return self.ok({"/": {"Sys.Audit": 1}, "/vms": {"VM.Audit": 1, "VM.PowerMgmt": 0}})
        if path == "/cluster/tasks":
            return self.ok([self._task_item(t) for t in self.tasks.values()])
        m = re.fullmatch(r"/nodes/([^/]+)/(.*)", path)
        if m is None:
            return self.error(501, f"Method '{method} {path}' not implemented")
        node, rest = m.groups()
        return self._node_route(method, node, rest, params)

    def _node_route(
        self,
        method: str,
        node: str,
        rest: str,
        params: dict[str, str],
    ) -> web.Response:
        if rest == "lxc" and method == "GET":
            return self.ok(
                [
                    {"vmid": str(v), "status": c["status"], "name": c["config"]["hostname"]}
                    for v, c in self.containers.items()
                ]
            )
        if rest == "lxc" and method == "POST":
            vmid = int(params["vmid"])
            if vmid in self.containers:
                return self.error(500, f"CT {vmid} already exists on node '{node}'")
            self.containers[vmid] = {"status": "stopped", "config": {"hostname": params.get("hostname", "")}}
            return self.ok(self.add_task("vzcreate", str(vmid), node=node))
        if rest == "tasks":
            items = [self._task_item(t) for t in self.tasks.values()]
            return self.ok(items, total=len(items))
        if rest == "aplinfo":
            if method == "POST":
                return self.ok(self.add_task("download", params["template"], node=node))
            return self.ok(
                [
                    {
                        "template": "debian-13-standard_13.6-1_amd64.tar.zst",
                        "package": "debian-13-standard",
                        "os": "debian-13",
                        "type": "lxc",
                        "headline": "Debian 13 Trixie (standard)",
                    }
                ]
            )
        m = re.fullmatch(r"storage/([^/]+)/content", rest)
        if m:
            return self.ok(
                [
                    {
                        "volid": f"{m.group(1)}:vztmpl/debian-13-standard_13.6-1_amd64.tar.zst",
                        "content": params.get("content", "vztmpl"),
                        "format": "tzst",
                        "size": 129234567,
                    }
                ]
            )
        m = re.fullmatch(r"tasks/([^/]+)(/status|/log)?", rest)
        if m:
            return self._task_route(method, m.group(1), m.group(2) or "", params)
        m = re.fullmatch(r"lxc/(\d+)(/.*)?", rest)
        if m:
            return self._ct_route(method, node, int(m.group(1)), m.group(2) or "", params)
        return self.error(501, f"Method '{method} /nodes/{node}/{rest}' not implemented")

    def _ct_route(
        self,
        method: str,
        node: str,
        vmid: int,
        sub: str,
        params: dict[str, str],
    ) -> web.Response:
        if sub.startswith("/status/") and method == "POST":
            return self._power(node, vmid, sub.removeprefix("/status/"))
        ct = self.containers.get(vmid)
        if ct is None and sub != "/interfaces":
            return self.error(500, f"Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist")
        if sub == "/interfaces":
            if ct is None or ct["status"] != "running":
                return self.ok(None)
            lo = {"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"}
            eth0: dict[str, Any] = {
                "name": "eth0",
                "hwaddr": "bc:24:11:89:67:07",
                "inet": "192.168.3.96/22",
                "inet6": "fe80::be24:11ff:fe89:6707/64",
            }
            if self.interfaces_84:
                eth0["hardware-address"] = eth0["hwaddr"]
                eth0["ip-addresses"] = [
                    {"ip-address-type": "inet", "ip-address": "192.168.3.95", "prefix": 22},
                    {"ip-address-type": "inet", "ip-address": "192.168.3.96", "prefix": 22},
                    {"ip-address-type": "inet6", "ip-address": "fe80::be24:11ff:fe89:6707", "prefix": 64},
                ]
            return self.ok([lo, eth0])
        assert ct is not None
        if sub == "/config" and method == "GET":
            return self.ok({**ct["config"], "digest": "0" * 40})
        if sub == "/config" and method == "PUT":
            ct["config"].update(params)
            return self.ok(None)
        if sub == "/status/current":
            return self.ok(
                {
                    "vmid": vmid,
                    "type": "lxc",
                    "status": ct["status"],
                    "name": ct["config"]["hostname"],
                    "maxmem": 536870912,
                    "uptime": 3600 if ct["status"] == "running" else 0,
                }
            )
        if sub == "" and method == "DELETE":
            if ct["status"] == "running" and params.get("force") != "1":
                return self.error(500, f"unable to destroy CT {vmid} - container is running")
            del self.containers[vmid]
            return self.ok(self.add_task("vzdestroy", str(vmid), node=node))
        return self.error(501, f"Method '{method} /nodes/{node}/lxc/{vmid}{sub}' not implemented")

    def _power(self, node: str, vmid: int, action: str) -> web.Response:
        ct = self.containers.get(vmid, {"status": "stopped"})
        running = ct["status"] == "running"
        if action not in {"start", "stop", "shutdown", "reboot", "suspend", "resume"}:
            return self.error(501, f"Method 'POST /nodes/{node}/lxc/{vmid}/status/{action}' not implemented")
        if action in ("start", "resume") and running:
            return self.error(500, f"CT {vmid} already running")
        if action == "reboot" and not running:
            return self.error(500, f"VM {vmid} not running")
        if action in ("stop", "shutdown", "suspend") and not running:
            return self.error(500, f"CT {vmid} not running")
        if vmid in self.containers:
            ct["status"] = "stopped" if action in ("stop", "shutdown", "suspend") else "running"
        return self.ok(self.add_task(f"vz{action}", str(vmid), node=node))

    def _task_route(self, method: str, upid: str, sub: str, params: dict[str, str]) -> web.Response:
        task = self.tasks.get(upid)
        if task is None:
            return self.error(400, "Parameter verification failed.", {"upid": "no such task"})
        if method == "DELETE":
            task.status, task.exitstatus = "stopped", "received interrupt"
            task.log.append("TASK ERROR: received interrupt")
            return self.ok(None)
        if sub == "/status":
            doc: dict[str, Any] = {
                "upid": upid,
                "node": upid.split(":")[1],
                "type": upid.split(":")[5],
                "id": upid.split(":")[6],
                "user": TOKEN_ID,
                "status": task.status,
                "starttime": 1758930844,
                "pid": 4096,
            }
            if task.status == "stopped":
                doc["exitstatus"] = task.exitstatus
            return self.ok(doc)
        start, limit = int(params.get("start", 0)), int(params.get("limit", 50))
        lines = task.log[start:] if limit == 0 else task.log[start : start + limit]
        return self.ok([{"n": start + i + 1, "t": t} for i, t in enumerate(lines)], total=len(task.log))

    def _task_item(self, task: FakeTask) -> dict[str, Any]:
        parts = task.upid.split(":")
        item: dict[str, Any] = {
            "upid": task.upid,
            "node": parts[1],
            "type": parts[5],
            "id": parts[6],
            "user": TOKEN_ID,
            "starttime": 1758930844,
        }
        if task.status == "stopped":
            item.update(endtime=1758930900, status=task.exitstatus)
        return item
