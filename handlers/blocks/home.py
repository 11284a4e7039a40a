"""The App Home tab: a pure builder from plain data to a ``home`` view (no I/O, no Slack client).

The tab shows the person's containers (state, node, IP, expiry and quick actions) and, for approvers, the
pending approvals with their age and the same Approve / Deny buttons as the approval card. Every button
reuses the action ids and value formats of the message buttons, so the same listeners handle a click
wherever it came from: power buttons ``lxc_power.<action>`` with ``"<vmid>:<action>"``, Extend
``lxc_extend`` with ``"<vmid>:<duration>"``, Approve / Deny with only the approval id. Buttons carry
ids only, never a decision or a right: the listeners authorize the clicker at click time.

A Home tab holds at most 100 blocks; long lists are cut and the view says how many were left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.containers.views import ContainerView
from bot.db.records import PendingApproval
from bot.expiry import EXTEND_BY
from handlers.blocks.containers import bare_ip, expiry, power_button
from handlers.blocks.digest import age
from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY, ACTION_EXTEND
from handlers.blocks.kit import (
    MAX_VIEW_BLOCKS,
    STATUS_EMOJI,
    Block,
    action_button,
    clip,
    context,
    divider,
    escape,
    header,
    mention,
    section,
    slack_date,
)

__all__ = [
    "HOME_APPROVAL_BLOCK_PREFIX",
    "HOME_CONTAINER_BLOCK_PREFIX",
    "MAX_HOME_APPROVALS",
    "home_view",
]

#: Block ids of the per-item action rows (block ids must be unique within a view).
HOME_CONTAINER_BLOCK_PREFIX = "home_ct_"
HOME_APPROVAL_BLOCK_PREFIX = "home_ap_"
#: Approvals shown at most when there are also containers to show (the rest of the budget is theirs).
MAX_HOME_APPROVALS = 20
#: Blocks that are not per item: two headers, two "… more" notes, the Proxmox note, the footer.
_FIXED_BLOCKS = 7
#: Each item takes a section and an actions row.
_PER_ITEM = 2


def _container_text(c: ContainerView, now: datetime) -> str:
    ip = f"`{escape(clip(bare_ip(c.ips[0]), 60))}`" if c.ips else "no IP yet"
    more = f" (+{len(c.ips) - 1})" if len(c.ips) > 1 else ""
    state = escape(clip(c.status, 30)) + ("" if c.live else " _(last known)_")
    return (
        f"{STATUS_EMOJI.get(c.status, '⚪')} *{escape(clip(c.hostname, 63))}* ({c.vmid})\n"
        f"{state} · {escape(clip(c.node, 60))} · {ip}{more} · {expiry(c.expires_at, now)}"
    )


def _container_actions(c: ContainerView) -> Block | None:
    buttons = []
    if c.live and c.status == "running":
        buttons += [power_button(c.vmid, "stop"), power_button(c.vmid, "reboot")]
    elif c.live and c.status == "stopped":
        buttons.append(power_button(c.vmid, "start"))
    if c.status != "missing":
        buttons.append(action_button(ACTION_EXTEND, f"Extend {EXTEND_BY}", f"{c.vmid}:{EXTEND_BY}"))
    if not buttons:
        return None
    return {"type": "actions", "block_id": f"{HOME_CONTAINER_BLOCK_PREFIX}{c.vmid}", "elements": buttons}


def _hostnames(p: PendingApproval) -> str:
    names = p.request.spec.hostnames
    shown = [f"`{escape(clip(h, 63))}`" for h in names]
    return ", ".join(shown) if len(shown) <= 2 else f"{len(shown)} × {shown[0]} … {shown[-1]}"


def _size(p: PendingApproval) -> str:
    spec = p.request.spec
    size = f"{spec.cores} vCPU · {spec.memory_mib} MiB · {spec.disk_gib} GiB"
    size += "".join(f" + {mp.size_gib} GiB {escape(clip(mp.path, 100))}" for mp in spec.mountpoints[:8])
    if len(spec.nets) > 1:
        size += f" · {len(spec.nets)} interfaces"
    return size


def _approval_text(p: PendingApproval) -> str:
    req = p.request
    line = f"⏳ {mention(req.requester)} asks for {_hostnames(p)}"
    size = _size(p)
    if size:
        line += f" ({size})"
    line += f"\nwaiting {age(max(p.age, timedelta(0)))} · requested {slack_date(p.approval.created_at)}"
    purpose = " ".join(req.purpose.split())
    if purpose:
        line += f"\n_{escape(clip(purpose, 200))}_"
    return line


def _approval_actions(p: PendingApproval) -> Block:
    approval_id = p.approval.id
    return {
        "type": "actions",
        "block_id": f"{HOME_APPROVAL_BLOCK_PREFIX}{clip(approval_id, 200)}",
        "elements": [
            action_button(ACTION_APPROVE, "Approve", approval_id, style="primary"),
            action_button(ACTION_DENY, "Deny", approval_id, style="danger"),
        ],
    }


def _budgets(n_containers: int, n_approvals: int) -> tuple[int, int]:
    """How many containers and approvals fit, sharing what the 100 blocks leave for items."""
    items = (MAX_VIEW_BLOCKS - _FIXED_BLOCKS) // _PER_ITEM
    approvals = min(n_approvals, MAX_HOME_APPROVALS)
    containers = min(n_containers, items - approvals)
    approvals = min(n_approvals, items - containers)
    return containers, approvals


def home_view(
    containers: Sequence[ContainerView],
    approvals: Sequence[PendingApproval],
    *,
    is_approver: bool,
    now: datetime,
    viewer: str | None = None,
) -> dict[str, object]:
    """The App Home view (``type: home``) for one person.

    ``containers`` are theirs (``ContainerService.list_containers(actor, "mine")``); ``approvals`` are the
    pending ones (shown only when ``is_approver``; the viewer's own requests get no buttons, since nobody
    approves their own). At most 100 blocks: what does not fit is counted in a note.
    """
    aware_now = now if now.tzinfo else now.replace(tzinfo=UTC)
    shown_containers, shown_approvals = _budgets(len(containers), len(approvals) if is_approver else 0)
    blocks: list[Block] = [header(f"Your containers ({len(containers)})")]
    if not containers:
        blocks.append(section("You have no containers. `/lxc create` asks for one."))
    for c in containers[:shown_containers]:
        blocks.append(section(_container_text(c, aware_now)))
        actions = _container_actions(c)
        if actions is not None:
            blocks.append(actions)
    if len(containers) > shown_containers:
        left = len(containers) - shown_containers
        blocks.append(context(f"… and {left} more; `/lxc list` shows them all."))
    if any(not c.live for c in containers):
        blocks.append(context("⚠️ Proxmox could not be asked just now; this is the last known state."))
    if is_approver:
        blocks.append(divider())
        blocks.append(header(f"Pending approvals ({len(approvals)})"))
        if not approvals:
            blocks.append(section("Nothing is waiting for a decision."))
        for p in approvals[:shown_approvals]:
            blocks.append(section(_approval_text(p)))
            if p.request.requester != viewer:
                blocks.append(_approval_actions(p))
        if len(approvals) > shown_approvals:
            left = len(approvals) - shown_approvals
            blocks.append(context(f"… and {left} more waiting; the approval channel has their cards."))
    blocks.append(context(f"Updated {slack_date(aware_now)}"))
    return {"type": "home", "callback_id": "cardinal_home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
