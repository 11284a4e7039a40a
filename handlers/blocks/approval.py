"""Approval cards and what the people involved hear about them.

The create request's card for the approval channel and the deny-reason modal; the day-2 approval cards
(destroy, resize beyond quota) with what the requester hears when they were sent and when one was decided.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.containers.results import DestroyPlan, ResizePlan
from bot.db.enums import RequestState
from bot.events import ActionApprovalCard, ActionDecided, ApprovalCard, RequestSummary
from handlers.blocks.containers import destroy_dialog
from handlers.blocks.day2 import resize_changes
from handlers.blocks.ids import (
    ACTION_APPROVE,
    ACTION_DENY,
    ACTION_DESTROY_APPROVE,
    ACTION_DESTROY_DENY,
    ACTION_RESIZE_APPROVE,
    ACTION_RESIZE_DENY,
    APPROVAL_ACTIONS_BLOCK,
    CALLBACK_DENY_REASON,
    DESTROY_APPROVAL_BLOCK,
    RESIZE_APPROVAL_BLOCK,
)
from handlers.blocks.kit import (
    MAX_SECTION_TEXT,
    STATE_EMOJI,
    Block,
    Message,
    action_button,
    clip,
    context,
    ensure_id,
    escape,
    header,
    input_block,
    lines_to_sections,
    mention,
    message,
    plain,
    safe_mrkdwn,
    section,
    slack_date,
    state_value,
    text_input,
)
from handlers.blocks.summary import request_fields, request_names, request_title

CHECK_OK, CHECK_FAIL = "✓", "✗"


def _purpose(req: RequestSummary) -> Block:
    text = escape(req.purpose.strip()) or "_no purpose given_"
    return section("*Purpose*\n" + clip(text, MAX_SECTION_TEXT - 20))


def _approval_buttons(approval_id: str) -> Block:
    return {
        "type": "actions",
        "block_id": APPROVAL_ACTIONS_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": ACTION_APPROVE,
                "text": plain("Approve"),
                "style": "primary",
                "value": approval_id,
            },
            {
                "type": "button",
                "action_id": ACTION_DENY,
                "text": plain("Deny"),
                "style": "danger",
                "value": approval_id,
            },
        ],
    }


def approval_card(card: ApprovalCard) -> Message:
    """The approval card for the approval channel.

    Pending (``card.decided_by`` unset): Approve (primary) and Deny (danger) buttons whose ``value`` is
    only ``card.approval_id``. Decided: who decided, when, the reason, and no buttons. ValueError when
    the approval id could not round-trip through a button value.
    """
    ensure_id(card.approval_id, "approval_id")
    req = card.summary
    lines = [
        f"{CHECK_OK if c.ok else CHECK_FAIL} {escape(c.name)}"
        + (f" — {escape(c.detail)}" if c.detail else "")
        for c in card.preflight
    ]
    blocks: list[Block] = [
        header(f"Approval: {request_title(req)}"),
        section(f"{mention(req.requester)} asks for {request_names(req)}."),
        request_fields(req),
        _purpose(req),
    ]
    if lines or card.decided_by is None:
        checks, left = lines_to_sections(lines, max_sections=1, budget=MAX_SECTION_TEXT - 100)
        text = checks[0]["text"]["text"] if checks else "_no checks ran_"
        if left:
            text += f"\n… and {left} more check(s)"
        blocks.append(section("*Pre-flight*\n" + text))
    if card.decided_by is None:
        blocks.append(_approval_buttons(card.approval_id))
        fallback = f"Approval needed: {escape(request_title(req))} for {mention(req.requester)}"
    else:
        verb = "Decided" if card.approved is None else "Approved" if card.approved else "Denied"
        emoji = {"Approved": STATE_EMOJI["ready"], "Denied": STATE_EMOJI["denied"]}.get(verb, "☑️")
        line = f"{emoji} {verb} by {mention(card.decided_by)}"
        if card.decided_at is not None:
            line += f" {slack_date(card.decided_at)}"
        if card.reason:
            line += f"\n> {escape(clip(card.reason, 1000))}"
        blocks.append(section(line))
        fallback = f"{verb}: {escape(request_title(req))} for {mention(req.requester)}"
    notes = [f"Request `{escape(clip(req.request_id, 100))}`"]
    if req.requested_at is not None:
        notes.append(f"requested {slack_date(req.requested_at)}")
    if not all(c.ok for c in card.preflight):
        notes.append(f"{CHECK_FAIL} some pre-flight checks failed")
    blocks.append(context(" · ".join(notes)))
    return message(fallback, blocks)


def deny_reason_modal(approval_id: str, hostname: str) -> dict[str, Any]:
    """The modal asking an approver why they deny (callback ``lxc_deny_reason``; metadata has the id)."""
    ensure_id(approval_id, "approval_id")
    return {
        "type": "modal",
        "callback_id": CALLBACK_DENY_REASON,
        "title": plain("Deny request", 24),
        "submit": plain("Deny", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"approval_id": approval_id}, separators=(",", ":")),
        "blocks": [
            section(f"Deny the request for `{escape(clip(hostname, 200))}`? The requester sees your reason."),
            input_block("reason", "Reason", text_input("Why not?", multiline=True, max_length=500)),
        ],
    }


def read_deny_reason(view_state_values: Mapping[str, Any]) -> str | None:
    """The reason typed in the deny modal, stripped; ``None`` when empty."""
    value = state_value(view_state_values, "reason")
    return value.strip() or None if isinstance(value, str) else None


def destroy_approval_card(
    plan: DestroyPlan,
    approval_id: str,
    *,
    decided_by: str | None = None,
    approved: bool | None = None,
    note: str | None = None,
) -> Message:
    """The card approvers see when a non-owner asks to destroy a container.

    Pending: *Approve destroy* (danger, with a confirmation) and *Deny*, both valued ``approval_id`` (the
    approval record; nothing else travels in the button). Decided (``decided_by`` set): who decided, no
    buttons. ``note`` (e.g. a failure) is shown below.
    """
    host = escape(clip(plan.hostname, 63))
    blocks: list[Block] = [
        header(f"Destroy approval: {clip(plan.hostname, 63)} ({plan.vmid})"),
        section(
            f"{mention(plan.requested_by)} asks to destroy `{host}` ({plan.vmid}) on "
            f"{escape(clip(plan.node, 100))}, owned by {mention(plan.owner)}. Its disks will be deleted."
        ),
    ]
    approve = action_button(
        ACTION_DESTROY_APPROVE,
        "Approve destroy",
        approval_id,
        style="danger",
        confirm=destroy_dialog(clip(plan.hostname, 63), plan.vmid),
    )
    deny = action_button(ACTION_DESTROY_DENY, "Deny", approval_id)
    buttons: Block = {"type": "actions", "block_id": DESTROY_APPROVAL_BLOCK, "elements": [approve, deny]}
    subject = f"{host} ({plan.vmid})"
    return _approval_card(blocks, buttons, "Destroy", subject, plan.requested_by, decided_by, approved, note)


def _approval_card(
    blocks: list[Block],
    buttons: Block,
    kind: str,
    subject: str,
    requested_by: str,
    decided_by: str | None,
    approved: bool | None,
    note: str | None,
) -> Message:
    """The end of an approval card (destroy, resize): ``buttons`` while pending, else who decided;
    then ``note``."""
    if decided_by is None:
        blocks.append(buttons)
        fallback = f"{kind} approval needed: {subject} for {mention(requested_by)}"
    else:
        verb = "Approved" if approved else "Denied"
        emoji = STATE_EMOJI[RequestState.READY] if approved else STATE_EMOJI[RequestState.DENIED]
        blocks.append(section(f"{emoji} {verb} by {mention(decided_by)}"))
        fallback = f"{kind} of {subject} {verb.lower()} by {mention(decided_by)}"
    if note:
        blocks.append(context(safe_mrkdwn(clip(note, 1000))))
    return message(fallback, blocks)


def _approval_channel_ref(channel: str) -> str:
    """``channel`` as a Slack channel link, or "the approval channel" when it is not a channel id."""
    return f"<#{channel}>" if re.fullmatch(r"[CG][A-Z0-9]{2,30}", channel) else "the approval channel"


def destroy_asked(plan: DestroyPlan, channel: str) -> Message:
    """A non-owner's confirmed destroy: the approvers were asked in ``channel``."""
    where = _approval_channel_ref(channel)
    text = (
        f"📨 Asked the approvers to destroy {escape(clip(plan.hostname, 63))} ({plan.vmid}) in {where}. "
        "You'll hear back when one decides."
    )
    return message(text, [section(text)])


