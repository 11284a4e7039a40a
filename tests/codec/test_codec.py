"""The property-string codec: exact encodings, strict parsing, and no way to smuggle a key."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import InputError
from bot.proxmox.codec import (
    NetConfig,
    encode_property,
    features_property,
    mountpoint_property,
    net_property,
    parse_net,
    parse_property,
    rootfs_property,
)

SAFE_CHARS = "".join(ch for ch in string.printable if ch not in ",=;\"'\\" and not ch.isspace())
safe_values = st.text(alphabet=SAFE_CHARS, min_size=1, max_size=40)
keys = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
# Everything: all of Unicode (controls, surrogates excluded by hypothesis), plus the separators, weighted.
broad_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from([",", "=", ";", "\n", "\r", "\x00", " ", "，", "＝", "a", "0", ":"])),
    st.text(alphabet=SAFE_CHARS + ",=;"),
)

HOSTILE = [
    (",", "','"),
    ("=", "'='"),
    (";", "';'"),
    ("\n", "newline"),
    ("\r", "carriage return"),
    ("\x00", "control character"),
    ("\x7f", "control character"),
    (" ", "space"),
    ("\t", "tab"),
    ("vmbr0,ip=10.0.0.9/24", "','"),
    ("name=eth0,bridge=vmbr0", "'='"),
    ("vmbr0\nnet1: name=eth1", "newline"),
    ("vmbr0;tag=5", "';'"),
    ('vmbr0"', "'\"'"),
    ("vmbr0\\", "'\\'"),
    ("vmbr0\uff0cip\uff1ddhcp", "non-ASCII"),  # fullwidth ',' and '=' look-alikes
    ("vmbr0\u201a", "non-ASCII"),  # single low-9 quotation mark, comma look-alike
    ("vmbr\u043e", "non-ASCII"),  # Cyrillic 'o'
    ("vmbr0\u2028", "whitespace"),
    ("a" * 10_000, "characters long"),
    ("", "empty"),
]


# --- exact encodings -------------------------------------------------------------------------------


def test_encode_keeps_order_drops_none_and_writes_bools_as_digits() -> None:
    text = encode_property(
        {"name": "eth0", "bridge": "vmbr0", "gw": None, "firewall": True, "link_down": False, "mtu": 1500},
        field="net0",
    )
    assert text == "name=eth0,bridge=vmbr0,firewall=1,link_down=0,mtu=1500"


def test_default_key_is_written_first_without_key() -> None:
    text = encode_property(
        {"size": "8G", "volume": "local-lvm:vm-101-disk-0"}, field="rootfs", default_key="volume"
    )
    assert text == "local-lvm:vm-101-disk-0,size=8G"
    assert parse_property(text, field="rootfs", default_key="volume") == {
        "volume": "local-lvm:vm-101-disk-0",
        "size": "8G",
    }


def test_net_property_static_with_everything() -> None:
    text = net_property(
        "eth0",
        "vmbr0",
        ip="10.0.0.5/24",
        gw="10.0.0.1",
        ip6="fd00::5/64",
        gw6="fd00::1",
        tag=42,
        firewall=True,
        hwaddr="bc:24:11:2e:c5:7e",
        mtu=1450,
        rate=12.5,
    )
    assert text == (
        "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,ip6=fd00::5/64,gw6=fd00::1,firewall=1,tag=42,"
        "hwaddr=BC:24:11:2E:C5:7E,mtu=1450,rate=12.5"
    )


def test_net_property_dhcp_minimal() -> None:
    assert net_property("eth0", "vmbr0", ip="dhcp") == "name=eth0,bridge=vmbr0,ip=dhcp"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"tag": 0}, "tag must be a VLAN ID from 1 to 4094"),
        ({"tag": 4095}, "tag must be a VLAN ID from 1 to 4094"),
        ({"ip": "10.0.0.5"}, "ip must be"),
        ({"ip": "10.0.0.300/24"}, "ip must be"),
        ({"ip": "static"}, "ip must be"),
        ({"gw": "10.0.0"}, "gw must be an IPv4 address"),
        ({"ip6": "fd00::zz/64"}, "ip6 must be"),
        ({"gw6": "nope"}, "gw6 must be an IPv6 address"),
        ({"hwaddr": "01:00:5E:00:00:01"}, "unicast"),
        ({"hwaddr": "BC:24:11:2E:C5"}, "hwaddr must be a MAC address"),
        ({"mtu": 63}, "mtu must be from 64 to 65535"),
        ({"rate": 0.0}, "rate must be a positive number"),
    ],
)
def test_net_property_refuses_bad_values(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InputError) as info:
        net_property("eth0", "vmbr0", field="net1", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == "net1"
    assert fragment in info.value.what
    assert info.value.what.startswith("net1: ")


def test_rootfs_property_allocates_size_on_storage() -> None:
    assert rootfs_property("local-lvm", 8) == "local-lvm:8"


@pytest.mark.parametrize(("storage", "size"), [("Local", 8), ("local lvm", 8), ("local,x", 8), ("local", 0)])
def test_rootfs_property_refuses_bad_storage_or_size(storage: str, size: int) -> None:
    with pytest.raises(InputError) as info:
        rootfs_property(storage, size)
    assert info.value.field == "rootfs"


def test_mountpoint_property() -> None:
    text = mountpoint_property("local-lvm", 16, "/srv/data", backup=True, mountoptions=["noatime", "nodev"])
    assert text == "local-lvm:16,mp=/srv/data,backup=1,mountoptions=noatime;nodev"
    assert parse_property(text, field="mp0", default_key="volume") == {
        "volume": "local-lvm:16",
        "mp": "/srv/data",
        "backup": "1",
        "mountoptions": "noatime;nodev",
    }


@pytest.mark.parametrize(
    "path", ["data", "/", "/a/../etc", "/a//b", "/proc/x", "/data,ro=1", "/d a", "/dätä"]
)
def test_mountpoint_property_refuses_bad_paths(path: str) -> None:
    with pytest.raises(InputError) as info:
        mountpoint_property("local-lvm", 4, path, field="mp3")
    assert info.value.field == "mp3"
    assert "path" in info.value.what


def test_mountpoint_refuses_unknown_mount_option() -> None:
    with pytest.raises(InputError, match="mountoptions may only be"):
        mountpoint_property("local-lvm", 4, "/data", mountoptions=["exec"])


def test_features_property_writes_only_enabled_flags() -> None:
    assert features_property(nesting=True) == "nesting=1"
    assert features_property(nesting=True, keyctl=True, fuse=True) == "nesting=1,keyctl=1,fuse=1"
    assert features_property() == ""


def test_parse_net_reads_proxmox_config_line() -> None:
    net = parse_net("name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,type=veth,tag=7")
    assert net == NetConfig(
        name="eth0", bridge="vmbr0", firewall=True, hwaddr="BC:24:11:2E:C5:7E", ip="dhcp", type="veth", tag=7
    )


def test_parse_net_keeps_unknown_keys_and_round_trips_builder() -> None:
    text = net_property("eth1", "vmbr1", ip="192.168.1.10/24", gw="192.168.1.1", mtu=9000, rate=5)
    net = parse_net(text + ",link_down=1", field="net1")
    assert (net.name, net.bridge, net.ip, net.gw, net.mtu, net.rate) == (
        "eth1",
        "vmbr1",
        "192.168.1.10/24",
        "192.168.1.1",
        9000,
        5.0,
    )
    assert net.extra == {"link_down": "1"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("bridge=vmbr0", "name is missing"),
        ("name=eth0,tag=x", "tag must be a whole number"),
        ("name=eth0,firewall=yes", "firewall must be 0 or 1"),
        ("name=eth0,rate=fast", "rate must be a number"),
    ],
)
def test_parse_net_refuses_malformed(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        parse_net(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name=eth0,name=eth1", "'name' appears more than once"),
        ("name=eth0,,bridge=vmbr0", "empty"),
        ("eth0", "no default key"),
        ("=eth0", "a key is empty"),
        ("name=", "empty"),
        ("Name=eth0", "not allowed"),
        ("name=eth0,bridge=vmbr0=x", "'='"),
        ("", "empty"),
    ],
)
def test_parse_is_strict(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_property(text, field="net0")
    assert fragment in info.value.what
    assert info.value.field == "net0"


def test_parse_refuses_default_key_twice() -> None:
    with pytest.raises(InputError, match="more than once"):
        parse_property("local:1,volume=local:2", field="rootfs", default_key="volume")


# --- hostile input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "named"), HOSTILE)
def test_hostile_values_are_refused_naming_the_field_and_rule(value: str, named: str) -> None:
    with pytest.raises(InputError) as info:
        encode_property({"name": "eth0", "bridge": value}, field="net0")
    assert info.value.field == "net0"
    assert info.value.what.startswith("net0: value of 'bridge'")
    assert named in info.value.what


@pytest.mark.parametrize(("value", "named"), HOSTILE)
def test_hostile_values_are_refused_by_the_typed_builder(value: str, named: str) -> None:
    with pytest.raises(InputError) as info:
        net_property("eth0", value, ip="dhcp", field="net2")
    assert info.value.field == "net2"
    assert "net2" in info.value.what


@pytest.mark.parametrize("key", ["", "ip,x", "a=b", "Name", "1abc", "na me", "näme", "k" * 40])
def test_hostile_keys_are_refused(key: str) -> None:
    with pytest.raises(InputError) as info:
        encode_property({key: "x"}, field="features")
    assert info.value.field == "features"
    assert "key" in info.value.what


def test_semicolon_only_allowed_in_list_keys() -> None:
    assert encode_property({"mount": "nfs;cifs"}, field="features") == "mount=nfs;cifs"
    with pytest.raises(InputError, match="';'"):
        encode_property({"bridge": "a;b"}, field="net0")
    with pytest.raises(InputError, match="empty item"):
        encode_property({"mount": "nfs;"}, field="features")


def test_refuses_non_finite_numbers_and_empty_encodings() -> None:
    with pytest.raises(InputError, match="finite"):
        encode_property({"rate": float("nan")}, field="net0")
    with pytest.raises(InputError, match="nothing to encode"):
        encode_property({"gw": None}, field="net0")


# --- properties ----------------------------------------------------------------------------------------


@given(st.dictionaries(keys, safe_values, min_size=1, max_size=8))
def test_round_trip_for_safe_values(values: dict[str, str]) -> None:
    encoded = encode_property(values, field="net0")
    assert parse_property(encoded, field="net0") == values


@given(st.dictionaries(keys, safe_values, min_size=1, max_size=8), st.data())
def test_round_trip_with_default_key(values: dict[str, str], data: st.DataObject) -> None:
    default_key = data.draw(st.sampled_from(sorted(values)))
    encoded = encode_property(values, field="rootfs", default_key=default_key)
    assert encoded.split(",")[0] == values[default_key]
    assert parse_property(encoded, field="rootfs", default_key=default_key) == values


@given(broad_text)
def test_no_value_can_add_or_change_a_key(value: str) -> None:
    intended: dict[str, str | bool] = {"name": "eth0", "bridge": value, "ip": "dhcp", "firewall": True}
    refused: InputError | None = None
    try:
        encoded = encode_property(intended, field="net0")
    except InputError as exc:
        refused = exc
    if refused is not None:
        assert refused.field == "net0"
        return
    parsed = parse_property(encoded, field="net0")
    assert list(parsed) == ["name", "bridge", "ip", "firewall"]
    assert parsed["bridge"] == value


@given(broad_text)
def test_no_value_can_smuggle_a_key_through_the_default_key(value: str) -> None:
    try:
        encoded = encode_property({"volume": value, "mp": "/data"}, field="mp0", default_key="volume")
    except InputError:
        return
    assert parse_property(encoded, field="mp0", default_key="volume") == {"volume": value, "mp": "/data"}


@given(broad_text, safe_values)
def test_no_key_can_add_another_key(key: str, value: str) -> None:
    try:
        encoded = encode_property({key: value, "name": "eth0"}, field="net0")
    except InputError:
        return
    assert parse_property(encoded, field="net0") == {key: value, "name": "eth0"}


@given(broad_text)
def test_no_bridge_string_changes_the_net_keys(bridge: str) -> None:
    try:
        encoded = net_property("eth0", bridge, ip="10.0.0.5/24", gw="10.0.0.1", tag=5, field="net0")
    except InputError:
        return
    parsed = parse_property(encoded, field="net0")
    assert list(parsed) == ["name", "bridge", "ip", "gw", "tag"]
    assert parsed["bridge"] == bridge
