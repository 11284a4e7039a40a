"""HTTPS serving, the sandbox and ``python -m cardinal_sim.proxmox``."""

from __future__ import annotations

import asyncio
import io
import re
import ssl

import aiohttp
import pytest

from cardinal_sim.proxmox import Simulator, serve
from cardinal_sim.proxmox.__main__ import main
from cardinal_sim.proxmox.sandbox import SANDBOX_TOKEN, run_sandbox
from tests.simulator.conftest import SECRET, TOKEN


async def test_https_serves_with_fingerprint_of_certificate(session: aiohttp.ClientSession) -> None:
    sim = Simulator(speed=0)
    sim.add_token(TOKEN, SECRET)
    running = await serve(sim, tls=True)
    try:
        assert running.url.startswith("https://127.0.0.1:")
        assert running.fingerprint is not None
        assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", running.fingerprint)
        pinned = aiohttp.Fingerprint(bytes.fromhex(running.fingerprint.replace(":", "")))
        headers = {"Authorization": f"PVEAPIToken={TOKEN}={SECRET}"}
        async with session.get(f"{running.api_url}/nodes", ssl=pinned, headers=headers) as resp:
            assert resp.status == 200
            nodes = (await resp.json())["data"]
        assert nodes[0]["ssl_fingerprint"] == running.fingerprint
        assert running.cert_pem is not None
        trusted = ssl.create_default_context(cadata=running.cert_pem.decode())
        async with session.get(f"{running.api_url}/version", ssl=trusted, headers=headers) as resp:
            assert resp.status == 200
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with session.get(f"{running.api_url}/version", headers=headers):
                pass
    finally:
        await running.close()


async def test_sandbox_prints_token_fingerprint_and_env_snippet(session: aiohttp.ClientSession) -> None:
    out = io.StringIO()
    started = asyncio.Event()
    task = asyncio.create_task(run_sandbox(port=0, nodes=2, auth_delay=0.0, out=out, started=started))
    try:
        await asyncio.wait_for(started.wait(), timeout=10)
        text = out.getvalue()
        env = dict(re.findall(r"^(PROXMOX_[A-Z]+)=(.*)$", text, re.MULTILINE))
        assert set(env) == {
            "PROXMOX_HOST",
            "PROXMOX_PORT",
            "PROXMOX_TOKEN",
            "PROXMOX_SECRET",
            "PROXMOX_FINGERPRINT",
            "PROXMOX_NODE",
        }
        assert env["PROXMOX_TOKEN"] == SANDBOX_TOKEN
        assert env["PROXMOX_NODE"] == "pve"
        pinned = aiohttp.Fingerprint(bytes.fromhex(env["PROXMOX_FINGERPRINT"].replace(":", "")))
        url = f"https://{env['PROXMOX_HOST']}:{env['PROXMOX_PORT']}/api2/json/nodes/pve/lxc"
        headers = {"Authorization": f"PVEAPIToken={env['PROXMOX_TOKEN']}={env['PROXMOX_SECRET']}"}
        async with session.get(url, ssl=pinned, headers=headers) as resp:
            assert resp.status == 200
            names = [ct["name"] for ct in (await resp.json())["data"]]
        assert "sandbox-web" in names
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_python_m_cardinal_sim_proxmox_has_the_documented_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--port", "--nodes", "--fault-rate", "--speed", "--seed"):
        assert option in usage
