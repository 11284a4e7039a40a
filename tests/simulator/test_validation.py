"""Parameter validation against the schema subset (proxmox-api.md §2.1, checklist item 3)."""

from __future__ import annotations

from cardinal_sim.proxmox import Simulator
from tests.simulator.conftest import DEBIAN, Api


async def _errors(api: Api, vmid: int = 101, **params: str) -> dict[str, str]:
    answer = await api.create(vmid, **params)
    assert (answer.status, answer.reason) == (400, "Parameter verification failed."), answer.text
    assert answer.json["message"] == "Parameter verification failed.\n"
    errors: dict[str, str] = answer.json["errors"]
    return errors


async def test_unknown_parameter_is_rejected(api: Api) -> None:
    answer = await api.get("/nodes/pve/tasks", params={"running": "1"})
    assert answer.status == 400
    assert answer.json["errors"] == {
        "running": "property is not defined in schema and the schema does not allow additional properties"
    }


async def test_form_boolean_true_is_rejected(api: Api) -> None:
    assert await _errors(api, start="true") == {"start": "type check ('boolean') failed - got 'true'"}


async def test_json_body_accepts_real_booleans(api: Api) -> None:
    answer = await api.post("/nodes/pve/lxc", json_body={"vmid": 101, "ostemplate": DEBIAN, "start": True})
    assert answer.status == 200


async def test_json_boolean_for_an_integer_is_a_type_error(api: Api) -> None:
    answer = await api.post("/nodes/pve/lxc", json_body={"vmid": 101, "ostemplate": DEBIAN, "cores": True})
    assert answer.json["errors"] == {"cores": "type check ('integer') failed - got JSON::PP::Boolean"}


async def test_vmid_below_100_has_invalid_format_with_trailing_newline(api: Api) -> None:
    errors = await _errors(api, vmid=50)
    assert errors == {"vmid": "invalid format - value does not look like a valid VM ID\n"}


async def test_vmid_in_the_path_is_validated(api: Api) -> None:
    answer = await api.get("/nodes/pve/lxc/abc/config")
    assert answer.json["errors"] == {"vmid": "type check ('integer') failed - got 'abc'"}


async def test_missing_required_parameter(api: Api) -> None:
    answer = await api.post("/nodes/pve/lxc", data={"vmid": "101"})
    assert answer.json["errors"] == {"ostemplate": "property is missing and it is not optional"}


async def test_integer_type_check(api: Api) -> None:
    assert await _errors(api, memory="1.5G") == {"memory": "type check ('integer') failed - got '1.5G'"}


async def test_minimum_and_maximum_messages(api: Api) -> None:
    assert await _errors(api, memory="8", cores="9000") == {
        "memory": "value must have a minimum value of 16",
        "cores": "value must have a maximum value of 8192",
    }


async def test_enum_message(api: Api) -> None:
    assert await _errors(api, ostype="windows") == {
        "ostype": "value 'windows' does not have a value in the enumeration "
        "'debian, devuan, ubuntu, centos, fedora, opensuse, archlinux, alpine, gentoo, nixos, unmanaged'"
    }


async def test_max_and_min_length_messages(api: Api) -> None:
    assert await _errors(api, password="abc", description="x" * 8193) == {
        "password": "value must be at least 5 characters long",
        "description": "value may only be 8192 characters long",
    }


async def test_hostname_must_be_a_dns_name(api: Api) -> None:
    assert await _errors(api, hostname="web_1") == {
        "hostname": "invalid format - value does not look like a valid DNS name\n"
    }


async def test_property_string_with_unknown_key_is_rejected(api: Api) -> None:
    errors = await _errors(api, net0="name=eth0,bridge=vmbr0,evil=1")
    assert errors == {"net0": "invalid format - invalid key in comma-separated list property: evil\n"}


async def test_property_string_values_are_checked(api: Api) -> None:
    errors = await _errors(api, net0="name=eth0,bridge=vmbr0,tag=4095,ip=10.0.0.5")
    assert errors["net0"].startswith("invalid format - format error\n")
    assert "net0.tag: value must have a maximum value of 4094\n" in errors["net0"]
    assert (
        "net0.ip: invalid format - value does not look like a valid ipv4 network configuration\n"
        in errors["net0"]
    )


async def test_property_string_required_key(api: Api) -> None:
    errors = await _errors(api, net0="bridge=vmbr0")
    assert errors == {
        "net0": "invalid format - format error\nnet0.name: property is missing and it is not optional\n"
    }


async def test_features_and_rootfs_keys_are_checked(api: Api) -> None:
    errors = await _errors(api, features="nesting=1,docker=1", rootfs="local-lvm:8,size=8G,backup=1")
    assert errors == {
        "features": "invalid format - invalid key in comma-separated list property: docker\n",
        "rootfs": "invalid format - invalid key in comma-separated list property: backup\n",
    }


async def test_mountpoint_needs_a_path(api: Api) -> None:
    errors = await _errors(api, mp0="local-lvm:10")
    assert errors == {
        "mp0": "invalid format - format error\nmp0.mp: property is missing and it is not optional\n"
    }


async def test_net_index_is_limited_to_31(api: Api) -> None:
    ok = await api.create(101, net31="name=eth31,bridge=vmbr0")
    assert ok.status == 200
    errors = await _errors(api, vmid=102, net32="name=eth0,bridge=vmbr0")
    assert errors == {
        "net32": "property is not defined in schema and the schema does not allow additional properties"
    }


async def test_mp_index_is_limited_to_255(api: Api) -> None:
    errors = await _errors(api, mp256="local-lvm:1,mp=/data")
    assert list(errors) == ["mp256"]


async def test_all_errors_reported_in_one_400(api: Api) -> None:
    errors = await _errors(api, vmid=5, start="yes", hostname="-bad", swap="-1", bogus="x")
    assert set(errors) == {"vmid", "start", "hostname", "swap", "bogus"}


async def test_pattern_message(api: Api) -> None:
    errors = await _errors(api, net0="name=eth 0,bridge=vmbr0")
    assert "net0.name: value does not match the regex pattern\n" in errors["net0"]


async def test_requires_other_property(api: Api) -> None:
    assert await _errors(api, unique="1") == {"restore": "missing property - 'unique' requires this property"}


async def test_repeated_form_key_for_a_list_format_is_joined(api: Api, sim: Simulator) -> None:
    sim.add_container(101, hostname="a", description="d", tags="x")
    answer = await api.put("/nodes/pve/lxc/101/config", data=[("delete", "description"), ("delete", "tags")])
    assert answer.status == 200, answer.text
    assert "tags" not in sim.containers[101].config
    assert "description" not in sim.containers[101].config


async def test_repeated_form_key_for_a_scalar_is_refused(api: Api) -> None:
    answer = await api.post("/nodes/pve/lxc", data=[("vmid", "101"), ("vmid", "102"), ("ostemplate", DEBIAN)])
    assert answer.json["errors"] == {"vmid": "type check ('integer') failed - got ARRAY"}


async def test_task_list_statusfilter_format(api: Api) -> None:
    answer = await api.get("/nodes/pve/tasks", params={"statusfilter": "ok,broken"})
    assert answer.json["errors"] == {"statusfilter": "invalid format - invalid status 'broken'\n"}


async def test_resources_type_enum_rejects_lxc(api: Api) -> None:
    answer = await api.get("/cluster/resources", params={"type": "lxc"})
    assert answer.json["errors"] == {
        "type": "value 'lxc' does not have a value in the enumeration 'vm, storage, node, sdn'"
    }
