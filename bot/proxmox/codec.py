"""The one codec for Proxmox property strings (``net0``, ``rootfs``, ``mp0``, ``features``).

A property string is ``[default=]value,key=value,...``. Proxmox splits it on ``,`` and each part on the
first ``=``, so a value holding ``,`` or ``=`` could add or change a key. This codec never escapes: it
refuses any key or value that could do that, and everything else that has no business in one (``;``
outside list-valued keys, quotes, backslashes, whitespace, control and non-ASCII characters, empty or
overlong values). Refusals are :class:`bot.errors.InputError` with ``field`` set to the property name.

Only printable ASCII is accepted, so Unicode look-alikes of ``,`` and ``=`` are refused too.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from dataclasses import field as dc_field

from bot.errors import InputError

#: Keys whose values are ``;``-separated lists in Proxmox's schema (rootfs/mp ``mountoptions``,
#: net ``trunks``, features ``mount``). Only there may a value contain ``;``, between non-empty items.
LIST_KEYS: frozenset[str] = frozenset({"mountoptions", "trunks", "mount"})

#: Longest value the codec writes or reads.
MAX_VALUE_LENGTH = 512

_KEY_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_FORBIDDEN = {",": "','", "=": "'='", ";": "';'", '"': "'\"'", "'": '"\'"', "\\": "'\\'"}
_VALUE_RULE = "values may only use printable ASCII without ',', '=', ';', quotes, backslashes or whitespace"

_IFNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_STORAGE_RE = re.compile(r"[a-z][a-z0-9\-_.]*")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
_MP_PATH_RE = re.compile(r"/[A-Za-z0-9._/-]*")
_MOUNTOPTIONS = frozenset({"discard", "lazytime", "noatime", "nodev", "noexec", "nosuid"})

PropertyValue = str | int | float | bool | None


def _describe(ch: str) -> str:
    if ch in _FORBIDDEN:
        return _FORBIDDEN[ch]
    if ch == "\n":
        return "a newline"
    if ch == "\r":
        return "a carriage return"
    if ch == "\t":
        return "a tab"
    if ch == " ":
        return "a space"
    if ch.isspace():
        return f"whitespace (U+{ord(ch):04X})"
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"a control character (U+{ord(ch):04X})"
    return f"the non-ASCII character {ch!r} (U+{ord(ch):04X})"


def _check_key(key: str, *, field: str) -> None:
    if not key:
        raise InputError(f"{field}: a key is empty; keys must be non-empty", field=field)
    if not _KEY_RE.fullmatch(key):
        raise InputError(
            f"{field}: key {key[:40]!r} is not allowed; keys are 1-32 characters of a-z, 0-9, '_' and '-',"
            " starting with a letter",
            field=field,
        )


def _check_value(key: str, value: str, *, field: str, list_keys: Set[str]) -> None:
    where = f"{field}: value of {key!r}"
    if not value:
        raise InputError(f"{where} is empty; values must not be empty", field=field)
    if len(value) > MAX_VALUE_LENGTH:
        raise InputError(
            f"{where} is {len(value)} characters long; the limit is {MAX_VALUE_LENGTH}", field=field
        )
    allow_semicolon = key in list_keys
    for ch in value:
        if ch == ";" and allow_semicolon:
            continue
        if ch in _FORBIDDEN or not ("!" <= ch <= "~"):
            raise InputError(f"{where} contains {_describe(ch)}; {_VALUE_RULE}", field=field)
    if allow_semicolon and "" in value.split(";"):
        raise InputError(f"{where} has an empty item in its ';'-separated list", field=field)


def _to_text(key: str, value: str | int | float | bool, *, field: str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{field}: value of {key!r} must be a finite number", field=field)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise InputError(f"{field}: value of {key!r} has unsupported type {type(value).__name__}", field=field)


def encode_property(
    values: Mapping[str, PropertyValue],
    *,
    field: str,
    default_key: str | None = None,
    list_keys: Set[str] = LIST_KEYS,
) -> str:
    """Encode ``values`` as a property string, in the mapping's order; refuse anything unsafe.

    ``bool`` becomes ``1``/``0``; ``None`` values are left out. When ``default_key`` is given and present,
    its value is written first without ``key=`` (``rootfs``: ``local-lvm:8,size=8G``). Raises
    :class:`InputError` (``field`` = the property name) for any key or value that could add or change a key.
    """
    parts: list[str] = []
    head: str | None = None
    for key, raw in values.items():
        _check_key(key, field=field)
        if raw is None:
            continue
        text = _to_text(key, raw, field=field)
        _check_value(key, text, field=field, list_keys=list_keys)
        if default_key is not None and key == default_key:
            head = text  # a bare part is always read back as the default key: values hold no '='
        else:
            parts.append(f"{key}={text}")
    if head is not None:
        parts.insert(0, head)
    if not parts:
        raise InputError(f"{field}: nothing to encode; at least one value is required", field=field)
    return ",".join(parts)


def parse_property(
    text: str,
    *,
    field: str,
    default_key: str | None = None,
    list_keys: Set[str] = LIST_KEYS,
) -> dict[str, str]:
    """Parse a property string into ``{key: value}`` strictly (the inverse of :func:`encode_property`).

    A part without ``=`` is the ``default_key``'s value. Empty parts, duplicate keys, a bare value when
    there is no default key, and any character :func:`encode_property` refuses raise :class:`InputError`.
    """
    if not text:
        raise InputError(f"{field}: the property string is empty", field=field)
    result: dict[str, str] = {}
    for index, part in enumerate(text.split(",")):
        if not part:
            raise InputError(f"{field}: item {index + 1} is empty (stray ',')", field=field)
        if "=" in part:
            key, value = part.split("=", 1)
            _check_key(key, field=field)
        else:
            if default_key is None:
                raise InputError(
                    f"{field}: item {index + 1} has no 'key=' and {field} has no default key", field=field
                )
            key, value = default_key, part
        _check_value(key, value, field=field, list_keys=list_keys)
        if key in result:
            raise InputError(f"{field}: key {key!r} appears more than once", field=field)
        result[key] = value
    return result


# --- typed builders --------------------------------------------------------------------------------


def _fail(field: str, message: str) -> InputError:
    return InputError(f"{field}: {message}", field=field)


def _check_ifname(value: str, what: str, *, field: str) -> None:
    if not _IFNAME_RE.fullmatch(value):
        raise _fail(field, f"{what} must be 1-15 characters of A-Z, a-z, 0-9, '_', '.' and '-'")


def check_storage_id(value: str, *, field: str) -> None:
    """Refuse a storage id that is not ``[a-z][a-z0-9-_.]*`` (at most 64 characters)."""
    if len(value) > 64 or not _STORAGE_RE.fullmatch(value):
        raise _fail(
            field,
            "storage must start with a-z and use only a-z, 0-9, '-', '_' and '.' (at most 64 characters)",
        )


def _ipv4_config(value: str, *, field: str) -> str:
    if value in ("dhcp", "manual"):
        return value
    if "/" not in value:
        raise _fail(field, "ip must be 'dhcp', 'manual' or an IPv4 address with prefix, like 10.0.0.5/24")
    try:
        return str(ipaddress.IPv4Interface(value))
    except ValueError:
        raise _fail(
            field, "ip must be 'dhcp', 'manual' or an IPv4 address with prefix, like 10.0.0.5/24"
        ) from None


def _ipv6_config(value: str, *, field: str) -> str:
    if value in ("auto", "dhcp", "manual"):
        return value
    if "/" not in value:
        raise _fail(field, "ip6 must be 'auto', 'dhcp', 'manual' or an IPv6 address with prefix")
    try:
        return str(ipaddress.IPv6Interface(value))
    except ValueError:
        raise _fail(field, "ip6 must be 'auto', 'dhcp', 'manual' or an IPv6 address with prefix") from None


def net_property(
    name: str,
    bridge: str,
    *,
    ip: str | None = None,
    gw: str | None = None,
    ip6: str | None = None,
    gw6: str | None = None,
    tag: int | None = None,
    firewall: bool | None = None,
    hwaddr: str | None = None,
    mtu: int | None = None,
    rate: float | None = None,
    field: str = "net0",
) -> str:
    """Build a ``netN`` value, e.g. ``name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,firewall=1``.

    ``ip`` is ``dhcp``, ``manual`` or an IPv4 CIDR; ``ip6`` is ``auto``, ``dhcp``, ``manual`` or an IPv6 CIDR;
    ``tag`` is a VLAN id 1-4094; ``mtu`` 64-65535; ``hwaddr`` a unicast MAC; ``rate`` MB/s > 0.
    """
    _check_ifname(name, "name", field=field)
    _check_ifname(bridge, "bridge", field=field)
    ip_text = _ipv4_config(ip, field=field) if ip is not None else None
    gw_text: str | None = None
    if gw is not None:
        try:
            gw_text = str(ipaddress.IPv4Address(gw))
        except ValueError:
            raise _fail(field, "gw must be an IPv4 address like 10.0.0.1") from None
    ip6_text = _ipv6_config(ip6, field=field) if ip6 is not None else None
    gw6_text: str | None = None
    if gw6 is not None:
        try:
            gw6_text = str(ipaddress.IPv6Address(gw6))
        except ValueError:
            raise _fail(field, "gw6 must be an IPv6 address like fd00::1") from None
    if tag is not None and (isinstance(tag, bool) or not 1 <= tag <= 4094):
        raise _fail(field, "tag must be a VLAN ID from 1 to 4094")
    if hwaddr is not None:
        if not _MAC_RE.fullmatch(hwaddr):
            raise _fail(field, "hwaddr must be a MAC address like BC:24:11:2E:C5:7E")
        if int(hwaddr[:2], 16) & 1:
            raise _fail(field, "hwaddr must be a unicast MAC address (first octet even)")
    if mtu is not None and (isinstance(mtu, bool) or not 64 <= mtu <= 65535):
        raise _fail(field, "mtu must be from 64 to 65535")
    if rate is not None and (isinstance(rate, bool) or not math.isfinite(rate) or rate <= 0):
        raise _fail(field, "rate must be a positive number of MB/s")
    return encode_property(
        {
            "name": name,
            "bridge": bridge,
            "ip": ip_text,
            "gw": gw_text,
            "ip6": ip6_text,
            "gw6": gw6_text,
            "firewall": firewall,
            "tag": tag,
            "hwaddr": hwaddr.upper() if hwaddr is not None else None,
            "mtu": mtu,
            "rate": rate,
        },
        field=field,
    )


def _check_size(size_gib: int, *, field: str) -> None:
    if isinstance(size_gib, bool) or not isinstance(size_gib, int) or size_gib < 1:
        raise _fail(field, "size must be a whole number of GiB, at least 1")


def rootfs_property(storage: str, size_gib: int, *, field: str = "rootfs") -> str:
    """Build a ``rootfs`` value allocating a new volume: ``local-lvm:8`` (8 GiB on ``local-lvm``)."""
    check_storage_id(storage, field=field)
    _check_size(size_gib, field=field)
    return encode_property({"volume": f"{storage}:{size_gib}"}, field=field, default_key="volume")


def check_mount_path(path: str, *, field: str) -> None:
    """Refuse a mount path that is not absolute, safe-charactered, normalised and outside system dirs."""
    if len(path) > 255 or not _MP_PATH_RE.fullmatch(path):
        raise _fail(
            field, "path must be absolute and use only A-Z, a-z, 0-9, '.', '_', '-' and '/' (at most 255)"
        )
    segments = path.split("/")[1:]
    if path == "/" or any(seg in ("", ".", "..") for seg in segments):
        raise _fail(field, "path must be a normalised absolute path below '/', without '.', '..' or '//'")
    if segments[0] in ("proc", "sys", "dev", "run"):
        raise _fail(field, f"path must not be inside /{segments[0]}")


def mountpoint_property(
    storage: str,
    size_gib: int,
    path: str,
    *,
    backup: bool | None = None,
    ro: bool | None = None,
    acl: bool | None = None,
    quota: bool | None = None,
    replicate: bool | None = None,
    mountoptions: Sequence[str] | None = None,
    field: str = "mp0",
) -> str:
    """Build an ``mpN`` value allocating a new volume: ``local-lvm:16,mp=/data,backup=1``."""
    check_storage_id(storage, field=field)
    _check_size(size_gib, field=field)
    check_mount_path(path, field=field)
    options: str | None = None
    if mountoptions:
        unknown = [opt for opt in mountoptions if opt not in _MOUNTOPTIONS]
        if unknown:
            raise _fail(field, f"mountoptions may only be {', '.join(sorted(_MOUNTOPTIONS))}")
        options = ";".join(mountoptions)
    return encode_property(
        {
            "volume": f"{storage}:{size_gib}",
            "mp": path,
            "backup": backup,
            "ro": ro,
            "acl": acl,
            "quota": quota,
            "replicate": replicate,
            "mountoptions": options,
        },
        field=field,
        default_key="volume",
    )


def features_property(
    nesting: bool = False, keyctl: bool = False, fuse: bool = False, *, field: str = "features"
) -> str:
    """Build a ``features`` value with only the enabled flags (``nesting=1,keyctl=1``); ``""`` if none.

    Disabled flags are left out rather than written as ``=0``: Proxmox counts every flag other than
    ``nesting`` present in the string as a change that needs extra privileges.
    """
    flags = {"nesting": nesting, "keyctl": keyctl, "fuse": fuse}
    enabled: dict[str, PropertyValue] = {k: True for k, v in flags.items() if v}
    return encode_property(enabled, field=field) if enabled else ""


@dataclass(frozen=True, slots=True)
class NetConfig:
    """A parsed ``netN`` value; keys Cardinal does not model are kept in ``extra``."""

    name: str
    bridge: str | None = None
    ip: str | None = None
    gw: str | None = None
    ip6: str | None = None
    gw6: str | None = None
    tag: int | None = None
    firewall: bool | None = None
    hwaddr: str | None = None
    mtu: int | None = None
    rate: float | None = None
    type: str | None = None
    extra: dict[str, str] = dc_field(default_factory=dict)


def _parse_int(values: dict[str, str], key: str, *, field: str) -> int | None:
    raw = values.pop(key, None)
    if raw is None:
        return None
    if not raw.isdigit():
        raise _fail(field, f"{key} must be a whole number, got {raw[:20]!r}")
    return int(raw)


def _parse_bool(values: dict[str, str], key: str, *, field: str) -> bool | None:
    raw = values.pop(key, None)
    if raw is None:
        return None
    if raw not in ("0", "1"):
        raise _fail(field, f"{key} must be 0 or 1, got {raw[:20]!r}")
    return raw == "1"


def parse_net(text: str, *, field: str = "net0") -> NetConfig:
    """Parse a ``netN`` value as Proxmox returns it in the container config."""
    values = parse_property(text, field=field)
    name = values.pop("name", None)
    if name is None:
        raise _fail(field, "name is missing")
    tag = _parse_int(values, "tag", field=field)
    mtu = _parse_int(values, "mtu", field=field)
    firewall = _parse_bool(values, "firewall", field=field)
    rate_text = values.pop("rate", None)
    rate: float | None = None
    if rate_text is not None:
        try:
            rate = float(rate_text)
        except ValueError:
            raise _fail(field, f"rate must be a number, got {rate_text[:20]!r}") from None
    return NetConfig(
        name=name,
        bridge=values.pop("bridge", None),
        ip=values.pop("ip", None),
        gw=values.pop("gw", None),
        ip6=values.pop("ip6", None),
        gw6=values.pop("gw6", None),
        tag=tag,
        firewall=firewall,
        hwaddr=values.pop("hwaddr", None),
        mtu=mtu,
        rate=rate,
        type=values.pop("type", None),
        extra=values,
    )
