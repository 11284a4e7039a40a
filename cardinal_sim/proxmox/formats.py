"""Named parameter formats of the Proxmox schema (pve-common JSONSchema.pm, pve-container, pve-storage).

Each checker raises :class:`FormatError` with Proxmox's own message (trailing newline included), which
the validator reports as ``invalid format - <message>``. ``<name>-list`` formats split the value the way
``PVE::Tools::split_list`` does and check each element.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Callable
from functools import lru_cache

from cardinal_sim.proxmox.privileges import ALL_PRIVILEGES

_IPV4_RE = (
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)
_NAME_RE = r"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
_STORAGE_CONTENT = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none")


class FormatError(ValueError):
    """The value does not have the named format; ``str()`` is Proxmox's message."""


def _is_ipv4(value: str) -> bool:
    return re.match(rf"^(?:{_IPV4_RE})$", value) is not None


def _is_ipv6(value: str) -> bool:
    if value != value.strip() or "%" in value or "/" in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _cidr_ok(value: str, v6: bool) -> bool:
    m = re.match(r"^(.+)/(\d+)$", value)
    if m is None:
        return False
    addr, bits = m.group(1), int(m.group(2))
    if v6:
        return _is_ipv6(addr) and 7 < bits <= 128
    return _is_ipv4(addr) and 7 < bits <= 32


def split_list(text: str) -> list[str]:
    """``PVE::Tools::split_list``: NUL-separated, else ``,``/``;``/whitespace separated."""
    if "\0" in text:
        return text.split("\0")
    return [p for p in re.split(r"\s+", re.sub(r"[,;]", " ", text).strip()) if p]


def _vmid(v: str) -> None:
    if not re.match(r"^[1-9][0-9]{2,8}$", v):
        raise FormatError("value does not look like a valid VM ID\n")


