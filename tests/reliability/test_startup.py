"""``cardinal run`` against a broken setup: one line naming the setting, the README's exit code, no trace.

Each case starts the real command (``python -m bot run``) against the in-test Proxmox simulator (HTTPS,
pinned fingerprint) and fake Slack, with exactly one thing wrong, and reads what an operator would see on
the terminal. An unreachable Proxmox is the exception: Cardinal starts, says so once per retry step in the
log and in ``/readyz``'s body, and stays ready (see ``handlers.runtime.ADVISORY_PROBES``).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
import pytest

from tests.conftest import free_port
from tests.reliability.conftest import BOT_TOKEN, SIGNING_SECRET, TOKEN_ID, TOKEN_SECRET, Lab
from tests.reliability.procs import REPO, bot_env, wait_until, wait_until_async

START_LIMIT = 60.0
"""Seconds a failing start may take (Slack's connection retries back off for a few seconds)."""


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def said(self) -> list[str]:
        """What the operator reads: stderr without the JSON log lines."""
        return [line for line in self.stderr.splitlines() if line.strip() and not line.startswith("{")]


def _env(lab: Lab, **overrides: str) -> dict[str, str]:
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
    env.update({"PYTHONPATH": str(REPO), "LOG_FORMAT": "json", "INTERNAL_PORT": str(free_port())})
    env.update(overrides)
    return env


async def _cardinal(lab: Lab, *args: str, **overrides: str) -> Outcome:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=_env(lab, **overrides),
        cwd=lab.tmp,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(START_LIMIT):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"cardinal {' '.join(args)} did not exit:\n{err.decode()[-3000:]}") from None
    assert proc.returncode is not None
    return Outcome(proc.returncode, out.decode(), err.decode())


