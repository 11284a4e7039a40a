"""``cardinal sandbox``: the simulator over HTTPS with a printed token, fingerprint and ``.env`` snippet."""

from __future__ import annotations

import asyncio
import secrets
import sys
import uuid
from typing import TextIO

from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.server import Running, serve
from cardinal_sim.proxmox.state import FaultConfig

SANDBOX_TOKEN = "cardinal@pve!sandbox"  # noqa: S105 - a token id, not a secret


def build_sandbox_simulator(
    *, nodes: int = 3, fault_rate: float = 0.0, speed: float = 1.0, seed: int = 0, auth_delay: float = 0.5
) -> Simulator:
    """A simulator populated like a small lab: a few containers, templates, a full-privilege token."""
    faults = FaultConfig(seed=seed, error_rate=fault_rate, task_failure_rate=fault_rate / 2)
    sim = Simulator(
        nodes=nodes, speed=speed, seed=seed, auth_delay=auth_delay, faults=faults, duration_spread=0.3
    )
    first = next(iter(sim.nodes))
    sim.add_container(100, first, status="running", hostname="sandbox-web", tags="sandbox")
    sim.add_container(101, first, status="stopped", hostname="sandbox-db", tags="sandbox")
    return sim


async def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8006,
    nodes: int = 3,
    fault_rate: float = 0.0,
    speed: float = 1.0,
    seed: int = 0,
    *,
    auth_delay: float = 0.5,
    out: TextIO | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Serve a sandbox simulator over HTTPS until cancelled (Ctrl-C), printing how to connect.

    Prints the URL, the API token id and secret, a root@pam password for ticket auth, the certificate's
    SHA-256 fingerprint and a ready ``.env`` snippet. ``started`` is set once the server listens.
    """
    stream = out or sys.stdout
    sim = build_sandbox_simulator(
        nodes=nodes, fault_rate=fault_rate, speed=speed, seed=seed, auth_delay=auth_delay
    )
    secret = str(uuid.uuid4())
    password = secrets.token_urlsafe(12)
    sim.add_token(SANDBOX_TOKEN, secret)
    sim.add_user("root@pam", password)
    running: Running = await serve(sim, host, port, tls=True)
    node = next(iter(sim.nodes))
    stream.write(
        "Proxmox VE simulator (sandbox) is running.\n"
        f"  URL:          {running.url}/api2/json  (version {sim.version}, nodes: {', '.join(sim.nodes)})\n"
        f"  API token:    {SANDBOX_TOKEN}\n"
        f"  Secret:       {secret}\n"
        f"  Ticket login: root@pam / {password}\n"
        f"  Fingerprint:  {running.fingerprint}\n"
        f"  Faults:       error rate {fault_rate:g}, clock speed {speed:g}x\n"
        "\n# .env snippet\n"
        f"PROXMOX_HOST={running.host}\n"
        f"PROXMOX_PORT={running.port}\n"
        f"PROXMOX_TOKEN={SANDBOX_TOKEN}\n"
        f"PROXMOX_SECRET={secret}\n"
        f"PROXMOX_FINGERPRINT={running.fingerprint}\n"
        f"PROXMOX_NODE={node}\n"
        "\nPress Ctrl-C to stop.\n"
    )
    stream.flush()
    if started is not None:
        started.set()
    try:
        await asyncio.Event().wait()
    finally:
        await running.close()
