"""The create modal: the view, reading its submission, and its ``private_metadata``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.policy import CUSTOM_PRESET, Policy, format_duration
from handlers.blocks.ids import CALLBACK_CREATE
from handlers.blocks.kit import (
    MAX_OPTIONS,
    MAX_PRIVATE_METADATA,
    Block,
    divider,
    input_block,
    number_input,
    option,
    plain,
    select,
    state_value,
    text_input,
)

#: Block ids of the create modal, which are also the keys of :func:`read_create_submission` and the names
#: to use in ``response_action: errors``.
CREATE_FIELDS = (
    "hostname",
    "count",
    "template",
    "preset",
    "cores",
    "memory_mib",
    "swap_mib",
    "disk_gib",
    "net_mode",
    "ipv4",
    "gateway",
    "bridge",
    "vlan",
    "ssh_key",
    "password",
    "lifetime",
    "node",
    "purpose",
)
TEMPLATE_UNAVAILABLE_BLOCK = "template_unavailable"
_UNAVAILABLE = "__unavailable__"
NODE_AUTO = "auto"


def template_label(volid: str) -> str:
    """A readable label for a template volid: the file name without the archive suffix."""
    name = volid.rsplit("/", 1)[-1]
    for suffix in (".tar.zst", ".tar.xz", ".tar.gz", ".tgz", ".tar"):
        name = name.removesuffix(suffix)
    return name


def _template_block(
    templates: Sequence[str] | None, storage: str, where: Mapping[str, str] | None = None
) -> Block:
    if not templates:
        label = "⏳ Loading templates…" if templates is None else f"No templates on storage {storage}"
        hint = (
            "The list appears in a moment."
            if templates is None
            else "Ask an operator to download a template (see /lxc templates)."
        )
        return input_block(
            TEMPLATE_UNAVAILABLE_BLOCK,
            "Template",
            select([option(label, _UNAVAILABLE)], None, label),
            hint=hint,
        )
    where = where or {}
    options = [
        option(f"{template_label(v)} ({where[v]})" if v in where else template_label(v), v)
        for v in templates
        if len(v) <= 150
    ]
    more = (
        f"Showing the first {MAX_OPTIONS} of {len(options)} templates."
        if len(options) > MAX_OPTIONS
        else None
    )
    return input_block("template", "Template", select(options, None, "Choose a template"), hint=more)


def create_modal(
    policy: Policy,
    *,
    templates: Sequence[str] | None = None,
    nodes: Sequence[str] = (),
    preset: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    template_nodes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The create modal (callback ``lxc_create``).

    ``templates=None`` gives the "loading…" variant to open at once; call again with the template volids
    and ``views.update`` the view (block ids stay the same, so what the person typed is kept). ``nodes``
    are the nodes to offer besides automatic placement; ``template_nodes`` names, per template held by
    only some of them, the nodes that hold it (shown after the template's name). ``metadata``
    (e.g. channel and thread) goes into ``private_metadata`` as compact JSON; ValueError if it exceeds
    Slack's 3000 characters.
    """
    meta = json.dumps(dict(metadata or {}), separators=(",", ":"), sort_keys=True)
    if len(meta) > MAX_PRIVATE_METADATA:
        raise ValueError(f"private_metadata is {len(meta)} characters; Slack allows {MAX_PRIVATE_METADATA}")
    place = policy.placement
    presets = [option(f"{name} — {p.describe()}", name) for name, p in policy.presets.items()]
    presets.append(option("Custom — choose cores, memory and disk below", CUSTOM_PRESET))
    initial_preset = (
        preset if preset in policy.presets or preset == CUSTOM_PRESET else next(iter(policy.presets))
    )
    lifetimes = [option(format_duration(d), format_duration(d)) for d in policy.lifetime_choices()]
    node_opts = [option("Automatic (most free memory)", NODE_AUTO)]
    node_opts += [option(n, n) for n in nodes if place.node_allowed(n) and len(n) <= 150]
    custom_hint = "Used only when Size is Custom."
    blocks: list[Block] = [
        input_block(
            "hostname",
            "Hostname",
            text_input("web", max_length=63),
            hint="Letters, digits and '-'. With a count above 1 they are named hostname-1 … hostname-N.",
        ),
        input_block("count", "How many", number_input(1, policy.limits.max_count, 1)),
        _template_block(templates, place.template_storage, template_nodes),
        input_block("preset", "Size", select(presets, initial_preset, "Choose a size")),
        input_block("cores", "Cores (custom)", number_input(1, 8192), optional=True, hint=custom_hint),
        input_block("memory_mib", "Memory MiB (custom)", number_input(16), optional=True, hint=custom_hint),
        input_block("swap_mib", "Swap MiB (custom)", number_input(0), optional=True, hint=custom_hint),
        input_block("disk_gib", "Disk GiB (custom)", number_input(1, 65536), optional=True, hint=custom_hint),
        divider(),
        input_block(
            "net_mode",
            "Network",
            {
                "type": "radio_buttons",
                "options": [option("DHCP", "dhcp"), option("Static IPv4", "static")],
                "initial_option": option("DHCP", "dhcp"),
            },
        ),
        input_block(
            "ipv4",
            "IPv4 address (static)",
            text_input("192.0.2.10/24", max_length=18),
            optional=True,
            hint="CIDR notation; only for Static IPv4.",
        ),
        input_block("gateway", "Gateway (static)", text_input("192.0.2.1", max_length=15), optional=True),
        input_block(
            "bridge", "Bridge", select([option(b, b) for b in place.bridges], place.bridges[0], "Bridge")
        ),
        input_block(
            "vlan", "VLAN tag", number_input(1, 4094), optional=True, hint="1–4094; empty for untagged."
        ),
        divider(),
        input_block(
            "ssh_key",
            "SSH public key",
            text_input("ssh-ed25519 AAAA… you@host", multiline=True, max_length=3000),
            optional=True,
        ),
        input_block(
            "password",
            "Root password",
            {
                "type": "checkboxes",
                "options": [option("Generate a root password (sent to you by direct message)", "generate")],
            },
            optional=True,
            hint="Give an SSH key, a generated password, or both.",
        ),
        input_block(
            "lifetime",
            "Lifetime",
            select(lifetimes, format_duration(policy.limits.default_lifetime), "Lifetime"),
            hint=f"The container expires after this; at most {format_duration(policy.limits.max_lifetime)}.",
        ),
        input_block("node", "Node", select(node_opts, NODE_AUTO, "Node")),
        input_block(
            "purpose",
            "Purpose",
            text_input("What is it for? Approvers read this.", multiline=True, max_length=1000),
        ),
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_CREATE,
        "title": plain("New container", 24),
        "submit": plain("Request", 24),
        "close": plain("Cancel", 24),
        "private_metadata": meta,
        "blocks": blocks,
    }


def read_create_submission(view_state_values: Mapping[str, Any]) -> dict[str, Any]:
    """The raw entries of a create-modal submission (``view["state"]["values"]``), keyed by block id.

    Text and number fields give their string or ``None`` when empty; selects and radio buttons their
    value; ``template`` is ``None`` while the list was still loading; ``password`` is True when
    "generate" was ticked. Nothing is validated here.
    """
    raw: dict[str, Any] = {}
    for field in CREATE_FIELDS:
        value = state_value(view_state_values, field)
        if isinstance(value, str):
            value = value.strip() or None
        raw[field] = value
    raw["password"] = "generate" in (state_value(view_state_values, "password") or [])
    if raw["template"] == _UNAVAILABLE:
        raw["template"] = None
    return raw


def read_private_metadata(text: str) -> dict[str, Any]:
    """The JSON object stored in ``private_metadata``; ``{}`` when empty or not an object."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
