"""``python -m bench.world``: the outside world of a benchmarked Cardinal process, in a process of its own.

Serves the Proxmox simulator over HTTPS (real clock, a known API token) and the fake Slack Web API
(``tests.fakes.slack.FakeSlack``, plus ``GET /bench/stats`` with call counts) on free localhost ports,
then prints one ``WORLD {json}`` line with everything a Cardinal process needs, and serves until
SIGTERM. ``--running N`` starts N long ``vzstart`` tasks and lists their UPIDs in the JSON (for ledger
rows that Cardinal follows); ``--guests N`` adds N running containers (a busy cluster; from VMID 20000,
outside Cardinal's range, unless ``--guest-base`` says otherwise).

The fake Slack is served over HTTPS, as real Slack is (a self-signed certificate whose PEM file clients
trust through ``SSL_CERT_FILE``), so every new connection costs a TLS handshake.
``GET /bench/view?callback_id=…`` returns the latest modal with that callback id opened or updated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import ssl
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Child, bench_env, free_port, module, spawn

WORLD_PREFIX = "WORLD "
TOKEN_ID = "cardinal@pve!bench"
TOKEN_SECRET = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
BOT_TOKEN = "xoxb-bench-bot-token"
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
USERS = ("U0REQUEST", "U0APPROVE", "U0OTHER01")
APPROVER = "U0APPROVE"
APPROVALS = "C0APPROVE"
NODES = ("pve", "pve2", "pve3")
CHANNEL_DEFAULT = "C0LAB0001"


@dataclass(frozen=True)
class World:
    """How to reach a running world process."""

    child: Child
    proxmox_port: int
    fingerprint: str
    slack_url: str
    upids: list[str]
    ca_file: str

    def env(self, database_url: str, policy_file: Path, **extra: str) -> dict[str, str]:
        """Environment for ``cardinal run`` against this world."""
        return bench_env(
            PROXMOX_HOST="127.0.0.1",
            PROXMOX_PORT=str(self.proxmox_port),
            PROXMOX_TOKEN=TOKEN_ID,
            PROXMOX_SECRET=TOKEN_SECRET,
            PROXMOX_FINGERPRINT=self.fingerprint,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.slack_url,
            DATABASE_URL=database_url,
            POLICY_FILE=str(policy_file),
            SSL_CERT_FILE=self.ca_file,
            **extra,
        )

    def stats(self) -> dict[str, Any]:
        """What the fake Slack has seen (calls per method, response_url posts)."""
        import urllib.request

        base = self.slack_url.removesuffix("/api/")
        with urllib.request.urlopen(f"{base}/bench/stats", timeout=10, context=self.ssl()) as resp:  # noqa: S310
            doc = json.loads(resp.read())
        assert isinstance(doc, dict)
        return doc

    def view(self, callback_id: str) -> dict[str, Any] | None:
        """The latest modal with ``callback_id`` opened or updated, or ``None``."""
        import urllib.parse
        import urllib.request

        base = self.slack_url.removesuffix("/api/")
        query = urllib.parse.urlencode({"callback_id": callback_id})
        with urllib.request.urlopen(f"{base}/bench/view?{query}", timeout=10, context=self.ssl()) as resp:  # noqa: S310
            doc = json.loads(resp.read())
        return doc if isinstance(doc, dict) and doc else None

    def ssl(self) -> Any:
        """A client SSL context that trusts the world's certificate."""
        import ssl

        return ssl.create_default_context(cafile=self.ca_file)

    def stop(self) -> None:
        self.child.stop()


def write_policy(path: Path) -> Path:
    """A small policy: one approver, an approval channel, a quota large enough for a benchmark's
    requests, defaults otherwise."""
    path.write_text(
        f'approvers = ["{APPROVER}"]\napproval_channel = "{APPROVALS}"\n'
        "[quota]\nmax_containers = 10000\ntotal_memory_mib = 100000000\ntotal_disk_gib = 1000000\n"
    )
    return path


def start_world(*, running: int = 0, guests: int = 0, guest_base: int = 20000) -> World:
    """Start ``python -m bench.world`` and wait for its ``WORLD`` line."""
    args = ["--running", str(running), "--guests", str(guests), "--guest-base", str(guest_base)]
    child = spawn(module("bench.world", *args))
    doc = child.json_line(WORLD_PREFIX, timeout=60)
    return World(
        child=child,
        proxmox_port=int(doc["proxmox_port"]),
        fingerprint=str(doc["fingerprint"]),
        slack_url=str(doc["slack_url"]),
        upids=[str(u) for u in doc["upids"]],
        ca_file=str(doc["ca_file"]),
    )


def _slack_tls() -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and the certificate's file."""
    from cardinal_sim.proxmox import make_self_signed_cert

    cert = make_self_signed_cert("127.0.0.1")
    tmp = tempfile.mkdtemp(prefix="cardinal-bench-world-")
    ca_file, key_file = Path(tmp, "slack.pem"), Path(tmp, "slack.key")
    ca_file.write_bytes(cert.cert_pem)
    key_file.write_bytes(cert.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca_file, key_file)
    return ctx, ca_file


async def _serve(running: int, guests: int, guest_base: int) -> None:
    from aiohttp import web

    from cardinal_sim.proxmox import Simulator, serve
    from tests.fakes.slack import FakeSlack

    sim = Simulator(nodes=len(NODES), speed=1.0, seed=1, duration_spread=0.3)
    sim.add_token(TOKEN_ID, TOKEN_SECRET)
    sim.add_container(100, "pve", status="running", hostname="bench-web", tags="bench")
    upids = [
        sim.start_task(NODES[i % len(NODES)], "vzstart", str(5000 + i), TOKEN_ID, duration=86400.0).upid
        for i in range(running)
    ]
    for i in range(guests):
        sim.add_container(guest_base + i, NODES[i % len(NODES)], status="running", hostname=f"busy-{i}")
    proxmox = await serve(sim, tls=True)
    # Real Slack checks blocks on its own machines: skip the fake's (CPU-heavy) block validation here,
    # the end-to-end tests cover it.
    slack = FakeSlack(validate_blocks=False)
    for user in USERS:
        slack.add_user(user)
    app = slack.app()

    async def stats(_: web.Request) -> web.Response:
        calls = Counter(c.method for c in slack.recorded)
        hooks = sum(len(v) for v in slack.hooks.values())
        return web.json_response({"calls": dict(calls), "hooks": hooks})

    async def view(request: web.Request) -> web.Response:
        callback_id = request.query.get("callback_id")
        for call in reversed(slack.recorded):
            if call.method not in ("views.open", "views.update"):
                continue
            v = call.params.get("view")
            v = json.loads(v) if isinstance(v, str) else v
            if isinstance(v, dict) and v.get("callback_id") == callback_id:
                return web.json_response(v)
        return web.json_response({})

    app.router.add_get("/bench/stats", stats)
    app.router.add_get("/bench/view", view)
    ssl_ctx, ca_file = _slack_tls()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_ctx).start()
    doc = {
        "proxmox_port": proxmox.port,
        "fingerprint": proxmox.fingerprint,
        "slack_url": f"https://127.0.0.1:{port}/api/",
        "upids": upids,
        "ca_file": str(ca_file),
    }
    print(WORLD_PREFIX + json.dumps(doc), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await proxmox.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--running", type=int, default=0, help="long-running tasks to start on the simulator")
    p.add_argument("--guests", type=int, default=0, help="extra running containers (a busy cluster)")
    p.add_argument("--guest-base", type=int, default=20000, help="VMID of the first extra container")
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.running, args.guests, args.guest_base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
