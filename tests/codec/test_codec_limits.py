"""The codec's limits, exactly: the last value allowed, the first one refused, and the field named.

Each refusal is what the person who typed the value reads (``InputError.what``) and ``field`` is where
the Slack edge puts the error, so both are asserted. The limits follow Proxmox's schema for LXC
(the official Proxmox API schema, ``apidata.json``: ``tag`` 1-4094, ``mtu`` 64-65535, ``rate`` MB/s, interface
names up to 15 characters) and the property-string rules in the codec's docstring.
"""

from __future__ import annotations

import pytest

from bot.errors import InputError
from bot.proxmox.codec import (
    LIST_KEYS,
    MAX_VALUE_LENGTH,
    NetConfig,
    check_mount_path,
    check_storage_id,
    encode_property,
    features_property,
    mountpoint_property,
    net_property,
    parse_net,
    parse_property,
    rootfs_property,
)


def refused(call: object, *args: object, **kwargs: object) -> InputError:
    """Call and return the :class:`InputError` it must raise."""
    assert callable(call)
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    return info.value


# --- list keys and ';' --------------------------------------------------------------------------------


def test_a_list_value_cannot_smuggle_a_key_after_its_semicolon() -> None:
    """``noatime;x,ro=0`` must not become ``…,mountoptions=noatime;x,ro=0``: an extra ``ro`` key."""
    err = refused(encode_property, {"mp": "/data", "mountoptions": "noatime;x,ro=0"}, field="mp1")
    assert err.field == "mp1"
    assert err.what.startswith("mp1: value of 'mountoptions' contains ','")


@pytest.mark.parametrize("key", ["mountoptions", "trunks", "mount"])
def test_every_list_key_takes_a_semicolon_list(key: str) -> None:
    assert key in LIST_KEYS
    assert encode_property({key: "a;b;c"}, field="x") == f"{key}=a;b;c"
    assert parse_property(f"{key}=a;b;c", field="x") == {key: "a;b;c"}


def test_net_trunks_list_round_trips() -> None:
    assert (
        encode_property({"name": "eth0", "trunks": "10;20;30"}, field="net0") == "name=eth0,trunks=10;20;30"
    )


@pytest.mark.parametrize("value", [";a", "a;;b", "a;", ";"])
def test_a_list_with_an_empty_item_is_refused(value: str) -> None:
    err = refused(encode_property, {"mount": value}, field="features")
    assert err.field == "features"
    assert err.what == "features: value of 'mount' has an empty item in its ';'-separated list"


def test_semicolon_outside_list_keys_is_refused_with_the_rule() -> None:
    err = refused(encode_property, {"bridge": "a;b"}, field="net0")
    assert err.what == (
        "net0: value of 'bridge' contains ';'; values may only use printable ASCII without ',', '=', ';',"
        " quotes, backslashes or whitespace"
    )


def test_custom_list_keys_replace_the_default_ones() -> None:
    assert encode_property({"tags": "a;b"}, field="x", list_keys={"tags"}) == "tags=a;b"
    assert parse_property("tags=a;b", field="x", list_keys={"tags"}) == {"tags": "a;b"}
    err = refused(encode_property, {"mount": "a;b"}, field="x", list_keys={"tags"})
    assert "contains ';'" in err.what
    err = refused(parse_property, "mount=a;b", field="x", list_keys=frozenset())
    assert "contains ';'" in err.what


# --- characters, named -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "described"),
    [
        ("a,b", "','"),
        ("a=b", "'='"),
        ('a"b', "'\"'"),
        ("a'b", '"\'"'),
        ("a\\b", "'\\'"),
        ("a\nb", "a newline"),
        ("a\rb", "a carriage return"),
        ("a\tb", "a tab"),
        ("a b", "a space"),
        ("a\u2028b", "whitespace (U+2028)"),
        ("a\x0bb", "whitespace (U+000B)"),
        ("a\x00b", "a control character (U+0000)"),
        ("a\x01b", "a control character (U+0001)"),
        ("a\x7fb", "a control character (U+007F)"),
        ("a\x80b", "the non-ASCII character '\\x80' (U+0080)"),
        ("d\u00e4ta", "the non-ASCII character 'ä' (U+00E4)"),
        ("a\uff0cb", "the non-ASCII character '，' (U+FF0C)"),
    ],
)
def test_each_refused_character_is_named(value: str, described: str) -> None:
    err = refused(encode_property, {"bridge": value}, field="net3")
    assert err.field == "net3"
    assert err.what.startswith(f"net3: value of 'bridge' contains {described}; values may only use")


