"""Version, nodes, nextid, resources, interfaces, templates (§4.1–4.4, 4.11, 4.12; items 6, 8, 9)."""

from __future__ import annotations

import re
from collections.abc import Callable

import aiohttp

from cardinal_sim.proxmox import Simulator, serve
from tests.simulator.conftest import SECRET, TOKEN, Api

# --- version and nodes -------------------------------------------------------------------------------


async def test_version_shape(api: Api) -> None:
    data = (await api.get("/version")).data
    assert data["version"] == "9.1.4"
    assert data["release"] == "9.1"
    assert re.fullmatch(r"[0-9a-f]{16}", data["repoid"])


async def test_version_is_configurable(session: aiohttp.ClientSession) -> None:
    sim = Simulator(version="8.1.4", speed=0)
    sim.add_token(TOKEN, SECRET)
    running = await serve(sim)
    try:
        data = (await Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}").get("/version")).data
        assert (data["version"], data["release"]) == ("8.1.4", "8.1")
    finally:
        await running.close()


async def test_nodes_list_with_stats(api: Api) -> None:
    nodes = (await api.get("/nodes")).data
    assert [n["node"] for n in nodes] == ["pve", "pve2"]
    first = nodes[0]
    assert (first["id"], first["type"], first["status"]) == ("node/pve", "node", "online")
    assert first["maxmem"] > first["mem"] > 0
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", first["ssl_fingerprint"])


