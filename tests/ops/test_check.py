"""`cardinal check`'s judgements, its renderer, and its Slack and TLS probes against local servers."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.ops.check.cluster import (
    evaluate_bridges,
    evaluate_node,
    evaluate_privileges,
    evaluate_rootfs_storages,
    evaluate_template_storage,
    evaluate_version,
)
from bot.ops.check.config import check_database, check_policy
from bot.ops.check.result import CheckResult, CheckTargets, passed, render
from bot.ops.check.slack import check_slack, evaluate_scopes
from bot.ops.check.transport import evaluate_clock, evaluate_probe, probe_proxmox
from bot.ops.privileges import REQUIRED_PRIVILEGES, REQUIREMENTS, SCHEMA_CHECKS
from bot.ops.scopes import REQUIRED_BOT_SCOPES
from bot.proxmox.models import ClusterResource, Permissions, StorageContent, Version
from tests.fakes.slack import FakeSlack
from tests.ops.conftest import ROOT, Cert, HttpsServerFactory, make_settings

TOKEN = "cardinal@pve!bot"
TARGETS = CheckTargets()


def everything(propagate: int = 1) -> Permissions:
    """A token with every required privilege granted at the root."""
    return Permissions(paths={"/": dict.fromkeys(REQUIRED_PRIVILEGES, propagate)})


# --- renderer ----------------------------------------------------------------------------------


def test_render_marks_each_check_and_puts_hints_under_failures() -> None:
    results = [
        CheckResult("Settings", True, "valid"),
        CheckResult("Proxmox TLS", False, "not trusted", "pin it:\nPROXMOX_FINGERPRINT=AA:BB"),
        CheckResult("Clock skew", False, "not checked (Proxmox is unreachable)", skipped=True),
    ]
    assert render(results).splitlines() == [
        "✓ Settings: valid",
        "✗ Proxmox TLS: not trusted",
        "    → pin it:",
        "    → PROXMOX_FINGERPRINT=AA:BB",
        "- Clock skew: not checked (Proxmox is unreachable)",
        "1 of 3 checks failed, 1 not checked.",
    ]
    assert not passed(results)


def test_render_all_passed_summary_and_no_hint_for_passing_checks() -> None:
    results = [CheckResult("A", True, "fine", hint="never shown"), CheckResult("B", True, "fine")]
    assert render(results).splitlines() == ["✓ A: fine", "✓ B: fine", "All 2 checks passed."]
    assert passed(results)


def test_a_skipped_check_does_not_pass() -> None:
    assert not passed([CheckResult("A", True, "ok"), CheckResult("B", False, "x", skipped=True)])


# --- Slack scopes --------------------------------------------------------------------------------


def test_scopes_all_granted_passes_and_extra_scopes_are_fine() -> None:
    assert evaluate_scopes({*REQUIRED_BOT_SCOPES, "files:write"}).ok


def test_missing_scopes_are_named_with_a_reinstall_hint() -> None:
    granted = set(REQUIRED_BOT_SCOPES) - {"im:write", "groups:history"}
    result = evaluate_scopes(granted)
    assert not result.ok
    assert "groups:history" in result.detail
    assert "im:write" in result.detail
    assert "reinstall" in result.hint
    assert "im:write for conversations.open" in result.hint


def test_unknown_scopes_fail() -> None:
    assert not evaluate_scopes(None).ok


async def test_slack_check_reads_scopes_from_auth_test(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> None:
    fake = FakeSlack(scopes=REQUIRED_BOT_SCOPES[:-1])
    server = await aiohttp_server(fake.app())
    settings = make_settings(slack_api_url=str(server.make_url("/api/")))
    token, scopes = await check_slack(settings)
    assert token.ok
    assert "Fake Team" in token.detail
    assert not scopes.ok
    assert scopes.detail == f"missing {REQUIRED_BOT_SCOPES[-1]}"


async def test_slack_check_reports_a_refused_token(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> None:
    fake = FakeSlack(scopes=REQUIRED_BOT_SCOPES)
    fake.fail_next("auth.test", 200, body={"ok": False, "error": "invalid_auth"})
    server = await aiohttp_server(fake.app())
    settings = make_settings(slack_api_url=str(server.make_url("/api/")))
    token, scopes = await check_slack(settings)
    assert not token.ok
    assert "invalid_auth" in token.detail
    assert "SLACK_BOT_TOKEN" in token.hint
    assert scopes.skipped


# --- Proxmox version, privileges, storage, bridges -----------------------------------------------


@pytest.mark.parametrize(
    ("release", "ok"), [("7.4", False), ("8.0", False), ("8.1", True), ("8.4", True), ("9.1", True)]
)
def test_version_must_be_at_least_8_1(release: str, ok: bool) -> None:
    result = evaluate_version(Version(version=f"{release}.3", release=release))
    assert result.ok is ok
    if not ok:
        assert "Upgrade" in result.hint


def test_all_privileges_at_the_root_pass() -> None:
    assert evaluate_privileges(everything(), ["pve1", "pve2"], TARGETS, TOKEN).ok


def test_missing_privileges_are_named_with_their_path_and_a_pveum_hint() -> None:
    perms = Permissions(
        paths={
            "/vms": dict.fromkeys(set(REQUIRED_PRIVILEGES) - {"VM.PowerMgmt"}, 1),
            "/storage": {"Datastore.Audit": 1, "Datastore.AllocateSpace": 1, "Datastore.AllocateTemplate": 1},
            "/nodes/pve1": {"Sys.Audit": 1},
            "/sdn/zones/localnetwork": {"SDN.Use": 1},
        }
    )
    result = evaluate_privileges(perms, ["pve1", "pve2"], TARGETS, TOKEN)
    assert not result.ok
    assert result.detail == "missing VM.PowerMgmt on /vms; Sys.Audit on /nodes/pve2"
    assert "pveum acl modify /vms --tokens 'cardinal@pve!bot' --roles CardinalRole" in result.hint


def test_a_privilege_that_does_not_propagate_does_not_reach_containers() -> None:
    perms = Permissions(paths={"/vms": dict.fromkeys(REQUIRED_PRIVILEGES, 0)})
    result = evaluate_privileges(perms, ["pve1"], TARGETS, TOKEN)
    assert not result.ok
    assert "VM.Allocate" in result.detail
    assert "on /vms" in result.detail


def test_storage_privileges_follow_the_policy_storages() -> None:
    targets = CheckTargets(template_storage="nfs-tmpl", rootfs_storages=("ceph", "local-lvm"))
    privs = {"Datastore.Audit": 1, "Datastore.AllocateSpace": 1, "Datastore.AllocateTemplate": 1}
    perms = Permissions(
        paths={
            "/vms": dict.fromkeys(REQUIRED_PRIVILEGES, 1),
            "/nodes": {"Sys.Audit": 1},
            "/sdn": {"SDN.Use": 1},
            "/storage/nfs-tmpl": privs,
            "/storage/local-lvm": privs,
        }
    )
    result = evaluate_privileges(perms, ["pve1"], targets, TOKEN)
    assert result.detail == "missing Datastore.AllocateSpace, Datastore.Audit on /storage/ceph"


def _storage(name: str, node: str, content: str) -> ClusterResource:
    return ClusterResource(
        id=f"storage/{node}/{name}", type="storage", node=node, storage=name, content=content
    )


def test_template_storage_with_vztmpl_content_passes_and_counts_templates() -> None:
    storages = [
        _storage("local", "pve1", "iso,vztmpl,backup"),
        _storage("local-lvm", "pve1", "rootdir,images"),
    ]
    tmpl = StorageContent(volid="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", content="vztmpl")
    result = evaluate_template_storage(storages, [tmpl], TARGETS)
    assert result.ok
    assert "pve1" in result.detail
    assert "1 template" in result.detail


def test_template_storage_missing_or_without_templates_fails_with_a_fix() -> None:
    missing = evaluate_template_storage([_storage("local-lvm", "pve1", "rootdir")], None, TARGETS)
    assert not missing.ok
    assert "'local' not found" in missing.detail
    assert "local-lvm" in missing.detail
    no_tmpl = evaluate_template_storage([_storage("local", "pve1", "iso,backup")], None, TARGETS)
    assert not no_tmpl.ok
    assert "pvesm set local --content vztmpl" in no_tmpl.hint


def test_disk_storages_must_accept_container_disks() -> None:
    assert evaluate_rootfs_storages([_storage("local-lvm", "pve1", "rootdir,images")], TARGETS).ok
    result = evaluate_rootfs_storages([_storage("local-lvm", "pve1", "images")], TARGETS)
    assert not result.ok
    assert "does not accept container disks" in result.detail


def test_bridges_need_sdn_use_per_bridge() -> None:
    targets = CheckTargets(bridges=("vmbr0", "vmbr1"))
    perms = Permissions(paths={"/sdn/zones/localnetwork/vmbr0": {"SDN.Use": 0}})
    result = evaluate_bridges(perms, [], targets, TOKEN)
    assert not result.ok
    assert result.detail == "SDN.Use missing for vmbr1"
    zone = ClusterResource(id="sdn/pve1/localnetwork", type="sdn", node="pve1", status="ok")
    ok = evaluate_bridges(everything(), [zone], targets, TOKEN)
    assert ok.ok
    assert "localnetwork zone on pve1" in ok.detail


# --- clock ---------------------------------------------------------------------------------------


def test_clock_skew_under_30_seconds_passes_and_over_fails() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert evaluate_clock(now - timedelta(seconds=5), now).ok
    late = evaluate_clock(now + timedelta(seconds=31), now)
    assert not late.ok
    assert "NTP" in late.hint
    assert evaluate_clock(None, now).skipped


# --- policy --------------------------------------------------------------------------------------


def test_policy_placement_becomes_the_check_targets(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[placement]\nbridges = ["vmbr1"]\nstorages = ["ceph"]\ntemplate_storage = "cephfs"\n')
    targets, results = check_policy(make_settings(policy_file=policy))
    assert targets == CheckTargets("cephfs", ("ceph",), ("vmbr1",))
    assert results[0].ok


def test_a_bad_policy_gives_one_failure_per_problem(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[placement]\nbridges = ["bad bridge"]\nnot_a_key = 1\n')
    targets, results = check_policy(make_settings(policy_file=policy))
    assert targets is None
    assert len(results) == 2
    assert all(not r.ok for r in results)


def test_the_policys_own_warnings_are_shown_and_an_empty_approvers_list_fails() -> None:
    """The Kubernetes example without a policy file runs on the built-in defaults: nobody can approve."""
    _, results = check_policy(make_settings())
    by_name = {r.name: r for r in results}
    assert not by_name["Policy approvers"].ok
    assert by_name["Policy approvers"].detail.startswith("approvers is empty")
    assert "in a policy file and set POLICY_FILE" in by_name["Policy approvers"].hint
    assert not passed(results)
    out = render(results)
    assert "! Policy approval_channel: approval_channel is unset" in out
    assert "✗ Policy approvers: approvers is empty" in out


def test_a_complete_policy_has_no_warnings(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('approvers = ["U0APPROVE"]\napproval_channel = "C0APPROVE"\nops_channel = "C0OPS"\n')
    _, results = check_policy(make_settings(policy_file=policy))
    assert [r.name for r in results] == ["Policy"]
    assert passed(results)


def test_proxmox_node_must_be_a_node_of_the_cluster() -> None:
    assert evaluate_node(None, ["pve1"]).ok
    assert evaluate_node("pve1", ["pve1", "pve2"]).ok
    wrong = evaluate_node("pve9", ["pve1", "pve2"])
    assert not wrong.ok
    assert wrong.detail == "PROXMOX_NODE=pve9 is not a node of this cluster (nodes: pve1, pve2)"


async def test_database_check_fails_for_a_postgresql_database_that_does_not_exist() -> None:
    import os

    base = os.environ.get("CARDINAL_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("CARDINAL_TEST_POSTGRES_URL is unset")
    url = base.rpartition("/")[0] + "/cardinal_check_no_such_database"
    result = await check_database(make_settings(database_url=url), limit=5.0)
    assert not result.ok
    assert "does not exist" in result.detail
    assert "DATABASE_URL" in result.hint


async def test_database_check_fails_for_a_closed_port(unused_tcp_port: int) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/cardinal"
    result = await check_database(make_settings(database_url=url), limit=5.0)
    assert not result.ok
    assert result.detail.startswith("cannot connect to the database")


async def test_database_check_reports_a_migrated_sqlite_file(tmp_path: Path) -> None:
    from bot.db import migrate

    url = f"sqlite+aiosqlite:///{tmp_path}/cardinal.db"
    assert (await check_database(make_settings(database_url=url), limit=5.0)).detail.endswith(
        "will be created by `cardinal run`"
    )
    await migrate(url)
    result = await check_database(make_settings(database_url=url), limit=5.0)
    assert result.ok
    assert result.detail == "sqlite reachable, at the latest migration"


# --- TLS and reachability against a local HTTPS server --------------------------------------------


async def _hello(_: web.Request) -> web.Response:
    return web.Response(text="pve")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _hello)
    return app


async def test_self_signed_certificate_fails_and_prints_the_fingerprint_to_pin(
    https_server: HttpsServerFactory, self_signed: Cert
) -> None:
    server = await https_server(_app())
    settings = make_settings(proxmox_port=server.port)
    reach, tls, clock = evaluate_probe(settings, await probe_proxmox(settings, limit=5.0))
    assert reach.ok
    assert not tls.ok
    assert self_signed.fingerprint in tls.detail
    assert f"PROXMOX_FINGERPRINT={self_signed.fingerprint}" in tls.hint.splitlines()
    assert clock.ok  # aiohttp sends a Date header even when the certificate is refused by us


async def test_pinned_fingerprint_passes(https_server: HttpsServerFactory, self_signed: Cert) -> None:
    server = await https_server(_app())
    settings = make_settings(proxmox_port=server.port, proxmox_fingerprint=self_signed.fingerprint)
    results = evaluate_probe(settings, await probe_proxmox(settings, limit=5.0))
    assert [r.ok for r in results] == [True, True, True]
    assert "pinned" in results[1].detail


async def test_wrong_pinned_fingerprint_fails(https_server: HttpsServerFactory, self_signed: Cert) -> None:
    server = await https_server(_app())
    settings = make_settings(proxmox_port=server.port, proxmox_fingerprint=":".join(["AB"] * 32))
    _, tls, _ = evaluate_probe(settings, await probe_proxmox(settings, limit=5.0))
    assert not tls.ok
    assert "does not match PROXMOX_FINGERPRINT" in tls.detail
    assert self_signed.fingerprint in tls.hint


async def test_ca_file_verifies(https_server: HttpsServerFactory, self_signed: Cert) -> None:
    server = await https_server(_app())
    settings = make_settings(proxmox_port=server.port, proxmox_ca_file=self_signed.certfile)
    _, tls, _ = evaluate_probe(settings, await probe_proxmox(settings, limit=5.0))
    assert tls.ok
    assert "PROXMOX_CA_FILE" in tls.detail


async def test_verification_turned_off_is_reported_as_a_failure(
    https_server: HttpsServerFactory, self_signed: Cert
) -> None:
    server = await https_server(_app())
    settings = make_settings(proxmox_port=server.port, proxmox_verify_tls=False)
    _, tls, _ = evaluate_probe(settings, await probe_proxmox(settings, limit=5.0))
    assert not tls.ok
    assert "PROXMOX_VERIFY_TLS=false" in tls.detail
    assert self_signed.fingerprint in tls.hint


async def test_nothing_listening_is_unreachable_and_later_checks_are_skipped(unused_tcp_port: int) -> None:
    settings = make_settings(proxmox_port=unused_tcp_port)
    reach, tls, clock = evaluate_probe(settings, await probe_proxmox(settings, limit=5.0))
    assert not reach.ok
    assert f"127.0.0.1:{unused_tcp_port}" in reach.detail
    assert "PROXMOX_HOST" in reach.hint
    assert tls.skipped
    assert clock.skipped


# --- the privilege table against the official schema ----------------------------------------------


def _schema_checks() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    subset = ROOT / "cardinal_sim" / "proxmox" / "data" / "schema.json"
    if subset.exists():
        for entry in json.loads(subset.read_text())["endpoints"]:
            check = (entry.get("permissions") or {}).get("check")
            if check and check[0] == "perm":
                found[(entry["method"], entry["path"])] = list(check[2])
    full = ROOT.parent / "shared" / "proxmox" / "apidata.json"
    if full.exists():

        def walk(node: dict[str, object]) -> None:
            info = node.get("info")
            if isinstance(info, dict):
                for method, spec in info.items():
                    check = (spec.get("permissions") or {}).get("check")
                    if check and check[0] == "perm" and len(check) > 2:
                        found[(method, str(node["path"]))] = list(check[2])
            children = node.get("children")
            if isinstance(children, list):
                for child in children:
                    walk(child)

        for root in json.loads(full.read_text()):
            walk(root)
    return found


def test_schema_checks_are_copied_verbatim_from_the_official_schema() -> None:
    schema = _schema_checks()
    if not schema:
        pytest.skip(
            "no Proxmox schema file (cardinal_sim/proxmox/data/schema.json or ../shared/proxmox) found"
        )
    compared = [key for key in SCHEMA_CHECKS if key in schema]
    assert len(compared) >= 8, "too few endpoints found in the schema to compare"
    for key in compared:
        assert list(SCHEMA_CHECKS[key]) == schema[key], key


def test_every_schema_privilege_is_required_somewhere() -> None:
    required = {r.privilege for r in REQUIREMENTS}
    for privileges in SCHEMA_CHECKS.values():
        assert set(privileges) <= required


def test_setup_doc_role_has_exactly_the_checked_privileges() -> None:
    text = (ROOT / "manifests" / "proxmox-setup.md").read_text()
    m = re.search(r'pveum role add CardinalRole --privs "([^"]+)"', text)
    assert m is not None
    assert m.group(1).split(",") == list(REQUIRED_PRIVILEGES)
    for acl in ("/vms", "/nodes", "/sdn/zones/localnetwork", "/storage/local", "--privsep 1"):
        assert acl in text
