"""The real Proxmox client against the Proxmox simulator over real TLS (certificate pinned).

Every typed operation of :class:`ProxmoxClient` is exercised the way Cardinal uses it, and the simulator —
which validates parameters against the official schema and answers with the real error texts — decides
whether the client got it right. Nothing mocks the client's own functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.proxmox import (
    CircuitBreaker,
    CircuitOpenError,
    ProxmoxAuthError,
    ProxmoxClient,
    ProxmoxConflictError,
    ProxmoxExistsError,
    ProxmoxLockedError,
    ProxmoxNotFoundError,
    ProxmoxPermissionError,
    ProxmoxServerError,
    ProxmoxTLSError,
    ProxmoxUnreachableError,
    ProxmoxValidationError,
    RetryPolicy,
    TaskOutcome,
    Upid,
)
from bot.proxmox.transport import UNKNOWN_OUTCOME_HINT
from cardinal_sim.proxmox import FaultConfig, Running, Simulator
from cardinal_sim.proxmox.server import SelfSignedCert
from tests.integration.conftest import (
    DEBIAN,
    FAST_RETRIES,
    PASSWORD,
    SECRET,
    TOKEN,
    USER,
    WRONG_FINGERPRINT,
    ClientFactory,
    finish_task,
    make_sim,
    serve_with_cert,
)

NEW_TEMPLATE = "rockylinux-10-default_20251001_amd64.tar.xz"


def create_params(vmid: int, **extra: object) -> dict[str, object]:
    """What Cardinal sends to create a small DHCP container."""
    params: dict[str, object] = {
        "vmid": vmid,
        "ostemplate": DEBIAN,
        "hostname": f"ct-{vmid}",
        "cores": 1,
        "memory": 1024,
        "swap": 512,
        "rootfs": "local-lvm:8",
        "net0": "name=eth0,bridge=vmbr0,ip=dhcp,firewall=1",
        "unprivileged": True,
        "features": "nesting=1",
        "start": False,
        "tags": "cardinal;owner-u123",
        "description": "Requested by <@U123> via Cardinal",
    }
    params.update(extra)
    return params


# --- cluster ---------------------------------------------------------------------------------------


async def test_version_and_nodes(px: ProxmoxClient) -> None:
    version = await px.version()
    assert version.release == "9.1"
    assert version.major_minor == (9, 1)
    assert len(version.repoid) == 16

    nodes = await px.nodes()
    assert [n.node for n in nodes] == ["pve", "pve2"]
    assert all(n.status == "online" and n.maxmem > 0 and n.free_mem > 0 for n in nodes)


async def test_networks_lists_the_bridges_of_a_node(px: ProxmoxClient) -> None:
    bridges = await px.networks("pve2", "any_bridge")
    assert [(i["iface"], i["type"]) for i in bridges] == [("vmbr0", "bridge"), ("vmbr1", "bridge")]
    assert {i["iface"] for i in await px.networks("pve")} == {"eno1", "vmbr0", "vmbr1"}
    with pytest.raises(ProxmoxValidationError) as info:
        await px.networks("pve", "wifi")
    assert "type" in info.value.errors


async def test_cluster_resources_of_each_type(px: ProxmoxClient, sim: Simulator) -> None:
    sim.advance(60)  # past the stats broadcast, so guests carry names and stats

    vms = await px.cluster_resources("vm")
    assert {(r.id, r.vmid, r.type, r.status, r.name) for r in vms} == {
        ("lxc/100", 100, "lxc", "running", "web"),
        ("lxc/101", 101, "lxc", "stopped", "db"),
    }
    storages = await px.cluster_resources("storage")
    assert {(r.node, r.storage) for r in storages} == {
        (n, s) for n in ("pve", "pve2") for s in ("local", "local-lvm")
    }
    local = next(r for r in storages if r.storage == "local" and r.node == "pve")
    assert "vztmpl" in (local.content or "").split(",")
    nodes = await px.cluster_resources("node")
    assert {(r.node, r.type) for r in nodes} == {("pve", "node"), ("pve2", "node")}
    sdn = await px.cluster_resources("sdn")
    assert {r.id for r in sdn} == {"sdn/pve/localnetwork", "sdn/pve2/localnetwork"}
    everything = await px.cluster_resources()
    assert {"lxc", "storage", "node", "sdn"} <= {r.type for r in everything}


async def test_next_vmid_is_an_int_and_vmid_is_free_both_ways(px: ProxmoxClient, sim: Simulator) -> None:
    assert await px.next_vmid() == 102  # the API answers the string "102"
    assert await px.next_vmid(150) == 150
    assert await px.vmid_is_free(150) is True
    assert await px.vmid_is_free(100) is False
    with pytest.raises(ProxmoxExistsError) as info:
        await px.next_vmid(101)
    assert info.value.errors == {"vmid": "VM 101 already exists"}
    assert "VM 101 already exists" in info.value.user_message


async def test_permissions_of_the_full_and_of_a_limited_token(
    px: ProxmoxClient, sim: Simulator, make_client: ClientFactory
) -> None:
    perms = await px.permissions()
    assert perms.has("/vms/100", "VM.Allocate")
    assert perms.has("/sdn/zones/localnetwork/vmbr0", "SDN.Use")

    sim.add_token("audit@pve!ro", "ro-secret", privileges={"/vms": {"VM.Audit"}})
    ro = make_client(token_id="audit@pve!ro", token_secret=SecretStr("ro-secret"))
    limited = await ro.permissions()
    assert limited.paths == {"/vms": {"VM.Audit": 1}}
    assert limited.has("/vms/100", "VM.Audit")
    assert not limited.has("/vms/100", "VM.PowerMgmt")
    only_path = await ro.permissions("/vms/100")
    assert only_path.paths == {"/vms/100": {"VM.Audit": 1}}


# --- containers ------------------------------------------------------------------------------------


async def test_create_container_runs_to_ok_with_the_log_ending_in_task_ok(
    px: ProxmoxClient, sim: Simulator
) -> None:
    upid = await px.create_container("pve", create_params(200))
    assert (upid.node, upid.type, upid.id, upid.user, upid.vmid) == ("pve", "vzcreate", "200", TOKEN, 200)

    # The VMID is reserved at once, with the create lock, before the task has done anything.
    assert await px.vmid_is_free(200) is False
    running = await px.task_status(upid)
    assert running.outcome is TaskOutcome.RUNNING
    assert running.exitstatus is None
    assert (await px.container_status("pve", 200)).lock == "create"

    final = await finish_task(px, sim, upid)
    assert final.outcome is TaskOutcome.OK
    assert final.succeeded
    assert final.exitstatus == "OK"
    log = await px.task_log(upid)
    assert [line.n for line in log] == list(range(1, len(log) + 1))
    assert log[-1].t == "TASK OK"
    assert any("extracting archive" in line.t for line in log)
    tail = await px.task_log_tail(upid, 2)
    assert len(tail) == 2
    assert tail[-1] == "TASK OK"
    assert await px.task_log_tail(upid, 0) == []

    config = await px.container_config("pve", 200)
    assert config["hostname"] == "ct-200"
    assert config["memory"] == 1024
    assert config["unprivileged"] == 1
    assert config["tags"] == "cardinal;owner-u123"
    assert str(config["rootfs"]).startswith("local-lvm:vm-200-disk-0,size=8G")
    assert "lock" not in config
    # Booleans went out as 1/0 in a form body (the simulator refuses "True"/"true" with a 400).
    sent = next(r for r in sim.request_log if r.method == "POST" and r.path == "/nodes/pve/lxc")
    assert sent.params["unprivileged"] == "1"
    assert sent.params["start"] == "0"


async def test_create_on_the_second_node_is_tracked_on_that_node(px: ProxmoxClient, sim: Simulator) -> None:
    upid = await px.create_container("pve2", create_params(300, start=True))
    assert upid.node == "pve2"
    assert (await finish_task(px, sim, upid)).outcome is TaskOutcome.OK
    status = await px.container_status("pve2", 300)
    assert status.running
    assert status.vmid == 300
    assert [c.vmid for c in await px.containers("pve2")] == [300]


async def test_create_refusals_map_to_typed_errors(px: ProxmoxClient, sim: Simulator) -> None:
    with pytest.raises(ProxmoxExistsError, match="CT 100 already exists on node 'pve'") as exists:
        await px.create_container("pve", create_params(100))
    assert exists.value.status == 500

    with pytest.raises(ProxmoxValidationError) as invalid:
        await px.create_container("pve", create_params(201, hostname="not_a host!"))
    assert invalid.value.status == 400
    assert "valid DNS name" in invalid.value.errors["hostname"]
    assert "hostname:" in str(invalid.value)
    assert not any(t.type == "vzcreate" for t in sim.tasks)


async def test_update_config_is_synchronous_and_returns_none(px: ProxmoxClient, sim: Simulator) -> None:
    before = await px.container_config("pve", 101)
    result = await px.update_config(  # type: ignore[func-returns-value]
        "pve", 101, {"memory": 2048, "description": "expires 2026-12-01", "digest": before["digest"]}
    )
    assert result is None
    after = await px.container_config("pve", 101)
    assert after["memory"] == 2048
    assert after["description"] == "expires 2026-12-01"
    assert not any(t.type.startswith("vzconfig") for t in sim.tasks)

    # A stale digest: someone changed the config in between.
    with pytest.raises(ProxmoxConflictError, match="file changed by other user"):
        await px.update_config("pve", 101, {"memory": 4096, "digest": before["digest"]})
    with pytest.raises(ProxmoxNotFoundError, match="does not exist"):
        await px.update_config("pve", 999, {"memory": 1024})


async def test_container_status_and_containers(px: ProxmoxClient) -> None:
    running = await px.container_status("pve", 100)
    assert running.running
    assert running.name == "web"
    assert running.uptime > 0
    assert running.maxmem == 512 << 20
    stopped = await px.container_status("pve", 101)
    assert not stopped.running
    assert stopped.uptime == 0
    assert stopped.mem == 0
    listed = await px.containers("pve")
    assert {(c.vmid, c.status) for c in listed} == {(100, "running"), (101, "stopped")}
    assert await px.containers("pve2") == []
    with pytest.raises(ProxmoxNotFoundError, match=r"Configuration file 'nodes/pve/lxc/999\.conf'"):
        await px.container_status("pve", 999)
    with pytest.raises(ProxmoxNotFoundError):
        await px.container_config("pve", 999)


async def test_power_actions_walk_a_container_through_its_states(px: ProxmoxClient, sim: Simulator) -> None:
    async def act(action: str, **params: object) -> Upid:
        upid = await px.power("pve", 101, action, **params)  # type: ignore[arg-type]
        assert upid.type == f"vz{action}"
        assert upid.vmid == 101
        assert (await finish_task(px, sim, upid)).outcome is TaskOutcome.OK
        return upid

    await act("start")
    assert (await px.container_status("pve", 101)).running
    await act("reboot", timeout=30)
    assert (await px.container_status("pve", 101)).running
    await act("suspend")
    assert not (await px.container_status("pve", 101)).running
    await act("resume")
    assert (await px.container_status("pve", 101)).running
    await act("shutdown", timeout=10, forceStop=True)
    assert not (await px.container_status("pve", 101)).running
    await act("start")
    await act("stop")
    assert not (await px.container_status("pve", 101)).running
    shutdown = next(r for r in sim.request_log if r.path.endswith("/status/shutdown"))
    assert shutdown.params["forceStop"] == "1"
    assert shutdown.params["timeout"] == "10"


@pytest.mark.parametrize(
    ("vmid", "action", "message"),
    [
        (100, "start", "CT 100 already running"),
        (100, "resume", "CT 100 already running"),
        (101, "stop", "CT 101 not running"),
        (101, "shutdown", "CT 101 not running"),
        (101, "suspend", "CT 101 not running"),
        (101, "reboot", "VM 101 not running"),
    ],
)
async def test_power_refusals_are_conflicts_with_the_proxmox_message(
    px: ProxmoxClient, sim: Simulator, vmid: int, action: str, message: str
) -> None:
    with pytest.raises(ProxmoxConflictError) as info:
        await px.power("pve", vmid, action)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert info.value.status == 500
    assert sim.tasks == []  # refused synchronously: no task was started


async def test_restart_is_refused_before_anything_is_sent(px: ProxmoxClient, sim: Simulator) -> None:
    with pytest.raises(ValueError, match="reboot"):
        await px.power("pve", 100, "restart")  # type: ignore[arg-type]
    assert sim.request_log == []


async def test_interfaces_empty_when_stopped_then_dhcp_address_after_start(
    px: ProxmoxClient, sim: Simulator
) -> None:
    assert await px.interfaces("pve", 101) == []  # the API answers null for a stopped CT
    upid = await px.power("pve", 101, "start")
    await finish_task(px, sim, upid)

    booting = await px.interfaces("pve", 101)
    assert [i.name for i in booting] == ["eth0"]  # lo is skipped
    assert booting[0].ipv4 == []
    assert booting[0].ipv6_global == []
    assert booting[0].hwaddr is not None

    sim.advance(sim.dhcp_delay)
    [eth0] = await px.interfaces("pve", 101)
    assert len(eth0.ipv4) == 1
    assert eth0.ipv4[0].startswith("10.20.0.")
    assert any(a.family == "inet" and a.prefix == 24 for a in eth0.addresses)
    assert any(a.is_link_local for a in eth0.addresses if a.family == "inet6")


async def test_destroy_sends_its_flags_in_the_query_string(px: ProxmoxClient, sim: Simulator) -> None:
    upid = await px.destroy_container("pve", 101)
    assert (upid.type, upid.vmid) == ("vzdestroy", 101)
    [sent] = [r for r in sim.request_log if r.method == "DELETE"]
    assert sent.params == {"purge": "1", "destroy-unreferenced-disks": "1", "force": "0"}
    assert (await finish_task(px, sim, upid)).outcome is TaskOutcome.OK
    assert "purging CT 101 from related configurations.." in await px.task_log_tail(upid, 10)
    with pytest.raises(ProxmoxNotFoundError):
        await px.container_config("pve", 101)
    assert await px.vmid_is_free(101)
    assert not [v for v in sim.storage("pve", "local-lvm").volumes.values() if v.vmid == 101]


async def test_destroy_refusals(px: ProxmoxClient, sim: Simulator) -> None:
    with pytest.raises(ProxmoxConflictError, match="unable to destroy CT 100 - container is running"):
        await px.destroy_container("pve", 100)
    upid = await px.destroy_container("pve", 100, force=True)
    assert (await finish_task(px, sim, upid)).succeeded

    creating = await px.create_container("pve", create_params(202))
    with pytest.raises(ProxmoxLockedError, match=r"CT is locked \(create\)"):
        await px.destroy_container("pve", 202)
    assert (await finish_task(px, sim, creating)).succeeded


# --- tasks -----------------------------------------------------------------------------------------


async def test_node_tasks_filters_and_cluster_tasks(
    px: ProxmoxClient, sim: Simulator, make_client: ClientFactory
) -> None:
    sim.add_token("ops@pve!cli", "ops-secret")
    ops = make_client(token_id="ops@pve!cli", token_secret=SecretStr("ops-secret"))
    t0 = int(sim.now())
    start = await px.power("pve", 101, "start")
    await finish_task(px, sim, start)
    sim.advance(100)
    since = int(sim.now())
    stop = await ops.power("pve", 101, "stop")
    await finish_task(px, sim, stop)
    sim.advance(100)
    create = await px.create_container("pve", create_params(210))  # left running
    other_node = await px.create_container("pve2", create_params(310))

    archive = await px.node_tasks("pve")  # default source=archive: finished only, newest first
    assert [t.upid for t in archive] == [str(stop), str(start)]
    assert all(t.outcome is TaskOutcome.OK and t.endtime is not None for t in archive)
    active = await px.node_tasks("pve", source="active")
    assert [(t.upid, t.status, t.outcome) for t in active] == [(str(create), "RUNNING", TaskOutcome.RUNNING)]
    assert [t.upid for t in await px.node_tasks("pve", source="all")] == [str(create), str(stop), str(start)]
    assert [t.upid for t in await px.node_tasks("pve", since=since)] == [str(stop)]
    assert [t.upid for t in await px.node_tasks("pve", since=t0, vmid=101)] == [str(stop), str(start)]
    assert [t.upid for t in await px.node_tasks("pve", source="all", vmid=210)] == [str(create)]
    assert [t.upid for t in await px.node_tasks("pve", typefilter="vzstart")] == [str(start)]
    assert [t.upid for t in await px.node_tasks("pve", userfilter="OPS@")] == [str(stop)]
    assert [t.upid for t in await px.node_tasks("pve", source="all", limit=1)] == [str(create)]

    cluster = await px.cluster_tasks()
    assert {t.upid for t in cluster} == {str(u) for u in (start, stop, create, other_node)}
    assert {t.node for t in cluster} == {"pve", "pve2"}


async def test_stop_task_ends_it_with_received_interrupt(px: ProxmoxClient, sim: Simulator) -> None:
    upid = await px.create_container("pve", create_params(220))
    sim.advance(1)
    assert await px.stop_task(upid) is None  # type: ignore[func-returns-value]
    status = await px.task_status(upid)
    assert status.status == "stopped"
    assert status.exitstatus == "received interrupt"
    assert status.outcome is TaskOutcome.FAILED
    assert not status.succeeded
    assert (await px.task_log_tail(upid, 1)) == ["TASK ERROR: received interrupt"]
    assert await px.vmid_is_free(220)  # the interrupted create cleaned up after itself


async def test_unknown_task_is_not_found(px: ProxmoxClient) -> None:
    ghost = Upid("pve", 4242, 1234, 1700000000, "vzstart", "100", TOKEN)
    with pytest.raises(ProxmoxNotFoundError) as info:
        await px.task_status(ghost)
    assert info.value.errors == {"upid": "no such task"}
    assert "upid: no such task" in info.value.user_message  # not just "Parameter verification failed."


# --- storage and templates -------------------------------------------------------------------------


async def test_storage_content_aplinfo_and_download_template(px: ProxmoxClient, sim: Simulator) -> None:
    templates = await px.storage_content("pve", "local")
    volids = {t.volid for t in templates}
    assert DEBIAN in volids
    assert all(t.content == "vztmpl" for t in templates)
    debian = next(t for t in templates if t.volid == DEBIAN)
    assert debian.format == "tzst"
    assert debian.size > 0
    assert await px.storage_content("pve", "local-lvm") == []

    available = await px.aplinfo("pve")
    offered = {a.template: a for a in available}
    assert NEW_TEMPLATE in offered
    assert offered[NEW_TEMPLATE].type == "lxc"
    assert f"local:vztmpl/{NEW_TEMPLATE}" not in volids

    upid = await px.download_template("pve", "local", NEW_TEMPLATE)
    assert (upid.type, upid.id) == ("download", NEW_TEMPLATE)
    assert (await finish_task(px, sim, upid)).outcome is TaskOutcome.OK
    assert (await px.task_log_tail(upid, 1)) == ["TASK OK"]
    after = {t.volid: t for t in await px.storage_content("pve", "local")}
    assert after[f"local:vztmpl/{NEW_TEMPLATE}"].format == "txz"
    assert f"local:vztmpl/{NEW_TEMPLATE}" not in {t.volid for t in await px.storage_content("pve2", "local")}

    with pytest.raises(ProxmoxValidationError) as info:
        await px.download_template("pve", "local", "no-such-template_1.0_amd64.tar.zst")
    assert info.value.errors == {"template": "no such template"}


# --- authentication --------------------------------------------------------------------------------


async def test_a_token_lacking_a_privilege_gets_the_proxmox_message(
    sim: Simulator, make_client: ClientFactory
) -> None:
    sim.add_token("audit@pve!ro", "ro-secret", privileges={"/vms": {"VM.Audit"}})
    ro = make_client(token_id="audit@pve!ro", token_secret=SecretStr("ro-secret"))
    assert (await ro.container_status("pve", 100)).running  # what it may do works

    with pytest.raises(ProxmoxPermissionError) as info:
        await ro.power("pve", 100, "stop")
    assert info.value.status == 403
    assert "Permission check failed (/vms/100, VM.PowerMgmt)" in str(info.value)
    assert "cardinal check" in info.value.hint
    # VM.Allocate may come from /vms/<vmid> or the pool, so create says no more than this (API2/LXC.pm).
    with pytest.raises(ProxmoxPermissionError, match=r"Permission check failed$"):
        await ro.create_container("pve", create_params(230))


async def test_a_wrong_token_secret_is_an_auth_error(make_client: ClientFactory) -> None:
    bad = make_client(token_secret=SecretStr("not-the-secret"))
    with pytest.raises(ProxmoxAuthError, match="Authentication failed!"):
        await bad.version()


async def test_ticket_auth_reads_and_writes_with_csrf(sim: Simulator, make_client: ClientFactory) -> None:
    sim.add_user(USER, PASSWORD)
    px = make_client(username=USER, password=SecretStr(PASSWORD))
    assert (await px.version()).release == "9.1"
    upid = await px.power("pve", 101, "start")  # a write: the simulator refuses it without the CSRF token
    assert upid.user == USER
    assert (await finish_task(px, sim, upid)).outcome is TaskOutcome.OK
    assert [r.path for r in sim.request_log if r.path == "/access/ticket"] == ["/access/ticket"]
    assert all(r.status == 200 for r in sim.request_log)
    assert {r.user for r in sim.request_log if r.path != "/access/ticket"} == {USER}


async def test_ticket_is_renewed_with_itself_when_the_clock_passes_renew_after(
    sim: Simulator, make_client: ClientFactory
) -> None:
    cred = sim.add_user(USER, PASSWORD)
    px = make_client(username=USER, password=SecretStr(PASSWORD), clock=sim.now, ticket_renew_after=3600)
    await px.version()
    cred.secret = "rotated-password"  # only a renewal that presents the old ticket can still log in
    sim.advance(3700)
    upid = await px.power("pve", 101, "start")
    assert (await finish_task(px, sim, upid)).succeeded
    logins = [r for r in sim.request_log if r.path == "/access/ticket"]
    assert [r.status for r in logins] == [200, 200]
    assert all(r.status == 200 for r in sim.request_log)  # renewed before expiry: never a 401


async def test_an_expired_ticket_is_replaced_after_a_401_and_the_write_is_sent_once(
    sim: Simulator, make_client: ClientFactory
) -> None:
    sim.add_user(USER, PASSWORD)
    frozen = 1000.0
    px = make_client(username=USER, password=SecretStr(PASSWORD), clock=lambda: frozen)
    await px.version()
    sim.advance(7300)  # past the 2 h lifetime, but the client's own clock did not notice
    upid = await px.power("pve", 101, "start")
    starts = [r for r in sim.request_log if r.path.endswith("/status/start")]
    assert [r.status for r in starts] == [401, 200]  # refused unexecuted, then sent again once
    assert [t.upid for t in sim.tasks if t.type == "vzstart"] == [str(upid)]
    assert len([r for r in sim.request_log if r.path == "/access/ticket"]) == 2


async def test_a_wrong_password_is_an_auth_error_naming_the_user(
    sim: Simulator, make_client: ClientFactory
) -> None:
    sim.add_user(USER, PASSWORD)
    px = make_client(username=USER, password=SecretStr("wrong"))
    with pytest.raises(ProxmoxAuthError, match=f"login for {USER}"):
        await px.version()


# --- TLS -------------------------------------------------------------------------------------------


async def test_a_wrong_pinned_fingerprint_is_refused_naming_both(
    served: Running, sim: Simulator, make_client: ClientFactory
) -> None:
    px = make_client(fingerprint=WRONG_FINGERPRINT)
    with pytest.raises(ProxmoxTLSError) as info:
        await px.version()
    message = str(info.value)
    assert "did not match the pinned PROXMOX_FINGERPRINT" in message
    assert f"presented {served.fingerprint}" in message
    assert f"expected {WRONG_FINGERPRINT}" in message
    assert sim.request_log == []  # nothing, not even the token, was sent


async def test_an_unpinned_self_signed_certificate_is_not_trusted(
    sim: Simulator, make_client: ClientFactory
) -> None:
    px = make_client(fingerprint=None)
    with pytest.raises(ProxmoxTLSError, match="not trusted"):
        await px.version()
    assert sim.request_log == []


async def test_the_certificate_as_ca_file_is_trusted(
    served: Running, make_client: ClientFactory, tmp_path: Path
) -> None:
    assert served.cert_pem is not None
    ca = tmp_path / "pve-root-ca.pem"
    ca.write_bytes(served.cert_pem)
    px = make_client(fingerprint=None, ca_file=ca)
    assert (await px.version()).release == "9.1"


# --- faults and the circuit breaker ----------------------------------------------------------------


async def test_faulty_gets_are_retried_until_they_succeed(served: Running, sim: Simulator) -> None:
    sim.faults = FaultConfig(seed=1, error_rate=1.0, error_codes=(503, 595), only_paths=("/cluster/nextid",))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            sim.faults.error_rate = 0.0  # the host recovers before the third attempt

    px = ProxmoxClient(
        served.api_url,
        token_id=TOKEN,
        token_secret=SecretStr(SECRET),
        fingerprint=served.fingerprint,
        retries=RetryPolicy(attempts=3, sleep=sleep),
    )
    async with px:
        assert await px.next_vmid() == 102
    tries = [r for r in sim.request_log if r.path.endswith("/cluster/nextid")]
    assert [r.fault is not None for r in tries] == [True, True, False]
    assert len(waits) == 2


async def test_gets_give_up_after_the_retry_budget(px: ProxmoxClient, sim: Simulator) -> None:
    sim.faults = FaultConfig(seed=2, error_rate=1.0, error_codes=(502,), only_paths=("/version",))
    with pytest.raises(ProxmoxServerError, match="Bad Gateway"):
        await px.version()
    assert len([r for r in sim.request_log if r.path.endswith("/version")]) == FAST_RETRIES.attempts


async def test_a_faulty_post_is_not_retried(px: ProxmoxClient, sim: Simulator) -> None:
    sim.faults = FaultConfig(seed=3, error_rate=1.0, error_codes=(500,), only_paths=("/status/start",))
    with pytest.raises(ProxmoxServerError) as info:
        await px.power("pve", 101, "start")
    assert info.value.status == 500
    starts = [r for r in sim.request_log if r.path.endswith("/status/start")]
    assert len(starts) == 1
    assert starts[0].fault == "status:500"


async def test_a_connection_cut_after_a_post_leaves_an_unknown_outcome_to_look_up(
    px: ProxmoxClient, sim: Simulator
) -> None:
    # Seed 3 cuts the connection after the simulator has carried out the request.
    sim.faults = FaultConfig(seed=3, reset_rate=1.0, only_paths=("/status/start",))
    sim.fault_rng().seed(3)
    with pytest.raises(ProxmoxUnreachableError) as info:
        await px.power("pve", 101, "start")
    assert info.value.hint == UNKNOWN_OUTCOME_HINT
    [sent] = [r for r in sim.request_log if r.path.endswith("/status/start")]
    assert sent.fault == "reset:after"
    # Not resent; the task list by vmid is how the caller finds out that it did happen.
    [task] = await px.node_tasks("pve", source="all", vmid=101, typefilter="vzstart")
    assert task.outcome is TaskOutcome.RUNNING


async def test_an_offline_node_is_unreachable_through_the_proxy(px: ProxmoxClient, sim: Simulator) -> None:
    sim.nodes["pve2"].online = False
    with pytest.raises(ProxmoxUnreachableError, match="595 Errors during connection establishment"):
        await px.containers("pve2")
    assert len([r for r in sim.request_log if r.path == "/nodes/pve2/lxc"]) == FAST_RETRIES.attempts
    assert [n.status for n in await px.nodes()] == ["online", "offline"]


async def test_the_breaker_opens_on_a_dead_simulator_and_recovers(sim_cert: SelfSignedCert) -> None:
    sim = make_sim()
    site = await serve_with_cert(sim, sim_cert)
    port = site.port
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=30.0, clock=lambda: now[0])
    px = ProxmoxClient(
        f"https://127.0.0.1:{port}/api2/json",
        token_id=TOKEN,
        token_secret=SecretStr(SECRET),
        fingerprint=sim_cert.fingerprint,
        retries=FAST_RETRIES,
        breaker=breaker,
    )
    async with px:
        assert (await px.version()).release == "9.1"
        await site.close()  # the host dies

        with pytest.raises(ProxmoxUnreachableError) as dead:
            await px.version()  # three attempts, three failures: the circuit opens
        assert not isinstance(dead.value, CircuitOpenError)
        assert str(breaker.state) == "open"
        with pytest.raises(CircuitOpenError):
            await px.nodes()  # fails fast without touching the network

        site = await serve_with_cert(sim, sim_cert, port)  # back, with the same certificate
        try:
            with pytest.raises(CircuitOpenError):
                await px.nodes()  # still within reset_timeout
            served_before = len(sim.request_log)
            now[0] += 31.0
            assert str(breaker.state) == "half_open"
            assert [n.node for n in await px.nodes()] == ["pve", "pve2"]  # the probe succeeds
            assert breaker.state == "closed"
            assert len(sim.request_log) == served_before + 1
        finally:
            await site.close()
