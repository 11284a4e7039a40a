"""What a finished ledger row says to people, stored as JSON in ``tracked_task.result``.

The outcome of a task is written *before* anything is posted, in the same transaction as the state
change, so a crash between finishing and posting loses nothing: the sweep re-claims the row (final, not
notified) and rebuilds the very same event from the stored result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.db import Task
from bot.db.enums import TaskKind
from bot.events import ContainerReady, Event, Notice, TaskFailed, TaskSucceeded
from bot.proxmox.upid import Upid, UpidError
from bot.tracker.kinds import PROVISIONING_KINDS, action_word

READY = "ready"
FAILED = "failed"
SUCCEEDED = "succeeded"
HANDOFF = "handoff"

LOG_TAIL_LINES = 20


def ready(hostname: str, ips: list[str], note: str | None, expires_at: str | None) -> dict[str, Any]:
    """A container is up: its addresses (maybe none yet, with a note)."""
    return {"event": READY, "hostname": hostname, "ips": ips, "note": note, "expires_at": expires_at}


def failed(action: str, error: str, log_tail: list[str], *, timed_out: bool = False) -> dict[str, Any]:
    """A task failed or timed out; ``log_tail`` is the end of its Proxmox task log."""
    return {
        "event": FAILED,
        "action": action,
        "error": error,
        "log_tail": log_tail[-LOG_TAIL_LINES:],
        "timed_out": timed_out,
    }


def succeeded(action: str, detail: str = "") -> dict[str, Any]:
    """A day-2 task finished well."""
    return {"event": SUCCEEDED, "action": action, "detail": detail}


def handoff(next_kind: str) -> dict[str, Any]:
    """The row's work continues in a new row of ``next_kind``; nothing to tell anyone."""
    return {"event": HANDOFF, "next": next_kind}


def final_key(task: Task) -> str:
    """The outbox key of the row's final message.

    Provisioning rows share one key per container *and request* (``container:<vmid>:final:<request>``):
    exactly one final message per container, while a VMID reused by a later request still gets its own.
    """
    if task.kind in PROVISIONING_KINDS and task.request_id is not None and task.vmid is not None:
        return f"container:{task.vmid}:final:{task.request_id}"
    return f"task:{task.id}:final"


def ui_link(ui_url: str, vmid: int) -> str:
    """Deep link to the container in the Proxmox web UI."""
    return f"{ui_url.rstrip('/')}/#v1:0:=lxc%2F{vmid}"


def _expiry(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _hostname(task: Task) -> str | None:
    """The container's hostname, from the row's result or its creation parameters."""
    name = (task.result or {}).get("hostname")
    if isinstance(name, str) and name:
        return name
    return task.params.hostname if task.params is not None and task.params.hostname else None


def event_of(task: Task, *, ui_url: str) -> Event | None:
    """The final message of a finished row, or ``None`` when it has nothing to say (a hand-off)."""
    result = task.result or {}
    kind = result.get("event")
    vmid = task.vmid
    if kind == READY and vmid is not None:
        return ContainerReady(
            request_id=task.request_id,
            hostname=str(result.get("hostname", "")),
            vmid=vmid,
            node=task.node,
            ips=tuple(str(ip) for ip in result.get("ips") or ()),
            ui_url=ui_link(ui_url, vmid),
            expires_at=_expiry(result.get("expires_at")),
            note=result.get("note"),
        )
    if kind == FAILED:
        return TaskFailed(
            request_id=task.request_id,
            action=str(result.get("action") or action_word(task.kind)),
            vmid=vmid,
            node=task.node,
            error=str(result.get("error") or task.error or "unknown error"),
            log_tail=tuple(str(line) for line in result.get("log_tail") or ()),
            upid=task.upid,
            timed_out=bool(result.get("timed_out")),
            hostname=_hostname(task),
        )
    if kind == SUCCEEDED and vmid is not None:
        return TaskSucceeded(
            action=str(result.get("action") or task.kind),
            vmid=vmid,
            node=task.node,
            actor=task.actor or "cardinal",
            detail=str(result.get("detail") or ""),
        )
    if kind == SUCCEEDED and task.kind == TaskKind.DOWNLOAD:
        return Notice(f"✅ `{_downloaded(task)}` downloaded on {task.node}.")
    return None


def _downloaded(task: Task) -> str:
    """The template a ``download`` task fetched: the UPID's id (``fork_worker('download', $template…)``
    in pve-manager ``API2/Nodes.pm``)."""
    try:
        return Upid.parse(task.upid or "").id or "the template"
    except UpidError:
        return "the template"
