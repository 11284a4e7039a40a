"""The `cardinal` command line: help, exit codes, configuration errors, migrate, and check end to end."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.cli import main
from bot.ops.scopes import REQUIRED_BOT_SCOPES
from tests.fakes.slack import FakeSlack
from tests.ops.conftest import BOT_TOKEN, PROXMOX_SECRET, ROOT

SUBCOMMANDS = ["run", "demo", "sandbox", "check", "migrate", "reconcile"]


def test_help_exits_zero_and_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: cardinal {command}" in out
    assert len(out.splitlines()) > 3  # a description, not just the usage line


def test_sandbox_help_shows_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    main(["sandbox", "--help"])
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--nodes", "--fault-rate", "--speed", "--seed"):
        assert option in out


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: cardinal" in capsys.readouterr().err


def test_bad_option_value_is_a_usage_error_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--fault-rate", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "cardinal sandbox: error: argument --fault-rate: must be between 0 and 1" in err
    assert "Traceback" not in err


def test_bad_configuration_prints_one_line_per_problem_without_secrets(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token-that-is-secret")
    monkeypatch.setenv("PROXMOX_PORT", "99999")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "cardinal: configuration: PROXMOX_HOST: Field required" in err
    assert "cardinal: configuration: PROXMOX_PORT:" in err
    assert "cardinal: configuration: SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in err
    assert "xoxp-user-token-that-is-secret" not in err
    assert "Traceback" not in err


def test_env_file_option_is_read(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = clean_env / "custom.env"
    env.write_text("DATABASE_URL=mysql://nope\n")
    assert main(["--env-file", str(env), "migrate"]) == 2
    assert "DATABASE_URL: must start with sqlite+aiosqlite://" in capsys.readouterr().err


def test_migrate_needs_only_the_database_url(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate = pytest.importorskip("bot.db.migrate", reason="bot.db.migrate is not written yet")
    db = clean_env / "cardinal.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    assert main(["migrate"]) == 0
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == migrate.head_revision()
    assert main(["migrate"]) == 0  # a second run finds nothing to do


def test_migrate_names_database_url_when_the_database_is_not_there(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/cardinal")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("cardinal: DATABASE_URL: cannot connect to the database (")


def test_python_dash_m_bot_is_the_cli() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0
    assert "usage: cardinal check" in done.stdout


# --- `cardinal check` end to end, as a separate process --------------------------------------------


async def _cardinal(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _env(**values: str) -> dict[str, str]:
    from bot.settings import Settings

    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


async def test_check_with_proxmox_unreachable_prints_failures_with_hints_and_exits_1(
    tmp_path: Path, unused_tcp_port: int, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> None:
    fake = FakeSlack(scopes=REQUIRED_BOT_SCOPES)
    slack = await aiohttp_server(fake.app())
    env = _env(
        PROXMOX_HOST="127.0.0.1",
        PROXMOX_PORT=str(unused_tcp_port),
        PROXMOX_TOKEN="cardinal@pve!bot",
        PROXMOX_SECRET=PROXMOX_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="signing-secret-value",
        SLACK_API_URL=str(slack.make_url("/api/")),
    )
    code, out, err = await _cardinal("check", env=env, cwd=tmp_path)
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith("✓ Settings: valid (HTTP mode, Proxmox token cardinal@pve!bot")
    assert lines[1] == "✓ Policy: built-in defaults (templates on local, disks on local-lvm, bridges vmbr0)"
    assert "✓ Slack auth.test: bot @cardinal in workspace Fake Team (T0001)" in lines
    assert "✓ Slack scopes: all granted: " + ", ".join(REQUIRED_BOT_SCOPES) in lines
    unreachable = next(i for i, line in enumerate(lines) if line.startswith("✗ Proxmox reachable:"))
    assert f"127.0.0.1:{unused_tcp_port}" in lines[unreachable]
    assert lines[unreachable + 1].startswith(
        f"    → Check PROXMOX_HOST (127.0.0.1) and PROXMOX_PORT ({unused_tcp_port}; Proxmox listens on 8006)"
    )
    assert "- Proxmox privileges: not checked (Proxmox is unreachable)" in lines
    assert lines[-1].endswith("not checked.")
    for secret in (BOT_TOKEN, PROXMOX_SECRET, "signing-secret-value"):
        assert secret not in out + err
    assert "Traceback" not in err
    assert [c.method for c in fake.calls()] == ["auth.test"]


async def test_check_with_invalid_settings_exits_2(tmp_path: Path) -> None:
    code, out, err = await _cardinal("check", env=_env(PROXMOX_HOST="https://pve/"), cwd=tmp_path)
    assert code == 2
    assert "✗ Settings: PROXMOX_HOST: must be a host name or IP address, without scheme or path" in out
    assert "✗ Settings: SLACK_BOT_TOKEN: Field required" in out
    assert "Traceback" not in err


async def test_check_without_slack_settings_still_runs_the_database_and_proxmox_checks(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """The snippet `cardinal sandbox` prints has no Slack settings: check says so and runs the rest."""
    env = _env(
        PROXMOX_HOST="127.0.0.1",
        PROXMOX_PORT=str(unused_tcp_port),
        PROXMOX_TOKEN="cardinal@pve!bot",
        PROXMOX_SECRET=PROXMOX_SECRET,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/data/cardinal.db",
    )
    code, out, err = await _cardinal("check", env=env, cwd=tmp_path)
    assert code == 2, out + err
    lines = out.splitlines()
    assert "✗ Settings: SLACK_BOT_TOKEN: Field required" in lines
    assert "- Slack auth.test: not checked (the Slack settings above are not usable)" in lines
    assert f"✓ Database: SQLite file {tmp_path}/data/cardinal.db will be created by `cardinal run`" in lines
    assert any(line.startswith("✗ Proxmox reachable: cannot connect to 127.0.0.1:") for line in lines)
    assert not (tmp_path / "data").exists()  # check creates nothing
    assert "Traceback" not in err


async def test_check_fails_for_an_unknown_time_zone(tmp_path: Path) -> None:
    env = _env(
        PROXMOX_HOST="127.0.0.1",
        PROXMOX_TOKEN="cardinal@pve!bot",
        PROXMOX_SECRET=PROXMOX_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="signing-secret-value",
        TIMEZONE="Mars/Olympus",
    )
    code, out, _ = await _cardinal("check", env=env, cwd=tmp_path)
    assert code == 2
    assert "✗ Settings: TIMEZONE: unknown time zone; use an IANA name such as UTC or Europe/Berlin" in out