def destroy_decision(plan: DestroyPlan, decided_by: str, *, approved: bool) -> Message:
    """What the requester hears when an approver decided their destroy request."""
    name = f"{escape(clip(plan.hostname, 63))} ({plan.vmid})"
    text = (
        f"✅ {mention(decided_by)} approved destroying {name}; it is being destroyed."
        if approved
        else f"🚫 {mention(decided_by)} denied destroying {name}."
    )
    return message(text, [section(text)])


def resize_approval_card(
    plan: ResizePlan,
    approval_id: str,
    *,
    decided_by: str | None = None,
    approved: bool | None = None,
    note: str | None = None,
) -> Message:
    """The card approvers see when a resize goes beyond the owner's quota: before → after and why.

    Pending: *Approve resize* and *Deny*, both valued ``approval_id`` (the approval record). Decided: who
    decided, no buttons.
    """
    host = escape(clip(plan.hostname, 63))
    changes = "\n".join(f"• {line}" for line in resize_changes(plan))
    blocks: list[Block] = [
        header(f"Resize approval: {clip(plan.hostname, 63)} ({plan.vmid})"),
        section(
            f"{mention(plan.requested_by)} asks to resize `{host}` ({plan.vmid}) on "
            f"{escape(clip(plan.node, 100))}, owned by {mention(plan.owner)}:\n{changes}"
        ),
    ]
    if plan.reason:
        blocks.append(context(f"Beyond quota: {escape(clip(plan.reason, 500))}"))
    approve = action_button(ACTION_RESIZE_APPROVE, "Approve resize", approval_id, style="primary")
    deny = action_button(ACTION_RESIZE_DENY, "Deny", approval_id)
    buttons: Block = {"type": "actions", "block_id": RESIZE_APPROVAL_BLOCK, "elements": [approve, deny]}
    subject = f"{host} ({plan.vmid})"
    return _approval_card(blocks, buttons, "Resize", subject, plan.requested_by, decided_by, approved, note)


