"""``cardinal check`` against the sandbox: the simulator over HTTPS plus a local fake Slack.

The check runs twice over: in-process (``run_checks`` with settings pointing at the sandbox) and as the
installed ``cardinal check`` console script with environment variables, exactly as an operator runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.ops.check.result import CheckResult, CheckTargets, passed, render
from bot.ops.check.run import run_checks
from bot.ops.scopes import REQUIRED_BOT_SCOPES
from bot.settings import Settings
from cardinal_sim.proxmox import Running, Simulator, serve
from cardinal_sim.proxmox.sandbox import SANDBOX_TOKEN, build_sandbox_simulator, run_sandbox
from tests.conftest import ServerFactory
from tests.fakes.slack import FakeSlack
from tests.integration.conftest import clean_env, requires_console_script, run_cardinal

BOT_TOKEN = "xoxb-1111-2222-integrationtoken"
NO_PRIVS_TOKEN = "nobody@pve!cardinal"
NO_PRIVS_SECRET = "9d0a6c1e-0000-4000-8000-00000000abcd"


@dataclass
class Sandbox:
    """A running ``cardinal sandbox`` (in this event loop) and what it printed."""

    output: str
    env: dict[str, str]
    password: str


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """``run_sandbox`` on a free port (port 0: the kernel picks), two nodes, no 401 delay."""
    out = io.StringIO()
    started = asyncio.Event()
    task = asyncio.create_task(run_sandbox(port=0, nodes=2, auth_delay=0.0, out=out, started=started))
    try:
        async with asyncio.timeout(10):
            await started.wait()
        text = out.getvalue()
        env = dict(re.findall(r"^(PROXMOX_[A-Z_]+)=(\S+)$", text, re.MULTILINE))
        password = re.search(r"Ticket login: root@pam / (\S+)", text)
        assert password is not None, text
        yield Sandbox(text, env, password.group(1))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def slack_url(aiohttp_server: ServerFactory) -> str:
    """A fake Slack whose ``auth.test`` reports every scope Cardinal needs."""
    server = await aiohttp_server(FakeSlack(scopes=REQUIRED_BOT_SCOPES).app())
    return str(server.make_url("/api/"))


@pytest.fixture
async def bare_sandbox() -> AsyncIterator[Running]:
    """The sandbox's simulator served directly, so tests can add tokens: plus one without privileges."""
    sim: Simulator = build_sandbox_simulator(nodes=2, auth_delay=0.0)
    sim.add_token(SANDBOX_TOKEN, "sandbox-secret")
    sim.add_token(NO_PRIVS_TOKEN, NO_PRIVS_SECRET, privileges={})
    running = await serve(sim, tls=True)
    try:
        yield running
    finally:
        await running.close()


def settings_for(env: dict[str, str], slack_url: str, **extra: Any) -> Settings:
    """Settings as the operator would write them, from the sandbox's ``.env`` snippet."""
    values: dict[str, Any] = {key.lower(): value for key, value in env.items()}
    values.update(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="signing-secret",
        slack_api_url=slack_url,
        proxmox_timeout_read=5.0,
    )
    values.update(extra)
    return Settings(_env_file=None, **{k: v for k, v in values.items() if v is not None})


POLICY = 'approvers = ["U0APPROVE"]\napproval_channel = "C0APPROVE"\nops_channel = "C0OPS0001"\n'
"""A policy without warnings (the built-in defaults let nobody approve, which ``check`` fails)."""


def process_env(env: dict[str, str], slack_url: str, cwd: Path) -> dict[str, str]:
    """The environment for a ``cardinal check`` subprocess run in ``cwd`` (which gets a policy file)."""
    (cwd / "policy.toml").write_text(POLICY)
    return clean_env(
        **env,
        POLICY_FILE=str(cwd / "policy.toml"),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="signing-secret",
        SLACK_API_URL=slack_url,
        PROXMOX_TIMEOUT_READ="5",
    )


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def missing_by_path(detail: str) -> dict[str, set[str]]:
    """``missing A, B on /vms; C on /nodes/pve`` → ``{"/vms": {"A", "B"}, "/nodes/pve": {"C"}}``."""
    assert detail.startswith("missing "), detail
    out: dict[str, set[str]] = {}
    for part in detail.removeprefix("missing ").split("; "):
        privs, _, path = part.rpartition(" on ")
        out[path] = set(privs.split(", "))
    return out


