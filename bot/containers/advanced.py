"""The create form's advanced part: one extra volume, one extra network interface and nesting.

The Slack edge reads the fields into an :class:`AdvancedForm`; :func:`advanced_spec_fields` turns it
into ``mountpoints``, extra ``nets`` and ``features`` for :class:`~bot.containers.spec.ContainerSpec`,
bounded by the policy (``[limits] max_volumes``, ``max_interfaces``, ``placement.storages``,
``placement.bridges`` and ``[features] nesting``). Every refusal names the form field it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bot.containers.spec import Features, MountPoint, NetSpec, default_features

if TYPE_CHECKING:
    from bot.policy import Policy

#: Form field names of the advanced part (also the modal's block ids).
VOLUME_FIELDS = ("mp0_storage", "mp0_size_gib", "mp0_path", "mp0_options")
INTERFACE_FIELDS = ("net1_bridge", "net1_vlan", "net1_mode", "net1_ipv4", "net1_gateway")
FEATURES_FIELD = "features"


@dataclass(frozen=True, slots=True)
class VolumeForm:
    """An extra volume as typed: allocated on ``storage`` (``size_gib``) and mounted at ``path``."""

    storage: str | None
    size_gib: int | None
    path: str | None
    backup: bool = True
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class InterfaceForm:
    """A second network interface (``eth1``) as typed."""

    bridge: str
    mode: Literal["dhcp", "static"] = "dhcp"
    vlan: int | None = None
    ipv4_cidr: str | None = None
    gateway: str | None = None


@dataclass(frozen=True, slots=True)
class AdvancedForm:
    """The advanced part of the create form. ``nesting=None`` keeps the policy's default."""

    volume: VolumeForm | None = None
    interface: InterfaceForm | None = None
    nesting: bool | None = None


def advanced_spec_fields(form: AdvancedForm | None, policy: Policy, errors: dict[str, str]) -> dict[str, Any]:
    """``mountpoints``, ``nets`` (beyond ``eth0``) and ``features`` for the spec, as raw values the
    spec's own validators check next; policy refusals are added to ``errors`` keyed by form field."""
    features = default_features(policy, unprivileged=True)
    out: dict[str, Any] = {"mountpoints": [], "extra_nets": [], "features": features}
    if form is None:
        return out
    limits, place = policy.limits, policy.placement
    vol = form.volume
    if vol is not None:
        if limits.max_volumes < 1:
            errors["mp0_size_gib"] = "volume: this policy allows no extra volumes"
        storage = vol.storage or place.storages[0]
        if storage not in place.storages:
            errors["mp0_storage"] = f"volume storage: must be one of {', '.join(place.storages)}"
        if vol.size_gib is None:
            errors["mp0_size_gib"] = "volume size: required for an extra volume (GiB)"
        if not vol.path:
            errors["mp0_path"] = "mount path: required for an extra volume, like /data"
        out["mountpoints"].append(
            {
                "storage": storage,
                "size_gib": vol.size_gib if vol.size_gib is not None else 1,
                "path": vol.path or "/data",
                "backup": vol.backup,
                "read_only": vol.read_only,
            }
        )
    nic = form.interface
    if nic is not None:
        if limits.max_interfaces < 2:
            errors["net1_bridge"] = "second interface: this policy allows one interface per container"
        if nic.bridge not in place.bridges:
            errors["net1_bridge"] = f"second interface bridge: must be one of {', '.join(place.bridges)}"
        net: dict[str, Any] = {"name": "eth1", "bridge": nic.bridge, "mode": nic.mode, "vlan": nic.vlan}
        if nic.mode == "static":
            net["ipv4_cidr"] = nic.ipv4_cidr
            net["gateway"] = nic.gateway
        out["extra_nets"].append(net)
    if form.nesting is not None:
        if form.nesting and not policy.features.nesting:
            errors[FEATURES_FIELD] = "nesting: this policy does not allow nesting"
        out["features"] = Features(nesting=form.nesting and features.nesting)
    return out


_VOLUME_PARTS = {"storage": "mp0_storage", "size_gib": "mp0_size_gib", "path": "mp0_path"}
_NET_PARTS = {
    "bridge": "net1_bridge",
    "vlan": "net1_vlan",
    "mode": "net1_mode",
    "ipv4_cidr": "net1_ipv4",
    "gateway": "net1_gateway",
}


def advanced_field(path: str) -> str | None:
    """The advanced form field a spec validation path (``mountpoints.0.path``, ``nets.1.vlan``)
    belongs to; ``None`` for a path outside the advanced part."""
    parts = path.split(".")
    if parts[0] == "mountpoints":
        return _VOLUME_PARTS.get(parts[-1], "mp0_path")
    if parts[0] == "nets" and len(parts) > 1 and parts[1] == "1":
        return _NET_PARTS.get(parts[-1], "net1_bridge")
    return None


def describe_volume(mp: MountPoint) -> str:
    """``20 GiB on local-lvm at /data`` plus ``read-only`` / ``no backup`` when set."""
    text = f"{mp.size_gib} GiB on {mp.storage} at {mp.path}"
    if mp.read_only:
        text += ", read-only"
    if not mp.backup:
        text += ", no backup"
    return text


def describe_interface(net: NetSpec) -> str:
    """``eth1: DHCP on vmbr1, VLAN 20`` or ``eth1: 10.0.0.5/24 via 10.0.0.1 on vmbr1``."""
    addr = "DHCP" if net.mode == "dhcp" else f"{net.ipv4_cidr} via {net.gateway or 'no gateway'}"
    text = f"{net.name}: {addr} on {net.bridge}"
    return text + (f", VLAN {net.vlan}" if net.vlan is not None else "")
