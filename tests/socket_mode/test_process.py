"""``cardinal run`` in Socket Mode as an operator meets it: a refused app-level token ends the start with
one line and exit code 2; SIGTERM and SIGINT stop the process within seconds whether it is still asking for
a WebSocket URL, stuck in a handshake, or connected.

Each case starts the real command (``python -m bot run``) against the reliability lab (Proxmox simulator,
fake Slack) with the fake Socket Mode server attached, and reads its stderr as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from tests.conftest import free_port
from tests.fakes.socket_mode import APP_TOKEN, FakeSocketMode
from tests.reliability.conftest import BOT_TOKEN, SIGNING_SECRET, TOKEN_ID, TOKEN_SECRET, Lab
from tests.reliability.procs import REPO, bot_env

START_LIMIT = 30.0
"""Seconds a start may take before the test gives up (the point is that it ends at all)."""
STOP_LIMIT = 5.0
"""Seconds from the signal to the process's exit: "within seconds"."""


@dataclass
class Running:
    proc: asyncio.subprocess.Process
    ops_port: int
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines:
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def said(self) -> list[str]:
        """What the operator reads: stderr without the JSON log lines."""
        return [line for line in self.lines if line.strip() and not line.startswith("{")]

    def logged(self, event: str) -> bool:
        return any(e.get("event") == event for e in self.events())

    async def wait_logged(self, event: str, timeout: float = START_LIMIT) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.logged(event):
            if self.proc.returncode is not None or loop.time() >= deadline:
                raise AssertionError(f"no {event!r} in the log:\n" + "\n".join(self.lines[-30:]))
            await asyncio.sleep(0.02)

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        """``/readyz``: the status and the probes' answers."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{self.ops_port}/readyz") as resp,
        ):
            return resp.status, await resp.json()

    async def wait_readiness(self, status: int, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        """Poll ``/readyz`` until it answers ``status``; return its body."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                got, body = await self.readiness()
                if got == status:
                    return body
            if loop.time() >= deadline:
                raise AssertionError(f"/readyz never answered {status}:\n" + "\n".join(self.lines[-30:]))
            await asyncio.sleep(0.05)

    async def exit_code(self, timeout: float) -> int:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                code = await self.proc.wait()
                if self.reader is not None:
                    await self.reader
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(
                f"cardinal run did not exit within {timeout}s:\n" + "\n".join(self.lines[-30:])
            ) from None
        return code


_STARTED: list[Running] = []


@pytest.fixture(autouse=True)
async def _stop_leftovers() -> AsyncIterator[None]:
    """A bot a test left running (the reconnect case ends with it connected) is stopped, killed if it
    ignores SIGTERM, so no ``cardinal run`` outlives its test."""
    yield
    while _STARTED:
        bot = _STARTED.pop()
        if bot.proc.returncode is None:
            bot.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_LIMIT):
                    await bot.proc.wait()
            except TimeoutError:
                bot.proc.kill()
                await bot.proc.wait()
        if bot.reader is not None:
            bot.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot.reader


async def _start(lab: Lab, **overrides: str) -> Running:
    assert lab.proxmox.fingerprint is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXMOX_", "SLACK_", "DATABASE"))}
    env.update(
        bot_env(
            proxmox_port=lab.proxmox.port,
            fingerprint=lab.proxmox.fingerprint,
            token_id=TOKEN_ID,
            token_secret=TOKEN_SECRET,
            slack_api_url=lab.slack_url + "/api/",
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            database_url=lab.sqlite_url(),
            policy_file=lab.policy_file(),
        )
    )
    ops_port = free_port()
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "LOG_FORMAT": "json",
            "INTERNAL_PORT": str(ops_port),
            "SLACK_APP_TOKEN": APP_TOKEN,
        }
    )
    env.update(overrides)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=lab.tmp,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Running(proc, ops_port)
    _STARTED.append(running)

    async def read() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            running.lines.append(raw.decode(errors="replace").rstrip("\n"))

    running.reader = asyncio.create_task(read())
    return running


