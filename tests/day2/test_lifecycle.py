"""Day-2 container operations against the Proxmox simulator, with the database on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access import AccessDenied, Actor
from bot.containers.errors import ContainerAlreadyRunning, ContainerNotManaged, ContainerNotRunning
from bot.containers.service import ContainerService
from bot.db import Database, TaskStatus
from bot.errors import InputError
from bot.ownership import parse_ownership, parse_tags
from bot.policy import Placement, Policy
from bot.proxmox import ProxmoxClient
from cardinal_sim.proxmox import Simulator
from tests.conftest import FakeClock
from tests.day2.conftest import APPROVER, OTHER, OWNER, RecordingFollower, Seed, requests_to

OWNER_ACTOR = Actor(OWNER)
OTHER_ACTOR = Actor(OTHER)
APPROVER_ACTOR = Actor(APPROVER, is_approver=True)


# --- power -----------------------------------------------------------------------------------------


async def test_non_owner_stop_is_refused_and_never_reaches_proxmox(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001)
    with pytest.raises(AccessDenied) as info:
        await service.power(OTHER_ACTOR, 10001, "stop")
    assert f"<@{OWNER}>" in info.value.what
    assert requests_to(sim, "POST", "/status/stop") == []
    assert follower.calls == []
    assert sim.containers[10001].running
    async with db.transaction() as tx:
        events = await tx.audit.recent(vmid=10001)
    assert [(e.actor, e.action) for e in events] == [(OTHER, "access.denied")]


async def test_approver_stop_is_followed_and_audited(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001)
    result = await service.power(APPROVER_ACTOR, 10001, "stop")
    assert len(requests_to(sim, "POST", "/lxc/10001/status/stop")) == 1
    [call] = follower.calls
    assert (call.kind, call.vmid, call.node, call.actor) == ("stop", 10001, "pve", APPROVER)
    assert (call.channel, call.thread_ts) == ("C0THREAD", "1700000000.000100")
    assert str(call.upid) == result.upid
    sim.advance(5)
    assert not sim.containers[10001].running
    async with db.transaction() as tx:
        [event] = await tx.audit.recent(vmid=10001)
    assert (event.actor, event.action, event.upid) == (APPROVER, "container.stop", result.upid)


async def test_owner_start_shutdown_reboot(service: ContainerService, seed: Seed, sim: Simulator) -> None:
    await seed(10001, status="stopped")
    await service.power(OWNER_ACTOR, 10001, "start")
    sim.advance(5)
    assert sim.containers[10001].running
    await service.power(OWNER_ACTOR, 10001, "reboot")
    sim.advance(10)
    await service.power(OWNER_ACTOR, 10001, "shutdown")
    sim.advance(10)
    assert not sim.containers[10001].running


async def test_wrong_state_errors_say_what_to_do(service: ContainerService, seed: Seed) -> None:
    await seed(10001, status="running")
    await seed(10002, status="stopped")
    with pytest.raises(ContainerAlreadyRunning) as running:
        await service.power(OWNER_ACTOR, 10001, "start")
    assert "/lxc reboot 10001" in running.value.hint
    for action in ("stop", "shutdown", "reboot"):
        with pytest.raises(ContainerNotRunning) as stopped:
            await service.power(OWNER_ACTOR, 10002, action)
        assert "/lxc start 10002" in stopped.value.hint


async def test_restart_points_to_reboot(service: ContainerService, seed: Seed, sim: Simulator) -> None:
    await seed(10001)
    with pytest.raises(InputError, match="reboot"):
        await service.power(OWNER_ACTOR, 10001, "restart")
    assert requests_to(sim, "POST", "/status/restart") == []


async def test_unknown_container_is_refused_without_asking_proxmox(
    service: ContainerService, sim: Simulator
) -> None:
    sim.add_container(10009, status="running")  # exists in Proxmox, unknown to Cardinal
    with pytest.raises(ContainerNotManaged, match="does not manage"):
        await service.power(APPROVER_ACTOR, 10009, "stop")
    assert sim.request_log == []


# --- destroy ---------------------------------------------------------------------------------------


async def test_destroy_plan_owner_confirms_others_need_approval(
    service: ContainerService, seed: Seed
) -> None:
    await seed(10001, hostname="web-1")
    mine = await service.request_destroy(OWNER_ACTOR, 10001)
    assert not mine.needs_approval
    assert "web-1" in mine.confirm_text
    assert "cannot be undone" in mine.confirm_text
    theirs = await service.request_destroy(APPROVER_ACTOR, 10001)
    assert theirs.needs_approval
    assert theirs.requested_by == APPROVER


async def test_owner_destroys_with_purge_and_unreferenced_disks(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, follower: RecordingFollower
) -> None:
    await seed(10001, status="running")
    result = await service.destroy(OWNER_ACTOR, 10001)
    [delete] = requests_to(sim, "DELETE", "/lxc/10001")
    assert delete.params["purge"] == "1"
    assert delete.params["destroy-unreferenced-disks"] == "1"
    assert delete.params["force"] == "1"
    assert [c.kind for c in follower.calls] == ["destroy"]
    assert result.upid is not None
    sim.advance(5)
    assert 10001 not in sim.containers
    log = "\n".join(sim.task(result.upid).lines)  # type: ignore[union-attr]
    assert "forced to stop CT 10001 before destroying!" in log
    async with db.transaction() as tx:
        [event] = await tx.audit.recent(vmid=10001)
    assert event.action == "container.destroy_requested"


async def test_non_owner_destroy_needs_another_approver(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database
) -> None:
    await seed(10001)
    with pytest.raises(AccessDenied, match="Only the owner"):
        await service.destroy(OTHER_ACTOR, 10001)
    with pytest.raises(AccessDenied, match="not an approver"):
        await service.destroy(OTHER_ACTOR, 10001, approved_by=Actor("U0THIRD4"))
    with pytest.raises(AccessDenied, match="your own"):
        await service.destroy(APPROVER_ACTOR, 10001, approved_by=APPROVER_ACTOR)
    assert requests_to(sim, "DELETE", "/lxc/10001") == []
    await service.destroy(OTHER_ACTOR, 10001, approved_by=APPROVER_ACTOR)
    assert len(requests_to(sim, "DELETE", "/lxc/10001")) == 1
    async with db.transaction() as tx:
        [event] = await tx.audit.recent(vmid=10001, limit=1)
    assert event.detail["approved_by"] == APPROVER


async def test_destroying_a_container_already_gone_closes_the_record(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database
) -> None:
    await seed(10001)
    sim.drop_container(10001)
    result = await service.destroy(OWNER_ACTOR, 10001)
    assert result.already_gone
    with pytest.raises(ContainerNotManaged, match="destroyed"):
        await service.power(OWNER_ACTOR, 10001, "start")


# --- extend ----------------------------------------------------------------------------------------


async def test_extend_within_policy_updates_database_and_container(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, clock: FakeClock
) -> None:
    before = await seed(10001, expires_in=timedelta(days=2), description="Purpose: load tests", tags="web")
    result = await service.extend(OWNER_ACTOR, 10001, timedelta(days=3))
    assert before.expires_at is not None
    assert result.expires_at == before.expires_at + timedelta(days=3)
    assert result.written_to_container
    async with db.transaction() as tx:
        stored = await tx.containers.get(10001)
    assert stored is not None
    assert stored.expires_at == result.expires_at
    [put] = requests_to(sim, "PUT", "/lxc/10001/config")
    assert "digest" in put.params
    config = sim.containers[10001].config
    assert config["description"].startswith("Purpose: load tests\ncardinal: owner=U0OWNER1 expires=")
    assert parse_tags(config["tags"]) == ["cardinal", "owner-u0owner1", "web"]  # as Proxmox stores them
    ownership = parse_ownership(config)
    assert ownership is not None
    assert ownership.expires_at == result.expires_at


async def test_extend_beyond_max_lifetime_is_refused(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database, policy: Policy
) -> None:
    before = await seed(10001, expires_in=timedelta(days=28))
    with pytest.raises(InputError) as info:
        await service.extend(OWNER_ACTOR, 10001, timedelta(days=3))
    assert "at most 30d" in info.value.what
    assert "at most 2d" in info.value.hint
    assert requests_to(sim, "PUT", "/config") == []
    async with db.transaction() as tx:
        stored = await tx.containers.get(10001)
    assert stored is not None
    assert stored.expires_at == before.expires_at


async def test_extend_by_a_stranger_is_refused(service: ContainerService, seed: Seed) -> None:
    await seed(10001)
    with pytest.raises(AccessDenied):
        await service.extend(OTHER_ACTOR, 10001, timedelta(days=1))


# --- addresses, views ------------------------------------------------------------------------------


async def test_discover_ips_from_interfaces_and_static_config(
    service: ContainerService, seed: Seed, db: Database
) -> None:
    await seed(10001, status="running")
    await seed(10002, status="stopped", net0="name=eth0,bridge=vmbr0,ip=192.0.2.10/24,gw=192.0.2.1,type=veth")
    dhcp = await service.discover_ips(OWNER_ACTOR, 10001)
    assert len(dhcp) == 1
    assert dhcp[0].startswith("10.20.0.")
    assert await service.discover_ips(OWNER_ACTOR, 10002) == ["192.0.2.10"]
    async with db.transaction() as tx:
        stored = await tx.containers.get(10001)
    assert stored is not None
    assert stored.ip_addresses == dhcp


async def test_list_merges_live_status_and_node(
    service: ContainerService, seed: Seed, sim: Simulator, db: Database
) -> None:
    await seed(10001, status="running")
    await seed(10002, status="stopped", node="pve2")
    await seed(10003, owner=OTHER)
    sim.drop_container(10003)
    sim.set_stopped(sim.containers[10001])  # stopped behind Cardinal's back
    mine = await service.list_containers(OWNER_ACTOR, "mine")
    assert [(v.vmid, v.status, v.node) for v in mine] == [
        (10001, "stopped", "pve"),
        (10002, "stopped", "pve2"),
    ]
    everything = await service.list_containers(APPROVER_ACTOR, "all")
    assert [(v.vmid, v.status, v.owner_id) for v in everything][-1] == (10003, "missing", OTHER)
    # Both lists read one shared snapshot of the cluster: one request, not one per list.
    assert len(requests_to(sim, "GET", "/cluster/resources")) == 1


async def test_status_by_vmid_or_hostname(service: ContainerService, seed: Seed) -> None:
    await seed(10001, hostname="web-1", cores=2, memory=2048)
    by_name = await service.status(OWNER_ACTOR, "web-1")
    by_id = await service.status(OWNER_ACTOR, "10001")
    assert by_name == by_id
    assert (by_name.vmid, by_name.status, by_name.cores, by_name.memory_mib) == (10001, "running", 2, 2048)
    assert by_name.disk_gib == 8
    assert by_name.uptime is not None
    with pytest.raises(ContainerNotManaged):
        await service.status(APPROVER_ACTOR, "nope")
    # Someone who sees only their own containers cannot tell "not managed" from "not yours".
    with pytest.raises(AccessDenied, match="no container nope that you may see"):
        await service.status(OWNER_ACTOR, "nope")


async def test_others_containers_are_hidden_by_default(service: ContainerService, seed: Seed) -> None:
    await seed(10001, hostname="web-1")
    with pytest.raises(AccessDenied) as by_name:
        await service.status(OTHER_ACTOR, "web-1")
    with pytest.raises(AccessDenied) as by_vmid:
        await service.discover_ips(OTHER_ACTOR, 10001)
    # The refusal names what was typed and nothing else: not the VMID, hostname or owner behind it.
    assert by_name.value.what == "Cardinal has no container web-1 that you may see."
    assert by_vmid.value.what == "Cardinal has no container 10001 that you may see."
    assert OWNER not in f"{by_name.value.hint} {by_vmid.value.hint}"
    with pytest.raises(AccessDenied, match="Only approvers may see everyone's containers"):
        await service.list_containers(OTHER_ACTOR, "all")
    assert (await service.status(APPROVER_ACTOR, 10001)).vmid == 10001
    assert [v.vmid for v in await service.list_containers(APPROVER_ACTOR, "all")] == [10001]
    denied = await service.audit(APPROVER_ACTOR, user=OTHER)
    assert [(e.action, e.detail.get("action")) for e in denied] == [
        ("access.denied", "ip"),
        ("access.denied", "status"),
    ]


async def test_audit_visibility(service: ContainerService, seed: Seed) -> None:
    await seed(10001)
    await service.power(OWNER_ACTOR, 10001, "stop")
    assert [e.action for e in await service.audit(OWNER_ACTOR, vmid=10001)] == ["container.stop"]
    assert [e.action for e in await service.audit(OWNER_ACTOR)] == ["container.stop"]
    assert await service.audit(OTHER_ACTOR) == []
    with pytest.raises(AccessDenied):
        await service.audit(OTHER_ACTOR, vmid=10001)
    with pytest.raises(AccessDenied):
        await service.audit(OTHER_ACTOR, user=OWNER)
    assert len(await service.audit(APPROVER_ACTOR, user=OWNER)) == 1


async def test_templates_follow_the_allow_list(
    db: Database, proxmox: ProxmoxClient, follower: RecordingFollower, clock: FakeClock
) -> None:
    policy = Policy(placement=Placement(templates=["debian-*", "almalinux-*"]))
    listing = await ContainerService(db, proxmox, follower, policy, clock).templates()
    assert listing.storage == "local"
    assert [t.name for t in listing.available] == [
        "debian-12-standard_12.12-1_amd64.tar.zst",
        "debian-13-standard_13.6-1_amd64.tar.zst",
    ]
    assert listing.available[0].volid == "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst"
    # the debian ones are already on the storage; ubuntu and alpine are not allowed
    assert [t.name for t in listing.downloadable] == [
        "almalinux-10-default_20250930_amd64.tar.xz",
        "almalinux-9-default_20240911_amd64.tar.xz",
    ]


async def test_templates_of_every_node_are_listed_with_where_they_are(
    db: Database, proxmox: ProxmoxClient, follower: RecordingFollower, clock: FakeClock, sim: Simulator
) -> None:
    """``local`` is per node: a template only pve2 holds is listed, and says so."""
    sim.remove_template("pve", "local", "ubuntu-24.04-standard_24.04-2_amd64.tar.zst")
    policy = Policy(placement=Placement(templates=["debian-12-*", "ubuntu-*"]))
    listing = await ContainerService(db, proxmox, follower, policy, clock, default_node="pve2").templates()
    assert listing.node == "pve2"
    assert [(t.name, t.nodes) for t in listing.available] == [
        ("debian-12-standard_12.12-1_amd64.tar.zst", ()),
        ("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", ("pve2",)),
    ]


async def test_tasks_lists_pending_then_recent(
    service: ContainerService, db: Database, clock: FakeClock
) -> None:
    upid = "UPID:pve:0001E240:00ABCDEF:6744B2A0:vzstop:10001:cardinal@pve!bot:"
    async with db.transaction() as tx:
        done = await tx.ledger.add_task(
            "stop",
            node="pve",
            vmid=10001,
            request_id=None,
            upid=upid,
            deadline_at=clock() + timedelta(hours=1),
            now=clock(),
            actor=OWNER,
            lease_owner="r1",
        )
        await tx.ledger.finish(
            done.id, "r1", status=TaskStatus.FAILED, now=clock(), exitstatus="CT is locked (backup)"
        )
        await tx.ledger.add_task(
            "start",
            node="pve2",
            vmid=10002,
            request_id=None,
            upid=None,
            deadline_at=clock() + timedelta(hours=1),
            now=clock(),
            actor=OTHER,
        )
    views = await service.tasks()
    assert [(v.kind, v.state) for v in views] == [("start", "running"), ("stop", "failed")]
    assert views[1].exitstatus == "CT is locked (backup)"
    assert views[1].upid == upid
