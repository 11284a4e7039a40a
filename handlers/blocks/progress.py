"""A request's thread: the root message with its progress line, and the results posted under it.

Ready (addresses, ssh line, UI link), failed or timed out (error and the task log's tail), and a day-2
task that went well.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.db.audit import SYSTEM_ACTOR
from bot.db.enums import RequestState
from bot.events import ContainerLine, ContainerReady, RequestSummary, TaskFailed, TaskSucceeded
from handlers.blocks.kit import (
    MAX_MESSAGE_CHARS,
    MAX_SECTION_TEXT,
    STATE_EMOJI,
    STATE_LABEL,
    Block,
    Message,
    clip,
    context,
    escape,
    fields,
    lines_to_sections,
    link,
    mention,
    message,
    section,
    slack_date,
)
from handlers.blocks.summary import request_fields, request_names, request_title

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
        section(f"{emoji} *{label}*: {request_names(summary)} for {who}"),
        context(progress_line(state)),
        request_fields(summary),
    ]
    if summary.decided_by == SYSTEM_ACTOR:
        blocks.append(context("Approved automatically: within the policy's auto-approval rules"))
    elif summary.decided_by:
        verb = "Denied" if state == RequestState.DENIED else "Approved"
        line = f"{verb} by {mention(summary.decided_by)}"
        if summary.decision_reason:
            line += f"\n> {escape(clip(summary.decision_reason, 1000))}"
        blocks.append(section(line))
    if summary.containers:
        lines = [_container_line(c) for c in summary.containers]
        sections, left = lines_to_sections(lines, max_sections=10, budget=MAX_MESSAGE_CHARS // 3)
        blocks += sections
        if left:
            blocks.append(context(f"… and {left} more container(s) not shown."))
    blocks.append(
        context(f"Request `{escape(clip(summary.request_id, 100))}` · updates follow in this thread")
    )
    return message(f"{emoji} {label}: {escape(request_title(summary))} for {who}", blocks)


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
        ("Proxmox", link(event.ui_url, "Open in the Proxmox UI")),
    ]
    if event.expires_at is not None:
        pairs.append(("Expires", slack_date(event.expires_at)))
    blocks: list[Block] = [section(f"{STATE_EMOJI['ready']} *{host}* is ready."), fields(pairs)]
    if target is not None:
        blocks.append(section(f"```ssh root@{escape(clip(target, 100))}```"))
    notes = [escape(clip(event.note, 1000))] if event.note else []
    if target is None and not event.note:
        notes.append(f"No address yet; `/lxc ip {event.vmid}` looks again.")
    if event.request_id:
        notes.append(f"Request `{escape(clip(event.request_id, 100))}`")
    if notes:
        blocks.append(context(*notes))
    ssh = f" — ssh root@{escape(clip(target, 100))}" if target else ""
    return message(f"{STATE_EMOJI['ready']} {host} is ready (vmid {event.vmid}){ssh}", blocks)


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
    blocks: list[Block] = [section(f"{head}\n{escape(clip(event.error, 1500))}")]
    tail = [escape(clip(line, 300)) for line in list(event.log_tail)[-keep_lines:]]
    budget = MAX_SECTION_TEXT - 60
    while tail and sum(len(t) + 1 for t in tail) > budget:
        tail.pop(0)
    if tail:
        if len(tail) < len(event.log_tail):
            tail.insert(0, "…")
        blocks.append(section("*Last lines of the task log*\n```" + "\n".join(tail) + "```"))
    notes = []
    if event.upid:
        notes.append(f"Task `{escape(clip(event.upid, 300))}`")
    if event.request_id:
        notes.append(f"Request `{escape(clip(event.request_id, 100))}`")
    if notes:
        blocks.append(context(" · ".join(notes)))
    return message(f"{emoji} {what} {verb}: {escape(clip(event.error, 500))}", blocks)


def task_succeeded(event: TaskSucceeded) -> Message:
    """A day-2 task (start, stop, reboot, destroy…) finished well: what, where, and who asked."""
    line = f"✅ *{_what(event.action, event.vmid)}* done on {escape(clip(event.node, 100))}"
    blocks: list[Block] = [section(f"{line} (by {mention(event.actor)})")]
    if event.detail:
        blocks.append(context(escape(clip(event.detail, 1500))))
    return message(f"✅ {_what(event.action, event.vmid)} done on {escape(clip(event.node, 100))}", blocks)