async def test_a_refused_app_token_ends_the_start_with_one_line(lab: Lab, socket_lab: FakeSocketMode) -> None:
    # apps.connections.open answers an unknown app-level token with invalid_auth (HTTP 200, ok: false).
    bot = await _start(lab, SLACK_APP_TOKEN="xapp-1-A0CARDINAL-1-revoked")
    code = await bot.exit_code(START_LIMIT)
    where = "\n".join(bot.lines[-30:])
    assert code == 2, where
    assert "Traceback" not in where
    assert len(bot.said()) == 1, where
    line = bot.said()[0]
    assert "SLACK_APP_TOKEN" in line, where
    assert "invalid_auth" in line, where
    assert "xapp-1-A0CARDINAL-1-revoked" not in "\n".join(bot.lines)
    assert not bot.logged("cardinal.started")
    assert socket_lab.links == []


async def test_a_bot_token_given_as_app_token_is_named(lab: Lab, socket_lab: FakeSocketMode) -> None:
    # Settings insist on the xapp- prefix; an app token of another app with the right prefix is refused
    # by Slack like any unknown one. A bot token sent as the app token is not_allowed_token_type.
    lab.slack.fail_next(
        "apps.connections.open", 200, body={"ok": False, "error": "not_allowed_token_type"}, times=50
    )
    bot = await _start(lab)
    assert await bot.exit_code(START_LIMIT) == 2
    assert len(bot.said()) == 1
    assert "SLACK_APP_TOKEN" in bot.said()[0]
    assert "not_allowed_token_type" in bot.said()[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_it_while_it_retries_for_a_url(
    lab: Lab, socket_lab: FakeSocketMode, sig: signal.Signals
) -> None:
    lab.slack.fail_next(
        "apps.connections.open", 200, body={"ok": False, "error": "internal_error"}, times=10**6
    )
    bot = await _start(lab)
    await bot.wait_logged("slack.socket_retry")
    bot.proc.send_signal(sig)
    assert await bot.exit_code(STOP_LIMIT) == 0
    assert bot.logged("cardinal.stopped")
    assert not bot.logged("cardinal.started")


async def test_sigterm_stops_it_during_a_handshake_that_never_ends(
    lab: Lab, socket_lab: FakeSocketMode
) -> None:
    socket_lab.hold_handshake = True
    bot = await _start(lab)
    await socket_lab.wait_for(lambda: "handshake held" in socket_lab.events, timeout=START_LIMIT)
    bot.proc.send_signal(signal.SIGTERM)
    assert await bot.exit_code(STOP_LIMIT) == 0
    assert bot.logged("cardinal.stopped")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_it_when_connected_and_closes_the_socket(
    lab: Lab, socket_lab: FakeSocketMode, sig: signal.Signals
) -> None:
    bot = await _start(lab)
    await bot.wait_logged("cardinal.started")
    link = await socket_lab.wait_for_links(1, timeout=START_LIMIT)
    bot.proc.send_signal(sig)
    assert await bot.exit_code(STOP_LIMIT) == 0
    assert bot.logged("cardinal.stopped")
    assert link.ended_by == "client"


async def test_a_cut_connection_is_back_within_30_seconds_and_not_ready_meanwhile(
    lab: Lab, socket_lab: FakeSocketMode
) -> None:
    bot = await _start(lab)
    await bot.wait_logged("cardinal.started")
    await socket_lab.wait_for_links(1, timeout=START_LIMIT)
    await bot.wait_readiness(200, START_LIMIT)
    socket_lab.hold_handshake = True  # the next connection hangs in its handshake: the gap stays open
    socket_lab.drop()  # no close frame, no disconnect message
    body = await bot.wait_readiness(503, 10.0)
    assert "Socket Mode connection is down" in str(body), body
    await socket_lab.wait_for(lambda: "handshake held" in socket_lab.events, timeout=10.0)
    socket_lab.release()
    await socket_lab.wait_for_links(2, timeout=30.0)
    await bot.wait_readiness(200, 10.0)
    assert bot.logged("slack.socket_dropped")
    assert bot.logged("slack.socket_reconnected")
    assert not any("ticket=" in line for line in bot.lines)  # the URLs hold connection tickets
