"""How simulator state is rendered in API answers: container status, interfaces, node stats, tasks."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.formats import parse_size
from cardinal_sim.proxmox.state import Container, GiB, MiB, Node, Task


def parse_prop_string(text: str, default_key: str | None = None) -> dict[str, str]:
    """Split a stored property string (already validated) into a dict."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
        elif default_key is not None:
            out[default_key] = part
    return out


def print_prop_string(
    data: dict[str, str], first: tuple[str, ...] = (), default_key: str | None = None
) -> str:
    """Join a property string: ``default_key`` value bare, then ``first`` keys, then the rest sorted."""
    parts: list[str] = []
    if default_key is not None and default_key in data:
        parts.append(data[default_key])
    keys = [k for k in first if k in data and k != default_key]
    keys += sorted(k for k in data if k not in first and k != default_key)
    parts.extend(f"{k}={data[k]}" for k in keys)
    return ",".join(parts)


def disk_size(value: str | None, default: int = 4 * GiB) -> int:
    """Size in bytes of a ``rootfs``/``mp`` value (its ``size=``), or ``default``."""
    if not value:
        return default
    size = parse_prop_string(value, "volume").get("size")
    parsed = parse_size(size) if size else None
    return default if parsed is None else parsed


def _mix(*values: int) -> int:
    h = 2166136261
    for v in values:
        h = ((h ^ (v & 0xFFFFFFFF)) * 16777619) & 0xFFFFFFFF
    return h


