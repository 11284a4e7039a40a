"""The read-only lists: ``/lxc templates``, ``/lxc tasks`` and ``/lxc audit``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.containers.views import TaskView, TemplateList
from bot.db.records import AuditEvent
from handlers.blocks.create_modal import template_label
from handlers.blocks.kit import (
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_CHARS,
    Block,
    Message,
    clip,
    context,
    escape,
    header,
    lines_to_sections,
    mention,
    message,
    section,
    slack_date,
)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f" · {n / 1024**2:.0f} MiB" if n < 1024**3 else f" · {n / 1024**3:.1f} GiB"


def templates_list(templates: TemplateList) -> Message:
    """``/lxc templates``: templates on the template storage, then downloadable ones."""
    storage = escape(clip(templates.storage, 100))
    blocks: list[Block] = [
        header(f"Templates on {clip(templates.storage, 100)}"),
        context(f"Node {escape(clip(templates.node, 100))}"),
    ]
    have = [
        f"• `{escape(clip(template_label(t.volid or t.name), 200))}`{_size(t.size_bytes)}"
        + (f" · on {escape(clip(', '.join(t.nodes), 200))}" if t.nodes else "")
        for t in templates.available
    ] or ["_none yet_"]
    sections, left = lines_to_sections(have, max_sections=20, budget=MAX_MESSAGE_CHARS // 3)
    blocks += sections
    if left:
        blocks.append(context(f"… and {left} more on {storage}."))
    if templates.downloadable:
        blocks.append(section("*Downloadable* (an operator can fetch these)"))
        more = [
            f"• `{escape(clip(t.name, 200))}`"
            + (f" — {escape(clip(t.description, 80))}" if t.description else "")
            for t in templates.downloadable
        ]
        sections, left = lines_to_sections(more, max_sections=20, budget=MAX_MESSAGE_CHARS // 3)
        blocks += sections
        if left:
            blocks.append(context(f"… and {left} more downloadable."))
    return message(f"{len(templates.available)} template(s) on {storage}", blocks)


def tasks_list(tasks: Sequence[TaskView]) -> Message:
    """``/lxc tasks``: pending and recent Proxmox tasks Cardinal tracks, in the order given."""
    if not tasks:
        return message("No tasks", [header("Tasks"), section("No pending or recent tasks.")])
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
    sections, left = lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 3)
    blocks = [header(f"Tasks ({len(tasks)})"), *sections]
    if left:
        blocks.append(context(f"… and {left} older task(s) not shown."))
    running = sum(t.state == "running" for t in tasks)
    return message(f"Tasks: {running} running, {len(tasks) - running} finished", blocks)


def _detail_text(detail: Mapping[str, Any]) -> str:
    parts = []
    for key, value in list(detail.items())[:6]:
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
        parts.append(f"{escape(clip(str(key), 40))}={escape(clip(shown, 80))}")
    return " ".join(parts)


def audit_list(events: Sequence[AuditEvent], *, title: str = "Audit") -> Message:
    """``/lxc audit``: recent audit events, newest first as given (when, who, what, which container)."""
    if not events:
        return message(f"{title}: none", [header(title), section("No audit events.")])
    lines = []
    for e in events:
        line = f"{slack_date(e.at)} · {mention(e.actor)} · `{escape(clip(e.action, 60))}`"
        if e.vmid is not None:
            line += f" · CT {e.vmid}"
        if e.detail:
            line += f" · {_detail_text(e.detail)}"
        lines.append(line)
    sections, left = lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 3)
    blocks = [header(f"{title} ({len(events)})"), *sections]
    if left:
        blocks.append(context(f"… and {left} older event(s) not shown."))
    return message(f"{title}: {len(events)} event(s)", blocks)
