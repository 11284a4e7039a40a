"""``/lxc``: ack at once, parse, call a service, render (ephemeral unless it concerns the channel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import CardinalError, InputError
from bot.logs import bind_context, clear_context, new_request_id
from handlers import subcommands
from handlers.blocks.create_modal import create_modal
from handlers.blocks.help import help_message
from handlers.errors import render_error
from handlers.parsing import Create, Help, parse_command

if TYPE_CHECKING:
    from handlers.app import Services

log = structlog.get_logger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    """Attach the slash command listener."""

    @app.command(services.command_name)
    async def lxc(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        clear_context()
        bind_context(request_id=new_request_id(), slack_user=command.get("user_id"))
        try:
            cmd = parse_command(command.get("text", ""), command_name=services.command_name)
        except InputError:
            _count(services, "unknown", "usage_error")
            raise  # the error boundary answers in the ack
        name = type(cmd).__name__.lower()
        if isinstance(cmd, Help):
            _count(services, name, "ok")
            await ack(response_type="ephemeral", **help_message(services.command_name))
            return
        if isinstance(cmd, Create):
            _count(services, name, "ok")
            await ack()
            services.background.spawn(
                open_create_modal(services, client, command, cmd.preset), name="open-create-modal"
            )
            return
        await ack()
        services.background.spawn(
            _answer(services, name, subcommands.run(services, cmd, command, client), respond),
            name=f"lxc-{name}",
        )


def _count(services: Services, command: str, outcome: str) -> None:
    if services.metrics is not None:
        services.metrics.command_handled(command, outcome)


async def _answer(services: Services, name: str, work: Any, respond: AsyncRespond) -> None:
    """Run a command's work and send its answer (or the error) through ``response_url``."""
    try:
        message = await work
    except Exception as exc:
        _count(services, name, "refused" if isinstance(exc, CardinalError) else "error")
        text, error_blocks, ref = render_error(exc)
        if ref is not None:
            log.error("command.failed", ref=ref, exc_info=exc)
        await respond(response_type="ephemeral", text=text, blocks=error_blocks, replace_original=False)
        return
    _count(services, name, "ok")
    if message is not None:
        await respond(replace_original=False, **message)


async def open_create_modal(
    services: Services, client: AsyncWebClient, command: dict[str, Any], preset: str | None
) -> None:
    """Open the modal at once (the trigger id lives 3 s), then fill templates and nodes."""
    metadata = services.seal.seal({"channel": command["channel_id"]})
    view = create_modal(services.policy, templates=None, preset=preset, metadata=metadata)
    opened = await client.views_open(trigger_id=command["trigger_id"], view=view)
    view_id, view_hash = opened["view"]["id"], opened["view"]["hash"]
    services.background.spawn(
        _fill_create_modal(services, client, view_id, view_hash, preset, metadata), name="fill-create-modal"
    )


async def _fill_create_modal(
    services: Services,
    client: AsyncWebClient,
    view_id: str,
    view_hash: str,
    preset: str | None,
    metadata: dict[str, Any],
) -> None:
    choices = await services.requests.create_choices()
    view = create_modal(
        services.policy,
        templates=list(choices.templates),
        nodes=list(choices.nodes),
        template_nodes={v: label for v in choices.templates if (label := choices.holders_label(v))},
        preset=preset,
        metadata=metadata,
    )
    await client.views_update(view_id=view_id, hash=view_hash, view=view)
