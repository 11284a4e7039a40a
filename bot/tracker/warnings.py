"""Telling the thread when a Proxmox task succeeded with warnings.

Proxmox counts a task that ends ``WARNINGS: <n>`` as a success (pve-common ``UPID.pm``
``status_is_error``), and Cardinal continues with it — but the warnings matter: the most common one,
``Systemd N detected. You may need to enable nesting.``, means logins into the new container may hang.
Each warning is a ``WARN: <message>`` line of the task log (pve-common ``RESTEnvironment.pm`` ``warn``),
so the thread gets one post listing them, before the task's own result is posted.
"""

from __future__ import annotations

import re

import structlog

from bot.db import Task
from bot.events import Notice
from bot.outbox import OutboxBusy
from bot.proxmox import ProxmoxError, Upid
from bot.tracker.context import Ctx
from bot.tracker.kinds import action_word

log = structlog.get_logger(__name__)

WARNINGS_RE = re.compile(r"^WARNINGS: ([0-9]+)$")
LOG_LINES = 200
"""How much of the log's end is searched for ``WARN:`` lines (create logs are a few dozen lines)."""
MAX_SHOWN = 10
_NESTING_HINT = (
    "Proxmox suggests the nesting feature: an administrator can turn on Options → Features → Nesting "
    "for the container in Proxmox and restart it."
)


def warning_count(exitstatus: str | None) -> int:
    """``n`` of an exit status ``WARNINGS: n``; 0 for ``OK`` and anything else."""
    m = WARNINGS_RE.match(exitstatus or "")
    return int(m.group(1)) if m else 0


def warning_lines(log_lines: list[str]) -> list[str]:
    """The messages of the ``WARN: …`` lines of a task log, in order."""
    return [line[len("WARN:") :].strip() for line in log_lines if line.startswith("WARN:")]


def warnings_text(task: Task, count: int, messages: list[str]) -> str:
    """The thread post: what finished with how many warnings, each warning, and a hint where one helps."""
    what = f"The {action_word(task.kind)} of CT {task.vmid}" if task.vmid is not None else "A task"
    plural = "s" if count != 1 else ""
    lines = [f"⚠️ {what} finished with {count} warning{plural} from Proxmox:"]
    lines += [f"• {m}" for m in messages[:MAX_SHOWN]]
    if len(messages) > MAX_SHOWN:
        lines.append(f"… and {len(messages) - MAX_SHOWN} more in the task log")
    if not messages:
        lines.append(f"(the warning text is in the Proxmox task log {task.upid})")
    if any("enable nesting" in m for m in messages):
        lines.append(_NESTING_HINT)
    return "\n".join(lines)


def warnings_key(task: Task) -> str:
    """The outbox key of the row's warnings post (one per ledger row)."""
    return f"task:{task.id}:warnings"


async def report_warnings(ctx: Ctx, task: Task, exitstatus: str | None) -> bool:
    """Post the task's warnings in its thread when it ended ``WARNINGS: n``.

    Returns False when the row was rescheduled because the post could not be made now (the caller then
    stops; the next sweep sees the same finished task and comes back here — the outbox posts once).
    """
    count = warning_count(exitstatus)
    if count == 0 or task.channel is None:
        return True
    messages: list[str] = []
    if task.upid is not None:
        try:
            messages = warning_lines(await ctx.px.task_log_tail(Upid.parse(task.upid), LOG_LINES))
        except ProxmoxError as exc:
            log.warning("tracker.warnings_unreadable", upid=task.upid, error=str(exc))
    log.info("tracker.task_warnings", task_id=task.id, kind=task.kind, vmid=task.vmid, warnings=messages)
    try:
        await ctx.outbox.deliver(
            warnings_key(task), task.channel, task.thread_ts, Notice(warnings_text(task, count, messages))
        )
    except OutboxBusy:
        await ctx.reschedule(task, ctx.config.sweep_interval)
        return False
    except Exception as exc:  # Slack trouble of any kind: keep the row and retry later
        await ctx.retry_after_error(task, exc)
        return False
    return True