@pytest.mark.parametrize("value", ["!", "~", "a!b~c", "0", "A-Z_a.z:/@+%"])
def test_printable_ascii_edges_are_allowed(value: str) -> None:
    assert encode_property({"v": value}, field="x") == f"v={value}"
    assert parse_property(f"v={value}", field="x") == {"v": value}


# --- lengths -----------------------------------------------------------------------------------------


def test_values_up_to_the_cap_pass_and_one_more_is_refused() -> None:
    longest = "a" * MAX_VALUE_LENGTH
    assert MAX_VALUE_LENGTH == 512
    assert encode_property({"v": longest}, field="x") == f"v={longest}"
    assert parse_property(f"v={longest}", field="x") == {"v": longest}
    err = refused(encode_property, {"v": longest + "a"}, field="x")
    assert err.field == "x"
    assert err.what == "x: value of 'v' is 513 characters long; the limit is 512"
    err = refused(parse_property, f"v={longest}a", field="y")
    assert err.what == "y: value of 'v' is 513 characters long; the limit is 512"


def test_empty_value_is_refused_by_name() -> None:
    err = refused(encode_property, {"v": ""}, field="x")
    assert err.what == "x: value of 'v' is empty; values must not be empty"
    assert err.field == "x"


def test_keys_up_to_32_characters_pass_and_33_are_refused() -> None:
    key = "k" + "0" * 31
    assert encode_property({key: "1"}, field="x") == f"{key}=1"
    assert parse_property(f"{key}=1", field="x") == {key: "1"}
    err = refused(encode_property, {key + "0": "1"}, field="x")
    assert err.field == "x"
    assert err.what == (
        f"x: key '{key}0' is not allowed; keys are 1-32 characters of a-z, 0-9, '_' and '-', "
        "starting with a letter"
    )


@pytest.mark.parametrize("key", ["a", "z", "a_b-c9"])
def test_key_alphabet_edges_are_allowed(key: str) -> None:
    assert encode_property({key: "1"}, field="x") == f"{key}=1"


def test_an_overlong_key_is_shown_cut_to_40_characters() -> None:
    err = refused(encode_property, {"k" * 100: "1"}, field="x")
    assert f"key '{'k' * 40}' is not allowed" in err.what


def test_empty_key_is_refused_by_name() -> None:
    err = refused(encode_property, {"": "1"}, field="x")
    assert err.what == "x: a key is empty; keys must be non-empty"
    assert err.field == "x"


# --- value types -------------------------------------------------------------------------------------


def test_numbers_and_booleans_are_written_as_proxmox_reads_them() -> None:
    values = {"a": True, "b": False, "c": 7, "d": 8.0, "e": 2.5, "f": 0}
    assert encode_property(values, field="x") == "a=1,b=0,c=7,d=8,e=2.5,f=0"


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_refused_by_name(number: float) -> None:
    err = refused(encode_property, {"rate": number}, field="net0")
    assert err.what == "net0: value of 'rate' must be a finite number"
    assert err.field == "net0"


def test_unsupported_value_types_are_refused_by_name() -> None:
    err = refused(encode_property, {"v": ["a"]}, field="x")
    assert err.what == "x: value of 'v' has unsupported type list"
    assert err.field == "x"


def test_nothing_to_encode_is_refused() -> None:
    err = refused(encode_property, {}, field="x")
    assert err.what == "x: nothing to encode; at least one value is required"
    assert err.field == "x"


def test_a_key_is_checked_even_when_its_value_is_left_out() -> None:
    err = refused(encode_property, {"v": "1", "B,ad": None}, field="x")
    assert "key 'B,ad' is not allowed" in err.what


def test_default_key_absent_writes_only_key_value_pairs() -> None:
    assert encode_property({"size": "8G"}, field="rootfs", default_key="volume") == "size=8G"
    assert encode_property({"volume": "a:1"}, field="rootfs", default_key="volume") == "a:1"


# --- parsing refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("", "net0: the property string is empty"),
        ("name=eth0,", "net0: item 2 is empty (stray ',')"),
        (",name=eth0", "net0: item 1 is empty (stray ',')"),
        ("name=eth0,eth1", "net0: item 2 has no 'key=' and net0 has no default key"),
        ("name=eth0,name=eth0", "net0: key 'name' appears more than once"),
    ],
)
def test_parse_refusals_name_the_item(text: str, what: str) -> None:
    err = refused(parse_property, text, field="net0")
    assert err.what == what
    assert err.field == "net0"


def test_parse_splits_on_the_first_equals_only_and_refuses_the_rest() -> None:
    err = refused(parse_property, "a=b=c", field="x")
    assert err.what.startswith("x: value of 'a' contains '='")


