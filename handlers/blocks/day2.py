"""Snapshots, rollback and resize: the confirmation, the answers, and what a resize changes."""

from __future__ import annotations

from bot.containers.results import ResizePlan, ResizeResult, RollbackPlan, RollbackResult, SnapshotResult
from handlers.blocks.ids import ACTION_ROLLBACK_CONFIRM, ROLLBACK_CONFIRM_BLOCK
from handlers.blocks.kit import (
    Block,
    Message,
    action_button,
    clip,
    confirm_dialog,
    escape,
    message,
    safe_mrkdwn,
    section,
)


def snapshot_started(result: SnapshotResult) -> Message:
    """The answer to ``/lxc snapshot``: it was accepted; the outcome follows in the container's thread."""
    text = (
        f"📸 Taking snapshot `{escape(clip(result.name, 40))}` of {escape(clip(result.hostname, 63))} "
        f"({result.vmid})… I'll post the result in its thread."
    )
    return message(text, [section(text)])


def rollback_value(vmid: int, name: str) -> str:
    """The value of the rollback confirmation button: ``<vmid>:<snapshot name>``."""
    return f"{vmid}:{name}"


def rollback_confirmation(plan: RollbackPlan) -> Message:
    """``/lxc rollback``: what will happen and one danger button behind a confirmation dialog."""
    host = clip(plan.hostname, 63)
    dialog = confirm_dialog(
        f"Roll back {host}?",
        f"{host} ({plan.vmid}) goes back to snapshot {plan.name}; later changes are lost.",
        "Roll back",
    )
    button = action_button(
        ACTION_ROLLBACK_CONFIRM,
        f"Roll back to {clip(plan.name, 40)}",
        rollback_value(plan.vmid, plan.name),
        style="danger",
        confirm=dialog,
    )
    blocks: list[Block] = [
        section(f"⏪ {safe_mrkdwn(plan.confirm_text)}"),
        {"type": "actions", "block_id": ROLLBACK_CONFIRM_BLOCK, "elements": [button]},
    ]
    return message(f"Roll {escape(host)} ({plan.vmid}) back to {escape(clip(plan.name, 40))}?", blocks)


def rollback_started(result: RollbackResult) -> Message:
    """The confirmed rollback is under way (the outcome follows in the container's thread)."""
    again = " It will be started again afterwards." if result.restart else ""
    text = (
        f"⏪ Rolling {escape(clip(result.hostname, 63))} ({result.vmid}) back to "
        f"`{escape(clip(result.name, 40))}`…{again} I'll post the result in its thread."
    )
    return message(text, [section(text)])


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
    return message(text, [section(text)])
