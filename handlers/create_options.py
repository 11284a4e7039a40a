"""The create modal's "More options" button: the same modal again, with its advanced part."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.create_modal import create_modal, read_private_metadata
from handlers.blocks.ids import ACTION_CREATE_MORE
from handlers.blocks.kit import state_value
from handlers.errors import answer_failures
from handlers.services import Services


def register(app: AsyncApp, services: Services) -> None:
    """Attach the "More options" listener: ack, then ``views.update`` the same modal (same block ids, so
    what the person typed stays) with the extra volume, second interface and features."""

    @app.action(ACTION_CREATE_MORE)
    async def more_options(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body.get("view") or {}

        async def expand() -> None:
            choices = await services.requests.create_choices()
            preset = state_value((view.get("state") or {}).get("values") or {}, "preset")
            modal = create_modal(
                services.policy,
                templates=list(choices.templates),
                nodes=list(choices.nodes),
                template_nodes={v: x for v in choices.templates if (x := choices.holders_label(v))},
                preset=str(preset) if preset else None,
                metadata=read_private_metadata(str(view.get("private_metadata", ""))),
                advanced=True,
            )
            await client.views_update(view_id=str(view.get("id", "")), hash=view.get("hash"), view=modal)

        work = answer_failures(expand(), body, respond=None, client=client)
        services.background.spawn(work, name="create-more-options")
