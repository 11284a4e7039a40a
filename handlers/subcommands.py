"""Subcommands other than help and create: build the Actor, call a bot service, render the answer.

:func:`run` is what ``/lxc`` hands every parsed command to (in a background task, after ``ack()``); its
return value is sent ephemerally through ``response_url``. Errors are raised, not rendered: a
:class:`~bot.errors.CardinalError` (``AccessDenied``, ``ContainerNotManaged``, ``ProxmoxError``…) becomes
an ephemeral "what happened / what to do" in :func:`handlers.commands._answer`.
"""

from __future__ import annotations

from typing import Any, assert_never

from slack_sdk.web.async_client import AsyncWebClient

from bot.access import Actor, digest_delivery
from bot.containers.service import ContainerService
from bot.errors import CardinalError, InputError
from bot.events import Notice
from handlers.blocks.approval import resize_asked
from handlers.blocks.catalog import audit_list, download_started, tasks_list, templates_list
from handlers.blocks.containers import (
    addresses_message,
    container_list,
    container_status,
    destroy_confirmation,
    extend_result,
    power_started,
)
from handlers.blocks.day2 import resize_result, rollback_confirmation, snapshot_started
from handlers.blocks.digest import digest_message
from handlers.blocks.events import notice
from handlers.blocks.help import help_message
from handlers.parsing import (
    Audit,
    Command,
    Create,
    Destroy,
    Digest,
    Download,
    Extend,
    Help,
    Ip,
    List,
    Power,
    Resize,
    Rollback,
    Snapshot,
    Status,
    Tasks,
    Templates,
)
from handlers.services import Services

__all__ = ["Message", "actor_of", "run", "ui_base_url"]

Message = dict[str, Any]

_API_SUFFIX = "/api2/json"


async def actor_of(services: Services, user_id: str) -> Actor:
    """The person acting, with their approver right resolved now (at the moment they typed or clicked)."""
    return Actor(user_id, is_approver=await services.approvers.is_approver(user_id))


def ui_base_url(services: Services) -> str:
    """The Proxmox web UI base for links: ``services.ui_url``, else derived from the API's base URL."""
    if services.ui_url:
        return services.ui_url.rstrip("/")
    return services.proxmox.base_url.rstrip("/").removesuffix(_API_SUFFIX)


async def run(
    services: Services, cmd: Command, command: dict[str, Any], client: AsyncWebClient | None = None
) -> Message | None:
    """Carry out one parsed command for the person who typed it; return the ephemeral answer.

    ``client`` posts what goes elsewhere than the answer (a resize approval card)."""
    user = str(command.get("user_id", ""))
    match cmd:
        case Help():
            return help_message(services.command_name)
        case Create():
            raise InputError("Use `/lxc create` on its own line to open the form.")
        case Digest():
            return await _digest(services, await actor_of(services, user), command)
        case _:
            pass
    containers = services.containers
    actor = await actor_of(services, user)
    now = containers.clock()
    match cmd:
        case List(scope=scope):
            return container_list(await containers.list_containers(actor, scope), scope=scope, now=now)
        case Status(vmid=vmid, hostname=hostname):
            target: int | str = vmid if vmid is not None else str(hostname)
            detail = await containers.status(actor, target)
            return container_status(
                detail,
                ui_base_url=ui_base_url(services),
                now=now,
                show_actions=actor.is_approver or detail.owner_id == actor.user_id,
            )
        case Power(action=action, vmid=vmid):
            return power_started(await containers.power(actor, vmid, action))
        case Destroy(vmid=vmid):
            return destroy_confirmation(await containers.request_destroy(actor, vmid))
        case Extend(vmid=vmid, duration=duration):
            return extend_result(await containers.extend(actor, vmid, duration), duration)
        case Ip(vmid=vmid):
            return addresses_message(vmid, await containers.discover_ips(actor, vmid))
        case Templates():
            return templates_list(await containers.templates(), can_download=actor.is_approver)
        case Download(template=template):
            channel = str(command.get("channel_id", "")) or None
            return download_started(await containers.download_template(actor, template, channel=channel))
        case Tasks():
            return tasks_list(await containers.tasks())
        case Audit(vmid=vmid, user_id=about):
            events = await containers.audit(actor, vmid=vmid, user=about)
            title = f"Audit of {vmid}" if vmid is not None else "Audit"
            return audit_list(events, title=title)
        case Snapshot(vmid=vmid, name=name):
            return snapshot_started(await containers.snapshot(actor, vmid, name))
        case Rollback(vmid=vmid, name=name):
            return rollback_confirmation(await containers.request_rollback(actor, vmid, name))
        case Resize():
            return await _resize(services, containers, actor, cmd, command, client)
        case Help() | Create() | Digest():  # answered above
            return None
        case _:
            assert_never(cmd)


async def _digest(services: Services, actor: Actor, command: dict[str, Any]) -> Message:
    """``/lxc digest``: posted in a digest channel, else answered to the asker only (if they may see it);
    :func:`bot.access.digest_delivery` decides."""
    job = services.digest
    channel = str(command.get("channel_id", ""))
    policy = services.policy
    where = digest_delivery(
        actor, channel, digest_channels=policy.digest_channels, visibility=policy.access.others_containers
    )
    if where == "channel":
        await job.post_now(channel)
        return notice(Notice("Posted the digest in this channel."))
    return digest_message(await job.current())


async def _resize(
    services: Services,
    containers: ContainerService,
    actor: Actor,
    cmd: Resize,
    command: dict[str, Any],
    client: AsyncWebClient | None,
) -> Message:
    """Within quota the resize happens now; beyond it an approval card goes to the approval channel (or
    this channel) and the requester is told so."""
    result = await containers.resize(actor, cmd.vmid, cmd.cores, cmd.memory_mib, cmd.disk_add_gib)
    if result.applied:
        return resize_result(result)
    plan = result.plan
    channel = str(command.get("channel_id", "")) or None
    target = services.policy.approval_channel or channel
    if target is None:
        raise CardinalError(
            "Growing it that much needs an approver, and there is no approval channel to ask in.",
            hint="Run `/lxc resize` in a channel, not a DM, or ask for less.",
        )
    await services.approvals.ask_resize(plan, channel=target)
    return resize_asked(plan, target)
