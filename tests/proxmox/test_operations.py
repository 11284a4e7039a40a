"""Typed operations against the local fake Proxmox: encoding, parsing and the shapes callers rely on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.proxmox import (
    ProxmoxClient,
    ProxmoxConflictError,
    ProxmoxExistsError,
    ProxmoxServerError,
    TaskOutcome,
    Upid,
)
from tests.proxmox.fake_pve import FakePVE

ClientFactory = Callable[..., ProxmoxClient]


async def test_version_nodes_and_resources(client: ProxmoxClient) -> None:
    version = await client.version()
    assert version.major_minor == (9, 1)
    nodes = await client.nodes()
    assert [n.node for n in nodes] == ["pve"]
    assert nodes[0].free_mem == 6 << 30
    resources = await client.cluster_resources("vm")
    assert {r.vmid for r in resources} == {101, 102}


async def test_cluster_resources_type_goes_in_query(client: ProxmoxClient, fake: FakePVE) -> None:
    await client.cluster_resources("vm")
    await client.cluster_resources()
    first, second = [r for r in fake.requests if r.path == "/cluster/resources"]
    assert first.query == {"type": "vm"}
    assert second.query == {}


async def test_next_vmid_accepts_a_string(client: ProxmoxClient, fake: FakePVE) -> None:
    fake.nextid = 250
    assert await client.next_vmid() == 250


async def test_vmid_is_free(client: ProxmoxClient) -> None:
    assert await client.vmid_is_free(150) is True
    assert await client.vmid_is_free(101) is False


async def test_create_returns_the_task_and_sends_booleans_as_1_0(
    client: ProxmoxClient, fake: FakePVE
) -> None:
    upid = await client.create_container(
        "pve",
        {
            "vmid": 150,
            "hostname": "box",
            "unprivileged": True,
            "start": False,
            "pool": None,
            "ssh-public-keys": "ssh-ed25519 AAAA x@y",
        },
    )
    assert upid.type == "vzcreate"
    assert upid.vmid == 150
    seen = fake.last("POST", "/nodes/pve/lxc")
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form == {
        "vmid": "150",
        "hostname": "box",
        "unprivileged": "1",
        "start": "0",
        "ssh-public-keys": "ssh-ed25519 AAAA x@y",
    }
    assert seen.query == {}


async def test_create_with_used_vmid_is_an_exists_error(client: ProxmoxClient) -> None:
    with pytest.raises(ProxmoxExistsError) as info:
        await client.create_container("pve", {"vmid": 101})
    assert info.value.what == "Proxmox refused: CT 101 already exists on node 'pve'"


async def test_config_read_and_update(client: ProxmoxClient, fake: FakePVE) -> None:
    config = await client.container_config("pve", 101)
    assert config["hostname"] == "web"
    await client.update_config("pve", 101, {"memory": 2048, "onboot": True})  # synchronous, no task
    assert fake.last("PUT", "/nodes/pve/lxc/101/config").form == {"memory": "2048", "onboot": "1"}
    assert (await client.container_config("pve", 101))["memory"] == "2048"


async def test_destroy_sends_flags_in_query_and_no_body(client: ProxmoxClient, fake: FakePVE) -> None:
    upid = await client.destroy_container("pve", 102)
    assert upid.type == "vzdestroy"
    seen = fake.last("DELETE", "/nodes/pve/lxc/102")
    assert seen.query == {"purge": "1", "destroy-unreferenced-disks": "1", "force": "0"}
    assert seen.body == b""


async def test_destroy_running_without_force_is_a_conflict(client: ProxmoxClient) -> None:
    with pytest.raises(ProxmoxConflictError, match="container is running"):
        await client.destroy_container("pve", 101)
    upid = await client.destroy_container("pve", 101, force=True, purge=False)
    assert upid.vmid == 101


async def test_status_and_list(client: ProxmoxClient) -> None:
    status = await client.container_status("pve", 101)
    assert status.running
    assert status.name == "web"
    listed = await client.containers("pve")
    assert {c.vmid: c.status for c in listed} == {101: "running", 102: "stopped"}  # vmid strings → int


async def test_power_actions_and_state_errors(client: ProxmoxClient, fake: FakePVE) -> None:
    upid = await client.power("pve", 102, "start")
    assert upid.type == "vzstart"
    with pytest.raises(ProxmoxConflictError) as info:
        await client.power("pve", 102, "start")
    assert info.value.what == "Proxmox refused: CT 102 already running"
    await client.power("pve", 102, "shutdown", timeout=30, forceStop=True)
    assert fake.last("POST", "/nodes/pve/lxc/102/status/shutdown").form == {"timeout": "30", "forceStop": "1"}
    with pytest.raises(ProxmoxConflictError, match="VM 102 not running"):
        await client.power("pve", 102, "reboot")


async def test_restart_is_refused_before_any_request(client: ProxmoxClient, fake: FakePVE) -> None:
    with pytest.raises(ValueError, match="reboot"):
        await client.power("pve", 101, "restart")  # type: ignore[arg-type]
    assert fake.requests == []


async def test_interfaces_of_a_stopped_ct_are_empty(client: ProxmoxClient) -> None:
    assert await client.interfaces("pve", 102) == []


async def test_interfaces_of_a_running_ct(client: ProxmoxClient, fake: FakePVE) -> None:
    (eth0,) = await client.interfaces("pve", 101)
    assert eth0.ipv4 == ["192.168.3.95", "192.168.3.96"]
    fake.interfaces_84 = False
    (eth0,) = await client.interfaces("pve", 101)
    assert eth0.ipv4 == ["192.168.3.96"]


async def test_task_status_asks_the_node_in_the_upid(client: ProxmoxClient, fake: FakePVE) -> None:
    upid_text = fake.add_task("vzstart", "101", node="pve2", status="running", exitstatus=None)
    status = await client.task_status(Upid.parse(upid_text))
    assert status.outcome is TaskOutcome.RUNNING
    assert fake.requests[-1].path == f"/nodes/pve2/tasks/{upid_text}/status"


async def test_task_outcomes_from_the_api(client: ProxmoxClient, fake: FakePVE) -> None:
    ok = Upid.parse(fake.add_task("vzcreate", "150", exitstatus="OK"))
    warn = Upid.parse(fake.add_task("vzcreate", "151", exitstatus="WARNINGS: 1"))
    bad = Upid.parse(fake.add_task("vzcreate", "152", exitstatus="unable to create CT 152 - disk full"))
    assert (await client.task_status(ok)).outcome is TaskOutcome.OK
    assert (await client.task_status(warn)).succeeded
    failed = await client.task_status(bad)
    assert failed.outcome is TaskOutcome.FAILED
    assert failed.exitstatus == "unable to create CT 152 - disk full"


async def test_upid_is_url_encoded_in_the_path(client: ProxmoxClient, fake: FakePVE, pve_url: str) -> None:
    upid = Upid.parse(fake.add_task("vzstop", "101"))
    await client.task_status(upid)
    assert fake.requests[-1].path == f"/nodes/pve/tasks/{upid}/status"  # decoded correctly by the server
    await client.stop_task(upid)
    assert fake.tasks[str(upid)].exitstatus == "received interrupt"


async def test_task_log_whole_and_tail(client: ProxmoxClient, fake: FakePVE) -> None:
    lines = [f"line {i}" for i in range(1, 101)] + ["TASK OK"]
    upid = Upid.parse(fake.add_task("vzcreate", "150", log=lines))
    whole = await client.task_log(upid)
    assert [entry.t for entry in whole] == lines
    assert whole[0].n == 1
    assert fake.requests[-1].query == {"start": "0", "limit": "0"}
    before = len(fake.requests)
    tail = await client.task_log_tail(upid, 3)
    assert tail == ["line 99", "line 100", "TASK OK"]
    assert [r.query for r in fake.requests[before:]] == [
        {"start": "0", "limit": "3"},
        {"start": "98", "limit": "3"},
    ]
    assert await client.task_log_tail(upid, 0) == []


async def test_short_task_log_tail_needs_one_request(client: ProxmoxClient, fake: FakePVE) -> None:
    upid = Upid.parse(fake.add_task("vzstart", "101", log=["starting", "TASK OK"]))
    before = len(fake.requests)
    assert await client.task_log_tail(upid, 20) == ["starting", "TASK OK"]
    assert len(fake.requests) == before + 1


async def test_node_and_cluster_tasks(client: ProxmoxClient, fake: FakePVE) -> None:
    fake.add_task("vzcreate", "150", status="running", exitstatus=None)
    fake.add_task("vzstart", "101")
    tasks = await client.node_tasks("pve", source="all", vmid=150, typefilter="vzcreate", since=5, limit=10)
    assert fake.requests[-1].query == {
        "source": "all",
        "vmid": "150",
        "typefilter": "vzcreate",
        "since": "5",
        "limit": "10",
    }
    assert [t.outcome for t in tasks] == [TaskOutcome.RUNNING, TaskOutcome.OK]
    cluster = await client.cluster_tasks()
    assert len(cluster) == 2


async def test_node_tasks_page_sends_the_offset_and_returns_the_total(
    client: ProxmoxClient, fake: FakePVE
) -> None:
    """Paging a task list: ``start`` goes into the query and the envelope's ``total`` comes back."""
    fake.add_task("vzcreate", "150", status="running", exitstatus=None)
    fake.add_task("vzstart", "101")
    items, total = await client.node_tasks_page("pve", source="all", since=5, limit=500, start=1000)
    assert fake.requests[-1].query == {"source": "all", "since": "5", "limit": "500", "start": "1000"}
    assert total == 2
    assert [t.outcome for t in items] == [TaskOutcome.RUNNING, TaskOutcome.OK]


