"""The read-only lists: ``/lxc templates``, ``/lxc tasks`` and ``/lxc audit``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.containers.downloads import DownloadResult
from bot.containers.views import TaskView, TemplateList
from bot.db.records import AuditEvent
from handlers.blocks.create_modal import template_label
from handlers.blocks.ids import ACTION_DOWNLOAD
from handlers.blocks.kit import (
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_CHARS,
    Block,
    Message,
    action_button,
    clip,
    confirm_dialog,
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


MAX_DOWNLOAD_BUTTONS = 20
"""Downloadable templates shown with their own Download button (each a section with an accessory)."""


def templates_list(templates: TemplateList, *, can_download: bool = False) -> Message:
    """``/lxc templates``: templates on the template storage, then downloadable ones; for an approver
    (``can_download``) each of the first :data:`MAX_DOWNLOAD_BUTTONS` has a Download button that asks
    for confirmation (the click is authorised again when it arrives)."""
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
    if templates.downloadable and can_download:
        blocks.append(section("*Downloadable* (or type `/lxc download <template>`)"))
        for t in templates.downloadable[:MAX_DOWNLOAD_BUTTONS]:
            blocks.append(_download_row(t.name, t.description, templates.storage))
        left = len(templates.downloadable) - MAX_DOWNLOAD_BUTTONS
        if left > 0:
            blocks.append(context(f"… and {left} more downloadable; use `/lxc download <template>`."))
    elif templates.downloadable:
        blocks.append(section("*Downloadable* (an approver can fetch these)"))
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


def _download_row(name: str, description: str | None, storage: str) -> Block:
    text = f"`{escape(clip(name, 200))}`" + (f" — {escape(clip(description, 80))}" if description else "")
    ask = confirm_dialog(
        "Download template?",
        f"Download {clip(name, 200)} to {clip(storage, 100)} on every node that lacks it?",
        "Download",
    )
    ask["style"] = "primary"  # not destructive
    block = section(text)
    block["accessory"] = action_button(ACTION_DOWNLOAD, "Download", name, confirm=ask)
    return block


def download_started(result: DownloadResult) -> Message:
    """The answer to a download: where it runs and where its outcome will be reported."""
    where = ", ".join(result.nodes)
    follow = (
        "The outcome will be posted in the thread I started."
        if result.thread_ts is not None
        else "`/lxc tasks` shows how it goes."
    )
    text = (
        f"⬇️ Downloading `{escape(clip(result.template, 200))}` to {escape(clip(result.storage, 100))} on "
        f"{escape(clip(where, 300))}. {follow}"
    )
    return message(f"Downloading {clip(result.template, 200)}", [section(text)])


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
