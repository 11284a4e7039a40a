"""Block Kit builders: pure functions from plain data to Slack messages and views (plain dicts).

No I/O and no Slack client here. Every message builder returns ``{"text": fallback, "blocks": [...]}``
ready for ``chat.postMessage(**msg)`` / ``respond(**msg)``; view builders return the view dict. Limits are
enforced here because slack_sdk does not check plain dicts: at most 50 blocks per message, section text
≤ 3000 characters, about 12,000 characters of text per message — longer content is cut with "…" and a
note of what was left out. Every piece of text that came from a person or from Proxmox is escaped
(``&``, ``<``, ``>``) so it cannot turn into a mention or a link.

Domain events (:mod:`bot.events`) are rendered directly — :func:`render_event` turns any
:data:`bot.events.Event` into a message. The list and detail views render :mod:`bot.lifecycle`'s own
views (``ContainerView``, ``ContainerDetail``, ``TemplateList``, ``TaskView``, ``DestroyPlan``) and
:class:`bot.db.AuditEvent` directly, so there is one source of truth for their fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, assert_never

from bot.containers.results import (
    DestroyPlan,
    ExtendResult,
    PowerResult,
    ResizePlan,
    ResizeResult,
    RollbackPlan,
    RollbackResult,
    SnapshotResult,
)
from bot.containers.views import ContainerDetail, ContainerView, TaskView, TemplateList
from bot.db.audit import SYSTEM_ACTOR
from bot.db.enums import RequestState
from bot.db.records import AuditEvent
from bot.events import (
    ActionApprovalCard,
    ActionDecided,
    ApprovalCard,
    ContainerLine,
    ContainerReady,
    Digest,
    DigestReady,
    Event,
    Notice,
    RequestProgress,
    RequestSummary,
    TaskFailed,
    TaskSucceeded,
)
from bot.expiry import EXTEND_ACTION_ID, EXTEND_BY
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

MAX_ACTION_ELEMENTS = 25

STATE_EMOJI: dict[str, str] = {
    RequestState.REQUESTED: "📝",
    RequestState.PENDING_APPROVAL: "⏳",
    RequestState.APPROVED: "👍",
    RequestState.CREATING: "🛠️",
    RequestState.STARTING: "🚀",
    RequestState.READY: "✅",
    RequestState.FAILED: "❌",
    RequestState.PARTIALLY_FAILED: "⚠️",
    RequestState.DENIED: "🚫",
    RequestState.CANCELLED: "🗑️",
}
STATE_LABEL: dict[str, str] = {
    RequestState.REQUESTED: "Requested",
    RequestState.PENDING_APPROVAL: "Waiting for approval",
    RequestState.APPROVED: "Approved",
    RequestState.CREATING: "Creating",
    RequestState.STARTING: "Starting",
    RequestState.READY: "Ready",
    RequestState.FAILED: "Failed",
    RequestState.PARTIALLY_FAILED: "Partially failed",
    RequestState.DENIED: "Denied",
    RequestState.CANCELLED: "Cancelled",
}
#: Emoji for a container line of a request (``ContainerLine.state``: progress words or Proxmox states).
CONTAINER_EMOJI: dict[str, str] = {
    "queued": "🕓",
    "creating": "🛠️",
    "starting": "🚀",
    "ready": "✅",
    "running": "🟢",
    "stopped": "🔴",
    "failed": "❌",
    "destroyed": "🗑️",
}
_PROGRESS: tuple[RequestState, ...] = (
    RequestState.REQUESTED,
    RequestState.APPROVED,
    RequestState.CREATING,
    RequestState.STARTING,
    RequestState.READY,
)
STATUS_EMOJI: dict[str, str] = {"running": "🟢", "stopped": "🔴", "paused": "⏸️"}
CHECK_OK, CHECK_FAIL = "✓", "✗"


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


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,30})&gt;")
_ESCAPED_CHANNEL = re.compile(r"&lt;#([CG][A-Z0-9]{2,30})&gt;")


def mention(user_id: str) -> str:
    """``<@U…>`` for a Slack user id; anything that is not a user id is shown as escaped text."""
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else escape(user_id)


def safe_mrkdwn(text: str) -> str:
    """Domain-written mrkdwn: escaped like :func:`escape`, except well-formed user and channel mentions
    (``<@U…>``, ``<#C…>``) stay mentions.

    So a deny reason embedded in a notice cannot ping ``<!channel>`` or form a link.
    """
    return _ESCAPED_CHANNEL.sub(r"<#\1>", _ESCAPED_MENTION.sub(r"<@\1>", escape(text)))


def _link(url: str, label: str) -> str:
    """A mrkdwn link for an http(s) URL; other URLs are shown as escaped text."""
    if not url.startswith(("https://", "http://")) or any(ch.isspace() for ch in url):
        return escape(url) or "_none_"
    return f"<{escape(url).replace('|', '%7C')}|{label}>"


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
    blocks = [_section(f"⚠️ {safe_mrkdwn(what)}")]
    notes = []
    if hint:
        notes.append(safe_mrkdwn(hint))
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
                "options": [_option("Generate a root password (sent to you by direct message)", "generate")],
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
    if req.swap_mib:
        size += f" · {req.swap_mib} MiB swap"
    return f"{escape(req.preset)} ({size})" if req.preset else f"custom ({size})"


def _network_text(req: RequestSummary) -> str:
    net = "DHCP" if req.ipv4 is None else f"{escape(req.ipv4)} via {escape(req.gateway or '?')}"
    net += f" on {escape(req.bridge)}"
    if req.vlan is not None:
        net += f", VLAN {req.vlan}"
    return net


def _names(req: RequestSummary) -> str:
    """The hostnames: one, two, or ``N × `first` … `last```."""
    names = [f"`{escape(clip(h, 63))}`" for h in req.hostnames] or ["_no hostname_"]
    if len(names) <= 2:
        return ", ".join(names)
    return f"{len(names)} × {names[0]} … {names[-1]}"


def _title(req: RequestSummary) -> str:
    """Plain-text name of a request for headers and fallback text."""
    first = req.hostnames[0] if req.hostnames else "?"
    return first if req.count <= 1 else f"{first} (+{req.count - 1})"


def _lifetime_text(req: RequestSummary) -> str:
    parts = [format_duration(req.lifetime)] if req.lifetime is not None else []
    if req.expires_at is not None:
        parts.append(f"until {slack_date(req.expires_at)}")
    return " ".join(parts) or "not set"


def _request_fields(req: RequestSummary) -> Block:
    return _fields(
        [
            ("Template", f"`{escape(template_label(req.template))}`" if req.template else "_none_"),
            ("Size", _size_text(req)),
            ("Network", _network_text(req)),
            ("Node", escape(req.node) if req.node else "automatic"),
            ("Lifetime", _lifetime_text(req)),
            ("Count", str(req.count)),
        ]
    )


def _purpose(req: RequestSummary) -> Block:
    text = escape(req.purpose.strip()) or "_no purpose given_"
    return _section("*Purpose*\n" + clip(text, MAX_SECTION_TEXT - 20))


def _approval_buttons(approval_id: str) -> Block:
    return {
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


def approval_card(card: ApprovalCard) -> Message:
    """The approval card for the approval channel.

    Pending (``card.decided_by`` unset): Approve (primary) and Deny (danger) buttons whose ``value`` is
    only ``card.approval_id``. Decided: who decided, when, the reason, and no buttons. ValueError when
    the approval id could not round-trip through a button value.
    """
    _ensure_id(card.approval_id, "approval_id")
    req = card.summary
    lines = [
        f"{CHECK_OK if c.ok else CHECK_FAIL} {escape(c.name)}"
        + (f" — {escape(c.detail)}" if c.detail else "")
        for c in card.preflight
    ]
    blocks: list[Block] = [
        _header(f"Approval: {_title(req)}"),
        _section(f"{mention(req.requester)} asks for {_names(req)}."),
        _request_fields(req),
        _purpose(req),
    ]
    if lines or card.decided_by is None:
        checks, left = _lines_to_sections(lines, max_sections=1, budget=MAX_SECTION_TEXT - 100)
        text = checks[0]["text"]["text"] if checks else "_no checks ran_"
        if left:
            text += f"\n… and {left} more check(s)"
        blocks.append(_section("*Pre-flight*\n" + text))
    if card.decided_by is None:
        blocks.append(_approval_buttons(card.approval_id))
        fallback = f"Approval needed: {escape(_title(req))} for {mention(req.requester)}"
    else:
        verb = "Decided" if card.approved is None else "Approved" if card.approved else "Denied"
        emoji = {"Approved": STATE_EMOJI["ready"], "Denied": STATE_EMOJI["denied"]}.get(verb, "☑️")
        line = f"{emoji} {verb} by {mention(card.decided_by)}"
        if card.decided_at is not None:
            line += f" {slack_date(card.decided_at)}"
        if card.reason:
            line += f"\n> {escape(clip(card.reason, 1000))}"
        blocks.append(_section(line))
        fallback = f"{verb}: {escape(_title(req))} for {mention(req.requester)}"
    notes = [f"Request `{escape(clip(req.request_id, 100))}`"]
    if req.requested_at is not None:
        notes.append(f"requested {slack_date(req.requested_at)}")
    if not all(c.ok for c in card.preflight):
        notes.append(f"{CHECK_FAIL} some pre-flight checks failed")
    blocks.append(_context(" · ".join(notes)))
    return _message(fallback, blocks)


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

_FINAL_WORDS = {
    RequestState.FAILED,
    RequestState.PARTIALLY_FAILED,
    RequestState.DENIED,
    RequestState.CANCELLED,
}


def progress_line(state: RequestState) -> str:
    """``✔ requested → ✔ approved → ⏳ creating → ○ starting → ○ ready`` for the current state."""
    if state in _FINAL_WORDS:
        return f"{STATE_EMOJI[state]} {STATE_LABEL[state].lower()}"
    current = RequestState.REQUESTED if state == RequestState.PENDING_APPROVAL else state
    parts = []
    for step in _PROGRESS:
        done = _PROGRESS.index(step) <= _PROGRESS.index(current)
        if state == RequestState.PENDING_APPROVAL and step == RequestState.APPROVED:
            parts.append("⏳ *awaiting approval*")
        elif done and step == state and state in {RequestState.CREATING, RequestState.STARTING}:
            parts.append(f"⏳ *{step.value}*")
        elif done:
            parts.append(f"✔ {step.value}")
        else:
            parts.append(f"○ {step.value}")
    return " → ".join(parts)


def _container_line(c: ContainerLine) -> str:
    emoji = CONTAINER_EMOJI.get(c.state, "⚪")
    vmid = f"*{c.vmid}*" if c.vmid is not None else "_no vmid yet_"
    node = escape(c.node) if c.node else "_node pending_"
    ips = ", ".join(f"`{escape(clip(ip, 60))}`" for ip in c.ips[:4]) or "no IP"
    if len(c.ips) > 4:
        ips += f" (+{len(c.ips) - 4})"
    return f"{emoji} `{escape(clip(c.hostname, 63))}` · {vmid} · {node} · {escape(c.state)} · {ips}"


def request_thread_root(summary: RequestSummary) -> Message:
    """The thread's root message, updated in place as the request moves through its states.

    Shows the state (``summary.state``) and progress, what was asked for, the decision if any, and one
    line per container (hostname, vmid, node, state, IPs).
    """
    state = summary.state
    emoji, label = STATE_EMOJI[state], STATE_LABEL[state]
    who = mention(summary.requester)
    blocks: list[Block] = [
        _section(f"{emoji} *{label}*: {_names(summary)} for {who}"),
        _context(progress_line(state)),
        _request_fields(summary),
    ]
    if summary.decided_by == SYSTEM_ACTOR:
        blocks.append(_context("Approved automatically: within the policy's auto-approval rules"))
    elif summary.decided_by:
        verb = "Denied" if state == RequestState.DENIED else "Approved"
        line = f"{verb} by {mention(summary.decided_by)}"
        if summary.decision_reason:
            line += f"\n> {escape(clip(summary.decision_reason, 1000))}"
        blocks.append(_section(line))
    if summary.containers:
        lines = [_container_line(c) for c in summary.containers]
        sections, left = _lines_to_sections(lines, max_sections=10, budget=MAX_MESSAGE_CHARS // 3)
        blocks += sections
        if left:
            blocks.append(_context(f"… and {left} more container(s) not shown."))
    blocks.append(
        _context(f"Request `{escape(clip(summary.request_id, 100))}` · updates follow in this thread")
    )
    return _message(f"{emoji} {label}: {escape(_title(summary))} for {who}", blocks)


def _ssh_target(ips: Sequence[str]) -> str | None:
    bare = [ip.split("/", 1)[0] for ip in ips]
    v4 = [ip for ip in bare if ":" not in ip]
    candidates = v4 or bare
    return candidates[0] if candidates else None


def ready_result(event: ContainerReady) -> Message:
    """The thread reply once a container is up: addresses, the ssh line, node, vmid and a UI link."""
    target = _ssh_target(event.ips)
    host = escape(clip(event.hostname, 63))
    addresses = ", ".join(f"`{escape(clip(ip, 60))}`" for ip in event.ips[:20]) or "_none reported yet_"
    pairs = [
        ("Addresses", addresses),
        ("Node", escape(event.node)),
        ("VMID", str(event.vmid)),
        ("Proxmox", _link(event.ui_url, "Open in the Proxmox UI")),
    ]
    if event.expires_at is not None:
        pairs.append(("Expires", slack_date(event.expires_at)))
    blocks: list[Block] = [_section(f"{STATE_EMOJI['ready']} *{host}* is ready."), _fields(pairs)]
    if target is not None:
        blocks.append(_section(f"```ssh root@{escape(clip(target, 100))}```"))
    notes = [escape(clip(event.note, 1000))] if event.note else []
    if target is None and not event.note:
        notes.append(f"No address yet; `/lxc ip {event.vmid}` looks again.")
    if event.request_id:
        notes.append(f"Request `{escape(clip(event.request_id, 100))}`")
    if notes:
        blocks.append(_context(*notes))
    ssh = f" — ssh root@{escape(clip(target, 100))}" if target else ""
    return _message(f"{STATE_EMOJI['ready']} {host} is ready (vmid {event.vmid}){ssh}", blocks)


def _what(action: str, vmid: int | None, hostname: str | None = None) -> str:
    what = escape(clip(action, 100))
    if hostname:
        return f"{what} of {escape(clip(hostname, 100))}" + (f" ({vmid})" if vmid is not None else "")
    return what + (f" of {vmid}" if vmid is not None else "")


def failure_result(event: TaskFailed, *, keep_lines: int = 20) -> Message:
    """The thread reply when a task failed or timed out: the error and the last lines of its task log."""
    what = _what(event.action, event.vmid, event.hostname)
    emoji, verb = ("⏱️", "timed out") if event.timed_out else (STATE_EMOJI["failed"], "failed")
    head = f"{emoji} *{what}* {verb}"
    if event.node:
        head += f" on {escape(clip(event.node, 100))}"
    blocks: list[Block] = [_section(f"{head}\n{escape(clip(event.error, 1500))}")]
    tail = [escape(clip(line, 300)) for line in list(event.log_tail)[-keep_lines:]]
    budget = MAX_SECTION_TEXT - 60
    while tail and sum(len(t) + 1 for t in tail) > budget:
        tail.pop(0)
    if tail:
        if len(tail) < len(event.log_tail):
            tail.insert(0, "…")
        blocks.append(_section("*Last lines of the task log*\n```" + "\n".join(tail) + "```"))
    notes = []
    if event.upid:
        notes.append(f"Task `{escape(clip(event.upid, 300))}`")
    if event.request_id:
        notes.append(f"Request `{escape(clip(event.request_id, 100))}`")
    if notes:
        blocks.append(_context(" · ".join(notes)))
    return _message(f"{emoji} {what} {verb}: {escape(clip(event.error, 500))}", blocks)


# --- notifications --------------------------------------------------------------------------------------


def task_succeeded(event: TaskSucceeded) -> Message:
    """A day-2 task (start, stop, reboot, destroy…) finished well: what, where, and who asked."""
    line = f"✅ *{_what(event.action, event.vmid)}* done on {escape(clip(event.node, 100))}"
    blocks: list[Block] = [_section(f"{line} (by {mention(event.actor)})")]
    if event.detail:
        blocks.append(_context(escape(clip(event.detail, 1500))))
    return _message(f"✅ {_what(event.action, event.vmid)} done on {escape(clip(event.node, 100))}", blocks)


def notice(event: Notice) -> Message:
    """A short message with optional buttons (``(action_id, label, value)``; values must be bare ids).

    ``event.text`` keeps user mentions; other markup is shown literally (see :func:`safe_mrkdwn`).
    ValueError when a button's action_id or value is not an id.
    """
    text = safe_mrkdwn(event.text.strip()) or "_(empty notice)_"
    blocks: list[Block] = [_section(clip(text, MAX_SECTION_TEXT))]
    if event.actions:
        buttons = [
            {
                "type": "button",
                "action_id": _ensure_id(action_id, "action_id"),
                "text": _plain(label or action_id),
                "value": _ensure_id(value, "button value"),
            }
            for action_id, label, value in event.actions[:MAX_ACTION_ELEMENTS]
        ]
        blocks.append({"type": "actions", "elements": buttons})
    return _message(clip(text, 500), blocks)


# --- lists and detail -----------------------------------------------------------------------------------
#
# These render bot.lifecycle's views directly (one source of truth): ContainerView, ContainerDetail,
# TemplateList, TaskView, plus bot.db.AuditEvent and the DestroyPlan of /lxc destroy.

ACTION_EXTEND = EXTEND_ACTION_ID  # "lxc_extend", value "<vmid>:<duration>" (reminders and status)
ACTION_POWER = "lxc_power"  # buttons are "lxc_power.<action>" (unique per block), value "<vmid>:<action>"
ACTION_DESTROY_CONFIRM = "lxc_destroy_confirm"  # value "<vmid>"
ACTION_DESTROY_APPROVE = "lxc_destroy_approve"  # value: the approval record's id
ACTION_DESTROY_DENY = "lxc_destroy_deny"  # value: the approval record's id
CONTAINER_ACTIONS_BLOCK = "container_actions"
DESTROY_CONFIRM_BLOCK = "destroy_confirm"
DESTROY_APPROVAL_BLOCK = "destroy_approval_actions"
ACTION_ROLLBACK_CONFIRM = "lxc_rollback_confirm"  # value "<vmid>:<snapshot name>"
ACTION_RESIZE_APPROVE = "lxc_resize_approve"  # value: the approval record's id
ACTION_RESIZE_DENY = "lxc_resize_deny"  # value: the approval record's id
ROLLBACK_CONFIRM_BLOCK = "rollback_confirm"
RESIZE_APPROVAL_BLOCK = "resize_approval_actions"

POWER_VERBS: dict[str, str] = {
    "start": "Starting",
    "stop": "Stopping",
    "shutdown": "Shutting down",
    "reboot": "Rebooting",
}


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


def _owner(owner_id: str | None) -> str:
    return mention(owner_id) if owner_id else "unowned"


def _bare_ip(ip: str) -> str:
    return ip.split("/", 1)[0]


def container_list(
    containers: Sequence[ContainerView],
    *,
    scope: Literal["mine", "all"] = "mine",
    now: datetime | None = None,
) -> Message:
    """``/lxc list``: one line per container (status, vmid, hostname, node, IP, owner, expiry).

    When Proxmox could not be asked (``live`` False) the last known state is shown and said so.
    """
    title = "Your containers" if scope == "mine" else "All containers"
    if not containers:
        empty = "You have no containers. `/lxc create` asks for one." if scope == "mine" else "No containers."
        return _message(f"{title}: none", [_header(title), _section(empty)])
    lines = []
    for c in containers:
        ip = f"`{escape(clip(_bare_ip(c.ips[0]), 60))}`" if c.ips else "no IP"
        lines.append(
            f"{STATUS_EMOJI.get(c.status, '⚪')} *{c.vmid}* `{escape(clip(c.hostname, 63))}` · "
            f"{escape(clip(c.node, 60))} · {ip} · {_owner(c.owner_id)} · {_expiry(c.expires_at, now)}"
        )
    sections, left = _lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 4)
    blocks = [_header(f"{title} ({len(containers)})"), *sections]
    if left:
        blocks.append(
            _context(f"… and {left} more not shown; `/lxc status &lt;vmid&gt;` shows one in detail.")
        )
    if any(not c.live for c in containers):
        blocks.append(_context("⚠️ Proxmox could not be asked just now; this is the last known state."))
    return _message(f"{title}: {len(containers)}", blocks)


def _confirm_dialog(title: str, text: str, confirm: str, deny: str = "Cancel") -> dict[str, Any]:
    return {
        "title": _plain(title, 100),
        "text": _plain(text, 300),
        "confirm": _plain(confirm, 30),
        "deny": _plain(deny, 30),
        "style": "danger",
    }


def _button(
    action_id: str, label: str, value: str, *, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": _ensure_id(action_id, "action_id"),
        "text": _plain(label),
        "value": _ensure_id(value, "button value"),
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def power_button(vmid: int, action: str) -> dict[str, Any]:
    """A quick-action button for ``start``/``stop``/``shutdown``/``reboot`` (value ``<vmid>:<action>``)."""
    return _button(f"{ACTION_POWER}.{action}", action.capitalize(), f"{vmid}:{action}")


def _destroy_dialog(hostname: str, vmid: int) -> dict[str, Any]:
    return _confirm_dialog(
        f"Destroy {hostname}?",
        f"{hostname} ({vmid}) and its disks are deleted. This cannot be undone.",
        "Destroy",
    )


def _quick_actions(c: ContainerDetail) -> Block:
    buttons = []
    if c.status == "running":
        buttons += [power_button(c.vmid, "stop"), power_button(c.vmid, "reboot")]
    elif c.status == "stopped":
        buttons.append(power_button(c.vmid, "start"))
    buttons.append(_button(ACTION_EXTEND, f"Extend {EXTEND_BY}", f"{c.vmid}:{EXTEND_BY}"))
    buttons.append(
        _button(
            ACTION_DESTROY_CONFIRM,
            "Destroy",
            str(c.vmid),
            style="danger",
            confirm=_destroy_dialog(clip(c.hostname, 63), c.vmid),
        )
    )
    return {"type": "actions", "block_id": CONTAINER_ACTIONS_BLOCK, "elements": buttons}


def container_status(
    c: ContainerDetail,
    *,
    ui_base_url: str = "",
    now: datetime | None = None,
    show_actions: bool = False,
) -> Message:
    """``/lxc status``: one container in detail.

    State, node, IPs, owner, expiry, size, template, uptime, lock and a link to the Proxmox UI
    (``ui_base_url`` is the UI's base, e.g. ``https://pve:8006``; no link without it). With
    ``show_actions`` (the owner or an approver is looking) quick-action buttons follow: start or
    stop/reboot, extend, destroy (with a confirmation dialog). Buttons carry only the vmid (and action).
    """
    state = _status(c.status) + ("" if c.live else " _(last known)_")
    pairs: list[tuple[str, str]] = [
        ("Status", state),
        ("Node", escape(clip(c.node, 100))),
        ("Addresses", ", ".join(f"`{escape(clip(ip, 60))}`" for ip in c.ips[:10]) or "none"),
        ("Owner", _owner(c.owner_id)),
        ("Expiry", _expiry(c.expires_at, now)),
    ]
    if c.cores is not None or c.memory_mib is not None or c.disk_gib is not None:
        pairs.append(("Size", f"{c.cores or '?'} vCPU · {c.memory_mib or '?'} MiB · {c.disk_gib or '?'} GiB"))
    if c.template:
        pairs.append(("Template", f"`{escape(clip(template_label(c.template), 200))}`"))
    if c.uptime is not None:
        pairs.append(("Uptime", format_duration(c.uptime)))
    if c.lock:
        pairs.append(("Lock", f"🔒 {escape(clip(c.lock, 60))}"))
    if c.snapshots:
        names = [f"`{escape(clip(s.name, 40))}`" for s in c.snapshots[-10:]]
        more = f" (+{len(c.snapshots) - 10} older)" if len(c.snapshots) > 10 else ""
        pairs.append(("Snapshots", ", ".join(names) + more))
    if ui_base_url:
        pairs.append(("Proxmox", _link(proxmox_ui_link(ui_base_url, c.vmid), "Open in the Proxmox UI")))
    blocks: list[Block] = [_header(f"{c.hostname} ({c.vmid})"), _fields(pairs)]
    if c.purpose:
        blocks.append(_section("*Purpose*\n" + escape(clip(c.purpose, 2000))))
    if show_actions:
        blocks.append(_quick_actions(c))
    text = f"{escape(clip(c.hostname, 63))} ({c.vmid}): {escape(c.status)} on {escape(clip(c.node, 100))}"
    return _message(text, blocks)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f" · {n / 1024**2:.0f} MiB" if n < 1024**3 else f" · {n / 1024**3:.1f} GiB"


def templates_list(templates: TemplateList) -> Message:
    """``/lxc templates``: templates on the template storage, then downloadable ones."""
    storage = escape(clip(templates.storage, 100))
    blocks: list[Block] = [
        _header(f"Templates on {clip(templates.storage, 100)}"),
        _context(f"Node {escape(clip(templates.node, 100))}"),
    ]
    have = [
        f"• `{escape(clip(template_label(t.volid or t.name), 200))}`{_size(t.size_bytes)}"
        for t in templates.available
    ] or ["_none yet_"]
    sections, left = _lines_to_sections(have, max_sections=20, budget=MAX_MESSAGE_CHARS // 3)
    blocks += sections
    if left:
        blocks.append(_context(f"… and {left} more on {storage}."))
    if templates.downloadable:
        blocks.append(_section("*Downloadable* (an operator can fetch these)"))
        more = [
            f"• `{escape(clip(t.name, 200))}`"
            + (f" — {escape(clip(t.description, 80))}" if t.description else "")
            for t in templates.downloadable
        ]
        sections, left = _lines_to_sections(more, max_sections=20, budget=MAX_MESSAGE_CHARS // 3)
        blocks += sections
        if left:
            blocks.append(_context(f"… and {left} more downloadable."))
    return _message(f"{len(templates.available)} template(s) on {storage}", blocks)


def tasks_list(tasks: Sequence[TaskView]) -> Message:
    """``/lxc tasks``: pending and recent Proxmox tasks Cardinal tracks, in the order given."""
    if not tasks:
        return _message("No tasks", [_header("Tasks"), _section("No pending or recent tasks.")])
    marks = {"running": "⏳", "ok": "✅", "failed": "❌"}
    lines = []
    for t in tasks:
        what = escape(clip(t.kind, 60)) + (f" {t.vmid}" if t.vmid is not None else "")
        end = f" · {escape(clip(t.exitstatus, 200))}" if t.state == "failed" and t.exitstatus else ""
        who = f" · {mention(t.user_id)}" if t.user_id else ""
        lines.append(
            f"{marks[t.state]} *{what}* on {escape(clip(t.node, 60))} · started {slack_date(t.started_at)}"
            f"{end}{who}"
        )
    sections, left = _lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 3)
    blocks = [_header(f"Tasks ({len(tasks)})"), *sections]
    if left:
        blocks.append(_context(f"… and {left} older task(s) not shown."))
    running = sum(t.state == "running" for t in tasks)
    return _message(f"Tasks: {running} running, {len(tasks) - running} finished", blocks)


def _detail_text(detail: Mapping[str, Any]) -> str:
    parts = []
    for key, value in list(detail.items())[:6]:
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
        parts.append(f"{escape(clip(str(key), 40))}={escape(clip(shown, 80))}")
    return " ".join(parts)


def audit_list(events: Sequence[AuditEvent], *, title: str = "Audit") -> Message:
    """``/lxc audit``: recent audit events, newest first as given (when, who, what, which container)."""
    if not events:
        return _message(f"{title}: none", [_header(title), _section("No audit events.")])
    lines = []
    for e in events:
        line = f"{slack_date(e.at)} · {mention(e.actor)} · `{escape(clip(e.action, 60))}`"
        if e.vmid is not None:
            line += f" · CT {e.vmid}"
        if e.detail:
            line += f" · {_detail_text(e.detail)}"
        lines.append(line)
    sections, left = _lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 3)
    blocks = [_header(f"{title} ({len(events)})"), *sections]
    if left:
        blocks.append(_context(f"… and {left} older event(s) not shown."))
    return _message(f"{title}: {len(events)} event(s)", blocks)


def addresses_message(vmid: int, ips: Sequence[str]) -> Message:
    """``/lxc ip``: the addresses just discovered."""
    if not ips:
        text = (
            f"No addresses found for {vmid}. If it is running on DHCP, it may not have a lease yet; "
            f"try `/lxc ip {vmid}` again in a minute."
        )
        return _message(f"No addresses for {vmid}", [_section(text)])
    shown = ", ".join(f"`{escape(clip(ip, 60))}`" for ip in ips[:50])
    blocks = [_section(f"*Addresses of {vmid}*\n{shown}")]
    v4 = [_bare_ip(ip) for ip in ips if ":" not in ip]
    if v4:
        blocks.append(_section(f"```ssh root@{escape(clip(v4[0], 60))}```"))
    return _message(f"Addresses of {vmid}: {', '.join(escape(clip(ip, 60)) for ip in ips[:10])}", blocks)


def power_started(result: PowerResult) -> Message:
    """The answer to a power action: it was accepted and its outcome follows in the container's thread."""
    verb = POWER_VERBS.get(result.action, result.action.capitalize())
    text = (
        f"⏳ {verb} CT {result.vmid} on {escape(clip(result.node, 100))}… I'll post the result in its thread."
    )
    return _message(text, [_section(text)])


def extend_result(result: ExtendResult, by: timedelta, *, actor: str | None = None) -> Message:
    """The answer to an extension: by how much and the new expiry (and a note if Proxmox lagged)."""
    who = f"{mention(actor)} extended" if actor else "Extended"
    text = (
        f"✅ {who} CT {result.vmid} by {format_duration(by)}: it now expires {slack_date(result.expires_at)}."
    )
    blocks = [_section(text)]
    if result.note:
        blocks.append(_context(escape(clip(result.note, 1000))))
    until = result.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    fallback = f"{who} CT {result.vmid} by {format_duration(by)} until {until}"
    return _message(fallback, blocks)


def destroy_confirmation(plan: DestroyPlan) -> Message:
    """``/lxc destroy``: what will happen and one danger button behind a confirmation dialog.

    The button (``lxc_destroy_confirm``) carries only the vmid. For non-owners (``plan.needs_approval``)
    it asks the approvers instead of destroying.
    """
    host = clip(plan.hostname, 63)
    if plan.needs_approval:
        label = "Ask an approver to destroy"
        dialog = _confirm_dialog(
            "Ask an approver?",
            f"An approver will be asked to destroy {host} ({plan.vmid}). Its disks will be deleted.",
            "Ask",
        )
    else:
        label = f"Destroy {host}"
        dialog = _destroy_dialog(host, plan.vmid)
    button = _button(ACTION_DESTROY_CONFIRM, label, str(plan.vmid), style="danger", confirm=dialog)
    blocks: list[Block] = [
        _section(f"🗑️ {safe_mrkdwn(plan.confirm_text)}"),
        {"type": "actions", "block_id": DESTROY_CONFIRM_BLOCK, "elements": [button]},
    ]
    return _message(f"Destroy {escape(host)} ({plan.vmid})?", blocks)


def destroy_approval_card(
    plan: DestroyPlan,
    approval_id: str,
    *,
    decided_by: str | None = None,
    approved: bool | None = None,
    note: str | None = None,
) -> Message:
    """The card approvers see when a non-owner asks to destroy a container.

    Pending: *Approve destroy* (danger, with a confirmation) and *Deny*, both valued ``approval_id`` (the
    approval record; nothing else travels in the button). Decided (``decided_by`` set): who decided, no
    buttons. ``note`` (e.g. a failure) is shown below.
    """
    host = escape(clip(plan.hostname, 63))
    blocks: list[Block] = [
        _header(f"Destroy approval: {clip(plan.hostname, 63)} ({plan.vmid})"),
        _section(
            f"{mention(plan.requested_by)} asks to destroy `{host}` ({plan.vmid}) on "
            f"{escape(clip(plan.node, 100))}, owned by {mention(plan.owner)}. Its disks will be deleted."
        ),
    ]
    approve = _button(
        ACTION_DESTROY_APPROVE,
        "Approve destroy",
        approval_id,
        style="danger",
        confirm=_destroy_dialog(clip(plan.hostname, 63), plan.vmid),
    )
    deny = _button(ACTION_DESTROY_DENY, "Deny", approval_id)
    buttons: Block = {"type": "actions", "block_id": DESTROY_APPROVAL_BLOCK, "elements": [approve, deny]}
    subject = f"{host} ({plan.vmid})"
    return _approval_card(blocks, buttons, "Destroy", subject, plan.requested_by, decided_by, approved, note)


def _approval_card(
    blocks: list[Block],
    buttons: Block,
    kind: str,
    subject: str,
    requested_by: str,
    decided_by: str | None,
    approved: bool | None,
    note: str | None,
) -> Message:
    """The end of an approval card (destroy, resize): ``buttons`` while pending, else who decided;
    then ``note``."""
    if decided_by is None:
        blocks.append(buttons)
        fallback = f"{kind} approval needed: {subject} for {mention(requested_by)}"
    else:
        verb = "Approved" if approved else "Denied"
        emoji = STATE_EMOJI[RequestState.READY] if approved else STATE_EMOJI[RequestState.DENIED]
        blocks.append(_section(f"{emoji} {verb} by {mention(decided_by)}"))
        fallback = f"{kind} of {subject} {verb.lower()} by {mention(decided_by)}"
    if note:
        blocks.append(_context(safe_mrkdwn(clip(note, 1000))))
    return _message(fallback, blocks)


def _approval_channel_ref(channel: str) -> str:
    """``channel`` as a Slack channel link, or "the approval channel" when it is not a channel id."""
    return f"<#{channel}>" if re.fullmatch(r"[CG][A-Z0-9]{2,30}", channel) else "the approval channel"


def destroy_started(plan: DestroyPlan, *, already_gone: bool = False) -> Message:
    """The owner's confirmed destroy: it is under way (the outcome follows in the container's thread)."""
    name = f"{escape(clip(plan.hostname, 63))} ({plan.vmid})"
    text = (
        f"🗑️ {name} was already gone from Proxmox; Cardinal has forgotten it."
        if already_gone
        else f"🗑️ Destroying {name}… I'll post the result in its thread."
    )
    return _message(text, [_section(text)])


def destroy_asked(plan: DestroyPlan, channel: str) -> Message:
    """A non-owner's confirmed destroy: the approvers were asked in ``channel``."""
    where = _approval_channel_ref(channel)
    text = (
        f"📨 Asked the approvers to destroy {escape(clip(plan.hostname, 63))} ({plan.vmid}) in {where}. "
        "You'll hear back when one decides."
    )
    return _message(text, [_section(text)])


def destroy_decision(plan: DestroyPlan, decided_by: str, *, approved: bool) -> Message:
    """What the requester hears when an approver decided their destroy request."""
    name = f"{escape(clip(plan.hostname, 63))} ({plan.vmid})"
    text = (
        f"✅ {mention(decided_by)} approved destroying {name}; it is being destroyed."
        if approved
        else f"🚫 {mention(decided_by)} denied destroying {name}."
    )
    return _message(text, [_section(text)])


# --- snapshots, rollback and resize ------------------------------------------------------------------


def snapshot_started(result: SnapshotResult) -> Message:
    """The answer to ``/lxc snapshot``: it was accepted; the outcome follows in the container's thread."""
    text = (
        f"📸 Taking snapshot `{escape(clip(result.name, 40))}` of {escape(clip(result.hostname, 63))} "
        f"({result.vmid})… I'll post the result in its thread."
    )
    return _message(text, [_section(text)])


def rollback_value(vmid: int, name: str) -> str:
    """The value of the rollback confirmation button: ``<vmid>:<snapshot name>``."""
    return f"{vmid}:{name}"


def rollback_confirmation(plan: RollbackPlan) -> Message:
    """``/lxc rollback``: what will happen and one danger button behind a confirmation dialog."""
    host = clip(plan.hostname, 63)
    dialog = _confirm_dialog(
        f"Roll back {host}?",
        f"{host} ({plan.vmid}) goes back to snapshot {plan.name}; later changes are lost.",
        "Roll back",
    )
    button = _button(
        ACTION_ROLLBACK_CONFIRM,
        f"Roll back to {clip(plan.name, 40)}",
        rollback_value(plan.vmid, plan.name),
        style="danger",
        confirm=dialog,
    )
    blocks: list[Block] = [
        _section(f"⏪ {safe_mrkdwn(plan.confirm_text)}"),
        {"type": "actions", "block_id": ROLLBACK_CONFIRM_BLOCK, "elements": [button]},
    ]
    return _message(f"Roll {escape(host)} ({plan.vmid}) back to {escape(clip(plan.name, 40))}?", blocks)


def rollback_started(result: RollbackResult) -> Message:
    """The confirmed rollback is under way (the outcome follows in the container's thread)."""
    again = " It will be started again afterwards." if result.restart else ""
    text = (
        f"⏪ Rolling {escape(clip(result.hostname, 63))} ({result.vmid}) back to "
        f"`{escape(clip(result.name, 40))}`…{again} I'll post the result in its thread."
    )
    return _message(text, [_section(text)])


def _opt(value: int | None) -> str:
    return "?" if value is None else str(value)


def resize_changes(plan: ResizePlan) -> list[str]:
    """``cores 1 → 2`` style lines for what the resize changes."""
    lines: list[str] = []
    if plan.cores is not None:
        lines.append(f"cores {_opt(plan.cores_before)} → {plan.cores}")
    if plan.memory_mib is not None:
        lines.append(f"memory {_opt(plan.memory_before_mib)} → {plan.memory_mib} MiB")
    if plan.disk_add_gib:
        lines.append(f"disk {_opt(plan.disk_before_gib)} → {_opt(plan.disk_after_gib)} GiB")
    return lines


def resize_result(result: ResizeResult) -> Message:
    """The answer to an applied resize: what changed now, and the disk task that follows in the thread."""
    plan = result.plan
    name = f"{escape(clip(plan.hostname, 63))} ({plan.vmid})"
    changes = "; ".join(resize_changes(plan))
    text = f"📐 Resized {name}: {changes}."
    if result.upid is not None:
        text += " The disk is growing; I'll post the result in its thread."
    return _message(text, [_section(text)])


def resize_approval_card(
    plan: ResizePlan,
    approval_id: str,
    *,
    decided_by: str | None = None,
    approved: bool | None = None,
    note: str | None = None,
) -> Message:
    """The card approvers see when a resize goes beyond the owner's quota: before → after and why.

    Pending: *Approve resize* and *Deny*, both valued ``approval_id`` (the approval record). Decided: who
    decided, no buttons.
    """
    host = escape(clip(plan.hostname, 63))
    changes = "\n".join(f"• {line}" for line in resize_changes(plan))
    blocks: list[Block] = [
        _header(f"Resize approval: {clip(plan.hostname, 63)} ({plan.vmid})"),
        _section(
            f"{mention(plan.requested_by)} asks to resize `{host}` ({plan.vmid}) on "
            f"{escape(clip(plan.node, 100))}, owned by {mention(plan.owner)}:\n{changes}"
        ),
    ]
    if plan.reason:
        blocks.append(_context(f"Beyond quota: {escape(clip(plan.reason, 500))}"))
    approve = _button(ACTION_RESIZE_APPROVE, "Approve resize", approval_id, style="primary")
    deny = _button(ACTION_RESIZE_DENY, "Deny", approval_id)
    buttons: Block = {"type": "actions", "block_id": RESIZE_APPROVAL_BLOCK, "elements": [approve, deny]}
    subject = f"{host} ({plan.vmid})"
    return _approval_card(blocks, buttons, "Resize", subject, plan.requested_by, decided_by, approved, note)


def resize_asked(plan: ResizePlan, channel: str) -> Message:
    """A resize beyond quota: the approvers were asked in ``channel``."""
    where = _approval_channel_ref(channel)
    text = (
        f"📨 Resizing {escape(clip(plan.hostname, 63))} ({plan.vmid}) goes beyond the quota "
        f"({escape(clip(plan.reason or '', 300))}). Asked the approvers in {where}; "
        "you'll hear back when one decides."
    )
    return _message(text, [_section(text)])


def resize_decision(plan: ResizePlan, decided_by: str, *, approved: bool) -> Message:
    """What the requester hears when an approver decided their resize request."""
    name = f"{escape(clip(plan.hostname, 63))} ({plan.vmid})"
    changes = "; ".join(resize_changes(plan))
    text = (
        f"✅ {mention(decided_by)} approved resizing {name} ({changes}); it is being applied."
        if approved
        else f"🚫 {mention(decided_by)} denied resizing {name} ({changes})."
    )
    return _message(text, [_section(text)])


# --- digest ---------------------------------------------------------------------------------------------


def capacity_bar(fraction: float, width: int = 10) -> str:
    """``▓▓▓▓░░░░░░ 40%`` — a capacity bar that reads at a glance."""
    fraction = min(max(fraction, 0.0), 1.0)
    full = round(fraction * width)
    return f"`{'▓' * full}{'░' * (width - full)}` {fraction:.0%}"


def _age(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return (
        f"{hours // 24}d {hours % 24}h"
        if hours >= 24
        else f"{hours}h {int(delta.total_seconds() // 60) % 60}m"
    )


def digest_message(digest: Digest) -> Message:
    """The scheduled (or `/lxc digest`) summary: owners, expiring soon, approvals, failures, capacity."""
    when = slack_date(digest.generated_at)
    blocks: list[Block] = [
        _header("Cardinal digest"),
        _context(f"{when} · {digest.container_count} container(s) · {len(digest.pending_approvals)} pending"),
    ]
    owners = [
        f"{mention(o.owner)}: {len(o.containers)} — "
        + ", ".join(f"`{escape(c.hostname)}` ({c.vmid})" for c in o.containers[:10])
        + (" …" if len(o.containers) > 10 else "")
        for o in digest.per_owner
    ]
    blocks.append(_section("*Containers per owner*\n" + ("\n".join(owners) if owners else "_none_")))
    expiring = [
        f"`{escape(c.hostname)}` ({c.vmid}) of {mention(c.owner)} — expires "
        + (slack_date(c.expires_at) if c.expires_at else "?")
        for c in digest.expiring_soon
    ]
    blocks.append(_section("*Expiring in the next 48 h*\n" + ("\n".join(expiring) if expiring else "_none_")))
    pending = [
        f"`{escape(p.hostname or '?')}`"
        + (f" ×{p.count}" if p.count > 1 else "")
        + f" for {mention(p.requester)} — waiting {_age(p.age)}"
        for p in digest.pending_approvals
    ]
    blocks.append(_section("*Pending approvals*\n" + ("\n".join(pending) if pending else "_none_")))
    failed = [
        f"{escape(t.kind)} of {t.vmid if t.vmid is not None else '?'} on {escape(t.node)}: "
        f"{escape(clip(t.error or 'failed', 200))}"
        for t in digest.failed_tasks
    ]
    blocks.append(_section("*Failed tasks (24 h)*\n" + ("\n".join(failed) if failed else "_none_ ✓")))
    if digest.capacity_error:
        blocks.append(_section(f"*Capacity*\n_unavailable: {escape(clip(digest.capacity_error, 300))}_"))
    else:
        rows = [
            f"*{escape(n.node)}* ({escape(n.status)})  mem {capacity_bar(n.mem_fraction)}  "
            f"disk {capacity_bar(n.disk_fraction)}"
            for n in digest.capacity
        ]
        blocks.append(_section("*Capacity*\n" + ("\n".join(rows) if rows else "_no nodes_")))
    text = (
        f"Cardinal digest: {digest.container_count} containers, {len(digest.expiring_soon)} expiring soon, "
        f"{len(digest.pending_approvals)} pending approvals, {len(digest.failed_tasks)} failed tasks"
    )
    return _message(text, blocks)


# --- events ---------------------------------------------------------------------------------------------


def render_event(event: Event) -> Message:
    """The Slack message for any domain event (:data:`bot.events.Event`), ready for ``chat.postMessage``.

    Exhaustive: a new event type that is not handled here is a mypy error (``assert_never``).
    """
    match event:
        case RequestProgress():
            return request_thread_root(event.summary)
        case ApprovalCard():
            return approval_card(event)
        case ContainerReady():
            return ready_result(event)
        case TaskFailed():
            return failure_result(event)
        case TaskSucceeded():
            return task_succeeded(event)
        case Notice():
            return notice(event)
        case DigestReady():
            return digest_message(event.digest)
        case ActionApprovalCard():
            return action_approval_card(event)
        case ActionDecided():
            return action_decision(event)
        case _:
            assert_never(event)


def action_approval_card(event: ActionApprovalCard) -> Message:
    """A day-2 approval card (destroy or resize, by the plan), pending or decided."""
    by, ok, note = event.decided_by, event.approved, event.note
    if isinstance(event.plan, DestroyPlan):
        return destroy_approval_card(event.plan, event.approval_id, decided_by=by, approved=ok, note=note)
    return resize_approval_card(event.plan, event.approval_id, decided_by=by, approved=ok, note=note)


def action_decision(event: ActionDecided) -> Message:
    """What the requester of a day-2 action hears when an approver decided it."""
    if isinstance(event.plan, DestroyPlan):
        return destroy_decision(event.plan, event.decided_by, approved=event.approved)
    return resize_decision(event.plan, event.decided_by, approved=event.approved)
