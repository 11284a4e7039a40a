"""Modal submissions: the create form (validated before the ack) and the deny reason."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.request_form import FormErrors
from handlers import create_options
from handlers.actions import approval_id_of, tell_clicker
from handlers.blocks.approval import read_deny_reason
from handlers.blocks.create_modal import (
    TEMPLATE_UNAVAILABLE_BLOCK,
    advanced_open,
    read_advanced_submission,
    read_create_submission,
    read_private_metadata,
)
from handlers.blocks.ids import CALLBACK_CREATE, CALLBACK_DENY_REASON
from handlers.errors import answer_failures
from handlers.forms import form_from_submission
from handlers.services import Services

#: Slack waits 3 s for the ack; validation that reads Proxmox must finish well within that.
VALIDATION_BUDGET = 2.0


def register(app: AsyncApp, services: Services) -> None:
    """Attach the view submission listeners (and the create modal's "More options" button)."""
    create_options.register(app, services)

    @app.view(CALLBACK_CREATE)
    async def create_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = body["user"]["id"]
        meta = services.seal.open(read_private_metadata(view.get("private_metadata", "")))
        raw = read_create_submission(view["state"]["values"])
        extra = read_advanced_submission(view["state"]["values"]) if advanced_open(view) else None
        try:
            form = form_from_submission(raw, extra)
            valid = await asyncio.wait_for(services.requests.validate(form, user), VALIDATION_BUDGET)
        except FormErrors as exc:
            await ack(response_action="errors", errors=_on_blocks(exc.errors, view))
            return
        except TimeoutError:
            late = {"hostname": "Cardinal could not check this in time; please press Request again."}
            await ack(response_action="errors", errors=_on_blocks(late, view))
            return
        await ack()
        submitted = services.requests.submit(valid, requester=user, channel=str(meta["channel"]))
        work = services.home.run_then_refresh(
            user, answer_failures(submitted, body, respond=None, client=client), approvers=True
        )
        services.background.spawn(work, name="submit-request")

    @app.view(CALLBACK_DENY_REASON)
    async def deny_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = body["user"]["id"]
        meta = services.seal.open(read_private_metadata(view.get("private_metadata", "")))
        approval_id = approval_id_of(str(meta.get("approval_id", "")))
        reason = read_deny_reason(view["state"]["values"])
        if not reason:
            await ack(response_action="errors", errors={"reason": "Say why, so the requester knows."})
            return
        await ack()

        async def deny() -> None:
            try:
                decision = await services.requests.decide(
                    approval_id, clicker=user, approve=False, reason=reason
                )
            finally:
                services.home.refresh_after_decision(approval_id, user)
            if not decision.applied:
                await tell_clicker(client, meta.get("channel"), user, decision.message)

        work = answer_failures(deny(), body, respond=None, client=client)
        services.background.spawn(work, name="deny-request")


#: Where an error about a field goes when the field's own block is not in the view: the template input is
#: ``template_unavailable`` while the list is loading or empty.
_STAND_INS = {"template": TEMPLATE_UNAVAILABLE_BLOCK}


def _on_blocks(errors: dict[str, str], view: dict[str, Any]) -> dict[str, str]:
    """Put each error on an input block of ``view`` — its field's block, or the hostname at the top.

    Slack rejects the whole answer if a key is not the block_id of an input block in the view
    (docs.slack.dev/surfaces/modals, "Displaying errors in views"), so the keys come from the view.
    """
    present = [
        str(b["block_id"]) for b in view.get("blocks", []) if b.get("type") == "input" and b.get("block_id")
    ]
    fallback = "hostname" if "hostname" in present else (present[0] if present else "hostname")
    out: dict[str, str] = {}
    for field, message in errors.items():
        block = field if field in present else _STAND_INS.get(field, fallback)
        block = block if block in present else fallback
        out[block] = message if block not in out else f"{out[block]}; {message}"
    return out
