"""Container buttons: Extend (reminders, status), quick power actions, destroy confirmation, rollback
confirmation, template Download buttons, and the Approve/Deny buttons of day-2 approval cards (destroy,
resize).

Every listener acks first, then reads the button's value strictly (anything that is not exactly what
Cardinal put there is refused with a clear message: :class:`~bot.errors.InputError`, delivered by
:func:`handlers.errors.answer_failures`), then authorizes the clicker *at click time* (approver rights are
looked up now, the container's owner is read from the database now) and only then acts.

Clicks that must happen once are claimed as ``job_run`` slots in the database (first click wins, across
replicas): a destroy confirmation (``destroy-confirm``, per message and clicker), a rollback confirmation
and an Extend click on a shared message (``extend-button``, per message and clicker). A repeated click then
only gets "already done". Approval cards carry only the id of their approval record; the decision, its
first-click-wins claim, audit, action and card revision are :class:`bot.approvals.ActionApprovals`'.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar, cast

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import ApprovalNotOpen
from bot.clicks import ClickLedger
from bot.containers.downloads import TEMPLATE_NAME_RE
from bot.containers.service import ContainerService
from bot.errors import CardinalError, InputError
from bot.events import Notice
from bot.policy import parse_duration
from bot.proxmox.client import PowerAction
from handlers.blocks.approval import destroy_asked
from handlers.blocks.catalog import download_started
from handlers.blocks.containers import destroy_started, extend_result, power_started
from handlers.blocks.day2 import rollback_started
from handlers.blocks.events import notice
from handlers.blocks.ids import (
    ACTION_DESTROY_APPROVE,
    ACTION_DESTROY_CONFIRM,
    ACTION_DESTROY_DENY,
    ACTION_DOWNLOAD,
    ACTION_EXTEND,
    ACTION_POWER,
    ACTION_RESIZE_APPROVE,
    ACTION_RESIZE_DENY,
    ACTION_ROLLBACK_CONFIRM,
)
from handlers.errors import answer_failures
from handlers.parsing import VMID_MAX, VMID_MIN
from handlers.services import Services
from handlers.subcommands import actor_of

__all__ = [
    "DESTROY_CONFIRM_JOB",
    "DOWNLOAD_BUTTON_JOB",
    "EXTEND_BUTTON_JOB",
    "ROLLBACK_CONFIRM_JOB",
    "approval_id_of",
    "extend_value_of",
    "power_value_of",
    "register",
    "rollback_value_of",
    "vmid_of",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")
#: A click's work: (services, body, client, respond, clicker, button value) -> the coroutine to run.
_Work = Callable[..., Coroutine[Any, Any, None]]

DESTROY_CONFIRM_JOB = "destroy-confirm"
ROLLBACK_CONFIRM_JOB = "rollback-confirm"
DOWNLOAD_BUTTON_JOB = "download-button"
EXTEND_BUTTON_JOB = "extend-button"

_VMID_RE = re.compile(r"^[1-9][0-9]{2,8}$")
_EXTEND_RE = re.compile(r"^([1-9][0-9]{2,8}):([0-9a-z]{2,16})$")
_POWER_RE = re.compile(r"^([1-9][0-9]{2,8}):(start|stop|shutdown|reboot)$")
_APPROVAL_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ROLLBACK_RE = re.compile(r"^([1-9][0-9]{2,8}):([A-Za-z][A-Za-z0-9_-]{1,39})$")
_POWER_ACTION_RE = re.compile(rf"^{re.escape(ACTION_POWER)}(\.[a-z]+)?$")


def _forged() -> InputError:
    return InputError(
        "That button does not match a container Cardinal knows.",
        hint="Nothing was changed. Use `/lxc status <vmid>` for fresh buttons.",
    )


def _vmid(text: str) -> int:
    value = int(text)
    if not VMID_MIN <= value <= VMID_MAX:
        raise _forged()
    return value


def vmid_of(value: str) -> int:
    """The vmid a destroy-confirm button carried (``"<vmid>"``); anything else is refused."""
    if not _VMID_RE.fullmatch(value):
        raise _forged()
    return _vmid(value)


def extend_value_of(value: str) -> tuple[int, timedelta]:
    """``"<vmid>:<duration>"`` (e.g. ``10042:3d``) from an Extend button; anything else is refused."""
    match = _EXTEND_RE.fullmatch(value)
    if match is None:
        raise _forged()
    try:
        duration = parse_duration(match.group(2))
    except InputError:
        raise _forged() from None
    return _vmid(match.group(1)), duration


def power_value_of(value: str) -> tuple[int, PowerAction]:
    """``"<vmid>:<action>"`` from a quick-action button; anything else is refused."""
    match = _POWER_RE.fullmatch(value)
    if match is None:
        raise _forged()
    return _vmid(match.group(1)), cast(PowerAction, match.group(2))


def approval_id_of(value: str) -> str:
    """The approval record id an Approve/Deny button carried (a UUID); anything else is refused."""
    if not _APPROVAL_ID_RE.fullmatch(value):
        raise ApprovalNotOpen()
    return value


def rollback_value_of(value: str) -> tuple[int, str]:
    """``"<vmid>:<snapshot name>"`` from a rollback confirmation button; anything else is refused."""
    match = _ROLLBACK_RE.fullmatch(value)
    if match is None or match.group(2).lower() in ("current", "vzdump"):
        raise _forged()
    return _vmid(match.group(1)), match.group(2)


# --- payload helpers -------------------------------------------------------------------------------


def _value(body: dict[str, Any]) -> str:
    """The clicked button's value ("" when there is none, which every parser refuses)."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return ""
    value = actions[0].get("value")
    return value if isinstance(value, str) else ""


