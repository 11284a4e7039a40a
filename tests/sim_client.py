"""Cardinal's Proxmox client wired to a :class:`~cardinal_sim.proxmox.Simulator` served on 127.0.0.1."""

from __future__ import annotations

from pydantic import SecretStr

from bot.proxmox import ProxmoxClient, RetryPolicy, Timeouts
from cardinal_sim.proxmox import Simulator, make_app
from tests.conftest import ServerFactory


async def _no_sleep(_delay: float) -> None:
    return None


async def serve_sim_client(
    sim: Simulator, aiohttp_server: ServerFactory, token_id: str, secret: str
) -> ProxmoxClient:
    """Serve ``sim`` with ``aiohttp_server`` and return a client for it: API-token auth, two attempts per
    GET without waiting between them, 5 s timeouts. The caller closes it."""
    server = await aiohttp_server(make_app(sim))
    return ProxmoxClient(
        str(server.make_url("/api2/json")),
        token_id=token_id,
        token_secret=SecretStr(secret),
        retries=RetryPolicy(attempts=2, base_delay=0.0, sleep=_no_sleep),
        timeouts=Timeouts(read=5.0, write=5.0, long=5.0),
    )
