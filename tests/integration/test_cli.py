"""``cardinal sandbox`` as an operator runs it: a real process, its printed connection details, Ctrl-C."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from pydantic import SecretStr

from bot.proxmox import ProxmoxClient
from tests.conftest import free_port
from tests.integration.conftest import CARDINAL, clean_env, requires_console_script

LAST_LINE = "Press Ctrl-C to stop."


async def read_until(stream: asyncio.StreamReader, last: str, *, limit: float = 15.0) -> list[str]:
    """Lines from ``stream`` up to and including ``last``; every read is bounded by the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    lines: list[str] = []
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {last!r} within {limit} s; got {lines}")
        try:
            raw = await asyncio.wait_for(stream.readline(), remaining)
        except TimeoutError:
            raise AssertionError(f"no {last!r} within {limit} s; got {lines}") from None
        if not raw:
            raise AssertionError(f"the process closed its output before {last!r}; got {lines}")
        line = raw.decode().rstrip("\n")
        lines.append(line)
        if line == last:
            return lines


@requires_console_script
async def test_sandbox_prints_token_fingerprint_and_env_then_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(CARDINAL),
        "sandbox",
        "--port",
        str(port),
        "--nodes",
        "2",
        env=clean_env(),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        lines = await read_until(proc.stdout, LAST_LINE)
        text = "\n".join(lines)
        assert f"URL:          https://127.0.0.1:{port}/api2/json" in text
        assert "nodes: pve, pve2" in text
        env = dict(re.findall(r"^(PROXMOX_[A-Z_]+)=(\S+)$", text, re.MULTILINE))
        assert env["PROXMOX_HOST"] == "127.0.0.1"
        assert env["PROXMOX_PORT"] == str(port)
        assert env["PROXMOX_TOKEN"] == "cardinal@pve!sandbox"
        assert env["PROXMOX_NODE"] == "pve"
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", env["PROXMOX_SECRET"]
        )
        assert f"Secret:       {env['PROXMOX_SECRET']}" in text
        assert f"Fingerprint:  {env['PROXMOX_FINGERPRINT']}" in text
        assert "# .env snippet" in text

        # What it printed is enough to connect: the token works and the pin matches the certificate.
        async with ProxmoxClient(
            f"https://{env['PROXMOX_HOST']}:{env['PROXMOX_PORT']}/api2/json",
            token_id=env["PROXMOX_TOKEN"],
            token_secret=SecretStr(env["PROXMOX_SECRET"]),
            fingerprint=env["PROXMOX_FINGERPRINT"],
        ) as px:
            assert [n.node for n in await px.nodes()] == ["pve", "pve2"]
            assert {c.vmid for c in await px.containers("pve")} == {100, 101}

        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 10)
        stderr = (await asyncio.wait_for(proc.stderr.read(), 5)).decode()
        assert code == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
