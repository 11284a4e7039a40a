"""Containers: ``/lxc list``, ``/lxc status`` with its quick actions, addresses, and the answers to
power, extend and destroy.

These render :mod:`bot.containers`' own views (``ContainerView``, ``ContainerDetail``, ``DestroyPlan``,
``PowerResult``, ``ExtendResult``) directly, so there is one source of truth for their fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.containers.results import DestroyPlan, ExtendResult, PowerResult
from bot.containers.views import ContainerDetail, ContainerView
from bot.expiry import EXTEND_BY
from bot.policy import format_duration
from handlers.blocks.create_modal import template_label
from handlers.blocks.ids import (
    ACTION_DESTROY_CONFIRM,
    ACTION_EXTEND,
    ACTION_POWER,
    CONTAINER_ACTIONS_BLOCK,
    DESTROY_CONFIRM_BLOCK,
)
from handlers.blocks.kit import (
    MAX_MESSAGE_BLOCKS,
    STATUS_EMOJI,
    Block,
    Message,
    action_button,
    clip,
    confirm_dialog,
    context,
    escape,
    fields,
    header,
    lines_to_sections,
    link,
    mention,
    message,
    proxmox_ui_link,
    safe_mrkdwn,
    section,
    slack_date,
)

POWER_VERBS: dict[str, str] = {
    "start": "Starting",
    "stop": "Stopping",
    "shutdown": "Shutting down",
    "reboot": "Rebooting",
}


def _status(status: str) -> str:
    return f"{STATUS_EMOJI.get(status, '⚪')} {escape(status)}"


def expiry(when: datetime | None, now: datetime | None) -> str:
    if when is None:
        return "no expiry"
    text = f"expires {slack_date(when, '{date_short_pretty}')}"
    if now is not None:
        aware_now = now if now.tzinfo else now.replace(tzinfo=UTC)
        aware_when = when if when.tzinfo else when.replace(tzinfo=UTC)
        if aware_when <= aware_now:
            text = f"⚠️ expired {slack_date(when, '{date_short_pretty}')}"
        elif aware_when - aware_now <= timedelta(hours=24):
            text = f"⚠️ expires {slack_date(when, '{date_short_pretty} {time}')}"
    return text


def _owner(owner_id: str | None) -> str:
    return mention(owner_id) if owner_id else "unowned"


def bare_ip(ip: str) -> str:
    return ip.split("/", 1)[0]


def container_list(
    containers: Sequence[ContainerView],
    *,
    scope: Literal["mine", "all"] = "mine",
    now: datetime | None = None,
) -> Message:
    """``/lxc list``: one line per container (status, vmid, hostname, node, IP, owner, expiry).

    When Proxmox could not be asked (``live`` False) the last known state is shown and said so.
    """
    title = "Your containers" if scope == "mine" else "All containers"
    if not containers:
        empty = "You have no containers. `/lxc create` asks for one." if scope == "mine" else "No containers."
        return message(f"{title}: none", [header(title), section(empty)])
    lines = []
    for c in containers:
        ip = f"`{escape(clip(bare_ip(c.ips[0]), 60))}`" if c.ips else "no IP"
        lines.append(
            f"{STATUS_EMOJI.get(c.status, '⚪')} *{c.vmid}* `{escape(clip(c.hostname, 63))}` · "
            f"{escape(clip(c.node, 60))} · {ip} · {_owner(c.owner_id)} · {expiry(c.expires_at, now)}"
        )
    sections, left = lines_to_sections(lines, max_sections=MAX_MESSAGE_BLOCKS - 4)
    blocks = [header(f"{title} ({len(containers)})"), *sections]
    if left:
        blocks.append(
            context(f"… and {left} more not shown; `/lxc status &lt;vmid&gt;` shows one in detail.")
        )
    if any(not c.live for c in containers):
        blocks.append(context("⚠️ Proxmox could not be asked just now; this is the last known state."))
    return message(f"{title}: {len(containers)}", blocks)


def power_button(vmid: int, action: str) -> dict[str, Any]:
    """A quick-action button for ``start``/``stop``/``shutdown``/``reboot`` (value ``<vmid>:<action>``)."""
    return action_button(f"{ACTION_POWER}.{action}", action.capitalize(), f"{vmid}:{action}")


def destroy_dialog(hostname: str, vmid: int) -> dict[str, Any]:
    return confirm_dialog(
        f"Destroy {hostname}?",
        f"{hostname} ({vmid}) and its disks are deleted. This cannot be undone.",
        "Destroy",
    )


def _quick_actions(c: ContainerDetail) -> Block:
    buttons = []
    if c.status == "running":
        buttons += [power_button(c.vmid, "stop"), power_button(c.vmid, "reboot")]
    elif c.status == "stopped":
        buttons.append(power_button(c.vmid, "start"))
    buttons.append(action_button(ACTION_EXTEND, f"Extend {EXTEND_BY}", f"{c.vmid}:{EXTEND_BY}"))
    buttons.append(
        action_button(
            ACTION_DESTROY_CONFIRM,
            "Destroy",
            str(c.vmid),
            style="danger",
            confirm=destroy_dialog(clip(c.hostname, 63), c.vmid),
        )
    )
    return {"type": "actions", "block_id": CONTAINER_ACTIONS_BLOCK, "elements": buttons}


def container_status(
    c: ContainerDetail,
    *,
    ui_base_url: str = "",
    now: datetime | None = None,
    show_actions: bool = False,
) -> Message:
    """``/lxc status``: one container in detail.

    State, node, IPs, owner, expiry, size, template, uptime, lock and a link to the Proxmox UI
    (``ui_base_url`` is the UI's base, e.g. ``https://pve:8006``; no link without it). With
    ``show_actions`` (the owner or an approver is looking) quick-action buttons follow: start or
    stop/reboot, extend, destroy (with a confirmation dialog). Buttons carry only the vmid (and action).
    """
    state = _status(c.status) + ("" if c.live else " _(last known)_")
    pairs: list[tuple[str, str]] = [
        ("Status", state),
        ("Node", escape(clip(c.node, 100))),
        ("Addresses", ", ".join(f"`{escape(clip(ip, 60))}`" for ip in c.ips[:10]) or "none"),
        ("Owner", _owner(c.owner_id)),
        ("Expiry", expiry(c.expires_at, now)),
    ]
    if c.cores is not None or c.memory_mib is not None or c.disk_gib is not None:
        pairs.append(("Size", f"{c.cores or '?'} vCPU · {c.memory_mib or '?'} MiB · {c.disk_gib or '?'} GiB"))
    if c.template:
        pairs.append(("Template", f"`{escape(clip(template_label(c.template), 200))}`"))
    if c.uptime is not None:
        pairs.append(("Uptime", format_duration(c.uptime)))
    if c.lock:
        pairs.append(("Lock", f"🔒 {escape(clip(c.lock, 60))}"))
    if c.snapshots:
        names = [f"`{escape(clip(s.name, 40))}`" for s in c.snapshots[-10:]]
        more = f" (+{len(c.snapshots) - 10} older)" if len(c.snapshots) > 10 else ""
        pairs.append(("Snapshots", ", ".join(names) + more))
    if ui_base_url:
        pairs.append(("Proxmox", link(proxmox_ui_link(ui_base_url, c.vmid), "Open in the Proxmox UI")))
    blocks: list[Block] = [header(f"{c.hostname} ({c.vmid})"), fields(pairs)]
    if c.volumes or c.interfaces:
        lines = [f"*Volume* {escape(clip(v, 200))}" for v in c.volumes[:8]]
        lines += [f"*Interface* {escape(clip(n, 200))}" for n in c.interfaces[:8]]
        blocks.append(section("\n".join(lines)))
    if c.purpose:
        blocks.append(section("*Purpose*\n" + escape(clip(c.purpose, 2000))))
    if show_actions:
        blocks.append(_quick_actions(c))
    text = f"{escape(clip(c.hostname, 63))} ({c.vmid}): {escape(c.status)} on {escape(clip(c.node, 100))}"
    return message(text, blocks)


def addresses_message(vmid: int, ips: Sequence[str]) -> Message:
    """``/lxc ip``: the addresses just discovered."""
    if not ips:
        text = (
            f"No addresses found for {vmid}. If it is running on DHCP, it may not have a lease yet; "
            f"try `/lxc ip {vmid}` again in a minute."
        )
        return message(f"No addresses for {vmid}", [section(text)])
    shown = ", ".join(f"`{escape(clip(ip, 60))}`" for ip in ips[:50])
    blocks = [section(f"*Addresses of {vmid}*\n{shown}")]
    v4 = [bare_ip(ip) for ip in ips if ":" not in ip]
    if v4:
        blocks.append(section(f"```ssh root@{escape(clip(v4[0], 60))}```"))
    return message(f"Addresses of {vmid}: {', '.join(escape(clip(ip, 60)) for ip in ips[:10])}", blocks)


def power_started(result: PowerResult) -> Message:
    """The answer to a power action: it was accepted and its outcome follows in the container's thread."""
    verb = POWER_VERBS.get(result.action, result.action.capitalize())
    text = (
        f"⏳ {verb} CT {result.vmid} on {escape(clip(result.node, 100))}… I'll post the result in its thread."
    )
    return message(text, [section(text)])


def extend_result(result: ExtendResult, by: timedelta, *, actor: str | None = None) -> Message:
    """The answer to an extension: by how much and the new expiry (and a note if Proxmox lagged)."""
    who = f"{mention(actor)} extended" if actor else "Extended"
    text = (
        f"✅ {who} CT {result.vmid} by {format_duration(by)}: it now expires {slack_date(result.expires_at)}."
    )
    blocks = [section(text)]
    if result.note:
        blocks.append(context(escape(clip(result.note, 1000))))
    until = result.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    fallback = f"{who} CT {result.vmid} by {format_duration(by)} until {until}"
    return message(fallback, blocks)


def destroy_confirmation(plan: DestroyPlan) -> Message:
    """``/lxc destroy``: what will happen and one danger button behind a confirmation dialog.

    The button (``lxc_destroy_confirm``) carries only the vmid. For non-owners (``plan.needs_approval``)
    it asks the approvers instead of destroying.
    """
    host = clip(plan.hostname, 63)
    if plan.needs_approval:
        label = "Ask an approver to destroy"
        dialog = confirm_dialog(
            "Ask an approver?",
            f"An approver will be asked to destroy {host} ({plan.vmid}). Its disks will be deleted.",
            "Ask",
        )
    else:
        label = f"Destroy {host}"
        dialog = destroy_dialog(host, plan.vmid)
    button = action_button(ACTION_DESTROY_CONFIRM, label, str(plan.vmid), style="danger", confirm=dialog)
    blocks: list[Block] = [
        section(f"🗑️ {safe_mrkdwn(plan.confirm_text)}"),
        {"type": "actions", "block_id": DESTROY_CONFIRM_BLOCK, "elements": [button]},
    ]
    return message(f"Destroy {escape(host)} ({plan.vmid})?", blocks)


def destroy_started(plan: DestroyPlan, *, already_gone: bool = False) -> Message:
    """The owner's confirmed destroy: it is under way (the outcome follows in the container's thread)."""
    name = f"{escape(clip(plan.hostname, 63))} ({plan.vmid})"
    text = (
        f"🗑️ {name} was already gone from Proxmox; Cardinal has forgotten it."
        if already_gone
        else f"🗑️ Destroying {name}… I'll post the result in its thread."
    )
    return message(text, [section(text)])