# --- typed builders: net -----------------------------------------------------------------------------


@pytest.mark.parametrize("tag", [1, 4094])
def test_vlan_tag_edges_are_allowed(tag: int) -> None:
    assert net_property("eth0", "vmbr0", tag=tag) == f"name=eth0,bridge=vmbr0,tag={tag}"


@pytest.mark.parametrize("tag", [0, 4095, -1, True])
def test_vlan_tags_outside_1_to_4094_are_refused(tag: int) -> None:
    err = refused(net_property, "eth0", "vmbr0", tag=tag, field="net2")
    assert err.what == "net2: tag must be a VLAN ID from 1 to 4094"
    assert err.field == "net2"


@pytest.mark.parametrize("mtu", [64, 65535])
def test_mtu_edges_are_allowed(mtu: int) -> None:
    assert net_property("eth0", "vmbr0", mtu=mtu) == f"name=eth0,bridge=vmbr0,mtu={mtu}"


@pytest.mark.parametrize("mtu", [63, 65536, 0, True])
def test_mtu_outside_64_to_65535_is_refused(mtu: int) -> None:
    err = refused(net_property, "eth0", "vmbr0", mtu=mtu, field="net2")
    assert err.what == "net2: mtu must be from 64 to 65535"
    assert err.field == "net2"


@pytest.mark.parametrize(("rate", "written"), [(0.001, "0.001"), (1, "1"), (250.5, "250.5")])
def test_positive_rates_are_allowed(rate: float, written: str) -> None:
    assert net_property("eth0", "vmbr0", rate=rate) == f"name=eth0,bridge=vmbr0,rate={written}"


@pytest.mark.parametrize("rate", [0, 0.0, -1.0, float("inf"), float("nan"), True])
def test_rates_that_are_not_positive_finite_numbers_are_refused(rate: float) -> None:
    err = refused(net_property, "eth0", "vmbr0", rate=rate, field="net2")
    assert err.what == "net2: rate must be a positive number of MB/s"
    assert err.field == "net2"


@pytest.mark.parametrize("name", ["e", "a" * 15, "eth0.100", "vmbr_1-A"])
def test_interface_names_up_to_15_characters_are_allowed(name: str) -> None:
    assert net_property(name, name) == f"name={name},bridge={name}"


@pytest.mark.parametrize(
    ("name", "bridge", "what"), [("a" * 16, "vmbr0", "name"), ("eth0", "b" * 16, "bridge")]
)
def test_interface_names_of_16_characters_are_refused(name: str, bridge: str, what: str) -> None:
    err = refused(net_property, name, bridge, field="net4")
    assert err.what == f"net4: {what} must be 1-15 characters of A-Z, a-z, 0-9, '_', '.' and '-'"
    assert err.field == "net4"


def test_empty_interface_name_is_refused() -> None:
    assert refused(net_property, "", "vmbr0").field == "net0"


@pytest.mark.parametrize(
    ("kwargs", "written"),
    [
        ({"ip": "dhcp"}, "ip=dhcp"),
        ({"ip": "manual"}, "ip=manual"),
        ({"ip": "10.0.0.5/255.255.255.0"}, "ip=10.0.0.5/24"),
        ({"ip6": "auto"}, "ip6=auto"),
        ({"ip6": "dhcp"}, "ip6=dhcp"),
        ({"ip6": "manual"}, "ip6=manual"),
        ({"ip6": "FD00:0::5/64"}, "ip6=fd00::5/64"),
        ({"gw": "10.0.0.1"}, "gw=10.0.0.1"),
        ({"gw6": "FD00:0:0::1"}, "gw6=fd00::1"),
        ({"firewall": False}, "firewall=0"),
        ({"hwaddr": "02:00:00:aa:bb:cc"}, "hwaddr=02:00:00:AA:BB:CC"),
    ],
)
def test_net_values_are_normalised_the_way_proxmox_stores_them(
    kwargs: dict[str, object], written: str
) -> None:
    assert net_property("eth0", "vmbr0", **kwargs) == f"name=eth0,bridge=vmbr0,{written}"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"ip": "10.0.0.5"}, "ip must be 'dhcp', 'manual' or an IPv4 address with prefix, like 10.0.0.5/24"),
        (
            {"ip": "10.0.0.5/33"},
            "ip must be 'dhcp', 'manual' or an IPv4 address with prefix, like 10.0.0.5/24",
        ),
        ({"ip": "auto"}, "ip must be 'dhcp', 'manual' or an IPv4 address with prefix, like 10.0.0.5/24"),
        ({"ip6": "fd00::5"}, "ip6 must be 'auto', 'dhcp', 'manual' or an IPv6 address with prefix"),
        ({"ip6": "fd00::5/129"}, "ip6 must be 'auto', 'dhcp', 'manual' or an IPv6 address with prefix"),
        ({"ip6": "10.0.0.5/24"}, "ip6 must be 'auto', 'dhcp', 'manual' or an IPv6 address with prefix"),
        ({"gw": "fd00::1"}, "gw must be an IPv4 address like 10.0.0.1"),
        ({"gw6": "10.0.0.1"}, "gw6 must be an IPv6 address like fd00::1"),
        ({"hwaddr": "BC:24:11:2E:C5"}, "hwaddr must be a MAC address like BC:24:11:2E:C5:7E"),
        ({"hwaddr": "BC-24-11-2E-C5-7E"}, "hwaddr must be a MAC address like BC:24:11:2E:C5:7E"),
        ({"hwaddr": "01:24:11:2E:C5:7E"}, "hwaddr must be a unicast MAC address (first octet even)"),
        ({"hwaddr": "FF:FF:FF:FF:FF:FF"}, "hwaddr must be a unicast MAC address (first octet even)"),
    ],
)
def test_net_refusals_say_what_is_expected(kwargs: dict[str, object], what: str) -> None:
    err = refused(net_property, "eth0", "vmbr0", field="net5", **kwargs)
    assert err.what == f"net5: {what}"
    assert err.field == "net5"


