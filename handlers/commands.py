"""``/lxc``: ack at once, parse, call a service, render (ephemeral unless it concerns the channel)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import CardinalError, InputError
from bot.request_form import CreateChoices
from handlers import subcommands
from handlers.blocks.create_modal import create_modal
from handlers.blocks.help import help_message
from handlers.errors import answer_failures, report_failure
from handlers.parsing import Create, Help, parse_command
from handlers.services import Services


def register(app: AsyncApp, services: Services) -> None:
    """Attach the slash command listener."""

    @app.command(services.command_name)
    async def lxc(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
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
            opening = open_create_modal(services, client, command, respond, cmd.preset)
            services.background.spawn(
                answer_failures(opening, command, respond=respond, client=client), name="open-create-modal"
            )
            return
        await ack()
        answer = _answer(
            services, name, subcommands.run(services, cmd, command, client), command, respond, client
        )
        services.background.spawn(answer, name=f"lxc-{name}")


def _count(services: Services, command: str, outcome: str) -> None:
    services.metrics.command_handled(command, outcome)


async def _answer(
    services: Services,
    name: str,
    work: Awaitable[subcommands.Message | None],
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
) -> None:
    """Run a command's work and send its answer through ``response_url``; a failure is answered by
    :func:`handlers.errors.report_failure` (and counted)."""
    try:
        message = await work
        if message is not None:
            await respond(replace_original=False, **message)
    except Exception as exc:
        _count(services, name, "refused" if isinstance(exc, CardinalError) else "error")
        await report_failure(exc, command, respond=respond, client=client)
        return
    _count(services, name, "ok")


async def open_create_modal(
    services: Services,
    client: AsyncWebClient,
    command: dict[str, Any],
    respond: AsyncRespond,
    preset: str | None,
) -> None:
    """Open the modal with its templates and nodes when Cardinal knows them already (its short-lived
    copies of ``/nodes`` and the template storages are fresh: no Proxmox call, one Slack call). Otherwise
    open it at once with the lists loading (the trigger id lives 3 s) and fill them when they arrive."""
    metadata = services.seal.seal({"channel": command["channel_id"]})
    choosing = asyncio.ensure_future(services.requests.create_choices())
    await asyncio.sleep(0)  # one turn of the loop: enough when every read is a fresh copy, no I/O
    if choosing.done() and not choosing.cancelled() and choosing.exception() is None:
        await client.views_open(
            trigger_id=command["trigger_id"], view=_filled(services, choosing.result(), preset, metadata)
        )
        return
    view = create_modal(services.policy, templates=None, preset=preset, metadata=metadata)
    try:
        opened = await client.views_open(trigger_id=command["trigger_id"], view=view)
        view_id, view_hash = opened["view"]["id"], opened["view"]["hash"]
    except BaseException:
        choosing.cancel()  # nobody will fill this modal (a shared fetch it waits for carries on)
        raise
    filling = _fill_create_modal(client, view_id, view_hash, services, choosing, preset, metadata)
    services.background.spawn(
        answer_failures(filling, command, respond=respond, client=client), name="fill-create-modal"
    )


async def _fill_create_modal(
    client: AsyncWebClient,
    view_id: str,
    view_hash: str,
    services: Services,
    choosing: Awaitable[CreateChoices],
    preset: str | None,
    metadata: dict[str, Any],
) -> None:
    view = _filled(services, await choosing, preset, metadata)
    await client.views_update(view_id=view_id, hash=view_hash, view=view)


def _filled(
    services: Services, choices: CreateChoices, preset: str | None, metadata: dict[str, Any]
) -> dict[str, Any]:
    """The create modal with these templates and nodes to choose from."""
    return create_modal(
        services.policy,
        templates=list(choices.templates),
        nodes=list(choices.nodes),
        template_nodes={v: label for v in choices.templates if (label := choices.holders_label(v))},
        preset=preset,
        metadata=metadata,
    )