async def test_nodes_without_sys_audit_have_no_stats(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("ops@pve!t", "s", {"/vms": {"VM.Audit"}})
    nodes = (await api_as("PVEAPIToken=ops@pve!t=s").get("/nodes")).data
    assert "mem" not in nodes[0]
    assert nodes[0]["status"] == "online"


async def test_node_network_lists_bridges(api: Api) -> None:
    bridges = (await api.get("/nodes/pve/network", params={"type": "any_bridge"})).data
    assert [b["iface"] for b in bridges] == ["vmbr0", "vmbr1"]


async def test_node_storage_lists_storages_by_content(api: Api) -> None:
    rootdir = (await api.get("/nodes/pve/storage", params={"content": "rootdir"})).data
    assert sorted(s["storage"] for s in rootdir) == ["local", "local-lvm"]
    vztmpl = (await api.get("/nodes/pve/storage", params={"content": "vztmpl"})).data
    assert [s["storage"] for s in vztmpl] == ["local"]
    assert vztmpl[0]["avail"] > 0


# --- nextid ------------------------------------------------------------------------------------------


async def test_nextid_returns_a_string(api: Api, sim: Simulator) -> None:
    sim.add_container(100)
    answer = await api.get("/cluster/nextid")
    assert answer.data == "101"
    assert (await api.get("/cluster/nextid", params={"vmid": "150"})).data == "150"


async def test_nextid_with_used_vmid_is_400(api: Api, sim: Simulator) -> None:
    sim.add_container(200)
    answer = await api.get("/cluster/nextid", params={"vmid": "200"})
    assert (answer.status, answer.reason) == (400, "Parameter verification failed.")
    assert answer.json["errors"] == {"vmid": "VM 200 already exists"}


# --- cluster resources -------------------------------------------------------------------------------


async def test_new_guest_status_unknown_until_next_stats_tick(api: Api, sim: Simulator) -> None:
    await api.create(101, start="1")
    items = (await api.get("/cluster/resources", params={"type": "vm"})).data
    assert items == [
        {"id": "lxc/101", "vmid": 101, "node": "pve", "type": "lxc", "status": "unknown", "lock": "create"}
    ]
    sim.advance(sim.stats_interval + 10)
    item = (await api.get("/cluster/resources", params={"type": "vm"})).data[0]
    assert (item["status"], item["name"]) == ("running", "CT101")
    assert "lock" not in item
    assert item["maxmem"] == 512 << 20


async def test_resources_by_type(api: Api, sim: Simulator) -> None:
    sim.add_container(101, tags="x")
    everything = (await api.get("/cluster/resources")).data
    assert {i["type"] for i in everything} == {"lxc", "storage", "node", "sdn"}
    storages = (await api.get("/cluster/resources", params={"type": "storage"})).data
    assert {i["id"] for i in storages} == {
        "storage/pve/local",
        "storage/pve/local-lvm",
        "storage/pve2/local",
        "storage/pve2/local-lvm",
    }
    nodes = (await api.get("/cluster/resources", params={"type": "node"})).data
    assert [n["node"] for n in nodes] == ["pve", "pve2"]
    vm = (await api.get("/cluster/resources", params={"type": "vm"})).data[0]
    assert (vm["vmid"], vm["tags"], vm["status"]) == (101, "x", "stopped")


async def test_resources_filtered_by_permission(api_as: Callable[[str | None], Api], sim: Simulator) -> None:
    sim.add_container(101)
    sim.add_container(102)
    sim.add_token("ops@pve!t", "s", {"/vms/102": {"VM.Audit"}})
    items = (await api_as("PVEAPIToken=ops@pve!t=s").get("/cluster/resources", params={"type": "vm"})).data
    assert [i["vmid"] for i in items] == [102]


# --- interfaces --------------------------------------------------------------------------------------


async def test_interfaces_null_when_stopped(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    answer = await api.get("/nodes/pve/lxc/101/interfaces")
    assert answer.json == {"data": None}
    missing = await api.get("/nodes/pve/lxc/999/interfaces")
    assert missing.json == {"data": None}


async def test_interfaces_include_lo_and_cidr_inet(api: Api, sim: Simulator) -> None:
    sim.add_container(
        101,
        status="running",
        net0="name=eth0,bridge=vmbr0,hwaddr=BC:24:11:89:67:07,ip=192.168.3.95/22,type=veth",
    )
    data = (await api.get("/nodes/pve/lxc/101/interfaces")).data
    lo, eth0 = data
    assert (lo["name"], lo["hwaddr"], lo["inet"], lo["inet6"]) == (
        "lo",
        "00:00:00:00:00:00",
        "127.0.0.1/8",
        "::1/128",
    )
    assert eth0 == {
        "name": "eth0",
        "hwaddr": "bc:24:11:89:67:07",
        "hardware-address": "bc:24:11:89:67:07",
        "inet": "192.168.3.95/22",
        "inet6": "fe80::be24:11ff:fe89:6707/64",
        "ip-addresses": [
            {"ip-address-type": "inet", "ip-address": "192.168.3.95", "prefix": 22},
            {"ip-address-type": "inet6", "ip-address": "fe80::be24:11ff:fe89:6707", "prefix": 64},
        ],
    }


async def test_dhcp_address_appears_after_delay(api: Api, sim: Simulator) -> None:
    sim.add_container(101)
    await api.post("/nodes/pve/lxc/101/status/start")
    sim.advance(sim.task_durations["vzstart"])
    eth0 = (await api.get("/nodes/pve/lxc/101/interfaces")).data[1]
    assert "inet" not in eth0
    assert [a["ip-address-type"] for a in eth0["ip-addresses"]] == ["inet6"]
    sim.advance(sim.dhcp_delay)
    eth0 = (await api.get("/nodes/pve/lxc/101/interfaces")).data[1]
    assert re.fullmatch(r"10\.20\.0\.\d+/24", eth0["inet"])
    again = (await api.get("/nodes/pve/lxc/101/interfaces")).data[1]
    assert again["inet"] == eth0["inet"]


async def test_interfaces_without_ip_addresses_before_8_4(api: Api, sim: Simulator) -> None:
    sim.version_tuple = (8, 3, 0)
    sim.add_container(101, status="running")
    eth0 = (await api.get("/nodes/pve/lxc/101/interfaces")).data[1]
    assert set(eth0) == {"name", "hwaddr", "inet", "inet6"}


async def test_interfaces_endpoint_missing_before_8_1(api: Api, sim: Simulator) -> None:
    sim.version_tuple = (8, 0, 4)
    sim.add_container(101, status="running")
    answer = await api.get("/nodes/pve/lxc/101/interfaces")
    assert (answer.status, answer.reason) == (
        501,
        "Method 'GET /nodes/pve/lxc/101/interfaces' not implemented",
    )


async def test_qemu_agent_path_is_not_for_containers(api: Api, sim: Simulator) -> None:
    sim.add_container(101, status="running")
    answer = await api.get("/nodes/pve/qemu/101/agent/network-get-interfaces")
    assert answer.reason == "Configuration file 'nodes/pve/qemu-server/101.conf' does not exist"


# --- templates ---------------------------------------------------------------------------------------


async def test_template_content_lists_vztmpl_with_format(api: Api) -> None:
    items = (await api.get("/nodes/pve/storage/local/content", params={"content": "vztmpl"})).data
    by_volid = {i["volid"]: i for i in items}
    debian = by_volid["local:vztmpl/debian-13-standard_13.6-1_amd64.tar.zst"]
    assert (debian["content"], debian["format"]) == ("vztmpl", "tzst")
    assert debian["size"] > 0
    assert isinstance(debian["ctime"], int)
    assert by_volid["local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz"]["format"] == "txz"


async def test_lvmthin_storage_has_no_templates(api: Api) -> None:
    items = (await api.get("/nodes/pve/storage/local-lvm/content", params={"content": "vztmpl"})).data
    assert items == []


async def test_aplinfo_items_parsed_from_dat(api: Api) -> None:
    items = (await api.get("/nodes/pve/aplinfo")).data
    assert all(i["package"] != "pve-web-news" for i in items)
    debian = next(i for i in items if i["package"] == "debian-13-standard")
    assert debian["headline"] == "Debian 13 Trixie (standard)"
    assert debian["description"] == "A small Debian Trixie system including all standard packages."
    assert debian["template"] == "debian-13-standard_13.6-1_amd64.tar.zst"
    assert (
        debian["location"]
        == "http://download.proxmox.com/images/system/debian-13-standard_13.6-1_amd64.tar.zst"
    )
    assert debian["os"] == "debian-13"


async def test_aplinfo_download_adds_template(api: Api, sim: Simulator) -> None:
    name = "rockylinux-9-default_20240912_amd64.tar.xz"
    upid = (await api.post("/nodes/pve/aplinfo", data={"storage": "local", "template": name})).data
    parsed = upid.split(":")
    assert (parsed[5], parsed[6]) == ("download", name)
    sim.advance(sim.task_durations["download"])
    assert (await api.task_status(upid))["exitstatus"] == "OK"
    items = (await api.get("/nodes/pve/storage/local/content", params={"content": "vztmpl"})).data
    assert f"local:vztmpl/{name}" in {i["volid"] for i in items}
    log = await api.task_log(upid)
    assert "calculating checksum...OK, checksum verified" in log


async def test_aplinfo_unknown_template_is_param_error(api: Api) -> None:
    answer = await api.post("/nodes/pve/aplinfo", data={"storage": "local", "template": "nope.tar.zst"})
    assert answer.json["errors"] == {"template": "no such template"}


async def test_aplinfo_download_to_storage_without_templates(api: Api) -> None:
    name = "debian-13-standard_13.6-1_amd64.tar.zst"
    answer = await api.post("/nodes/pve/aplinfo", data={"storage": "local-lvm", "template": name})
    assert (answer.status, answer.reason) == (500, "storage 'local-lvm' does not support templates")
