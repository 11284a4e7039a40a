"""Fixtures for the integration tests: the Proxmox simulator served over real TLS, the real client pinned to
its certificate, and bounded helpers for tasks, subprocesses and free ports.

The simulator clock is frozen (``speed=0``): only ``sim.advance()`` moves time, so no test waits for a task
in real time.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.proxmox import ProxmoxClient, ProxmoxTaskStatus, RetryPolicy, Upid
from cardinal_sim.proxmox import Running, Simulator, serve
from cardinal_sim.proxmox.app import make_app
from cardinal_sim.proxmox.server import SelfSignedCert, make_self_signed_cert

ROOT = Path(__file__).resolve().parents[2]
CARDINAL = ROOT / ".venv" / "bin" / "cardinal"
TOKEN = "cardinal@pve!bot"
SECRET = "0b9e7a3c-5d21-4f0e-9c8b-7a6d5e4f3a21"
USER = "cardinal@pve"
PASSWORD = "correct horse battery"
DEBIAN = "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst"
WRONG_FINGERPRINT = ":".join(["AB"] * 32)


async def no_sleep(_seconds: float) -> None:
    """Retry back-off that does not wait (the delays themselves are tested in tests/proxmox)."""


FAST_RETRIES = RetryPolicy(sleep=no_sleep)


def make_sim(**kwargs: Any) -> Simulator:
    """A two-node simulator with a frozen clock, no 401 delay, and Cardinal's full-privilege token."""
    options: dict[str, Any] = {"nodes": 2, "speed": 0, "auth_delay": 0.0}
    options.update(kwargs)
    sim = Simulator(**options)
    sim.add_token(TOKEN, SECRET)
    return sim


@pytest.fixture
def sim() -> Simulator:
    """A fresh simulator (see :func:`make_sim`); CT 100 runs and CT 101 is stopped on ``pve``."""
    s = make_sim()
    s.add_container(100, "pve", status="running", hostname="web")
    s.add_container(101, "pve", status="stopped", hostname="db")
    return s


@pytest.fixture
async def served(sim: Simulator) -> AsyncIterator[Running]:
    """``sim`` over HTTPS with a fresh self-signed certificate (``served.fingerprint``)."""
    running = await serve(sim, tls=True)
    try:
        yield running
    finally:
        await running.close()


ClientFactory = Callable[..., ProxmoxClient]


@pytest.fixture
async def make_client(served: Running) -> AsyncIterator[ClientFactory]:
    """Build clients for ``served``: token auth and the pinned fingerprint unless overridden."""
    made: list[ProxmoxClient] = []

    def factory(**overrides: Any) -> ProxmoxClient:
        options: dict[str, Any] = {"fingerprint": served.fingerprint, "retries": FAST_RETRIES}
        if "username" not in overrides:
            options.update(token_id=TOKEN, token_secret=SecretStr(SECRET))
        options.update(overrides)
        client = ProxmoxClient(served.api_url, **options)
        made.append(client)
        return client

    try:
        yield factory
    finally:
        for client in made:
            await client.close()


@pytest.fixture
def px(make_client: ClientFactory) -> ProxmoxClient:
    """The default client: Cardinal's token, certificate pinned."""
    return make_client()


async def finish_task(
    px: ProxmoxClient, sim: Simulator, upid: Upid, *, max_steps: int = 120
) -> ProxmoxTaskStatus:
    """Advance the simulator clock one second at a time until the task has stopped; its final status."""
    for _ in range(max_steps):
        status = await px.task_status(upid)
        if status.status == "stopped":
            return status
        sim.advance(1)
    raise AssertionError(f"task {upid} still running after {max_steps} simulated seconds")


@dataclass
class TlsSite:
    """A simulator served with a certificate the test chooses (so a restart keeps the fingerprint)."""

    runner: web.AppRunner
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


def server_context(cert: SelfSignedCert) -> ssl.SSLContext:
    """A server-side TLS context presenting ``cert``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(cert.cert_pem)
        key_file.write_bytes(cert.key_pem)
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


async def serve_with_cert(sim: Simulator, cert: SelfSignedCert, port: int = 0) -> TlsSite:
    """Serve ``sim`` over HTTPS with ``cert`` on ``port`` (0 = any free port)."""
    ctx = server_context(cert)
    runner = web.AppRunner(make_app(sim), access_log=None, handle_signals=False, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) if server is not None else None
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    return TlsSite(runner, bound)


@pytest.fixture(scope="session")
def sim_cert() -> SelfSignedCert:
    """One self-signed certificate for tests that restart a server and must keep its fingerprint."""
    return make_self_signed_cert("127.0.0.1")


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without Cardinal's settings, plus ``extra``."""
    prefixes = ("PROXMOX_", "SLACK_", "DATABASE_", "POLICY_", "HTTP_PORT", "INTERNAL_PORT", "LOG_")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(prefixes)}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Finished:
    """A finished subprocess: exit code and decoded output."""

    code: int
    stdout: str
    stderr: str


async def run_cardinal(*args: str, env: dict[str, str], cwd: Path, limit: float = 20.0) -> Finished:
    """Run the installed ``cardinal`` console script to completion (killed after ``limit`` seconds)."""
    proc = await asyncio.create_subprocess_exec(
        str(CARDINAL),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"cardinal {' '.join(args)} did not finish within {limit} s") from None
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(), err.decode())


requires_console_script = pytest.mark.skipif(
    not CARDINAL.exists() or sys.platform == "win32", reason=f"{CARDINAL} is not installed"
)
