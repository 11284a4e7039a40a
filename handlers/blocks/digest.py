"""The digest: owners, what expires soon, pending approvals, failed tasks and capacity bars."""

from __future__ import annotations

from datetime import timedelta

from bot.events import Digest
from handlers.blocks.kit import (
    Block,
    Message,
    clip,
    context,
    escape,
    header,
    mention,
    message,
    section,
    slack_date,
)


def capacity_bar(fraction: float, width: int = 10) -> str:
    """``▓▓▓▓░░░░░░ 40%`` — a capacity bar that reads at a glance."""
    fraction = min(max(fraction, 0.0), 1.0)
    full = round(fraction * width)
    return f"`{'▓' * full}{'░' * (width - full)}` {fraction:.0%}"


def age(delta: timedelta) -> str:
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
        header("Cardinal digest"),
        context(f"{when} · {digest.container_count} container(s) · {len(digest.pending_approvals)} pending"),
    ]
    owners = [
        f"{mention(o.owner)}: {len(o.containers)} — "
        + ", ".join(f"`{escape(c.hostname)}` ({c.vmid})" for c in o.containers[:10])
        + (" …" if len(o.containers) > 10 else "")
        for o in digest.per_owner
    ]
    blocks.append(section("*Containers per owner*\n" + ("\n".join(owners) if owners else "_none_")))
    expiring = [
        f"`{escape(c.hostname)}` ({c.vmid}) of {mention(c.owner)} — expires "
        + (slack_date(c.expires_at) if c.expires_at else "?")
        for c in digest.expiring_soon
    ]
    blocks.append(section("*Expiring in the next 48 h*\n" + ("\n".join(expiring) if expiring else "_none_")))
    pending = [
        f"`{escape(p.hostname or '?')}`"
        + (f" ×{p.count}" if p.count > 1 else "")
        + f" for {mention(p.requester)} — waiting {age(p.age)}"
        for p in digest.pending_approvals
    ]
    blocks.append(section("*Pending approvals*\n" + ("\n".join(pending) if pending else "_none_")))
    failed = [
        f"{escape(t.kind)} of {t.vmid if t.vmid is not None else '?'} on {escape(t.node)}: "
        f"{escape(clip(t.error or 'failed', 200))}"
        for t in digest.failed_tasks
    ]
    blocks.append(section("*Failed tasks (24 h)*\n" + ("\n".join(failed) if failed else "_none_ ✓")))
    if digest.capacity_error:
        blocks.append(section(f"*Capacity*\n_unavailable: {escape(clip(digest.capacity_error, 300))}_"))
    else:
        rows = [
            f"*{escape(n.node)}* ({escape(n.status)})  mem {capacity_bar(n.mem_fraction)}  "
            f"disk {capacity_bar(n.disk_fraction)}"
            for n in digest.capacity
        ]
        blocks.append(section("*Capacity*\n" + ("\n".join(rows) if rows else "_no nodes_")))
    text = (
        f"Cardinal digest: {digest.container_count} containers, {len(digest.expiring_soon)} expiring soon, "
        f"{len(digest.pending_approvals)} pending approvals, {len(digest.failed_tasks)} failed tasks"
    )
    return message(text, blocks)
