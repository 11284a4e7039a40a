"""Buttons: Approve / Deny on approval cards (and, later, container actions)."""

from __future__ import annotations

import json
import re
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import AccessDenied
from bot.errors import InputError
from handlers.blocks.approval import deny_reason_modal
from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY
from handlers.errors import answer_failures
from handlers.services import Services

log = structlog.get_logger(__name__)

_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def approval_id_of(value: str) -> str:
    """The approval id a button or modal carried; anything else is refused (forged values)."""
    if not _ID_RE.match(value):
        raise InputError("That button no longer matches a request.", hint="Nothing was changed.")
    return value


async def tell_clicker(client: AsyncWebClient, channel: Any, user: str, text: str) -> None:
    """An ephemeral answer to whoever clicked (best effort: the click itself is already handled)."""
    if not isinstance(channel, str) or not channel:
        return
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as exc:
        log.warning("action.reply_failed", error=str(exc.response.get("error")))


def register(app: AsyncApp, services: Services) -> None:
    """Attach the button listeners. Each acks, then works in ``services.background``; a refusal or a
    failure there is answered to the clicker by :func:`handlers.errors.answer_failures`."""

    @app.action(ACTION_APPROVE)
    async def approve(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        user = body["user"]["id"]
        value = str(body["actions"][0].get("value", ""))
        channel = (body.get("channel") or {}).get("id")

        async def decide() -> None:
            # Checked here, after the ack: raising right after ack() races Bolt's ack bookkeeping.
            approval_id = approval_id_of(value)
            try:
                decision = await services.requests.decide(approval_id, clicker=user, approve=True)
            finally:
                services.home.refresh_after_decision(approval_id, user)
            if not decision.applied:
                await tell_clicker(client, channel, user, decision.message)

        work = answer_failures(decide(), body, respond=respond, client=client)
        services.background.spawn(work, name="approve-request")

    @app.action(ACTION_DENY)
    async def deny(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id")
        value = str(body["actions"][0].get("value", ""))

        async def ask_reason() -> None:
            approval_id = approval_id_of(value)
            metadata = json.dumps(
                services.seal.seal({"approval_id": approval_id, "channel": channel or ""}),
                separators=(",", ":"),
            )
            # The trigger_id dies 3 s after the click (docs/slack-platform.md §1.5): open the modal
            # before any lookup (approver groups are read from Slack), then fill in what it is about.
            modal = deny_reason_modal(approval_id, "this request")
            modal["private_metadata"] = metadata
            opened = await client.views_open(trigger_id=body["trigger_id"], view=modal)
            view = opened.get("view") or {}
            if not await services.approvers.is_approver(user):
                await _update_view(client, view, _refused_modal("Only approvers can deny requests."))
                raise AccessDenied(
                    "Only approvers can approve or deny requests.", hint="Nothing was changed."
                )
            subject = await services.requests.approval_subject(approval_id) or "this request"
            modal = deny_reason_modal(approval_id, subject)
            modal["private_metadata"] = metadata
            await _update_view(client, view, modal)

        work = answer_failures(ask_reason(), body, respond=respond, client=client)
        services.background.spawn(work, name="deny-reason-modal")


async def _update_view(client: AsyncWebClient, view: dict[str, Any], modal: dict[str, Any]) -> None:
    """Replace an open modal unless the person changed or closed it meanwhile (best effort)."""
    try:
        await client.views_update(view_id=str(view.get("id", "")), hash=view.get("hash"), view=modal)
    except SlackApiError as exc:
        log.info("action.view_not_updated", error=str(exc.response.get("error")))


def _refused_modal(text: str) -> dict[str, Any]:
    """A modal that only says ``text`` (no submit button)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Deny request"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