def _where(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    """(channel, message ts, ephemeral?) of the message whose button was clicked."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return (
        channel if isinstance(channel, str) else None,
        ts if isinstance(ts, str) else None,
        bool(container.get("is_ephemeral")),
    )


def _click_key(body: dict[str, Any]) -> str:
    """Identifies the clicked message: its channel and ts (the action's ts when there is none)."""
    channel, ts, _ = _where(body)
    if ts is None:
        action = (body.get("actions") or [{}])[0]
        ts = str(action.get("action_ts", ""))
    return f"{channel or '-'}:{ts}"


def _clicks(containers: ContainerService) -> ClickLedger:
    return containers.clicks


async def _claim(containers: ContainerService, job: str, slot: str, owner: str) -> bool:
    return await _clicks(containers).claim(job, slot, owner)


async def _finish(
    containers: ContainerService, job: str, slot: str, owner: str, result: dict[str, Any]
) -> None:
    await _clicks(containers).finish(job, slot, owner, result)


async def _run_claimed(
    containers: ContainerService,
    job: str,
    slot: str,
    user: str,
    work: Awaitable[T],
    result: Callable[[T], dict[str, Any]],
    **extra: Any,
) -> T:
    """Run a claimed click's work and record its outcome (``extra`` plus ``result(...)``, or the error's
    ``what``) on the slot; a :class:`~bot.errors.CardinalError` is re-raised for the clicker."""
    try:
        value = await work
    except CardinalError as exc:
        await _finish(containers, job, slot, user, {**extra, "error": exc.what})
        raise
    await _finish(containers, job, slot, user, {**extra, **result(value)})
    return value


class _Started(Protocol):
    @property
    def upid(self) -> str | None: ...


def _upid(result: _Started) -> dict[str, Any]:
    """The slot result of a click that started a Proxmox task."""
    return {"upid": result.upid}


async def _say(respond: AsyncRespond, text: str) -> None:
    """An ephemeral answer to the clicker."""
    await respond(response_type="ephemeral", replace_original=False, **notice(Notice(text)))


async def _update(client: AsyncWebClient, channel: str | None, ts: str | None, msg: dict[str, Any]) -> None:
    """Replace a (non-ephemeral) message Cardinal posted; best effort (the action already happened)."""
    if channel is None or ts is None:
        return
    try:
        await client.chat_update(channel=channel, ts=ts, **msg)
    except SlackApiError as exc:
        log.warning("action.update_failed", error=str(exc.response.get("error")))


# --- listeners -------------------------------------------------------------------------------------


def register(app: AsyncApp, services: Services) -> None:
    """Attach the container button listeners.

    Each acks and runs the click's work in ``services.background`` (so shutdown waits for it). The work
    checks the button's value first; its errors, a forged value included, are shown to the clicker like
    a command's (raising inside the listener right after ``ack()`` would race Bolt's ack poll).
    """

    def listen(action: str | re.Pattern[str], work: _Work) -> None:
        @app.action(action)
        async def listener(
            ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
        ) -> None:
            await ack()
            user = str(body["user"]["id"])
            clicked = work(services, body, client, respond, user, _value(body))
            answered = answer_failures(clicked, body, respond=respond, client=client)
            name = getattr(clicked, "__name__", "container-action")
            services.background.spawn(services.home.run_then_refresh(user, answered), name=f"lxc-{name}")

    listen(ACTION_EXTEND, extend_clicked)
    listen(_POWER_ACTION_RE, power_clicked)
    listen(ACTION_DESTROY_CONFIRM, destroy_confirmed)
    listen(ACTION_ROLLBACK_CONFIRM, rollback_confirmed)
    listen(ACTION_DOWNLOAD, download_clicked)
    for approve_id, deny_id in (
        (ACTION_DESTROY_APPROVE, ACTION_DESTROY_DENY),
        (ACTION_RESIZE_APPROVE, ACTION_RESIZE_DENY),
    ):
        listen(approve_id, partial(approval_decided, approve=True))
        listen(deny_id, partial(approval_decided, approve=False))


async def download_clicked(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
) -> None:
    """A confirmed Download button of ``/lxc templates``: the value must be a template's file name, the
    clicker an approver now, and the template downloadable and allowed (checked by the service)."""
    if not TEMPLATE_NAME_RE.fullmatch(value):
        raise InputError(
            "That button does not match a template Cardinal offers.",
            hint="Nothing was changed. Use `/lxc templates` for fresh buttons.",
        )
    channel, _ts, _ephemeral = _where(body)
    actor = await actor_of(services, user)
    containers = services.containers
    download = containers.download_template(actor, value, channel=channel)
    if not actor.is_approver:
        await download  # refused (and audited) by the service
        return
    slot = f"{_click_key(body)}:{hashlib.sha256(value.encode()).hexdigest()[:12]}"  # job_run.slot: 64
    if not await _claim(containers, DOWNLOAD_BUTTON_JOB, slot, user):
        download.close()
        await _say(respond, "That download was already started. `/lxc tasks` shows how it goes.")
        return
    result = await _run_claimed(containers, DOWNLOAD_BUTTON_JOB, slot, user, download, _upid)
    await respond(response_type="ephemeral", replace_original=False, **download_started(result))


async def power_clicked(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
) -> None:
    """A quick power action from ``/lxc status``: owner or approver (checked by the service)."""
    vmid, action = power_value_of(value)
    containers = services.containers
    result = await containers.power(await actor_of(services, user), vmid, action)
    await respond(response_type="ephemeral", replace_original=False, **power_started(result))


async def extend_clicked(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
) -> None:
    """Extend from a button. On a shared message (a reminder) the click counts once per person and the
    message is updated for everyone; on an ephemeral one (``/lxc status``) the clicker gets the answer."""
    vmid, duration = extend_value_of(value)
    containers = services.containers
    actor = await actor_of(services, user)
    channel, ts, ephemeral = _where(body)
    if ephemeral:
        result = await containers.extend(actor, vmid, duration)
        await respond(response_type="ephemeral", replace_original=False, **extend_result(result, duration))
        return
    slot = f"{_click_key(body)}:{user}"
    if not await _claim(containers, EXTEND_BUTTON_JOB, slot, user):
        await _say(respond, f"You already extended {vmid} from this message; `/lxc status {vmid}` shows it.")
        return
    result = await _run_claimed(
        containers,
        EXTEND_BUTTON_JOB,
        slot,
        user,
        containers.extend(actor, vmid, duration),
        lambda r: {"expires_at": r.expires_at.isoformat()},
    )
    await _update(client, channel, ts, extend_result(result, duration, actor=user))


async def destroy_confirmed(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
) -> None:
    """The confirmed destroy button: the owner destroys now; anyone else asks the approvers (a card in
    the policy's approval channel, or this channel). Once per message and clicker."""
    vmid = vmid_of(value)
    containers = services.containers
    actor = await actor_of(services, user)
    plan = await containers.request_destroy(actor, vmid)  # ContainerNotManaged if it is gone
    slot = f"{vmid}:{user}:{_click_key(body)}"
    if not await _claim(containers, DESTROY_CONFIRM_JOB, slot, user):
        await _say(respond, f"That was already done. `/lxc destroy {vmid}` starts over.")
        return
    if not plan.needs_approval:
        result = await _run_claimed(
            containers, DESTROY_CONFIRM_JOB, slot, user, containers.destroy(actor, vmid), _upid
        )
        await respond(replace_original=True, **destroy_started(plan, already_gone=result.already_gone))
        return
    channel, _, _ = _where(body)
    target = services.policy.approval_channel or channel
    if target is None:
        await _finish(containers, DESTROY_CONFIRM_JOB, slot, user, {"error": "no channel"})
        raise CardinalError(
            "There is no approval channel to ask in.", hint="Run `/lxc destroy` in a channel, not a DM."
        )
    try:
        approval = await services.approvals.ask_destroy(plan, channel=target)
    except Exception as exc:
        await _finish(containers, DESTROY_CONFIRM_JOB, slot, user, {"error": type(exc).__name__})
        raise
    await _finish(containers, DESTROY_CONFIRM_JOB, slot, user, {"approval_id": approval.id})
    await respond(replace_original=True, **destroy_asked(plan, target))


async def approval_decided(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
    *,
    approve: bool,
) -> None:
    """Approve / Deny on a day-2 approval card (destroy, resize). The button carries only the approval's
    id; the service checks the clicker now and lets the first decision win. A later click only hears who
    decided."""
    approval_id = approval_id_of(value)
    decision = await services.approvals.decide(approval_id, clicker=user, approve=approve)
    if not decision.won:
        by = f" by <@{decision.decided_by}>" if decision.decided_by else ""
        await _say(respond, f"This {decision.action} request was already decided{by}.")


async def rollback_confirmed(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
) -> None:
    """The confirmed rollback button (owner or approver, checked by the service). Once per message and
    clicker: a second click only hears that it was already done."""
    vmid, name = rollback_value_of(value)
    containers = services.containers
    actor = await actor_of(services, user)
    await containers.request_rollback(actor, vmid, name)  # access and the snapshot, checked now
    slot = f"{vmid}:{name}:{user}:{_click_key(body)}"
    if not await _claim(containers, ROLLBACK_CONFIRM_JOB, slot, user):
        await _say(respond, f"That rollback was already started. `/lxc status {vmid}` shows the container.")
        return
    rollback = containers.rollback(actor, vmid, name)
    result = await _run_claimed(containers, ROLLBACK_CONFIRM_JOB, slot, user, rollback, _upid)
    await respond(replace_original=True, **rollback_started(result))
