"""A faithful Proxmox VE API simulator (LXC-focused), shipped for tests, ``cardinal demo`` and
``cardinal sandbox``.

Typical use in tests::

    sim = Simulator(nodes=3, speed=0)          # frozen clock: only sim.advance() moves time
    sim.add_token("cardinal@pve!bot", "secret")
    running = await serve(sim)                 # plain HTTP on a free port; tls=True for HTTPS
    ...                                        # talk to running.api_url
    sim.advance(10)                            # tasks due by then complete
    await running.close()
"""

from __future__ import annotations

from cardinal_sim.proxmox.app import make_app
from cardinal_sim.proxmox.core import DEFAULT_TEMPLATES, Simulator
from cardinal_sim.proxmox.server import Running, make_self_signed_cert, serve
from cardinal_sim.proxmox.state import Container, Credential, FaultConfig, RequestRecord, Task

__all__ = [
    "DEFAULT_TEMPLATES",
    "Container",
    "Credential",
    "FaultConfig",
    "RequestRecord",
    "Running",
    "Simulator",
    "Task",
    "make_app",
    "make_self_signed_cert",
    "serve",
]