def _node(v: str) -> None:
    if not re.match(r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$", v):
        raise FormatError("value does not look like a valid node name\n")


def _dns_name(v: str) -> None:
    if not re.match(rf"^({_NAME_RE}\.)*{_NAME_RE}$", v):
        raise FormatError("value does not look like a valid DNS name\n")


def _storage_id(v: str) -> None:
    if not re.match(r"^[a-z][a-z0-9\-\_\.]*[a-z0-9]$", v, re.IGNORECASE):
        raise FormatError(f"storage ID '{v}' contains illegal characters\n")


def _configid(v: str) -> None:
    if not re.match(r"^[a-z][a-z0-9_-]+$", v, re.IGNORECASE):
        raise FormatError(f"invalid configuration ID '{v}'\n")


def _tag(v: str) -> None:
    if not re.match(r"^[a-z0-9_][a-z0-9_\-\+\.]*$", v, re.IGNORECASE):
        raise FormatError("invalid characters in tag\n")


def _volume_id(v: str) -> None:
    if not re.match(r"^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$", v, re.IGNORECASE):
        raise FormatError(f"unable to parse volume ID '{v}'\n")


def _poolid(v: str) -> None:
    if not re.match(r"^[A-Za-z0-9_\-\.]+$", v):
        raise FormatError(f"pool name '{v}' contains illegal characters\n")


def _realm(v: str) -> None:
    if not re.match(r"^[A-Za-z][A-Za-z0-9\.\-_]+$", v):
        raise FormatError(f"value '{v}' does not look like a valid realm\n")


def _ipv4(v: str) -> None:
    if not _is_ipv4(v):
        raise FormatError("value does not look like a valid IPv4 address\n")


def _ipv6(v: str) -> None:
    if not _is_ipv6(v):
        raise FormatError("value does not look like a valid IPv6 address\n")


def _ipv4mask(v: str) -> None:
    try:
        net = ipaddress.IPv4Network(f"0.0.0.0/{v}")
    except ValueError:
        net = None
    if net is None or not _is_ipv4(v):
        raise FormatError("value does not look like a valid IP netmask\n")


def _cidrv4(v: str) -> None:
    if not _cidr_ok(v, v6=False):
        raise FormatError("value does not look like a valid IPv4 CIDR network\n")


def _cidrv6(v: str) -> None:
    if not _cidr_ok(v, v6=True):
        raise FormatError("value does not look like a valid IPv6 CIDR network\n")


def _ipv4_config(v: str) -> None:
    if v in ("dhcp", "manual") or _cidr_ok(v, v6=False):
        return
    raise FormatError("value does not look like a valid ipv4 network configuration\n")


def _ipv6_config(v: str) -> None:
    if v in ("auto", "dhcp", "manual") or _cidr_ok(v, v6=True):
        return
    raise FormatError("value does not look like a valid ipv6 network configuration\n")


def _mac(v: str) -> None:
    if not re.match(r"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", v, re.IGNORECASE):
        raise FormatError("value does not look like a valid unicast MAC address\n")


def _ip_with_ll_iface(v: str) -> None:
    m = re.match(r"^(fe80:.+)%(.+)$", v)
    if m is not None and _is_ipv6(m.group(1)):
        return
    if not (_is_ipv4(v) or _is_ipv6(v)):
        raise FormatError("value does not look like a valid IP address\n")


def parse_size(value: str) -> int | None:
    """``PVE::JSONSchema::parse_size``: ``8G`` → bytes, ``None`` when unparsable."""
    m = re.match(r"^(\d+(\.\d+)?)([KMGT])?$", value)
    if m is None:
        return None
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(m.group(3) or "", 1)
    return int(float(m.group(1)) * mult)


def _disk_size(v: str) -> None:
    if parse_size(v) is None:
        raise FormatError(f"value does not look like a valid disk size: {v}\n")


def _mp_string(v: str) -> None:
    if re.search(r"(?:^|/)\.\.?(?:/|$)", v):
        raise FormatError(f"{v} contains illegal character sequences\n")


def _dev_string(v: str) -> None:
    if not v.startswith("/dev/") or re.search(r"(?:^|/)\.\.?(?:/|$)", v):
        raise FormatError(f"{v} is not a valid device path\n")


def _timezone(v: str) -> None:
    if v in ("host", "UTC") or v in _zones():
        return
    raise FormatError(f"invalid time zone '{v}'\n")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _startup(v: str) -> None:
    ok = bool(v)
    for part in v.split(","):
        if re.match(r"^\s*$", part):
            continue
        if not re.match(r"^((order=)?\d+|up=\d+|down=\d+)$", part):
            ok = False
    if not ok:
        raise FormatError("unable to parse startup options\n")


def _content(v: str) -> None:
    if v not in _STORAGE_CONTENT:
        raise FormatError(f"invalid content type '{v}'\n")


def _task_status(v: str) -> None:
    if not re.match(r"^(ok|error|warning|unknown)$", v, re.IGNORECASE):
        raise FormatError(f"invalid status '{v}'\n")


def _iface(v: str) -> None:
    if not re.match(r"^[a-z][a-z0-9_]{1,20}([:\.]\d+)?$", v, re.IGNORECASE):
        raise FormatError(f"invalid network interface name '{v}'\n")


def _vlan_range(v: str) -> None:
    m = re.match(r"^(\d+)(?:-(\d+))?$", v)
    if m is None:
        raise FormatError(f"invalid VLAN configuration '{v}'\n")
    for tag in (m.group(1), m.group(2)):
        if tag is not None and not 2 <= int(tag) <= 4094:
            raise FormatError(f"invalid VLAN tag '{tag}'\n")


def _priv(v: str) -> None:
    if v not in ALL_PRIVILEGES:
        raise FormatError(f"invalid privilege name '{v}'\n")


FORMATS: dict[str, Callable[[str], None]] = {
    "pve-vmid": _vmid,
    "pve-node": _node,
    "dns-name": _dns_name,
    "pve-storage-id": _storage_id,
    "pve-configid": _configid,
    "pve-tag": _tag,
    "pve-volume-id": _volume_id,
    "pve-poolid": _poolid,
    "pve-realm": _realm,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "ipv4mask": _ipv4mask,
    "CIDRv4": _cidrv4,
    "CIDRv6": _cidrv6,
    "pve-ipv4-config": _ipv4_config,
    "pve-ipv6-config": _ipv6_config,
    "mac-addr": _mac,
    "lxc-ip-with-ll-iface": _ip_with_ll_iface,
    "disk-size": _disk_size,
    "pve-lxc-mp-string": _mp_string,
    "pve-lxc-dev-string": _dev_string,
    "pve-ct-timezone": _timezone,
    "pve-startup-order": _startup,
    "pve-storage-content": _content,
    "pve-task-status-type": _task_status,
    "pve-iface": _iface,
    "pve-vlan-id-or-range": _vlan_range,
    "pve-priv": _priv,
}


def check_named_format(name: str, value: str) -> None:
    """Check ``value`` against the named format (``-list``/``-opt`` suffixes as in ``check_format``).

    Unknown format names are accepted: the simulator only knows the formats its endpoints use.
    """
    m = re.match(r"^(.*?)(?:-(list|opt))?$", name)
    base, kind = (m.group(1), m.group(2)) if m else (name, None)
    checker = FORMATS.get(base)
    if checker is None:
        checker = FORMATS.get(name)
        kind = None
        if checker is None:
            return
    if kind == "list":
        for item in split_list(value):
            checker(item)
    elif kind == "opt":
        if value:
            checker(value)
    else:
        checker(value)
