"""Block Kit builders: pure functions from plain data to Slack messages and views (plain dicts).

No I/O and no Slack client here. Every message builder returns ``{"text": fallback, "blocks": [...]}``
ready for ``chat.postMessage(**msg)`` / ``respond(**msg)``; view builders return the view dict. Limits are
enforced here because slack_sdk does not check plain dicts: at most 50 blocks per message, section text
≤ 3000 characters, about 12,000 characters of text per message — longer content is cut with "…" and a
note of what was left out. Every piece of text that came from a person or from Proxmox is escaped
(``&``, ``<``, ``>``) so it cannot turn into a mention or a link.

The inputs are small frozen dataclasses defined here (``RequestSummary``, ``ContainerInfo``, …): the seam
where the services' models are mapped to what a person sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.policy import CUSTOM_PRESET, Policy, format_duration
from handlers.parsing import COMMANDS

Block = dict[str, Any]
Message = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_MESSAGE_CHARS = 12_000
MAX_FALLBACK_TEXT = 3000
MAX_PRIVATE_METADATA = 3000
MAX_OPTIONS = 100

CALLBACK_CREATE = "lxc_create"
CALLBACK_DENY_REASON = "lxc_deny_reason"
ACTION_APPROVE = "approval_approve"
ACTION_DENY = "approval_deny"
APPROVAL_ACTIONS_BLOCK = "approval_actions"
VALUE = "value"  # the action_id of every input element in Cardinal's modals

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

RequestState = Literal[
    "requested", "pending_approval", "approved", "creating", "starting", "ready", "failed", "denied"
]
STATE_EMOJI: dict[str, str] = {
    "requested": "📝",
    "pending_approval": "⏳",
    "approved": "👍",
    "creating": "🛠️",
    "starting": "🚀",
    "ready": "✅",
    "failed": "❌",
    "denied": "🚫",
}
STATE_LABEL: dict[str, str] = {
    "requested": "Requested",
    "pending_approval": "Waiting for approval",
    "approved": "Approved",
    "creating": "Creating",
    "starting": "Starting",
    "ready": "Ready",
    "failed": "Failed",
    "denied": "Denied",
}
_PROGRESS: tuple[str, ...] = ("requested", "approved", "creating", "starting", "ready")
STATUS_EMOJI: dict[str, str] = {"running": "🟢", "stopped": "🔴", "paused": "⏸️"}
CHECK_OK, CHECK_FAIL = "✓", "✗"


# --- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestSummary:
    """What was asked for, as shown on the approval card and the thread root."""

    request_id: str
    requester_id: str
    hostname: str
    template: str
    cores: int
    memory_mib: int
    disk_gib: int
    lifetime: timedelta
    purpose: str = ""
    count: int = 1
    preset: str | None = None
    swap_mib: int = 0
    ipv4: str | None = None  # None = DHCP
    gateway: str | None = None
    bridge: str = "vmbr0"
    vlan: int | None = None
    node: str | None = None  # None = automatic placement
    requested_at: datetime | None = None


@dataclass(frozen=True)
class PreflightCheck:
    """One pre-flight result on the approval card, e.g. ``("hostname free", True, "web-1")``."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Decision:
    """Who decided an approval, when, and why (deny reason)."""

    approved: bool
    decider_id: str
    decided_at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class ContainerInfo:
    """One container for lists and the status detail; the detail fields are optional."""

    vmid: int
    hostname: str
    status: str
    node: str
    ips: Sequence[str] = ()
    owner_id: str | None = None
    expires_at: datetime | None = None
    cores: int | None = None
    memory_mib: int | None = None
    disk_gib: int | None = None
    template: str | None = None
    uptime: timedelta | None = None
    purpose: str | None = None
    ui_url: str | None = None


