"""Facts Cardinal reads from Proxmox's answers: sizes and addresses in a container's config, the
containers in ``/cluster/resources``."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from bot.errors import InputError
from bot.proxmox.codec import parse_net, parse_property
from bot.proxmox.models import ClusterResource

__all__ = ["disk_gib", "extra_interfaces", "int_or_none", "lxc_resources", "static_addresses", "volumes"]

_SIZE_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGT]?)$")
_SIZE_FACTOR = {"": 1 / (1 << 30), "K": 1 / (1 << 20), "M": 1 / 1024, "G": 1.0, "T": 1024.0}


def disk_gib(rootfs: Any) -> int | None:
    """The root disk's size in GiB from a ``rootfs`` value (``…,size=8G``); None when it cannot be read."""
    if not isinstance(rootfs, str) or not rootfs:
        return None
    try:
        values = parse_property(rootfs, field="rootfs", default_key="volume")
    except InputError:
        return None
    m = _SIZE_RE.match(values.get("size", ""))
    if m is None:
        return None
    return round(float(m.group(1)) * _SIZE_FACTOR[m.group(2)])


def volumes(config: dict[str, Any]) -> tuple[str, ...]:
    """The mount points ``mp0``…``mp255`` of a config, described (``20 GiB on local-lvm at /data``,
    plus ``read-only`` / ``no backup``); unreadable ones are left out."""
    out: list[str] = []
    for index in range(256):
        text = config.get(f"mp{index}")
        if not isinstance(text, str):
            continue
        try:
            values = parse_property(text, field=f"mp{index}", default_key="volume")
        except InputError:
            continue
        size = disk_gib(text)
        storage = values.get("volume", "?").split(":", 1)[0]
        line = f"{size if size is not None else '?'} GiB on {storage} at {values.get('mp', '?')}"
        if values.get("ro") == "1":
            line += ", read-only"
        if values.get("backup") == "0":
            line += ", no backup"
        out.append(line)
    return tuple(out)


def extra_interfaces(config: dict[str, Any]) -> tuple[str, ...]:
    """The interfaces ``net1``…``net31`` of a config, described (``eth1: DHCP on vmbr0, VLAN 20``)."""
    out: list[str] = []
    for index in range(1, 32):
        text = config.get(f"net{index}")
        if not isinstance(text, str):
            continue
        try:
            net = parse_net(text, field=f"net{index}")
        except InputError:
            continue
        addr = "DHCP" if net.ip in (None, "dhcp") else f"{net.ip} via {net.gw or 'no gateway'}"
        line = f"{net.name}: {addr} on {net.bridge or '?'}"
        out.append(line + (f", VLAN {net.tag}" if net.tag is not None else ""))
    return tuple(out)


def int_or_none(value: Any) -> int | None:
    """``value`` as an int, or None when it is missing or not a number."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def static_addresses(config: dict[str, Any]) -> list[str]:
    """Addresses configured statically on ``net0``…``net31`` (``ip=``/``ip6=`` CIDRs, prefix removed)."""
    out: list[str] = []
    for index in range(32):
        text = config.get(f"net{index}")
        if not isinstance(text, str):
            continue
        try:
            net = parse_net(text, field=f"net{index}")
        except InputError:
            continue
        for value in (net.ip, net.ip6):
            if not value or value in ("dhcp", "manual", "auto"):
                continue
            address = value.split("/", 1)[0]
            try:
                ipaddress.ip_address(address)
            except ValueError:
                continue
            out.append(address)
    return out


def lxc_resources(resources: Sequence[ClusterResource]) -> dict[int, ClusterResource]:
    """The containers among ``/cluster/resources`` entries, by VMID."""
    return {r.vmid: r for r in resources if r.type == "lxc" and r.vmid is not None}