@contextmanager
def _busy_port() -> Iterator[int]:
    """A port another process (here: this one) is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))  # noqa: S104 - cardinal run listens on every interface
        s.listen()
        yield int(s.getsockname()[1])


def _assert_one_line(outcome: Outcome, code: int, setting: str, *, also: str = "") -> None:
    where = f"exit {outcome.code}; stderr:\n{outcome.stderr[-3000:]}"
    assert outcome.code == code, where
    assert "Traceback" not in outcome.stderr, where
    assert len(outcome.said) == 1, where
    line = outcome.said[0]
    assert line.startswith(f"cardinal: {setting}") or f" {setting}" in line, where
    assert also in line, where
    for secret in (BOT_TOKEN, TOKEN_SECRET, SIGNING_SECRET):
        assert secret not in outcome.stderr
    assert not any(
        json.loads(e).get("event") == "cardinal.started" for e in outcome.stderr.splitlines() if e[:1] == "{"
    ), where


def _postgres(database: str, port: int | None = None) -> str:
    base = os.environ.get("CARDINAL_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("CARDINAL_TEST_POSTGRES_URL is unset")
    prefix = base.rpartition("/")[0]
    if port is not None:
        prefix = f"postgresql+asyncpg://postgres@127.0.0.1:{port}"
    return f"{prefix}/{database}"


async def test_a_postgresql_database_that_does_not_exist_names_database_url(lab: Lab) -> None:
    outcome = await _cardinal(lab, "run", DATABASE_URL=_postgres("cardinal_no_such_database"))
    _assert_one_line(outcome, 2, "DATABASE_URL", also="does not exist")


async def test_a_closed_database_port_names_database_url(lab: Lab) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/cardinal"
    outcome = await _cardinal(lab, "run", DATABASE_URL=url)
    _assert_one_line(outcome, 1, "DATABASE_URL", also="cannot connect")


async def test_slack_unreachable_names_slack_api_url(lab: Lab) -> None:
    outcome = await _cardinal(lab, "run", SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    _assert_one_line(outcome, 1, "SLACK_API_URL", also="cannot reach Slack")


async def test_a_refused_bot_token_names_slack_bot_token(lab: Lab) -> None:
    # Slack answers a bad token with HTTP 200 and {"ok": false, "error": "invalid_auth"}
    # (Slack's platform documentation (docs.slack.dev), Web API errors).
    lab.slack.fail_next("auth.test", 200, body={"ok": False, "error": "invalid_auth"}, times=5)
    outcome = await _cardinal(lab, "run")
    _assert_one_line(outcome, 2, "SLACK_BOT_TOKEN", also="invalid_auth")


async def test_an_unknown_time_zone_names_timezone(lab: Lab) -> None:
    outcome = await _cardinal(lab, "run", TIMEZONE="Mars/Olympus")
    _assert_one_line(outcome, 2, "configuration: TIMEZONE", also="unknown time zone")


async def test_a_busy_slack_port_names_the_port_option(lab: Lab) -> None:
    with _busy_port() as port:
        outcome = await _cardinal(lab, "run", "--port", str(port))
    _assert_one_line(outcome, 1, "--port", also="already in use")


async def test_a_busy_http_port_setting_names_http_port(lab: Lab) -> None:
    with _busy_port() as port:
        outcome = await _cardinal(lab, "run", HTTP_PORT=str(port))
    _assert_one_line(outcome, 1, "HTTP_PORT", also="already in use")


async def test_a_busy_internal_port_names_internal_port(lab: Lab) -> None:
    with _busy_port() as port:
        outcome = await _cardinal(lab, "run", "--port", str(free_port()), INTERNAL_PORT=str(port))
    _assert_one_line(outcome, 1, "INTERNAL_PORT", also="already in use")


async def test_a_second_sandbox_on_a_busy_port_names_the_port_option(lab: Lab) -> None:
    with _busy_port() as port:
        outcome = await _cardinal(lab, "sandbox", "--port", str(port))
    assert outcome.code == 1, outcome.stderr
    assert outcome.said == [
        f"cardinal: --port: port {port} is already in use by another process; stop the other process "
        "or choose another port"
    ]


async def test_a_refused_proxmox_token_stops_the_start_naming_the_token(lab: Lab) -> None:
    outcome = await _cardinal(lab, "run", "--port", str(free_port()), PROXMOX_SECRET=str(os.urandom(4).hex()))
    _assert_one_line(outcome, 2, "PROXMOX_TOKEN/PROXMOX_SECRET", also="refused")


async def test_a_wrong_fingerprint_stops_the_start_naming_the_tls_settings(lab: Lab) -> None:
    wrong = ":".join(["AB"] * 32)
    outcome = await _cardinal(lab, "run", "--port", str(free_port()), PROXMOX_FINGERPRINT=wrong)
    _assert_one_line(outcome, 2, "PROXMOX_FINGERPRINT/PROXMOX_CA_FILE", also="not trusted")


async def test_an_unreachable_proxmox_is_logged_shown_in_readyz_and_retried(lab: Lab) -> None:
    closed = free_port()
    bot = lab.spawn("unreachable", PROXMOX_PORT=str(closed))
    await bot.wait_ready()  # an unreachable Proxmox does not gate readiness
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{bot.ops_port}/readyz") as resp,
    ):
        body = await resp.json()
    assert resp.status == 200
    assert body["checks"]["proxmox"].startswith("unreachable (")
    assert body["checks"]["proxmox"].endswith("; retrying")
    events = await wait_until(
        lambda: [e for e in bot.log_events() if e.get("event") == "proxmox.unreachable"],
        timeout=10,
        what="the proxmox.unreachable log line",
    )
    assert events[0]["retry_in"] == 5.0
    assert events[0]["level"] == "warning"
    assert TOKEN_SECRET not in bot.log_text()


async def test_an_idle_bot_logs_nothing_after_start_up(lab: Lab) -> None:
    """Sweeps (every 0.25 s here), digests (1 s), provisioning retries (2 s) and readiness probes run
    many times; none of them, nor APScheduler, alembic or slack_bolt, writes a line at INFO."""
    bot = lab.spawn("idle")
    await bot.wait_ready()

    async def sweeps_and_probes() -> bool:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{bot.ops_port}/readyz") as resp:
                assert resp.status == 200
            async with http.get(f"http://127.0.0.1:{bot.ops_port}/metrics") as resp:
                text = await resp.text()
        count = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("cardinal_sweep_duration_seconds_count")
        )
        return count >= 16  # four seconds of sweeps: every periodic job has run at least twice

    await wait_until_async(sweeps_and_probes, timeout=30, what="sixteen tracker sweeps", interval=0.2)
    events = bot.log_events()
    started = next(i for i, e in enumerate(events) if e.get("event") == "cardinal.started")
    after = [f"{e.get('logger')}: {e.get('event')}" for e in events[started + 1 :]]
    assert after == []
    assert not [e for e in events if str(e.get("logger", "")).startswith(("apscheduler", "alembic"))]
    assert "`token` will be unused" not in bot.log_text()
