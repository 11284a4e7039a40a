"""The usage message for ``/lxc help`` and the generic ephemeral error reply."""

from __future__ import annotations

from handlers.blocks.kit import Message, context, escape, header, message, safe_mrkdwn, section
from handlers.parsing import COMMANDS


def help_message(command_name: str = "/lxc") -> Message:
    """The ephemeral usage message for ``/lxc`` and ``/lxc help``."""
    lines = []
    for spec in COMMANDS:
        args = f" {escape(spec.args)}" if spec.args else ""
        lines.append(f"`{command_name} {spec.name}{args}` — {spec.summary}")
    blocks = [
        header("Cardinal: Proxmox containers from Slack"),
        section("\n".join(lines)),
        context(
            "Durations look like `3d`, `12h` or `90m`. Mention people with @ so Slack sends their id.",
        ),
    ]
    return message(f"Cardinal commands: {command_name} help", blocks)


def error_message(what: str, hint: str | None = None, ref_id: str | None = None) -> Message:
    """An ephemeral error: what happened, what to do, and a reference id for the operators if any."""
    blocks = [section(f"⚠️ {safe_mrkdwn(what)}")]
    notes = []
    if hint:
        notes.append(safe_mrkdwn(hint))
    if ref_id:
        notes.append(f"Reference: `{escape(ref_id)}` (give this to the operators)")
    if notes:
        blocks.append(context(*notes))
    text = escape(what) if not ref_id else f"{escape(what)} (ref {escape(ref_id)})"
    return message(f"⚠️ {text}", blocks)
