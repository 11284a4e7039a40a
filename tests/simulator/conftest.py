"""Fixtures for the simulator tests: a frozen-clock simulator served over plain HTTP, and a tiny client
that talks to it with ``aiohttp.ClientSession`` (the project's Proxmox client is tested elsewhere)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from cardinal_sim.proxmox import Running, Simulator, serve

TOKEN = "cardinal@pve!bot"
SECRET = "5f3c4a1e-0000-4000-8000-000000000001"
DEBIAN = "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst"


@dataclass
class Answer:
    """One HTTP answer, decoded."""

    status: int
    reason: str
    text: str
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def data(self) -> Any:
        return self.json["data"]


class Api:
    """Raw HTTP against the simulator. ``auth`` is the Authorization header (token by default)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, auth: str | None) -> None:
        self.session = session
        self.base = base
        self.auth = auth

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: Any = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
        client_timeout: float | None = None,
    ) -> Answer:
        hdrs = dict(headers or {})
        if self.auth is not None and "Authorization" not in hdrs:
            hdrs["Authorization"] = self.auth
        kwargs: dict[str, Any] = {"params": params, "headers": hdrs, "cookies": cookies}
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        if client_timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=client_timeout)
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            text = await resp.text()
            return Answer(resp.status, resp.reason or "", text, dict(resp.headers))

    async def get(self, path: str, **kw: Any) -> Answer:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Answer:
        return await self.call("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Answer:
        return await self.call("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Answer:
        return await self.call("DELETE", path, **kw)

    async def create(self, vmid: int, node: str = "pve", **params: Any) -> Answer:
        body = {"vmid": str(vmid), "ostemplate": DEBIAN, **params}
        return await self.post(f"/nodes/{node}/lxc", data=body)

    async def task_status(self, upid: str) -> dict[str, Any]:
        node = upid.split(":")[1]
        answer = await self.get(f"/nodes/{node}/tasks/{upid}/status")
        assert answer.status == 200, answer.text
        status: dict[str, Any] = answer.data
        return status

    async def task_log(self, upid: str) -> list[str]:
        node = upid.split(":")[1]
        answer = await self.get(f"/nodes/{node}/tasks/{upid}/log", params={"limit": "0"})
        return [line["t"] for line in answer.data]


@pytest.fixture
def sim() -> Simulator:
    """Two nodes (``pve``, ``pve2``), frozen clock, a token with every privilege."""
    simulator = Simulator(nodes=2, speed=0, seed=7)
    simulator.add_token(TOKEN, SECRET)
    return simulator


@pytest.fixture
async def running(sim: Simulator) -> AsyncIterator[Running]:
    """``sim`` served over plain HTTP on a free port."""
    handle = await serve(sim)
    yield handle
    await handle.close()
    assert sim.internal_errors == [], "the simulator crashed while handling a request"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session with its own cookie jar switched off (cookies are passed explicitly)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        yield s


@pytest.fixture
def api(running: Running, session: aiohttp.ClientSession) -> Api:
    """Client authenticated with the full-privilege token."""
    return Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")


@pytest.fixture
def api_as(running: Running, session: aiohttp.ClientSession) -> Callable[[str | None], Api]:
    """Client factory with an arbitrary Authorization header (``None`` = no credentials)."""

    def make(auth: str | None) -> Api:
        return Api(session, running.api_url, auth)

    return make