def ct_usage(sim: Simulator, ct: Container) -> dict[str, Any]:
    """Deterministic live numbers for a running container."""
    now = sim.now()
    since = ct.running_since if ct.running_since is not None else now
    uptime = max(int(now - since), 0)
    maxmem = int(ct.config.get("memory", 512)) * MiB
    maxdisk = disk_size(ct.config.get("rootfs"))
    seed = _mix(ct.vmid, uptime // 10)
    return {
        "uptime": uptime,
        "cpu": round(0.001 + (seed % 500) / 100000, 6),
        "mem": min(maxmem, 40 * MiB + (ct.vmid % 64) * MiB),
        "swap": 0,
        "disk": min(maxdisk, 600 * MiB + (ct.vmid % 100) * 4 * MiB),
        "netin": uptime * 211 + ct.vmid,
        "netout": uptime * 97 + ct.vmid,
        "diskread": 30 * MiB + ct.vmid * 4096,
        "diskwrite": 2 * MiB + uptime * 512,
    }


def vmstatus(sim: Simulator, ct: Container, *, string_vmid: bool = False) -> dict[str, Any]:
    """``PVE::LXC::vmstatus`` for one container (``status/current`` and list items)."""
    conf = ct.config
    node = sim.nodes[ct.node]
    hostname = str(conf.get("hostname") or "").strip()
    cpus: float = float(conf.get("cores") or conf.get("cpulimit") or node.maxcpu)
    item: dict[str, Any] = {
        "vmid": str(ct.vmid) if string_vmid else ct.vmid,
        "type": "lxc",
        "status": ct.status,
        "name": re.sub(r"\s", "", hostname) or f"CT{ct.vmid}",
        "cpus": int(cpus) if cpus.is_integer() else cpus,
        "maxmem": int(conf.get("memory", 512)) * MiB,
        "maxswap": int(conf.get("swap", 512)) * MiB,
        "maxdisk": disk_size(conf.get("rootfs")),
        "uptime": 0,
        "cpu": 0,
        "mem": 0,
        "swap": 0,
        "disk": 0,
        "netin": 0,
        "netout": 0,
        "diskread": 0,
        "diskwrite": 0,
    }
    if ct.running:
        item.update(ct_usage(sim, ct))
        item["pid"] = ct.pid
        for res in ("cpu", "io", "memory"):
            item[f"pressure{res}some"] = 0
            item[f"pressure{res}full"] = 0
    for key in ("tags", "lock"):
        if conf.get(key):
            item[key] = conf[key]
    if conf.get("template"):
        item["template"] = 1
    return item


def node_stats(sim: Simulator, node: Node) -> dict[str, Any]:
    """cpu/mem/disk/uptime of a node, from the running containers on it."""
    running = [c for c in sim.containers.values() if c.node == node.name and c.running]
    mem = node.base_mem + sum(ct_usage(sim, c)["mem"] for c in running)
    local = node.storages.get("local")
    return {
        "cpu": round(0.012 + 0.004 * len(running), 6),
        "maxcpu": node.maxcpu,
        "mem": min(mem, node.maxmem),
        "maxmem": node.maxmem,
        "disk": local.used if local else 0,
        "maxdisk": local.capacity if local else node.maxdisk,
        "uptime": int(sim.now() - node.boot_time),
    }


def eui64_link_local(mac: str) -> str:
    """The IPv6 link-local address Linux derives from a MAC."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = [*b[:3], 0xFF, 0xFE, *b[3:]]
    groups = [f"{(eui[i] << 8) | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return str(ipaddress.IPv6Address("fe80::" + ":".join(groups)))


def _iface_item(name: str, hwaddr: str, addrs: list[tuple[str, str, int]], rich: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"name": name, "hwaddr": hwaddr}
    for family in ("inet", "inet6"):
        last = [a for a in addrs if a[0] == family]
        if last:
            item[family] = f"{last[-1][1]}/{last[-1][2]}"
    if rich:
        item["hardware-address"] = hwaddr
        item["ip-addresses"] = [
            {"ip-address-type": fam, "ip-address": ip, "prefix": prefix} for fam, ip, prefix in addrs
        ]
    return item


def interfaces(sim: Simulator, ct: Container | None) -> list[dict[str, Any]] | None:
    """``GET …/interfaces``: ``None`` unless running; ``lo`` first, then ``net[n]`` in index order."""
    if ct is None or not ct.running:
        return None
    rich = sim.version_tuple >= (8, 4, 0)
    out = [_iface_item("lo", "00:00:00:00:00:00", [("inet", "127.0.0.1", 8), ("inet6", "::1", 128)], rich)]
    since = ct.running_since if ct.running_since is not None else sim.now()
    nets = sorted(
        (int(k[3:]), str(v)) for k, v in ct.config.items() if re.match(r"^net\d+$", k) and isinstance(v, str)
    )
    for _idx, text in nets:
        net = parse_prop_string(text)
        mac = net.get("hwaddr", "00:00:00:00:00:00").lower()
        if net.get("link_down") == "1":
            out.append(_iface_item(net.get("name", "eth0"), mac, [], rich))
            continue
        addrs: list[tuple[str, str, int]] = []
        ip = net.get("ip")
        if ip and "/" in ip:
            a, p = ip.split("/")
            addrs.append(("inet", a, int(p)))
        elif ip == "dhcp" and sim.now() >= since + sim.dhcp_delay:
            a, p = sim.dhcp_address(net.get("bridge", "vmbr0"), mac).split("/")
            addrs.append(("inet", a, int(p)))
        ip6 = net.get("ip6")
        if ip6 and "/" in ip6:
            a, p = ip6.split("/")
            addrs.append(("inet6", str(ipaddress.IPv6Address(a)), int(p)))
        addrs.append(("inet6", eui64_link_local(mac), 64))
        out.append(_iface_item(net.get("name", "eth0"), mac, addrs, rich))
    return out


def split_token_user(user: str) -> dict[str, str]:
    """``$convert_token_task``: ``user@realm!tok`` → ``{"user": "user@realm", "tokenid": "tok"}``."""
    if "!" in user:
        u, tok = user.split("!", 1)
        return {"user": u, "tokenid": tok}
    return {"user": user}


def task_status(task: Task) -> dict[str, Any]:
    """``GET …/tasks/{upid}/status``: no ``exitstatus`` while running, never an ``endtime``."""
    item: dict[str, Any] = {
        "upid": task.upid,
        "node": task.node,
        "pid": task.pid,
        "pstart": task.pstart,
        "starttime": task.starttime,
        "type": task.type,
        "id": task.id,
        "status": "running" if task.running else "stopped",
    }
    item.update(split_token_user(task.user))
    if not task.running:
        item["exitstatus"] = task.exitstatus
    return item


def task_list_item(task: Task) -> dict[str, Any]:
    """A node task list item: ``status`` ``RUNNING`` (no endtime) or the exit status text."""
    item: dict[str, Any] = {
        "upid": task.upid,
        "node": task.node,
        "pid": task.pid,
        "pstart": task.pstart,
        "starttime": task.starttime,
        "type": task.type,
        "id": task.id,
    }
    item.update(split_token_user(task.user))
    if task.running:
        item["status"] = "RUNNING"
    else:
        item["endtime"] = task.endtime
        item["status"] = task.exitstatus
    return item


def status_class(status: str) -> str:
    """``PVE::UPID::normalize_status_type`` (pve-common): ok / warning / error; no status (a running task
    while the task list filters it) and ``unexpected status`` are ``unknown``."""
    if status == "OK":
        return "ok"
    if re.match(r"^WARNINGS: \d+$", status):
        return "warning"
    if status in ("", "unexpected status"):
        return "unknown"
    return "error"
