"""The shared Block Kit primitives every room of :mod:`handlers.blocks` builds with.

Text helpers (:func:`escape`, :func:`clip`, :func:`mention`, :func:`safe_mrkdwn`, Slack dates), the block
and element makers (sections, headers, context, fields, buttons, confirmation dialogs, modal inputs), and
Slack's limits. :func:`message` applies the message limits because slack_sdk does not check plain dicts:
at most 50 blocks per message, section text ≤ 3000 characters, about 12,000 characters of text per
message — longer content is cut with "…" and a note of what was left out. Every piece of text that came
from a person or from Proxmox is escaped (``&``, ``<``, ``>``) so it cannot turn into a mention or a link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.db.enums import RequestState
from handlers.blocks.ids import VALUE

Block = dict[str, Any]
Message = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_MESSAGE_CHARS = 12_000
MAX_FALLBACK_TEXT = 3000
MAX_PRIVATE_METADATA = 3000
MAX_OPTIONS = 100

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

STATUS_EMOJI: dict[str, str] = {"running": "🟢", "stopped": "🔴", "paused": "⏸️"}


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


def link(url: str, label: str) -> str:
    """A mrkdwn link for an http(s) URL; other URLs are shown as escaped text."""
    if not url.startswith(("https://", "http://")) or any(ch.isspace() for ch in url):
        return escape(url) or "_none_"
    return f"<{escape(url).replace('|', '%7C')}|{label}>"


def plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": _mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, 150)}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(t, 2000) for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def fields(pairs: Iterable[tuple[str, str]]) -> Block:
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


def message(text: str, blocks: list[Block]) -> Message:
    """Apply the message limits: block count, total text, fallback length."""
    fitted = blocks[: MAX_MESSAGE_BLOCKS - 1] if len(blocks) > MAX_MESSAGE_BLOCKS else list(blocks)
    while len(fitted) > 1 and _text_chars(fitted) > MAX_MESSAGE_CHARS - 100:
        fitted.pop()
    dropped = len(blocks) - len(fitted)
    if dropped:
        fitted.append(context(f"… {dropped} more block(s) not shown (message too long)."))
    return {"text": clip(text, MAX_FALLBACK_TEXT), "blocks": fitted}


def lines_to_sections(
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
                sections.append(section("\n".join(current)))
            return sections, len(lines) - i
        if current and size + len(line) + 1 > MAX_SECTION_TEXT - 50:
            sections.append(section("\n".join(current)))
            current, size = [], 0
            if len(sections) >= max_sections:
                return sections, len(lines) - i
        current.append(line)
        size += len(line) + 1
        total += len(line) + 1
    if current:
        sections.append(section("\n".join(current)))
    return sections, 0


def ensure_id(value: str, what: str) -> str:
    if not value or len(value) > 255 or any(ch.isspace() for ch in value):
        raise ValueError(f"{what} must be 1–255 characters without spaces")
    return value


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": plain(label), "value": value}


def input_block(
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
        "label": plain(label, 2000),
        "element": {**element, "action_id": VALUE},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def text_input(
    placeholder: str, *, multiline: bool = False, max_length: int = 255, initial: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": max_length,
        "placeholder": plain(placeholder, 150),
    }
    if initial is not None:
        element["initial_value"] = initial
    return element


def number_input(low: int, high: int | None = None, initial: int | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": False, "min_value": str(low)}
    if high is not None:
        element["max_value"] = str(high)
    if initial is not None:
        element["initial_value"] = str(initial)
    return element


def select(options: Sequence[dict[str, Any]], initial: str | None, placeholder: str) -> dict[str, Any]:
    opts = list(options)[:MAX_OPTIONS]
    element: dict[str, Any] = {
        "type": "static_select",
        "options": opts,
        "placeholder": plain(placeholder, 150),
    }
    chosen = next((o for o in opts if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _element_value(state: Mapping[str, Any]) -> Any:
    kind = state.get("type")
    if kind == "checkboxes":
        return [o.get("value") for o in state.get("selected_options") or []]
    if "selected_option" in state:
        option = state.get("selected_option")
        return option.get("value") if isinstance(option, dict) else None
    value = state.get("value")
    return value if isinstance(value, str) else None


def state_value(values: Mapping[str, Any], block_id: str) -> Any:
    block = values.get(block_id)
    if not isinstance(block, dict):
        return None
    element = block.get(VALUE)
    return _element_value(element) if isinstance(element, dict) else None


def confirm_dialog(title: str, text: str, confirm: str, deny: str = "Cancel") -> dict[str, Any]:
    return {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain(confirm, 30),
        "deny": plain(deny, 30),
        "style": "danger",
    }


def action_button(
    action_id: str, label: str, value: str, *, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": ensure_id(action_id, "action_id"),
        "text": plain(label),
        "value": ensure_id(value, "button value"),
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button
