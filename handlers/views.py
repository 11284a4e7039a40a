"""Modal submissions: the create form (validated before the ack) and the deny reason."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.requests import FormErrors
from handlers import blocks
from handlers.actions import approval_id_of, tell_clicker
from handlers.errors import answer_failures
from handlers.forms import form_from_submission
from handlers.services import Services

#: Slack waits 3 s for the ack; validation that reads Proxmox must finish well within that.
VALIDATION_BUDGET = 2.0


def register(app: AsyncApp, services: Services) -> None:
    """Attach the view submission listeners."""

    @app.view(blocks.CALLBACK_CREATE)
    async def create_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = body["user"]["id"]
        meta = services.seal.open(blocks.read_private_metadata(view.get("private_metadata", "")))
        raw = blocks.read_create_submission(view["state"]["values"])
        try:
            form = form_from_submission(raw)
            valid = await asyncio.wait_for(services.requests.validate(form, user), VALIDATION_BUDGET)
        except FormErrors as exc:
            await ack(response_action="errors", errors=_on_blocks(exc.errors))
            return
        except TimeoutError:
            await ack(
                response_action="errors",
                errors={"hostname": "Cardinal could not check this in time; please press Request again."},
            )
            return
        await ack()
        submitted = services.requests.submit(valid, requester=user, channel=str(meta["channel"]))
        work = services.home.run_then_refresh(
            user, answer_failures(submitted, body, respond=None, client=client), approvers=True
        )
        services.background.spawn(work, name="submit-request")

    @app.view(blocks.CALLBACK_DENY_REASON)
    async def deny_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = body["user"]["id"]
        meta = services.seal.open(blocks.read_private_metadata(view.get("private_metadata", "")))
        approval_id = approval_id_of(str(meta.get("approval_id", "")))
        reason = blocks.read_deny_reason(view["state"]["values"])
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


def _on_blocks(errors: dict[str, str]) -> dict[str, str]:
    """Put each error on a block of the modal (unknown fields go on the hostname, at the top)."""
    out: dict[str, str] = {}
    for field, message in errors.items():
        block = field if field in blocks.CREATE_FIELDS else "hostname"
        out[block] = message if block not in out else f"{out[block]}; {message}"
    return out