def test_net_builder_default_field_is_net0() -> None:
    err = refused(net_property, "eth0", "vmbr0", tag=0)
    assert err.field == "net0"
    assert err.what.startswith("net0: ")


# --- typed builders: storage, size, paths, mount options ----------------------------------------------


@pytest.mark.parametrize("storage", ["a", "local-lvm", "s3_pool.1", "a" * 64])
def test_storage_ids_are_allowed_up_to_64_characters(storage: str) -> None:
    check_storage_id(storage, field="rootfs")
    assert rootfs_property(storage, 1) == f"{storage}:1"


@pytest.mark.parametrize("storage", ["", "a" * 65, "1local", "-local", "Local", "local/x", "local:x"])
def test_bad_storage_ids_are_refused_by_name(storage: str) -> None:
    err = refused(rootfs_property, storage, 8, field="rootfs")
    assert err.what == (
        "rootfs: storage must start with a-z and use only a-z, 0-9, '-', '_' and '.' (at most 64 characters)"
    )
    assert err.field == "rootfs"


def test_size_of_one_gib_is_allowed() -> None:
    assert rootfs_property("local-lvm", 1) == "local-lvm:1"
    assert mountpoint_property("local-lvm", 1, "/data") == "local-lvm:1,mp=/data"


@pytest.mark.parametrize("size", [0, -1, True, False, 2.5, 8.0, "8"])
def test_sizes_that_are_not_whole_gib_of_at_least_one_are_refused(size: object) -> None:
    for build, field in ((rootfs_property, "rootfs"), (mountpoint_property, "mp0")):
        args = ("local-lvm", size) if build is rootfs_property else ("local-lvm", size, "/data")
        err = refused(build, *args)
        assert err.what == f"{field}: size must be a whole number of GiB, at least 1"
        assert err.field == field


@pytest.mark.parametrize(
    "path",
    ["/a", "/srv/data", "/srv/proc", "/var/run/x", "/devices", "/proc-data", "/a/b.c/d_e-f", "/" + "a" * 254],
)
def test_safe_mount_paths_are_allowed(path: str) -> None:
    check_mount_path(path, field="mp0")
    assert mountpoint_property("local-lvm", 4, path) == f"local-lvm:4,mp={path}"


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/proc", "path must not be inside /proc"),
        ("/proc/x", "path must not be inside /proc"),
        ("/sys/fs/cgroup", "path must not be inside /sys"),
        ("/dev", "path must not be inside /dev"),
        ("/dev/sda", "path must not be inside /dev"),
        ("/run/lock", "path must not be inside /run"),
        ("/", "path must be a normalised absolute path below '/', without '.', '..' or '//'"),
        ("/.", "path must be a normalised absolute path below '/', without '.', '..' or '//'"),
        ("/a/./b", "path must be a normalised absolute path below '/', without '.', '..' or '//'"),
        ("/a/..", "path must be a normalised absolute path below '/', without '.', '..' or '//'"),
        ("/a//b", "path must be a normalised absolute path below '/', without '.', '..' or '//'"),
        ("/a/", "path must be a normalised absolute path below '/', without '.', '..' or '//'"),
        ("a/b", "path must be absolute and use only A-Z, a-z, 0-9, '.', '_', '-' and '/' (at most 255)"),
        ("/a b", "path must be absolute and use only A-Z, a-z, 0-9, '.', '_', '-' and '/' (at most 255)"),
        (
            "/" + "a" * 255,
            "path must be absolute and use only A-Z, a-z, 0-9, '.', '_', '-' and '/' (at most 255)",
        ),
    ],
)
def test_unsafe_mount_paths_are_refused_by_name(path: str, what: str) -> None:
    err = refused(mountpoint_property, "local-lvm", 4, path, field="mp7")
    assert err.what == f"mp7: {what}"
    assert err.field == "mp7"