@dataclass(frozen=True)
class TemplateInfo:
    """A template: on the storage (with ``volid``) or downloadable (``name`` from the appliance index)."""

    name: str
    volid: str | None = None
    size_bytes: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class TaskInfo:
    """A Proxmox task Cardinal tracks."""

    upid: str
    kind: str
    node: str
    state: Literal["running", "ok", "failed"]
    started_at: datetime
    vmid: int | None = None
    finished_at: datetime | None = None
    exitstatus: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class ReadyInfo:
    """A finished creation: where it runs and how to reach it."""

    hostname: str
    vmid: int
    node: str
    ips: Sequence[str]
    ui_url: str


# --- text helpers ---------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape text for mrkdwn so ``<`` ``>`` ``&`` cannot form mentions, links or entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def slack_date(when: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token shown in each reader's time zone, with a UTC fallback."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    fallback = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{fmt}|{fallback}>"


def proxmox_ui_link(base_url: str, vmid: int) -> str:
    """Deep link to a container in the Proxmox web UI."""
    return f"{base_url.rstrip('/')}/#v1:0:=lxc%2F{vmid}"


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": _mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def _header(text: str) -> Block:
    return {"type": "header", "text": _plain(text, 150)}


def _context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(t, 2000) for t in texts[:10]]}


def _divider() -> Block:
    return {"type": "divider"}


