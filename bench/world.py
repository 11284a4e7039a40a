"""``python -m bench.world``: the outside world of a benchmarked Cardinal process, in a process of its own.

Serves the Proxmox simulator over HTTPS (real clock, a known API token) and the fake Slack Web API
(``tests.fakes.slack.FakeSlack``, plus ``GET /bench/stats`` with call counts) on free localhost ports,
then prints one ``WORLD {json}`` line with everything a Cardinal process needs, and serves until
SIGTERM. ``--running N`` starts N long ``vzstart`` tasks and lists their UPIDs in the JSON (for ledger
rows that Cardinal follows).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
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
            **extra,
        )

    def stats(self) -> dict[str, Any]:
        """What the fake Slack has seen (calls per method, response_url posts)."""
        import urllib.request

        base = self.slack_url.removesuffix("/api/")
        with urllib.request.urlopen(f"{base}/bench/stats", timeout=10) as resp:  # noqa: S310 - localhost
            doc = json.loads(resp.read())
        assert isinstance(doc, dict)
        return doc

    def stop(self) -> None:
        self.child.stop()


def write_policy(path: Path) -> Path:
    """A small policy: one approver, an approval channel, defaults otherwise."""
    path.write_text(f'approvers = ["{APPROVER}"]\napproval_channel = "{APPROVALS}"\n')
    return path


def start_world(*, running: int = 0) -> World:
    """Start ``python -m bench.world`` and wait for its ``WORLD`` line."""
    child = spawn(module("bench.world", "--running", str(running)))
    doc = child.json_line(WORLD_PREFIX, timeout=60)
    return World(
        child=child,
        proxmox_port=int(doc["proxmox_port"]),
        fingerprint=str(doc["fingerprint"]),
        slack_url=str(doc["slack_url"]),
        upids=[str(u) for u in doc["upids"]],
    )


async def _serve(running: int) -> None:
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

    app.router.add_get("/bench/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    doc = {
        "proxmox_port": proxmox.port,
        "fingerprint": proxmox.fingerprint,
        "slack_url": f"http://127.0.0.1:{port}/api/",
        "upids": upids,
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
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.running))
    return 0


if __name__ == "__main__":
    sys.exit(main())