@pytest.mark.parametrize("option", ["discard", "lazytime", "noatime", "nodev", "noexec", "nosuid"])
def test_each_safe_mount_option_is_allowed(option: str) -> None:
    text = mountpoint_property("local-lvm", 4, "/data", mountoptions=[option])
    assert text == f"local-lvm:4,mp=/data,mountoptions={option}"


def test_unknown_mount_option_is_refused_listing_the_allowed_ones() -> None:
    err = refused(mountpoint_property, "local-lvm", 4, "/data", mountoptions=["nosuid", "exec"], field="mp2")
    assert err.what == "mp2: mountoptions may only be discard, lazytime, noatime, nodev, noexec, nosuid"
    assert err.field == "mp2"


def test_every_mountpoint_flag_is_written_in_proxmox_order() -> None:
    text = mountpoint_property(
        "local-lvm", 2, "/d", backup=False, ro=True, acl=True, quota=False, replicate=True, mountoptions=[]
    )
    assert text == "local-lvm:2,mp=/d,backup=0,ro=1,acl=1,quota=0,replicate=1"


def test_a_bad_storage_for_a_mount_point_names_the_mount_point() -> None:
    err = refused(mountpoint_property, "Local", 4, "/data", field="mp3")
    assert err.field == "mp3"
    assert err.what.startswith("mp3: storage must start with a-z")


def test_mountpoint_refusals_default_to_mp0() -> None:
    assert refused(mountpoint_property, "local-lvm", 4, "/proc").field == "mp0"
    assert refused(rootfs_property, "Local", 4).field == "rootfs"


@pytest.mark.parametrize(
    ("flags", "written"),
    [
        ({"keyctl": True}, "keyctl=1"),
        ({"fuse": True}, "fuse=1"),
        ({"nesting": True, "fuse": True}, "nesting=1,fuse=1"),
    ],
)
def test_features_write_each_enabled_flag(flags: dict[str, bool], written: str) -> None:
    nesting, keyctl, fuse = (flags.get(name, False) for name in ("nesting", "keyctl", "fuse"))
    assert features_property(nesting, keyctl, fuse) == written


# --- parse_net -----------------------------------------------------------------------------------------


def test_parse_net_reads_ipv6_mtu_rate_and_a_disabled_firewall() -> None:
    net = parse_net("name=eth0,ip6=fd00::5/64,gw6=fd00::1,firewall=0,mtu=1450,rate=2.5", field="net1")
    assert net == NetConfig(name="eth0", ip6="fd00::5/64", gw6="fd00::1", firewall=False, mtu=1450, rate=2.5)
    assert net.extra == {}


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("bridge=vmbr0", "net6: name is missing"),
        ("name=eth0,tag=-1", "net6: tag must be a whole number, got '-1'"),
        ("name=eth0,mtu=1.5", "net6: mtu must be a whole number, got '1.5'"),
        ("name=eth0,firewall=2", "net6: firewall must be 0 or 1, got '2'"),
        ("name=eth0,firewall=true", "net6: firewall must be 0 or 1, got 'true'"),
        ("name=eth0,rate=fast", "net6: rate must be a number, got 'fast'"),
        ("name=eth0,tag=" + "x" * 30, f"net6: tag must be a whole number, got '{'x' * 20}'"),
        ("name=eth0,firewall=" + "y" * 30, f"net6: firewall must be 0 or 1, got '{'y' * 20}'"),
        ("name=eth0,rate=" + "z" * 30, f"net6: rate must be a number, got '{'z' * 20}'"),
        ("name=eth0,,bridge=vmbr0", "net6: item 2 is empty (stray ',')"),
    ],
)
def test_parse_net_refusals_name_the_key_and_value(text: str, what: str) -> None:
    err = refused(parse_net, text, field="net6")
    assert err.what == what
    assert err.field == "net6"


def test_parse_net_default_field_is_net0() -> None:
    err = refused(parse_net, "bridge=vmbr0")
    assert err.field == "net0"
    assert err.what == "net0: name is missing"
