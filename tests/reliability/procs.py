"""Cardinal as a real OS process, driven by the test through signed Slack requests.

:class:`BotProcess` starts the bot with ``python -m tests.reliability.botmain`` (see there), kills it with
SIGKILL or stops it with SIGTERM and reads its JSON log lines; :class:`SlackDriver` sends it slash commands,
modal submissions and clicks signed as Slack signs them. The Proxmox simulator and the fake Slack live in
the test process, so their state (containers, request log, messages) survives the bot's crashes and is
inspected directly. :func:`wait_until` polls a condition with a bound (no sleeping to synchronise).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from cardinal_sim.slack.payloads import create_values as modal_values
from tests.conftest import SIM_TEMPLATE, free_port
from tests.fakes.signing import (
    block_action,
    form_body,
    interactive_body,
    signed_request_headers,
    slash_command,
    view_submission,
)
from tests.fakes.slack import FakeSlack
from tests.reliability.botmain import DEFAULT_TUNING, TUNING_ENV

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]


async def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,  # noqa: ASYNC109 - a bounded poll, not an I/O timeout
    what: str,
    interval: float = 0.05,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy (and return it); fail after ``timeout`` s
    with ``explain()`` (the state worth seeing) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        await asyncio.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], Awaitable[T]],
    *,
    timeout: float,  # noqa: ASYNC109 - a bounded poll, not an I/O timeout
    what: str,
    interval: float = 0.2,
) -> T:
    """:func:`wait_until` for an async ``predicate`` (e.g. a database query)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------- parent side