async def test_templates_storage_and_permissions(client: ProxmoxClient, fake: FakePVE) -> None:
    content = await client.storage_content("pve", "local")
    assert content[0].filename == "debian-13-standard_13.6-1_amd64.tar.zst"
    assert fake.requests[-1].query == {"content": "vztmpl"}
    apl = await client.aplinfo("pve")
    assert apl[0].template == "debian-13-standard_13.6-1_amd64.tar.zst"
    upid = await client.download_template("pve", "local", apl[0].template)
    assert (upid.type, upid.id) == ("download", apl[0].template)
    perms = await client.permissions("/vms")
    assert fake.requests[-1].query == {"path": "/vms"}
    assert perms.has("/vms/101", "VM.Audit")
    assert not perms.has("/vms/101", "VM.PowerMgmt")


async def test_answer_without_task_id_is_a_server_error(client: ProxmoxClient, fake: FakePVE) -> None:
    from tests.proxmox.fake_pve import Scripted

    fake.script("POST", "/nodes/pve/lxc/101/status/stop", Scripted(data=None))
    with pytest.raises(ProxmoxServerError, match="without a task id"):
        await client.power("pve", 101, "stop")


async def test_on_request_hook_sees_templates_not_ids(make_client: ClientFactory) -> None:
    calls: list[tuple[str, str, int | None]] = []
    client = make_client(on_request=lambda m, t, s, secs: calls.append((m, t, s)))
    await client.container_status("pve", 101)
    with pytest.raises(ProxmoxConflictError):
        await client.power("pve", 101, "start")
    assert calls == [
        ("GET", "/nodes/{node}/lxc/{vmid}/status/current", 200),
        ("POST", "/nodes/{node}/lxc/{vmid}/status/start", 500),
    ]


async def test_session_is_reused_and_context_manager_closes(make_client: ClientFactory) -> None:
    client = make_client()
    async with client as px:
        await px.version()
        session = px._t._session
        await px.version()
        assert px._t._session is session
    assert px._t._session is None


async def test_config_that_is_not_an_object_is_a_server_error(client: ProxmoxClient, fake: FakePVE) -> None:
    from tests.proxmox.fake_pve import Scripted

    fake.script("GET", "/nodes/pve/lxc/101/config", Scripted(data=None))
    with pytest.raises(ProxmoxServerError, match="no configuration for CT 101"):
        await client.container_config("pve", 101)


def test_parameter_encoding() -> None:
    from bot.proxmox.transport import encode_params

    assert (
        encode_params({"a": [1, True], "b": None, "c": False, "d": "x y,z=1"}) == "a=1&a=1&c=0&d=x+y%2Cz%3D1"
    )
    assert encode_params(None) == ""