def resize_asked(plan: ResizePlan, channel: str) -> Message:
    """A resize beyond quota: the approvers were asked in ``channel``."""
    where = _approval_channel_ref(channel)
    text = (
        f"📨 Resizing {escape(clip(plan.hostname, 63))} ({plan.vmid}) goes beyond the quota "
        f"({escape(clip(plan.reason or '', 300))}). Asked the approvers in {where}; "
        "you'll hear back when one decides."
    )
    return message(text, [section(text)])


def resize_decision(plan: ResizePlan, decided_by: str, *, approved: bool) -> Message:
    """What the requester hears when an approver decided their resize request."""
    name = f"{escape(clip(plan.hostname, 63))} ({plan.vmid})"
    changes = "; ".join(resize_changes(plan))
    text = (
        f"✅ {mention(decided_by)} approved resizing {name} ({changes}); it is being applied."
        if approved
        else f"🚫 {mention(decided_by)} denied resizing {name} ({changes})."
    )
    return message(text, [section(text)])


def action_approval_card(event: ActionApprovalCard) -> Message:
    """A day-2 approval card (destroy or resize, by the plan), pending or decided."""
    by, ok, note = event.decided_by, event.approved, event.note
    if isinstance(event.plan, DestroyPlan):
        return destroy_approval_card(event.plan, event.approval_id, decided_by=by, approved=ok, note=note)
    return resize_approval_card(event.plan, event.approval_id, decided_by=by, approved=ok, note=note)


def action_decision(event: ActionDecided) -> Message:
    """What the requester of a day-2 action hears when an approver decided it."""
    if isinstance(event.plan, DestroyPlan):
        return destroy_decision(event.plan, event.decided_by, approved=event.approved)
    return resize_decision(event.plan, event.decided_by, approved=event.approved)