class BotProcess:
    """One ``cardinal run`` process (HTTP mode) with its own log file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.ops_port = free_port()
        self.env = {**env, "INTERNAL_PORT": str(self.ops_port), "LOG_FORMAT": "json"}
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start (or restart) the process; its stdout and stderr go to :attr:`log_path` (appended)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXMOX_", "SLACK_", "DATABASE"))}
        env.update(self.env)
        env["PYTHONPATH"] = str(REPO)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.botmain", "--port", str(self.port)],
                cwd=self.log_path.parent,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def wait_ready(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Poll ``/readyz`` on the ops port until it answers 200 (fail early if the process died)."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if not self.running:
                    raise AssertionError(f"{self.name} exited early:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(f"http://127.0.0.1:{self.ops_port}/readyz") as resp:
                        if resp.status == 200:
                            return
                if time.monotonic() >= deadline:
                    raise AssertionError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, leases and intents stay as they were."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    async def stop(self, timeout: float = 20.0) -> int | None:  # noqa: ASYNC109
        """SIGTERM and wait (bounded) for a graceful exit; SIGKILL if it does not come. Returns the code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        proc = self.proc
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        return proc.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` log lines, without the scheduler's and the HTTP access log's chatter."""
        noise = ('"logger": "apscheduler', '"logger": "aiohttp.access"')
        kept = [line for line in self.log_text().splitlines() if not any(n in line for n in noise)]
        return "\n".join(line[:600] for line in kept[-lines:])

    def log_events(self) -> list[dict[str, Any]]:
        """Every JSON log line (non-JSON lines, e.g. a crash trace, are skipped)."""
        out: list[dict[str, Any]] = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out


def bot_env(
    *,
    proxmox_port: int,
    fingerprint: str,
    token_id: str,
    token_secret: str,
    slack_api_url: str,
    bot_token: str,
    signing_secret: str,
    database_url: str,
    policy_file: Path,
    tuning: dict[str, float] | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a bot process pointed at the simulator (pinned TLS) and the fake Slack."""
    env = {
        "PROXMOX_HOST": "127.0.0.1",
        "PROXMOX_PORT": str(proxmox_port),
        "PROXMOX_TOKEN": token_id,
        "PROXMOX_SECRET": token_secret,
        "PROXMOX_FINGERPRINT": fingerprint,
        "SLACK_BOT_TOKEN": bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack_api_url,
        "DATABASE_URL": database_url,
        "POLICY_FILE": str(policy_file),
        "SWEEP_INTERVAL": "0.25",
        "LOG_LEVEL": "INFO",
        TUNING_ENV: json.dumps({**DEFAULT_TUNING, **(tuning or {})}),
    }
    env.update({k.upper(): v for k, v in extra.items()})
    return env


class SlackDriver:
    """Sends what Slack sends — signed slash commands, modal submissions, clicks — to a bot's HTTP port."""

    def __init__(self, slack: FakeSlack, slack_url: str, signing_secret: str, channel: str) -> None:
        self.slack = slack
        self.slack_url = slack_url.rstrip("/")
        self.secret = signing_secret
        self.channel = channel
        self._seq = 0
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def post(self, port: int, body: bytes, *, timeout: float = 10.0) -> tuple[int, Any]:  # noqa: ASYNC109
        """POST a signed body to ``/slack/events``; returns (status, JSON body or text)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers = signed_request_headers(body, self.secret, int(time.time()))
        async with self._http.post(
            f"http://127.0.0.1:{port}/slack/events",
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text.startswith("{") else text)

    def next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"

    def hook_url(self, hook_id: str) -> str:
        """Where a ``response_url`` answer lands on the fake Slack (``slack.hook_posts(hook_id)``)."""
        return f"{self.slack_url}/hooks/{hook_id}"

    async def command(
        self, port: int, text: str, *, user: str, channel: str | None = None, trigger: str | None = None
    ) -> tuple[int, Any]:
        """``/lxc <text>``; the command's later answer goes to ``/hooks/<trigger id>`` on the fake Slack."""
        trigger = trigger or self.next_id("trigger")
        fields = slash_command(
            text,
            user=user,
            channel=channel or self.channel,
            trigger_id=trigger,
            response_url=self.hook_url(trigger),
        )
        return await self.post(port, form_body(fields))

    async def open_create(self, port: int, *, user: str, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """``/lxc create``; return the modal Cardinal opened (with its sealed private_metadata)."""
        trigger = self.next_id("trigger")
        status, _ = await self.command(port, "create", user=user, trigger=trigger)
        assert status == 200, status
        call = await wait_until(
            lambda: next(
                (c for c in self.slack.calls("views.open") if c.params.get("trigger_id") == trigger), None
            ),
            timeout=timeout,
            what="views.open",
        )
        view = call.params["view"]
        return dict(json.loads(view) if isinstance(view, str) else view)

    async def submit_create(
        self, port: int, view: dict[str, Any], values: dict[str, Any], *, user: str
    ) -> tuple[int, Any]:
        """Submit the create modal with ``values`` (``{block_id: {action_id: state}}``)."""
        payload = view_submission(view["callback_id"], values, user=user, view=view)
        return await self.post(port, interactive_body(payload))

    async def request(
        self, port: int, hostname: str, *, user: str, preset: str = "tiny", **fields: dict[str, Any]
    ) -> tuple[int, Any]:
        """Open the create modal and submit a DHCP request for ``hostname``."""
        view = await self.open_create(port, user=user)
        return await self.submit_create(
            port, view, create_values(hostname, preset=preset, **fields), user=user
        )

    async def click(
        self, port: int, action_id: str, value: str, *, user: str, channel: str
    ) -> tuple[int, Any]:
        """Click a button in a message."""
        trigger = self.next_id("click")
        payload = block_action(
            action_id,
            value,
            user=user,
            channel=channel,
            trigger_id=trigger,
            response_url=self.hook_url(trigger),
        )
        return await self.post(port, interactive_body(payload))


def create_values(hostname: str, *, preset: str = "tiny", **fields: dict[str, Any]) -> dict[str, Any]:
    """Modal state values of a create request (``fields`` replace or add blocks)."""
    return modal_values(hostname, template=SIM_TEMPLATE, preset=preset, purpose="reliability", fields=fields)