VM_PRIVS = {
    "VM.Allocate",
    "VM.Audit",
    "VM.PowerMgmt",
    "VM.Config.Disk",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
}
EXPECTED_MISSING = {
    "/vms": VM_PRIVS,
    "/storage/local-lvm": {"Datastore.AllocateSpace", "Datastore.Audit"},
    "/storage/local": {"Datastore.Audit", "Datastore.AllocateTemplate"},
    "/nodes/pve": {"Sys.Audit"},
    "/nodes/pve2": {"Sys.Audit"},
    "/sdn/zones/localnetwork/vmbr0": {"SDN.Use"},
}
"""Every privilege of manifests/proxmox-setup.md, on the path ``cardinal check`` names for it."""


# --- in-process --------------------------------------------------------------------------------------


async def test_the_sandbox_prints_what_check_needs(sandbox: Sandbox) -> None:
    env = sandbox.env
    assert set(env) == {
        "PROXMOX_HOST",
        "PROXMOX_PORT",
        "PROXMOX_TOKEN",
        "PROXMOX_SECRET",
        "PROXMOX_FINGERPRINT",
        "PROXMOX_NODE",
    }
    assert env["PROXMOX_HOST"] == "127.0.0.1"
    assert int(env["PROXMOX_PORT"]) > 0
    assert env["PROXMOX_TOKEN"] == SANDBOX_TOKEN
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", env["PROXMOX_FINGERPRINT"])
    assert f"https://127.0.0.1:{env['PROXMOX_PORT']}/api2/json" in sandbox.output


async def test_check_passes_in_process_against_the_sandbox(sandbox: Sandbox, slack_url: str) -> None:
    results = await run_checks(settings_for(sandbox.env, slack_url), CheckTargets())
    assert passed(results), render(results)
    checks = by_name(results)
    assert list(checks) == [
        "Database",
        "Slack auth.test",
        "Slack scopes",
        "Proxmox reachable",
        "Proxmox TLS",
        "Clock skew",
        "Proxmox credentials",
        "Proxmox version",
        "Proxmox privileges",
        "Proxmox node",
        "Template storage",
        "Disk storage",
        "Bridges",
        "Templates per node",
        "Default node",  # the sandbox's .env sets PROXMOX_NODE
        "Proxmox tags",
    ]
    assert checks["Proxmox TLS"].detail == "pinned (PROXMOX_FINGERPRINT)"
    assert "present on pve, pve2" in checks["Bridges"].detail
    assert "4 template(s)" in checks["Template storage"].detail
    assert (
        checks["Proxmox node"].detail
        == f"PROXMOX_NODE={sandbox.env['PROXMOX_NODE']} is a node of this cluster"
    )


async def test_a_proxmox_node_that_is_not_in_the_cluster_fails_the_check(
    sandbox: Sandbox, slack_url: str
) -> None:
    results = await run_checks(settings_for(sandbox.env, slack_url, proxmox_node="pve9"), CheckTargets())
    node = by_name(results)["Proxmox node"]
    assert not node.ok
    assert node.detail == "PROXMOX_NODE=pve9 is not a node of this cluster (nodes: pve, pve2)"


async def test_check_passes_with_ticket_login(sandbox: Sandbox, slack_url: str) -> None:
    settings = settings_for(
        sandbox.env,
        slack_url,
        proxmox_token=None,
        proxmox_secret=None,
        proxmox_username="root@pam",
        proxmox_password=sandbox.password,
    )
    results = await run_checks(settings, CheckTargets())
    assert passed(results), render(results)
    assert by_name(results)["Proxmox credentials"].detail == "root@pam accepted"


async def test_a_bridge_missing_on_the_nodes_fails_the_bridges_check(
    sandbox: Sandbox, slack_url: str
) -> None:
    targets = CheckTargets(bridges=("vmbr0", "vmbr7"))
    results = await run_checks(settings_for(sandbox.env, slack_url), targets)
    bridges = by_name(results)["Bridges"]
    assert not bridges.ok
    assert bridges.detail == "vmbr7 does not exist on pve, pve2"
    assert "[placement] bridges" in bridges.hint


