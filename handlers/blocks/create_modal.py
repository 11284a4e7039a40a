"""The create modal: the view, reading its submission, and its ``private_metadata``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.containers.advanced import FEATURES_FIELD, INTERFACE_FIELDS, VOLUME_FIELDS
from bot.policy import CUSTOM_PRESET, Policy, format_duration
from handlers.blocks.ids import ACTION_CREATE_MORE, CALLBACK_CREATE
from handlers.blocks.kit import (
    MAX_OPTIONS,
    MAX_PRIVATE_METADATA,
    Block,
    action_button,
    context,
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
    advanced: bool = False,
) -> dict[str, Any]:
    """The create modal (callback ``lxc_create``).

    ``templates=None`` gives the "loading…" variant to open at once; call again with the template volids
    and ``views.update`` the view (block ids stay the same, so what the person typed is kept). ``nodes``
    are the nodes to offer besides automatic placement; ``template_nodes`` names, per template held by
    only some of them, the nodes that hold it (shown after the template's name). ``metadata``
    (e.g. channel and thread) goes into ``private_metadata`` as compact JSON; ValueError if it exceeds
    Slack's 3000 characters. ``advanced`` adds the "More options" part (extra volume, second
    interface, nesting); without it the view ends its network section with a "More options" button.
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
        *(advanced_blocks(policy) if advanced else [_more_options_button()]),
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


#: Block ids of the advanced part; its presence in a submitted view means the part was open.
ADVANCED_MARKER = "advanced_part"
FEATURES_NOTE = (
    "keyctl, fuse and mount are not offered: Proxmox lets only root@pam change those feature flags"
    " (pve-container check_ct_modify_config_perm), and Cardinal does not act as root@pam."
)


def _more_options_button() -> Block:
    return {
        "type": "actions",
        "block_id": "more_options",
        "elements": [action_button(ACTION_CREATE_MORE, "More options", "open")],
    }


def advanced_blocks(policy: Policy) -> list[Block]:
    """The "More options" part: one extra volume, a second interface and nesting, as the policy allows."""
    limits, place = policy.limits, policy.placement
    blocks: list[Block] = [
        divider(),
        {
            "type": "section",
            "block_id": ADVANCED_MARKER,
            "text": {"type": "mrkdwn", "text": "*More options* — leave empty what you do not need."},
        },
    ]
    if limits.max_volumes >= 1:
        storages = [option(st, st) for st in place.storages]
        blocks += [
            input_block(
                "mp0_storage", "Extra volume storage", select(storages, place.storages[0], "Storage")
            ),
            input_block(
                "mp0_size_gib",
                "Extra volume size GiB",
                number_input(1, limits.max_disk_gib),
                optional=True,
                hint="Counts against your disk quota. Empty for no extra volume.",
            ),
            input_block(
                "mp0_path",
                "Extra volume mount path",
                text_input("/data", max_length=255),
                optional=True,
                hint="An absolute path inside the container, not in /proc, /sys, /dev or /run.",
            ),
            input_block(
                "mp0_options",
                "Extra volume options",
                {
                    "type": "checkboxes",
                    "options": [option("Include in backups", "backup"), option("Read-only", "ro")],
                    "initial_options": [option("Include in backups", "backup")],
                },
                optional=True,
            ),
        ]
    if limits.max_interfaces >= 2:
        bridges = [option(b, b) for b in place.bridges]
        blocks += [
            input_block(
                "net1_bridge",
                "Second interface bridge",
                select(bridges, None, "No second interface"),
                optional=True,
                hint="Choose a bridge to add eth1.",
            ),
            input_block("net1_vlan", "Second interface VLAN tag", number_input(1, 4094), optional=True),
            input_block(
                "net1_mode",
                "Second interface network",
                {
                    "type": "radio_buttons",
                    "options": [option("DHCP", "dhcp"), option("Static IPv4", "static")],
                    "initial_option": option("DHCP", "dhcp"),
                },
                optional=True,
            ),
            input_block(
                "net1_ipv4",
                "Second interface IPv4 address (static)",
                text_input("198.51.100.10/24", max_length=18),
                optional=True,
            ),
            input_block(
                "net1_gateway",
                "Second interface gateway (static)",
                text_input("198.51.100.1", max_length=15),
                optional=True,
            ),
        ]
    if policy.features.nesting:
        nesting = option("Nesting (needed by systemd in recent distributions)", "nesting")
        blocks.append(
            input_block(
                "features",
                "Features",
                {"type": "checkboxes", "options": [nesting], "initial_options": [nesting]},
                optional=True,
                hint="On by default for unprivileged containers.",
            )
        )
    else:
        blocks.append(context("Nesting is turned off by this team's policy."))
    blocks.append(context(FEATURES_NOTE))
    return blocks


def advanced_open(view: Mapping[str, Any]) -> bool:
    """Whether ``view`` (a submitted create modal) shows the "More options" part."""
    return any(b.get("block_id") == ADVANCED_MARKER for b in view.get("blocks", []))


def read_advanced_submission(view_state_values: Mapping[str, Any]) -> dict[str, Any]:
    """The raw entries of the "More options" part, keyed by block id (strings stripped, ``None`` when
    empty); ``mp0_options`` and ``features`` are the lists of ticked values (``None`` when the block is
    not in the state). Nothing is validated here."""
    raw: dict[str, Any] = {}
    for field in (*VOLUME_FIELDS, *INTERFACE_FIELDS, FEATURES_FIELD):
        value = state_value(view_state_values, field)
        if isinstance(value, str):
            value = value.strip() or None
        raw[field] = value
    for ticks in ("mp0_options", FEATURES_FIELD):
        # Absent from the state (never shown): None, so the defaults apply rather than "all unticked".
        raw[ticks] = list(raw[ticks] or []) if ticks in view_state_values else None
    return raw
