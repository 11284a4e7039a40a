"""Container requests: valid ones become the exact create parameters, invalid ones are refused by name."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from bot.containers.spec import (
    ContainerSpec,
    MountPoint,
    NetSpec,
    check_limits,
    field_errors,
)
from bot.errors import InputError
from bot.policy import Limits
from bot.proxmox.codec import parse_property

from .conftest import TEMPLATE, ssh_string


def errors_for(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        ContainerSpec.model_validate(data)
    return field_errors(info.value)


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def with_net(base: dict[str, Any], **net: Any) -> dict[str, Any]:
    return {**base, "nets": [{**base["nets"][0], **net}]}


# --- valid requests ------------------------------------------------------------------------------------


def test_valid_request_produces_exact_create_params(valid_request: dict[str, Any], ed25519_key: str) -> None:
    spec = ContainerSpec.model_validate(
        with_changes(
            valid_request,
            mountpoints=[{"storage": "local-lvm", "size_gib": 16, "path": "/srv/data"}],
            ssh_public_keys=[ed25519_key, ed25519_key.replace("alice@laptop", "bob")],
        )
    )
    params = spec.to_create_params(
        123, tags=["cardinal", "owner-u123", "web"], password=SecretStr("s3cret-pw"), start=True
    )
    assert params == {
        "vmid": 123,
        "ostemplate": TEMPLATE,
        "hostname": "web-1",
        "cores": 2,
        "memory": 2048,
        "swap": 512,
        "rootfs": "local-lvm:8",
        "net0": "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,firewall=1,tag=20",
        "mp0": "local-lvm:16,mp=/srv/data,backup=1",
        "features": "nesting=1",
        "ssh-public-keys": f"{ed25519_key}\n{ed25519_key.replace('alice@laptop', 'bob')}",
        "unprivileged": 1,
        "tags": "web;cardinal;owner-u123",
        "description": "Web frontend\nowner: alice",
        "password": "s3cret-pw",
        "start": 1,
    }


def test_minimal_request_uses_dhcp_on_vmbr0_and_sends_no_optional_params() -> None:
    spec = ContainerSpec(hostname="db", template=TEMPLATE, storage="local-lvm")
    assert spec.to_create_params(100) == {
        "vmid": 100,
        "ostemplate": TEMPLATE,
        "hostname": "db",
        "cores": 1,
        "memory": 512,
        "swap": 512,
        "rootfs": "local-lvm:8",
        "net0": "name=eth0,bridge=vmbr0,ip=dhcp,firewall=1",
        "unprivileged": 1,
        "start": 0,
    }


def test_several_nets_ipv6_privileged_and_description_override(valid_request: dict[str, Any]) -> None:
    spec = ContainerSpec.model_validate(
        with_changes(
            valid_request,
            nets=[
                {"name": "eth0", "mode": "dhcp", "ipv6": "auto", "firewall": False},
                {"name": "eth1", "bridge": "vmbr1", "mode": "static", "ipv4_cidr": "192.168.7.9/31"},
            ],
            unprivileged=False,
            features={"nesting": False, "fuse": True},
            tags=[],
        )
    )
    params = spec.to_create_params(101, description="managed by cardinal")
    assert params["net0"] == "name=eth0,bridge=vmbr0,ip=dhcp,ip6=auto,firewall=0"
    assert params["net1"] == "name=eth1,bridge=vmbr1,ip=192.168.7.9/31,firewall=1"
    assert params["unprivileged"] == 0
    assert params["features"] == "fuse=1"
    assert params["description"] == "managed by cardinal"
    assert "tags" not in params


@pytest.mark.parametrize(
    "hostname", ["a", "web-1", "0web", "web-1.example.com", "a" * 63, ".".join(["a" * 63] * 3)]
)
def test_valid_hostnames(valid_request: dict[str, Any], hostname: str) -> None:
    assert ContainerSpec.model_validate(with_changes(valid_request, hostname=hostname)).hostname == hostname


def test_all_accepted_ssh_key_types(
    valid_request: dict[str, Any], rsa_key: str, ecdsa_key: str, sk_ed25519_key: str
) -> None:
    keys = [rsa_key, ecdsa_key, sk_ed25519_key, rsa_key.rsplit(" ", 1)[0]]  # last one without comment
    spec = ContainerSpec.model_validate(with_changes(valid_request, ssh_public_keys=keys))
    assert spec.to_create_params(100)["ssh-public-keys"] == "\n".join(keys)


def test_static_address_is_normalised(valid_request: dict[str, Any]) -> None:
    spec = ContainerSpec.model_validate(with_net(valid_request, ipv6="FD00:0:0::5/64"))
    assert spec.nets[0].ipv6 == "fd00::5/64"


# --- invalid requests ----------------------------------------------------------------------------------

INVALID_NETS = [
    ({"vlan": 0}, "nets.0.vlan", "VLAN ID from 1 to 4094"),
    ({"vlan": 4095}, "nets.0.vlan", "VLAN ID from 1 to 4094"),
    ({"vlan": -1}, "nets.0.vlan", "VLAN ID from 1 to 4094"),
    ({"gateway": "10.0.1.1"}, "nets.0.gateway", "must lie inside the network 10.0.0.0/24"),
    ({"gateway": "10.0.0.0"}, "nets.0.gateway", "network or broadcast address"),
    ({"gateway": "10.0.0.255"}, "nets.0.gateway", "network or broadcast address"),
    ({"gateway": "10.0.0.5"}, "nets.0.gateway", "container's own address"),
    ({"gateway": "10.0.0.1,ip=1"}, "nets.0.gateway", "IPv4 address"),
    ({"ipv4_cidr": "10.0.0.5"}, "nets.0.ipv4_cidr", "IPv4 address with prefix length"),
    ({"ipv4_cidr": "10.0.0.300/24"}, "nets.0.ipv4_cidr", "IPv4 address with prefix length"),
    ({"ipv4_cidr": "10.0.0.5/33"}, "nets.0.ipv4_cidr", "IPv4 address with prefix length"),
    ({"ipv4_cidr": "10.0.0.5/24,gw=1.1.1.1"}, "nets.0.ipv4_cidr", "IPv4 address with prefix length"),
    ({"ipv4_cidr": "10.0.0.0/24"}, "nets.0.ipv4_cidr", "network or broadcast"),
    ({"ipv4_cidr": "127.0.0.5/8"}, "nets.0.ipv4_cidr", "usable unicast"),
    ({"ipv4_cidr": None}, "nets.0.ipv4_cidr", "is required for a static address"),
    ({"mode": "dhcp"}, "nets.0.ipv4_cidr", "must be empty when the address comes from DHCP"),
    ({"mode": "manual"}, "nets.0.mode", "'dhcp' or 'static'"),
    ({"ipv6": "fd00::1"}, "nets.0.ipv6", "IPv6 address with prefix"),
    ({"ipv6": "slaac"}, "nets.0.ipv6", "'auto', 'dhcp'"),
    ({"bridge": "vmbr0,tag=5"}, "nets.0.bridge", "1–15 characters"),
    ({"bridge": "vmbr0\n"}, "nets.0.bridge", "1–15 characters"),
    ({"bridge": "a" * 16}, "nets.0.bridge", "1–15 characters"),
    ({"name": "eth 0"}, "nets.0.name", "1–15 characters"),
    ({"firewall": "maybe"}, "nets.0.firewall", "true or false"),
]


@pytest.mark.parametrize(("net", "path", "fragment"), INVALID_NETS)
def test_invalid_network_fields_are_refused_by_name(
    valid_request: dict[str, Any], net: dict[str, Any], path: str, fragment: str
) -> None:
    errors = errors_for(with_net(valid_request, **net))
    assert path in errors, errors
    assert errors[path].startswith(f"{path}: ")
    assert fragment in errors[path]


def test_gateway_with_dhcp_is_refused(valid_request: dict[str, Any]) -> None:
    errors = errors_for(with_changes(valid_request, nets=[{"mode": "dhcp", "gateway": "10.0.0.1"}]))
    assert "DHCP" in errors["nets.0.gateway"]


INVALID_FIELDS = [
    ("hostname", "Web-1", "each label must be 1–63 characters of a–z, 0–9 and '-'"),
    ("hostname", "web_1", "each label"),
    ("hostname", "-web", "not starting or ending with '-'"),
    ("hostname", "web-", "each label"),
    ("hostname", "a" * 64, "each label"),
    ("hostname", ".".join(["a" * 63] * 4), "at most 253 characters"),
    ("hostname", "web..example", "each label"),
    ("hostname", "", "each label"),
    ("hostname", "wéb", "each label"),
    ("hostname", "web\u0430", "each label"),  # Cyrillic a
    ("hostname", "web\n", "each label"),
    ("hostname", "web\x00", "each label"),
    ("hostname", "web 1", "each label"),
    ("template", "local:vztmpl/debian,rootfs=x.tar.zst", "must be a template volume"),
    ("template", "local:vztmpl/debian-12.tar.zst\n", "must be a template volume"),
    ("template", "local:iso/debian-12.iso", "must be a template volume"),
    ("template", "local:vztmpl/../etc/passwd.tar", "must be a template volume"),
    ("template", "local:vztmpl/" + "a" * 250 + ".tar.zst", "must be a template volume"),
    ("template", "/var/lib/vz/template/cache/debian.tar.zst", "must be a template volume"),
    ("cores", 0, "from 1 to 128"),
    ("cores", 129, "from 1 to 128"),
    ("cores", -4, "from 1 to 128"),
    ("cores", "two", "whole number"),
    ("cores", 1.5, "whole number"),
    ("memory_mib", 32, "from 64 to 1048576 MiB"),
    ("memory_mib", 1 << 40, "from 64 to 1048576 MiB"),
    ("swap_mib", -1, "from 0 to 1048576 MiB"),
    ("disk_gib", 0, "from 1 to 10240 GiB"),
    ("disk_gib", 10**12, "from 1 to 10240 GiB"),
    ("storage", "Local", "must start with a–z"),
    ("storage", "local-lvm,size=1T", "must start with a–z"),
    ("storage", "local lvm", "must start with a–z"),
    ("tags", ["web", "Web"], "each tag"),
    ("tags", ["a;b"], "each tag"),
    ("tags", ["a,b"], "each tag"),
    ("tags", ["-a"], "each tag"),
    ("tags", ["web", "web"], "appears twice"),
    ("tags", [f"t{i}" for i in range(33)], "at most 32 tags"),
    ("description", "line\rbreak", "control characters"),
    ("description", "bell\x07", "control characters"),
    ("description", "sep\u2028x", "control characters"),
    ("description", "x" * 8193, "at most 8192 bytes"),
    ("description", "ü" * 4097, "at most 8192 bytes"),
    ("nets", [], "1 to 4 network interfaces"),
    ("nets", [{"name": f"eth{i}"} for i in range(5)], "1 to 4 network interfaces"),
    ("nets", [{"name": "eth0"}, {"name": "eth0", "bridge": "vmbr1"}], "'eth0' appears twice"),
    ("unknown_field", 1, "is not a field Cardinal knows"),
]


@pytest.mark.parametrize(("field", "value", "fragment"), INVALID_FIELDS)
def test_invalid_fields_are_refused_by_name(
    valid_request: dict[str, Any], field: str, value: Any, fragment: str
) -> None:
    errors = errors_for(with_changes(valid_request, **{field: value}))
    matching = {path: msg for path, msg in errors.items() if path.split(".")[0] == field}
    assert matching, errors
    message = next(iter(matching.values()))
    assert message.startswith(f"{next(iter(matching))}: ")
    assert fragment in message


def test_missing_required_fields_are_named() -> None:
    errors = errors_for({})
    assert errors == {
        "hostname": "hostname: is required",
        "template": "template: is required",
        "storage": "storage: is required",
    }


def test_ssh_key_with_embedded_newline_is_refused(valid_request: dict[str, Any], ed25519_key: str) -> None:
    smuggled = ed25519_key + "\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAttacker evil"
    errors = errors_for(with_changes(valid_request, ssh_public_keys=[smuggled]))
    assert "one line" in errors["ssh_public_keys.0"]


def test_ssh_key_with_mismatched_type_is_refused(valid_request: dict[str, Any], ed25519_key: str) -> None:
    body = ed25519_key.split(" ")[1]
    errors = errors_for(with_changes(valid_request, ssh_public_keys=[f"ssh-rsa {body} x"]))
    assert "not a ssh-rsa key" in errors["ssh_public_keys.0"]


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP== x", "key type must be one of"),
        ('command="rm -rf /" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI x', "key type must be one of"),
        ("ssh-ed25519", "must look like"),
        ("ssh-ed25519 not*base64 x", "not valid base64"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 x", "key data is not valid"),
        (
            "ssh-ed25519 " + base64.b64encode(ssh_string(b"ssh-ed25519") + ssh_string(b"short")).decode(),
            "32 bytes",
        ),
        ("ssh-ed25519 AAAA\x00 x", "one line"),
    ],
)
def test_malformed_ssh_keys_are_refused(valid_request: dict[str, Any], key: str, fragment: str) -> None:
    errors = errors_for(with_changes(valid_request, ssh_public_keys=[key]))
    assert fragment in errors["ssh_public_keys.0"]


def test_short_rsa_key_and_control_char_comment_are_refused(
    valid_request: dict[str, Any], small_rsa_key: str, ed25519_key: str
) -> None:
    errors = errors_for(
        with_changes(valid_request, ssh_public_keys=[small_rsa_key, ed25519_key + "\x1b[31m"])
    )
    assert "at least 2048 bits" in errors["ssh_public_keys.0"]
    assert "control character" in errors["ssh_public_keys.1"]


@pytest.mark.parametrize(
    ("mountpoint", "path", "fragment"),
    [
        ({"path": "data"}, "mountpoints.0.path", "must be absolute"),
        ({"path": "/srv/../etc"}, "mountpoints.0.path", "without '.', '..'"),
        ({"path": "/sys/kernel"}, "mountpoints.0.path", "not be inside /sys"),
        ({"path": "/data,ro=1"}, "mountpoints.0.path", "must be absolute"),
        ({"size_gib": 0}, "mountpoints.0.size_gib", "from 1 to 10240 GiB"),
        ({"storage": "x y"}, "mountpoints.0.storage", "must start with a–z"),
    ],
)
def test_invalid_mountpoints_are_refused(
    valid_request: dict[str, Any], mountpoint: dict[str, Any], path: str, fragment: str
) -> None:
    mp = {"storage": "local-lvm", "size_gib": 4, "path": "/data", **mountpoint}
    errors = errors_for(with_changes(valid_request, mountpoints=[mp]))
    assert fragment in errors[path]


def test_duplicate_mount_paths_are_refused(valid_request: dict[str, Any]) -> None:
    mp = {"storage": "local-lvm", "size_gib": 4, "path": "/data"}
    errors = errors_for(with_changes(valid_request, mountpoints=[mp, mp]))
    assert "'/data' appears twice" in errors["mountpoints"]


def test_keyctl_needs_an_unprivileged_container(valid_request: dict[str, Any]) -> None:
    errors = errors_for(with_changes(valid_request, unprivileged=False, features={"keyctl": True}))
    assert "unprivileged" in errors["features"]


def test_models_are_immutable(valid_request: dict[str, Any]) -> None:
    spec = ContainerSpec.model_validate(valid_request)
    with pytest.raises(ValidationError):
        spec.cores = 64  # type: ignore[misc]


# --- to_create_params guards ---------------------------------------------------------------------------


@pytest.mark.parametrize("vmid", [99, 0, -1, 1_000_000_000])
def test_vmid_out_of_range_is_refused(valid_request: dict[str, Any], vmid: int) -> None:
    with pytest.raises(InputError) as info:
        ContainerSpec.model_validate(valid_request).to_create_params(vmid)
    assert info.value.field == "vmid"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tags": ["owner;admin"]}, "tags"),
        ({"tags": ["Owner"]}, "tags"),
        ({"description": "x\x00"}, "description"),
        ({"password": "abc"}, "password"),
        ({"password": "long enough\n"}, "password"),
    ],
)
def test_extra_create_values_are_checked(
    valid_request: dict[str, Any], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as info:
        ContainerSpec.model_validate(valid_request).to_create_params(100, **kwargs)
    assert info.value.field == field
    assert info.value.what.startswith(f"{field}: ")


# --- limits --------------------------------------------------------------------------------------------


def test_check_limits_lists_each_excess(valid_request: dict[str, Any]) -> None:
    spec = ContainerSpec.model_validate(
        with_changes(
            valid_request,
            cores=16,
            memory_mib=65536,
            disk_gib=100,
            mountpoints=[{"storage": "local-lvm", "size_gib": 150, "path": "/data"}],
        )
    )
    problems = check_limits(spec, Limits(max_cores=8, max_memory_mib=16384, max_disk_gib=200))
    assert [p.field for p in problems] == ["cores", "memory_mib", "disk_gib"]
    assert problems[0].what == "cores: 16 is more than the limit of 8 per container"
    assert "250 GiB" in problems[2].what


def test_check_limits_passes_within_limits(valid_request: dict[str, Any]) -> None:
    spec = ContainerSpec.model_validate(valid_request)
    assert (
        check_limits(spec, Limits(max_cores=2, max_memory_mib=2048, max_swap_mib=512, max_disk_gib=8)) == []
    )
    assert [p.field for p in check_limits(spec, Limits(max_swap_mib=256))] == ["swap_mib"]


# --- nothing smuggled into the create parameters ---------------------------------------------------------

INTENDED_NET_KEYS = ["name", "bridge", "ip", "gw", "firewall", "tag"]
broad_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.sampled_from(list("abz09-_.,=;:\n\r\x00 /+\uff0c\uff1d")), max_size=40),
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
)


def assert_property_params_are_intact(params: dict[str, str | int], tags: list[str]) -> None:
    assert list(parse_property(str(params["net0"]), field="net0")) == INTENDED_NET_KEYS
    assert parse_property(str(params["rootfs"]), field="rootfs", default_key="volume") == {
        "volume": "local-lvm:8"
    }
    assert parse_property(str(params["features"]), field="features") == {"nesting": "1"}
    assert set(params) <= {
        "vmid", "ostemplate", "hostname", "cores", "memory", "swap", "rootfs", "net0",
        "features", "ssh-public-keys", "unprivileged", "tags", "description", "start",
    }  # fmt: skip
    assert str(params.get("tags", "")).split(";") == (tags or [""])
    assert "\n" not in str(params["hostname"])
    assert "\n" not in str(params["ssh-public-keys"])


@pytest.mark.parametrize("field", ["hostname", "description", "tag", "bridge"])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=120)
@given(value=broad_text)
def test_no_generated_string_smuggles_a_key_into_create_params(
    valid_request: dict[str, Any], field: str, value: str
) -> None:
    if field == "bridge":
        data = with_net(valid_request, bridge=value)
    elif field == "tag":
        data = with_changes(valid_request, tags=[value])
    else:
        data = with_changes(valid_request, **{field: value})
    try:
        spec = ContainerSpec.model_validate(data)
    except ValidationError as exc:
        refused = field_errors(exc)
    else:
        refused = {}
    event("refused" if refused else "accepted")
    if refused:
        assert all(message.startswith(f"{path}: ") for path, message in refused.items())
        return
    params = spec.to_create_params(100)
    if field == "bridge":
        assert parse_property(str(params["net0"]), field="net0")["bridge"] == value
    elif field in ("hostname", "description"):
        assert params.get(field, "") == value
    assert_property_params_are_intact(params, spec.tags)


@settings(max_examples=100)
@given(path=broad_text.map(lambda s: "/" + s), storage=broad_text)
def test_no_generated_mountpoint_smuggles_a_key(path: str, storage: str) -> None:
    try:
        mp = MountPoint(storage=storage, size_gib=4, path=path)
    except ValidationError:
        return
    assert parse_property(mp.to_property(0), field="mp0", default_key="volume") == {
        "volume": f"{storage}:4",
        "mp": path,
        "backup": "1",
    }


def test_netspec_property_uses_its_index_as_field() -> None:
    net = NetSpec(name="eth2", bridge="vmbr2")
    assert net.to_property(2) == "name=eth2,bridge=vmbr2,ip=dhcp,firewall=1"