def _fields(pairs: Iterable[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [_mrkdwn(f"*{label}*\n{value}", 2000) for label, value in list(pairs)[:10]],
    }


def _text_chars(node: Any) -> int:
    if isinstance(node, dict):
        own = len(node["text"]) if isinstance(node.get("text"), str) else 0
        return own + sum(_text_chars(v) for k, v in node.items() if k != "text" or not isinstance(v, str))
    if isinstance(node, list):
        return sum(_text_chars(v) for v in node)
    return 0


def _message(text: str, blocks: list[Block]) -> Message:
    """Apply the message limits: block count, total text, fallback length."""
    fitted = blocks[: MAX_MESSAGE_BLOCKS - 1] if len(blocks) > MAX_MESSAGE_BLOCKS else list(blocks)
    while len(fitted) > 1 and _text_chars(fitted) > MAX_MESSAGE_CHARS - 100:
        fitted.pop()
    dropped = len(blocks) - len(fitted)
    if dropped:
        fitted.append(_context(f"… {dropped} more block(s) not shown (message too long)."))
    return {"text": clip(text, MAX_FALLBACK_TEXT), "blocks": fitted}


def _lines_to_sections(
    lines: Sequence[str], *, max_sections: int, budget: int = MAX_MESSAGE_CHARS // 2
) -> tuple[list[Block], int]:
    """Pack lines into sections of at most 3000 characters, at most ``max_sections`` of them and about
    ``budget`` characters in all; returns the sections and how many lines did not fit."""
    sections: list[Block] = []
    current: list[str] = []
    size = total = 0
    for i, full in enumerate(lines):
        line = clip(full, 500)
        if total + len(line) + 1 > budget:
            if current:
                sections.append(_section("\n".join(current)))
            return sections, len(lines) - i
        if current and size + len(line) + 1 > MAX_SECTION_TEXT - 50:
            sections.append(_section("\n".join(current)))
            current, size = [], 0
            if len(sections) >= max_sections:
                return sections, len(lines) - i
        current.append(line)
        size += len(line) + 1
        total += len(line) + 1
    if current:
        sections.append(_section("\n".join(current)))
    return sections, 0


def _ensure_id(value: str, what: str) -> str:
    if not value or len(value) > 255 or any(ch.isspace() for ch in value):
        raise ValueError(f"{what} must be 1–255 characters without spaces")
    return value


# --- help and errors ------------------------------------------------------------------------------------


def help_message(command_name: str = "/lxc") -> Message:
    """The ephemeral usage message for ``/lxc`` and ``/lxc help``."""
    lines = []
    for spec in COMMANDS:
        args = f" {escape(spec.args)}" if spec.args else ""
        lines.append(f"`{command_name} {spec.name}{args}` — {spec.summary}")
    blocks = [
        _header("Cardinal: Proxmox containers from Slack"),
        _section("\n".join(lines)),
        _context(
            "Durations look like `3d`, `12h` or `90m`. Mention people with @ so Slack sends their id.",
        ),
    ]
    return _message(f"Cardinal commands: {command_name} help", blocks)


def error_message(what: str, hint: str | None = None, ref_id: str | None = None) -> Message:
    """An ephemeral error: what happened, what to do, and a reference id for the operators if any."""
    blocks = [_section(f"⚠️ {escape(what)}")]
    notes = []
    if hint:
        notes.append(escape(hint))
    if ref_id:
        notes.append(f"Reference: `{escape(ref_id)}` (give this to the operators)")
    if notes:
        blocks.append(_context(*notes))
    text = escape(what) if not ref_id else f"{escape(what)} (ref {escape(ref_id)})"
    return _message(f"⚠️ {text}", blocks)


# --- create modal ---------------------------------------------------------------------------------------


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": {**element, "action_id": VALUE},
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block


def _text_input(
    placeholder: str, *, multiline: bool = False, max_length: int = 255, initial: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": max_length,
        "placeholder": _plain(placeholder, 150),
    }
    if initial is not None:
        element["initial_value"] = initial
    return element


def _number_input(low: int, high: int | None = None, initial: int | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": False, "min_value": str(low)}
    if high is not None:
        element["max_value"] = str(high)
    if initial is not None:
        element["initial_value"] = str(initial)
    return element


def _select(options: Sequence[dict[str, Any]], initial: str | None, placeholder: str) -> dict[str, Any]:
    opts = list(options)[:MAX_OPTIONS]
    element: dict[str, Any] = {
        "type": "static_select",
        "options": opts,
        "placeholder": _plain(placeholder, 150),
    }
    chosen = next((o for o in opts if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def template_label(volid: str) -> str:
    """A readable label for a template volid: the file name without the archive suffix."""
    name = volid.rsplit("/", 1)[-1]
    for suffix in (".tar.zst", ".tar.xz", ".tar.gz", ".tgz", ".tar"):
        name = name.removesuffix(suffix)
    return name


def _template_block(templates: Sequence[str] | None, storage: str) -> Block:
    if not templates:
        label = "⏳ Loading templates…" if templates is None else f"No templates on storage {storage}"
        hint = (
            "The list appears in a moment."
            if templates is None
            else "Ask an operator to download a template (see /lxc templates)."
        )
        return _input(
            TEMPLATE_UNAVAILABLE_BLOCK,
            "Template",
            _select([_option(label, _UNAVAILABLE)], None, label),
            hint=hint,
        )
    options = [_option(template_label(v), v) for v in templates if len(v) <= 150]
    more = (
        f"Showing the first {MAX_OPTIONS} of {len(options)} templates."
        if len(options) > MAX_OPTIONS
        else None
    )
    return _input("template", "Template", _select(options, None, "Choose a template"), hint=more)


def create_modal(
    policy: Policy,
    *,
    templates: Sequence[str] | None = None,
    nodes: Sequence[str] = (),
    preset: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The create modal (callback ``lxc_create``).

    ``templates=None`` gives the "loading…" variant to open at once; call again with the template volids
    and ``views.update`` the view (block ids stay the same, so what the person typed is kept). ``nodes``
    are the nodes to offer besides automatic placement. ``metadata`` (e.g. channel and thread) goes into
    ``private_metadata`` as compact JSON; ValueError if it exceeds Slack's 3000 characters.
    """
    meta = json.dumps(dict(metadata or {}), separators=(",", ":"), sort_keys=True)
    if len(meta) > MAX_PRIVATE_METADATA:
        raise ValueError(f"private_metadata is {len(meta)} characters; Slack allows {MAX_PRIVATE_METADATA}")
    place = policy.placement
    presets = [_option(f"{name} — {p.describe()}", name) for name, p in policy.presets.items()]
    presets.append(_option("Custom — choose cores, memory and disk below", CUSTOM_PRESET))
    initial_preset = (
        preset if preset in policy.presets or preset == CUSTOM_PRESET else next(iter(policy.presets))
    )
    lifetimes = [_option(format_duration(d), format_duration(d)) for d in policy.lifetime_choices()]
    node_opts = [_option("Automatic (most free memory)", NODE_AUTO)]
    node_opts += [_option(n, n) for n in nodes if place.node_allowed(n) and len(n) <= 150]
    custom_hint = "Used only when Size is Custom."
    blocks: list[Block] = [
        _input(
            "hostname",
            "Hostname",
            _text_input("web", max_length=63),
            hint="Letters, digits and '-'. With a count above 1 they are named hostname-1 … hostname-N.",
        ),
        _input("count", "How many", _number_input(1, policy.limits.max_count, 1)),
        _template_block(templates, place.template_storage),
        _input("preset", "Size", _select(presets, initial_preset, "Choose a size")),
        _input("cores", "Cores (custom)", _number_input(1, 8192), optional=True, hint=custom_hint),
        _input("memory_mib", "Memory MiB (custom)", _number_input(16), optional=True, hint=custom_hint),
        _input("swap_mib", "Swap MiB (custom)", _number_input(0), optional=True, hint=custom_hint),
        _input("disk_gib", "Disk GiB (custom)", _number_input(1, 65536), optional=True, hint=custom_hint),
        _divider(),
        _input(
            "net_mode",
            "Network",
            {
                "type": "radio_buttons",
                "options": [_option("DHCP", "dhcp"), _option("Static IPv4", "static")],
                "initial_option": _option("DHCP", "dhcp"),
            },
        ),
        _input(
            "ipv4",
            "IPv4 address (static)",
            _text_input("192.0.2.10/24", max_length=18),
            optional=True,
            hint="CIDR notation; only for Static IPv4.",
        ),
        _input("gateway", "Gateway (static)", _text_input("192.0.2.1", max_length=15), optional=True),
        _input(
            "bridge", "Bridge", _select([_option(b, b) for b in place.bridges], place.bridges[0], "Bridge")
        ),
        _input("vlan", "VLAN tag", _number_input(1, 4094), optional=True, hint="1–4094; empty for untagged."),
        _divider(),
        _input(
            "ssh_key",
            "SSH public key",
            _text_input("ssh-ed25519 AAAA… you@host", multiline=True, max_length=3000),
            optional=True,
        ),
        _input(
            "password",
            "Root password",
            {
                "type": "checkboxes",
                "options": [_option("Generate a root password (shown only to you)", "generate")],
            },
            optional=True,
            hint="Give an SSH key, a generated password, or both.",
        ),
        _input(
            "lifetime",
            "Lifetime",
            _select(lifetimes, format_duration(policy.limits.default_lifetime), "Lifetime"),
            hint=f"The container expires after this; at most {format_duration(policy.limits.max_lifetime)}.",
        ),
        _input("node", "Node", _select(node_opts, NODE_AUTO, "Node")),
        _input(
            "purpose",
            "Purpose",
            _text_input("What is it for? Approvers read this.", multiline=True, max_length=1000),
        ),
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_CREATE,
        "title": _plain("New container", 24),
        "submit": _plain("Request", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": meta,
        "blocks": blocks,
    }


def _element_value(state: Mapping[str, Any]) -> Any:
    kind = state.get("type")
    if kind == "checkboxes":
        return [o.get("value") for o in state.get("selected_options") or []]
    if "selected_option" in state:
        option = state.get("selected_option")
        return option.get("value") if isinstance(option, dict) else None
    value = state.get("value")
    return value if isinstance(value, str) else None


def _state_value(values: Mapping[str, Any], block_id: str) -> Any:
    block = values.get(block_id)
    if not isinstance(block, dict):
        return None
    element = block.get(VALUE)
    return _element_value(element) if isinstance(element, dict) else None


def read_create_submission(view_state_values: Mapping[str, Any]) -> dict[str, Any]:
    """The raw entries of a create-modal submission (``view["state"]["values"]``), keyed by block id.

    Text and number fields give their string or ``None`` when empty; selects and radio buttons their
    value; ``template`` is ``None`` while the list was still loading; ``password`` is True when
    "generate" was ticked. Nothing is validated here.
    """
    raw: dict[str, Any] = {}
    for field in CREATE_FIELDS:
        value = _state_value(view_state_values, field)
        if isinstance(value, str):
            value = value.strip() or None
        raw[field] = value
    raw["password"] = "generate" in (_state_value(view_state_values, "password") or [])
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


# --- approval -------------------------------------------------------------------------------------------


def _size_text(req: RequestSummary) -> str:
    size = f"{req.cores} vCPU · {req.memory_mib} MiB RAM · {req.disk_gib} GiB disk"
    return f"{escape(req.preset)} ({size})" if req.preset else f"custom ({size})"


def _network_text(req: RequestSummary) -> str:
    net = "DHCP" if req.ipv4 is None else f"{escape(req.ipv4)} via {escape(req.gateway or '?')}"
    net += f" on {escape(req.bridge)}"
    if req.vlan is not None:
        net += f", VLAN {req.vlan}"
    return net


def _names(req: RequestSummary) -> str:
    host = escape(req.hostname)
    if req.count <= 1:
        return f"`{host}`"
    return f"{req.count} × `{host}-1` … `{host}-{req.count}`"


def _request_fields(req: RequestSummary) -> Block:
    return _fields(
        [
            ("Template", f"`{escape(template_label(req.template))}`"),
            ("Size", _size_text(req)),
            ("Network", _network_text(req)),
            ("Node", escape(req.node) if req.node else "automatic"),
            ("Lifetime", format_duration(req.lifetime)),
            ("Count", str(req.count)),
        ]
    )


def _purpose(req: RequestSummary) -> Block:
    text = escape(req.purpose.strip()) or "_no purpose given_"
    return _section("*Purpose*\n" + clip(text, MAX_SECTION_TEXT - 20))


def approval_card(
    req: RequestSummary,
    checks: Sequence[PreflightCheck],
    approval_id: str,
    decision: Decision | None = None,
) -> Message:
    """The approval card for the approval channel.

    Undecided: Approve (primary) and Deny (danger) buttons whose ``value`` is only ``approval_id``.
    Decided (``decision`` given): who decided and when, the deny reason, and no buttons.
    """
    _ensure_id(approval_id, "approval_id")
    ok_all = all(c.ok for c in checks)
    lines = [
        f"{CHECK_OK if c.ok else CHECK_FAIL} {escape(c.name)}"
        + (f" — {escape(c.detail)}" if c.detail else "")
        for c in checks
    ]
    blocks: list[Block] = [
        _header(clip(f"Approval: {req.hostname}", 150)),
        _section(f"<@{req.requester_id}> asks for {_names(req)}."),
        _request_fields(req),
        _purpose(req),
        _section("*Pre-flight*\n" + ("\n".join(lines) if lines else "_no checks ran_")),
    ]
    if decision is None:
        blocks.append(
            {
                "type": "actions",
                "block_id": APPROVAL_ACTIONS_BLOCK,
                "elements": [
                    {
                        "type": "button",
                        "action_id": ACTION_APPROVE,
                        "text": _plain("Approve"),
                        "style": "primary",
                        "value": approval_id,
                    },
                    {
                        "type": "button",
                        "action_id": ACTION_DENY,
                        "text": _plain("Deny"),
                        "style": "danger",
                        "value": approval_id,
                    },
                ],
            }
        )
        text = f"Approval needed: {escape(req.hostname)} for <@{req.requester_id}>"
    else:
        verb = f"{STATE_EMOJI['ready']} Approved" if decision.approved else f"{STATE_EMOJI['denied']} Denied"
        line = f"{verb} by <@{decision.decider_id}> {slack_date(decision.decided_at)}"
        if decision.reason:
            line += f"\n> {escape(clip(decision.reason, 1000))}"
        blocks.append(_section(line))
        text = f"{verb.split(' ', 1)[1]}: {escape(req.hostname)} for <@{req.requester_id}>"
    notes = [f"Request `{escape(req.request_id)}`"]
    if req.requested_at is not None:
        notes.append(f"requested {slack_date(req.requested_at)}")
    if not ok_all:
        notes.append(f"{CHECK_FAIL} some pre-flight checks failed")
    blocks.append(_context(" · ".join(notes)))
    return _message(text, blocks)


def deny_reason_modal(approval_id: str, hostname: str) -> dict[str, Any]:
    """The modal asking an approver why they deny (callback ``lxc_deny_reason``; metadata has the id)."""
    _ensure_id(approval_id, "approval_id")
    return {
        "type": "modal",
        "callback_id": CALLBACK_DENY_REASON,
        "title": _plain("Deny request", 24),
        "submit": _plain("Deny", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps({"approval_id": approval_id}, separators=(",", ":")),
        "blocks": [
            _section(
                f"Deny the request for `{escape(clip(hostname, 200))}`? The requester sees your reason."
            ),
            _input("reason", "Reason", _text_input("Why not?", multiline=True, max_length=500)),
        ],
    }


def read_deny_reason(view_state_values: Mapping[str, Any]) -> str | None:
    """The reason typed in the deny modal, stripped; ``None`` when empty."""
    value = _state_value(view_state_values, "reason")
    return value.strip() or None if isinstance(value, str) else None


# --- the request thread ---------------------------------------------------------------------------------


def progress_line(state: RequestState) -> str:
    """``✔ requested → ✔ approved → ⏳ creating → ○ starting → ○ ready`` for the current state."""
    if state in {"failed", "denied"}:
        return f"{STATE_EMOJI[state]} {STATE_LABEL[state].lower()}"
    parts = []
    for step in _PROGRESS:
        done = _PROGRESS.index(step) <= _PROGRESS.index("requested" if state == "pending_approval" else state)
        if state == "pending_approval" and step == "approved":
            parts.append("⏳ *awaiting approval*")
        elif done and step == state and state in {"creating", "starting"}:
            parts.append(f"⏳ *{step}*")
        elif done:
            parts.append(f"✔ {step}")
        else:
            parts.append(f"○ {step}")
    return " → ".join(parts)


def request_thread_root(req: RequestSummary, state: RequestState, *, detail: str | None = None) -> Message:
    """The thread's root message, updated in place as the request moves through its states."""
    emoji, label = STATE_EMOJI[state], STATE_LABEL[state]
    blocks: list[Block] = [
        _section(f"{emoji} *{label}*: {_names(req)} for <@{req.requester_id}>"),
        _context(progress_line(state)),
        _request_fields(req),
    ]
    if detail:
        blocks.append(_section(escape(detail)))
    blocks.append(_context(f"Request `{escape(req.request_id)}` · updates follow in this thread"))
    return _message(f"{emoji} {label}: {escape(req.hostname)} for <@{req.requester_id}>", blocks)


def _ssh_target(ips: Sequence[str]) -> str | None:
    bare = [ip.split("/", 1)[0] for ip in ips]
    v4 = [ip for ip in bare if ":" not in ip]
    candidates = v4 or bare
    return candidates[0] if candidates else None


def ready_result(info: ReadyInfo) -> Message:
    """The thread reply once a container is up: addresses, the ssh line, node, vmid and a UI link."""
    target = _ssh_target(info.ips)
    addresses = ", ".join(f"`{escape(ip)}`" for ip in info.ips[:20]) or "_none reported yet_"
    blocks: list[Block] = [
        _section(f"{STATE_EMOJI['ready']} *{escape(info.hostname)}* is ready."),
        _fields(
            [
                ("Addresses", addresses),
                ("Node", escape(info.node)),
                ("VMID", str(info.vmid)),
                ("Proxmox", f"<{info.ui_url}|Open in the Proxmox UI>"),
            ]
        ),
    ]
    if target is not None:
        blocks.append(_section(f"```ssh root@{escape(target)}```"))
    else:
        blocks.append(_context(f"No address yet; `/lxc ip {info.vmid}` looks again."))
    ssh = f" — ssh root@{escape(target)}" if target else ""
    return _message(
        f"{STATE_EMOJI['ready']} {escape(info.hostname)} is ready (vmid {info.vmid}){ssh}", blocks
    )


def failure_result(
    hostname: str, error: str, log_lines: Sequence[str] = (), *, vmid: int | None = None, keep_lines: int = 20
) -> Message:
    """The thread reply when something failed: the error and the last lines of the Proxmox task log."""
    what = f"{STATE_EMOJI['failed']} *{escape(hostname)}* failed" + (f" (vmid {vmid})" if vmid else "")
    blocks: list[Block] = [_section(f"{what}\n{escape(clip(error, 1500))}")]
    tail = [escape(clip(line, 300)) for line in list(log_lines)[-keep_lines:]]
    budget = MAX_SECTION_TEXT - 60
    while tail and sum(len(t) + 1 for t in tail) > budget:
        tail.pop(0)
    if tail:
        if len(tail) < len(log_lines):
            tail.insert(0, "…")
        blocks.append(_section("*Last lines of the task log*\n```" + "\n".join(tail) + "```"))
    return _message(f"{STATE_EMOJI['failed']} {escape(hostname)} failed: {escape(clip(error, 500))}", blocks)


# --- lists and detail -----------------------------------------------------------------------------------


def _status(status: str) -> str:
    return f"{STATUS_EMOJI.get(status, '⚪')} {escape(status)}"


def _expiry(when: datetime | None, now: datetime | None) -> str:
    if when is None:
        return "no expiry"
    text = f"expires {slack_date(when, '{date_short_pretty}')}"
    if now is not None:
        aware_now = now if now.tzinfo else now.replace(tzinfo=UTC)
        aware_when = when if when.tzinfo else when.replace(tzinfo=UTC)
        if aware_when <= aware_now:
            text = f"⚠️ expired {slack_date(when, '{date_short_pretty}')}"
        elif aware_when - aware_now <= timedelta(hours=24):
            text = f"⚠️ expires {slack_date(when, '{date_short_pretty} {time}')}"
    return text


def container_list(
    containers: Sequence[ContainerInfo],
    *,
    scope: Literal["mine", "all"] = "mine",
    now: datetime | None = None,
) -> Message:
    """Containers as a compact table: status, vmid, hostname, node, IP, owner, expiry."""
    title = "Your containers" if scope == "mine" else "All containers"
    if not containers:
        empty = "You have no containers. `/lxc create` asks for one." if scope == "mine" else "No containers."
        return _message(f"{title}: none", [_header(title), _section(empty)])
    lines = []
    for c in containers:
        ip = f"`{escape(c.ips[0].split('/', 1)[0])}`" if c.ips else "no IP"
        owner = f"<@{c.owner_id}>" if c.owner_id else "unowned"
        lines.append(
            f"{STATUS_EMOJI.get(c.status, '⚪')} *{c.vmid}* `{escape(clip(c.hostname, 63))}` · "
            f"{escape(c.node)} · {ip} · {owner} · {_expiry(c.expires_at, now)}"
        )
    sections, left = _lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 3)
    blocks = [_header(f"{title} ({len(containers)})"), *sections]
    if left:
        blocks.append(
            _context(f"… and {left} more not shown; `/lxc status &lt;vmid&gt;` shows one in detail.")
        )
    return _message(f"{title}: {len(containers)}", blocks)


def container_status(c: ContainerInfo, *, now: datetime | None = None) -> Message:
    """One container in detail."""
    pairs: list[tuple[str, str]] = [
        ("Status", _status(c.status)),
        ("Node", escape(c.node)),
        ("Addresses", ", ".join(f"`{escape(ip)}`" for ip in c.ips[:10]) or "none"),
        ("Owner", f"<@{c.owner_id}>" if c.owner_id else "unowned"),
        ("Expiry", _expiry(c.expires_at, now)),
    ]
    if c.cores is not None or c.memory_mib is not None or c.disk_gib is not None:
        pairs.append(("Size", f"{c.cores or '?'} vCPU · {c.memory_mib or '?'} MiB · {c.disk_gib or '?'} GiB"))
    if c.template:
        pairs.append(("Template", f"`{escape(template_label(c.template))}`"))
    if c.uptime is not None:
        pairs.append(("Uptime", format_duration(c.uptime)))
    if c.ui_url:
        pairs.append(("Proxmox", f"<{c.ui_url}|Open in the Proxmox UI>"))
    blocks: list[Block] = [_header(clip(f"{c.hostname} ({c.vmid})", 150)), _fields(pairs)]
    if c.purpose:
        blocks.append(_section("*Purpose*\n" + escape(clip(c.purpose, 2000))))
    return _message(f"{escape(c.hostname)} ({c.vmid}): {escape(c.status)} on {escape(c.node)}", blocks)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f" · {n / 1024**2:.0f} MiB" if n < 1024**3 else f" · {n / 1024**3:.1f} GiB"


def templates_list(
    available: Sequence[TemplateInfo], downloadable: Sequence[TemplateInfo] = (), *, storage: str = "local"
) -> Message:
    """Templates on the template storage, then downloadable ones from the appliance index."""
    blocks: list[Block] = [_header(f"Templates on {storage}")]
    have = [f"• `{escape(template_label(t.volid or t.name))}`{_size(t.size_bytes)}" for t in available]
    if not have:
        have = ["_none yet_"]
    sections, left = _lines_to_sections(have, max_sections=20, budget=MAX_MESSAGE_CHARS // 3)
    blocks += sections
    if left:
        blocks.append(_context(f"… and {left} more on {storage}."))
    if downloadable:
        blocks.append(_section("*Downloadable* (an operator can fetch these)"))
        more = [
            f"• `{escape(t.name)}`" + (f" — {escape(clip(t.description, 80))}" if t.description else "")
            for t in downloadable
        ]
        sections, left = _lines_to_sections(more, max_sections=20, budget=MAX_MESSAGE_CHARS // 3)
        blocks += sections
        if left:
            blocks.append(_context(f"… and {left} more downloadable."))
    return _message(f"{len(available)} template(s) on {storage}", blocks)


def tasks_list(tasks: Sequence[TaskInfo]) -> Message:
    """Pending and recent Proxmox tasks Cardinal tracks, newest first as given."""
    if not tasks:
        return _message("No tasks", [_header("Tasks"), _section("No pending or recent tasks.")])
    marks = {"running": "⏳", "ok": "✅", "failed": "❌"}
    lines = []
    for t in tasks:
        what = f"{escape(t.kind)}" + (f" {t.vmid}" if t.vmid is not None else "")
        end = f" · {escape(t.exitstatus)}" if t.state == "failed" and t.exitstatus else ""
        who = f" · <@{t.user_id}>" if t.user_id else ""
        lines.append(
            f"{marks[t.state]} *{what}* on {escape(t.node)} · started {slack_date(t.started_at)}{end}{who}"
        )
    sections, left = _lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 3)
    blocks = [_header(f"Tasks ({len(tasks)})"), *sections]
    if left:
        blocks.append(_context(f"… and {left} older task(s) not shown."))
    running = sum(t.state == "running" for t in tasks)
    return _message(f"Tasks: {running} running, {len(tasks) - running} finished", blocks)
