"""``cardinal check`` on a cluster whose nodes hold different templates, with ``PROXMOX_NODE`` and with a
token scoped to a resource pool — against the simulator over TLS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.ops.check.result import CheckResult, CheckTargets, render
from bot.ops.check.run import run_checks
from bot.ops.privileges import REQUIRED_PRIVILEGES
from bot.ops.scopes import REQUIRED_BOT_SCOPES
from bot.settings import Settings
from cardinal_sim.proxmox import Running, Simulator, serve
from tests.conftest import SIM_TEMPLATE, ServerFactory
from tests.fakes.slack import FakeSlack

FULL = "cardinal@pve!full"
POOLED = "cardinal@pve!pooled"
SECRET = "0b8f2c7e-0000-4000-8000-00000000c0de"
DEBIAN = SIM_TEMPLATE.split("/", 1)[1]
ROLE = set(REQUIRED_PRIVILEGES)
VM_ROLE = {p for p in ROLE if p.startswith("VM.")}
OUTSIDE_VMS = {
    "/storage": ROLE - VM_ROLE,
    "/nodes": {"Sys.Audit"},
    "/sdn/zones/localnetwork": {"SDN.Use"},
}


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator(nodes=3, node_templates={"pve": [DEBIAN], "pve3": [DEBIAN]})
    simulator.add_token(FULL, SECRET)
    simulator.add_pool("cardinal")
    simulator.add_token(POOLED, SECRET, {"/pool/cardinal": VM_ROLE, **OUTSIDE_VMS})
    return simulator


@pytest.fixture
async def running(sim: Simulator) -> AsyncIterator[Running]:
    handle = await serve(sim, tls=True)
    yield handle
    await handle.close()


@pytest.fixture
async def slack_url(aiohttp_server: ServerFactory) -> str:
    server = await aiohttp_server(FakeSlack(scopes=REQUIRED_BOT_SCOPES).app())
    return str(server.make_url("/api/"))


def _settings(running: Running, slack_url: str, token: str = FULL, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        proxmox_host="127.0.0.1",
        proxmox_port=running.port,
        proxmox_token=token,
        proxmox_secret=SECRET,
        proxmox_fingerprint=running.fingerprint,
        proxmox_timeout_read=5.0,
        slack_bot_token="xoxb-1111-2222-checktoken",
        slack_signing_secret="signing-secret",
        slack_api_url=slack_url,
        **extra,
    )


async def _checks(settings: Settings, targets: CheckTargets | None = None) -> dict[str, CheckResult]:
    return {r.name: r for r in await run_checks(settings, targets or CheckTargets())}


async def test_templates_are_counted_on_every_node_of_a_per_node_storage(
    running: Running, slack_url: str
) -> None:
    checks = await _checks(_settings(running, slack_url))
    per_node = checks["Templates per node"]
    assert per_node.ok, render(list(checks.values()))
    assert per_node.detail == (
        "'local' is per node (not shared): pve 1, pve2 0, pve3 1; no templates on pve2 "
        "(containers are only placed where their template is)"
    )


async def test_no_template_on_any_node_fails_with_how_to_download(
    running: Running, slack_url: str, sim: Simulator
) -> None:
    for node in ("pve", "pve3"):
        sim.remove_template(node, "local", DEBIAN)
    per_node = (await _checks(_settings(running, slack_url)))["Templates per node"]
    assert not per_node.ok
    assert "pveam download local <template>" in per_node.hint


async def test_default_node_is_checked_to_exist_and_be_online(
    running: Running, slack_url: str, sim: Simulator
) -> None:
    assert (await _checks(_settings(running, slack_url, proxmox_node="pve3")))["Default node"].ok
    unknown = (await _checks(_settings(running, slack_url, proxmox_node="pve9")))["Default node"]
    assert not unknown.ok
    assert unknown.detail == "PROXMOX_NODE=pve9 is not a node of this cluster (nodes: pve, pve2, pve3)"
    sim.nodes["pve2"].online = False
    offline = (await _checks(_settings(running, slack_url, proxmox_node="pve2")))["Default node"]
    assert not offline.ok
    assert offline.detail == "PROXMOX_NODE=pve2 is offline"


async def test_without_proxmox_node_there_is_no_default_node_check(running: Running, slack_url: str) -> None:
    assert "Default node" not in await _checks(_settings(running, slack_url))


async def test_a_token_scoped_to_the_pool_passes_when_the_policy_names_the_pool(
    running: Running, slack_url: str
) -> None:
    settings = _settings(running, slack_url, token=POOLED)
    scoped = (await _checks(settings, CheckTargets(pool="cardinal")))["Proxmox privileges"]
    assert scoped.ok, scoped.detail
    unscoped = (await _checks(settings, CheckTargets()))["Proxmox privileges"]
    assert not unscoped.ok
    assert unscoped.detail.startswith("missing VM.Allocate")
    assert "on /vms" in unscoped.detail


async def test_privileges_missing_on_the_pool_are_named_with_the_pool_path(
    running: Running, slack_url: str, sim: Simulator
) -> None:
    sim.add_token("cardinal@pve!vms", SECRET, {"/vms": {"VM.Audit"}, **OUTSIDE_VMS})
    settings = _settings(running, slack_url, token="cardinal@pve!vms")
    result = (await _checks(settings, CheckTargets(pool="cardinal")))["Proxmox privileges"]
    assert not result.ok
    assert result.detail.endswith("on /pool/cardinal")
    assert "pveum acl modify /pool/cardinal --tokens 'cardinal@pve!vms' --roles CardinalRole" in result.hint
