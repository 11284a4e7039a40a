"""The create modal's raw values → :class:`bot.request_form.CreateForm` (types only; rules live in bot/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bot.containers.advanced import AdvancedForm, InterfaceForm, VolumeForm
from bot.errors import InputError
from bot.policy import CUSTOM_PRESET, parse_duration
from bot.request_form import CreateForm, FormErrors
from handlers.blocks.create_modal import NODE_AUTO

_INT_FIELDS = ("count", "cores", "memory_mib", "swap_mib", "disk_gib", "vlan")


def form_from_submission(raw: Mapping[str, Any], advanced: Mapping[str, Any] | None = None) -> CreateForm:
    """Convert what :func:`~handlers.blocks.create_modal.read_create_submission` read, and the
    "More options" part :func:`~handlers.blocks.create_modal.read_advanced_submission` read when it was
    open. :class:`FormErrors` per bad field.
    """
    errors: dict[str, str] = {}
    extra = _advanced(advanced, errors) if advanced is not None else None
    ints: dict[str, int | None] = {}
    for name in _INT_FIELDS:
        value = raw.get(name)
        if value is None or value == "":
            ints[name] = None
            continue
        try:
            ints[name] = int(str(value))
        except ValueError:
            errors[name] = "must be a whole number"
    if not raw.get("hostname"):
        errors["hostname"] = "hostname: required"
    if not raw.get("template"):
        errors["template"] = "template: choose one (the list may still be loading — wait a moment)"
    lifetime = None
    if raw.get("lifetime"):
        try:
            lifetime = parse_duration(str(raw["lifetime"]), field="lifetime")
        except InputError as exc:
            errors["lifetime"] = exc.what
    if errors:
        raise FormErrors(errors)
    node = raw.get("node")
    net_mode: Literal["dhcp", "static"] = "static" if raw.get("net_mode") == "static" else "dhcp"
    return CreateForm(
        hostname=str(raw["hostname"]).strip(),
        template=str(raw["template"]),
        count=ints["count"] if ints["count"] is not None else 1,  # a typed 0 is refused, not 1
        preset=str(raw["preset"]) if raw.get("preset") else CUSTOM_PRESET,
        cores=ints["cores"],
        memory_mib=ints["memory_mib"],
        swap_mib=ints["swap_mib"],
        disk_gib=ints["disk_gib"],
        network=net_mode,
        ipv4_cidr=raw.get("ipv4"),
        gateway=raw.get("gateway"),
        bridge=raw.get("bridge"),
        vlan=ints["vlan"],
        ssh_key=raw.get("ssh_key"),
        generate_password=bool(raw.get("password")),
        lifetime=lifetime,
        node=None if node in (None, NODE_AUTO) else str(node),
        purpose=str(raw.get("purpose") or ""),
        advanced=extra,
    )


def _int(raw: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        errors[name] = "must be a whole number"
        return None


def _advanced(raw: Mapping[str, Any], errors: dict[str, str]) -> AdvancedForm:
    """The "More options" part: a volume when a size or path is given, eth1 when a bridge is chosen."""
    size = _int(raw, "mp0_size_gib", errors)
    volume = None
    if size is not None or raw.get("mp0_path"):
        ticks = raw.get("mp0_options")
        volume = VolumeForm(
            storage=raw.get("mp0_storage"),
            size_gib=size,
            path=raw.get("mp0_path"),
            backup=True if ticks is None else "backup" in ticks,
            read_only=False if ticks is None else "ro" in ticks,
        )
    vlan = _int(raw, "net1_vlan", errors)
    interface = None
    if raw.get("net1_bridge"):
        interface = InterfaceForm(
            bridge=str(raw["net1_bridge"]),
            mode="static" if raw.get("net1_mode") == "static" else "dhcp",
            vlan=vlan,
            ipv4_cidr=raw.get("net1_ipv4"),
            gateway=raw.get("net1_gateway"),
        )
    features = raw.get("features")
    nesting = None if features is None else "nesting" in features
    return AdvancedForm(volume=volume, interface=interface, nesting=nesting)