async def test_a_token_without_privileges_fails_naming_each_missing_privilege(
    bare_sandbox: Running, slack_url: str
) -> None:
    env = {
        "PROXMOX_HOST": "127.0.0.1",
        "PROXMOX_PORT": str(bare_sandbox.port),
        "PROXMOX_TOKEN": NO_PRIVS_TOKEN,
        "PROXMOX_SECRET": NO_PRIVS_SECRET,
        "PROXMOX_FINGERPRINT": str(bare_sandbox.fingerprint),
    }
    results = await run_checks(settings_for(env, slack_url), CheckTargets())
    checks = by_name(results)
    assert checks["Proxmox credentials"].ok  # the token is valid; it just may do nothing
    privileges = checks["Proxmox privileges"]
    assert not privileges.ok
    assert missing_by_path(privileges.detail) == EXPECTED_MISSING
    assert f"pveum acl modify /vms --tokens '{NO_PRIVS_TOKEN}' --roles CardinalRole" in privileges.hint
    assert not checks["Template storage"].ok  # hidden without Datastore.Audit
    assert not checks["Bridges"].ok


# --- the console script ------------------------------------------------------------------------------


@requires_console_script
async def test_cardinal_check_subprocess_passes_against_the_sandbox(
    sandbox: Sandbox, slack_url: str, tmp_path: Path
) -> None:
    done = await run_cardinal("check", env=process_env(sandbox.env, slack_url, tmp_path), cwd=tmp_path)
    assert done.code == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    checks = lines[:-1]
    assert len(checks) >= 16, done.stdout
    assert any(line.startswith("✓ Slack channels: @cardinal is a member of") for line in checks)
    assert all(line.startswith("✓ ") for line in checks), done.stdout
    assert lines[-1] == f"All {len(checks)} checks passed."
    assert sandbox.env["PROXMOX_SECRET"] not in done.stdout + done.stderr


@requires_console_script
async def test_cardinal_check_with_only_the_sandboxs_snippet_runs_the_proxmox_checks(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The snippet the sandbox prints has no Slack settings: check skips Slack, says why, runs the rest."""
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in sandbox.env.items()))
    done = await run_cardinal("check", env=clean_env(), cwd=tmp_path)
    assert done.code == 2, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "✗ Settings: SLACK_BOT_TOKEN: Field required" in lines
    assert "- Slack auth.test: not checked (the Slack settings above are not usable)" in lines
    for name in ("Proxmox TLS", "Proxmox credentials", "Proxmox privileges", "Proxmox node", "Bridges"):
        assert any(line.startswith(f"✓ {name}: ") for line in lines), (name, done.stdout)
    assert "Traceback" not in done.stderr


@requires_console_script
async def test_cardinal_check_subprocess_names_missing_privileges_and_exits_1(
    bare_sandbox: Running, slack_url: str, tmp_path: Path
) -> None:
    env = {
        "PROXMOX_HOST": "127.0.0.1",
        "PROXMOX_PORT": str(bare_sandbox.port),
        "PROXMOX_TOKEN": NO_PRIVS_TOKEN,
        "PROXMOX_SECRET": NO_PRIVS_SECRET,
        "PROXMOX_FINGERPRINT": str(bare_sandbox.fingerprint),
    }
    done = await run_cardinal("check", env=process_env(env, slack_url, tmp_path), cwd=tmp_path)
    assert done.code == 1, done.stdout + done.stderr
    [line] = [ln for ln in done.stdout.splitlines() if ln.startswith("✗ Proxmox privileges: ")]
    assert missing_by_path(line.removeprefix("✗ Proxmox privileges: ")) == EXPECTED_MISSING
    assert "✓ Proxmox credentials" in done.stdout
    assert f"pveum acl modify /vms --tokens '{NO_PRIVS_TOKEN}' --roles CardinalRole" in done.stdout
    assert NO_PRIVS_SECRET not in done.stdout + done.stderr


@requires_console_script
async def test_cardinal_check_subprocess_prints_the_fingerprint_to_pin(
    sandbox: Sandbox, slack_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in sandbox.env.items() if k != "PROXMOX_FINGERPRINT"}  # verify on, nothing pinned
    done = await run_cardinal("check", env=process_env(env, slack_url, tmp_path), cwd=tmp_path)
    assert done.code == 1, done.stdout + done.stderr
    fingerprint = sandbox.env["PROXMOX_FINGERPRINT"]
    lines = done.stdout.splitlines()
    [tls] = [ln for ln in lines if "Proxmox TLS" in ln]
    assert tls.startswith("✗ Proxmox TLS: the certificate is not trusted")
    assert f"the server presents SHA-256 {fingerprint}" in tls
    assert f"    → PROXMOX_FINGERPRINT={fingerprint}" in lines
    assert "- Proxmox credentials: not checked (TLS is not trusted)" in lines
    assert "✓ Proxmox reachable" in done.stdout
