"""Container buttons: Extend (reminders, status), quick power actions, destroy confirmation and approval.

Every listener acks first, then reads the button's value strictly (anything that is not exactly what
Cardinal put there is refused with a clear message: :class:`~bot.errors.InputError`, delivered by
:func:`handlers.errors.handle_error`), then authorizes the clicker *at click time* (approver rights are
looked up now, the container's owner is read from the database now) and only then acts.

Clicks that must happen once are claimed as ``job_run`` slots in the database (first click wins, across
replicas): a destroy confirmation (``destroy-confirm``, per message and clicker), a destroy approval
decision (``destroy-approval``, per card) and an Extend click on a shared message (``extend-button``, per
message and clicker). A repeated click then only gets "already done".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import require_approve
from bot.clicks import ClickLedger
from bot.errors import CardinalError, InputError
from bot.events import Notice
from bot.lifecycle import ContainerService, PowerAction
from bot.logs import bind_context, clear_context, new_request_id
from bot.policy import parse_duration
from handlers import blocks, home
from handlers.errors import render_error
from handlers.parsing import VMID_MAX, VMID_MIN
from handlers.subcommands import actor_of, container_service

if TYPE_CHECKING:
    from handlers.app import Services

__all__ = [
    "DESTROY_APPROVAL_JOB",
    "DESTROY_CONFIRM_JOB",
    "EXTEND_BUTTON_JOB",
    "RESIZE_APPROVAL_JOB",
    "ROLLBACK_CONFIRM_JOB",
    "destroy_value_of",
    "extend_value_of",
    "power_value_of",
    "register",
    "resize_value_of",
    "rollback_value_of",
    "vmid_of",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")
#: A click's work: (services, body, client, respond, clicker, button value) -> the coroutine to run.
_Work = Callable[..., Coroutine[Any, Any, None]]

DESTROY_CONFIRM_JOB = "destroy-confirm"
DESTROY_APPROVAL_JOB = "destroy-approval"
ROLLBACK_CONFIRM_JOB = "rollback-confirm"
RESIZE_APPROVAL_JOB = "resize-approval"
EXTEND_BUTTON_JOB = "extend-button"

_VMID_RE = re.compile(r"^[1-9][0-9]{2,8}$")
_EXTEND_RE = re.compile(r"^([1-9][0-9]{2,8}):([0-9a-z]{2,16})$")
_POWER_RE = re.compile(r"^([1-9][0-9]{2,8}):(start|stop|shutdown|reboot)$")
_DESTROY_RE = re.compile(r"^([1-9][0-9]{2,8}):([UW][A-Z0-9]{2,30})$")
_ROLLBACK_RE = re.compile(r"^([1-9][0-9]{2,8}):([A-Za-z][A-Za-z0-9_-]{1,39})$")
_RESIZE_RE = re.compile(
    r"^([1-9][0-9]{2,8}):([UW][A-Z0-9]{2,30}):([1-9][0-9]{0,3}|-):([1-9][0-9]{1,6}|-):([1-9][0-9]{0,4}|-)$"
)
_POWER_ACTION_RE = re.compile(rf"^{re.escape(blocks.ACTION_POWER)}(\.[a-z]+)?$")


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


def destroy_value_of(value: str) -> tuple[int, str]:
    """``"<vmid>:<requester id>"`` from a destroy approval card; anything else is refused."""
    match = _DESTROY_RE.fullmatch(value)
    if match is None:
        raise _forged()
    return _vmid(match.group(1)), match.group(2)


def rollback_value_of(value: str) -> tuple[int, str]:
    """``"<vmid>:<snapshot name>"`` from a rollback confirmation button; anything else is refused."""
    match = _ROLLBACK_RE.fullmatch(value)
    if match is None or match.group(2).lower() in ("current", "vzdump"):
        raise _forged()
    return _vmid(match.group(1)), match.group(2)


def resize_value_of(value: str) -> tuple[int, str, int | None, int | None, int | None]:
    """``"<vmid>:<requester>:<cores>:<memory MiB>:<disk +GiB>"`` (``-`` = unchanged) from a resize
    approval card: (vmid, requester, cores, memory, disk); anything else is refused."""
    match = _RESIZE_RE.fullmatch(value)
    if match is None:
        raise _forged()
    sizes = [None if g == "-" else int(g) for g in match.group(3, 4, 5)]
    cores, memory, disk = sizes
    if sizes == [None, None, None] or (cores is not None and cores > 8192):
        raise _forged()
    if (memory is not None and not 16 <= memory <= 4 * 1024 * 1024) or (disk is not None and disk > 65536):
        raise _forged()
    return _vmid(match.group(1)), match.group(2), cores, memory, disk


# --- payload helpers -------------------------------------------------------------------------------


def _value(body: dict[str, Any]) -> str:
    """The clicked button's value ("" when there is none, which every parser refuses)."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return ""
    value = actions[0].get("value")
    return value if isinstance(value, str) else ""


def _start(body: dict[str, Any]) -> str:
    clear_context()
    user = str(body["user"]["id"])
    bind_context(request_id=new_request_id(), slack_user=user)
    return user


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
    return ClickLedger(containers.db, containers.clock)


async def _claim(containers: ContainerService, job: str, slot: str, owner: str) -> bool:
    return await _clicks(containers).claim(job, slot, owner)


async def _finish(
    containers: ContainerService, job: str, slot: str, owner: str, result: dict[str, Any]
) -> None:
    await _clicks(containers).finish(job, slot, owner, result)


async def _who_claimed(containers: ContainerService, job: str, slot: str) -> str | None:
    return await _clicks(containers).who_claimed(job, slot)


async def _claim_decision(
    containers: ContainerService, respond: AsyncRespond, job: str, slot: str, user: str, what: str
) -> bool:
    """Claim an approval card's decision; a later click only hears who decided the ``what`` request."""
    if await _claim(containers, job, slot, user):
        return True
    who = await _who_claimed(containers, job, slot)
    by = f" by <@{who}>" if who else ""
    await _say(respond, f"This {what} request was already decided{by}.")
    return False


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


async def _record_denial(
    containers: ContainerService, job: str, slot: str, user: str, action: str, vmid: int, **detail: Any
) -> None:
    """Audit a denied approval card and close its decision slot, in one transaction."""
    await _clicks(containers).finish_audited(
        job, slot, user, action=action, vmid=vmid, detail=detail, result={"approved": False}
    )


class _Started(Protocol):
    @property
    def upid(self) -> str | None: ...


def _upid(result: _Started) -> dict[str, Any]:
    """The slot result of a click that started a Proxmox task."""
    return {"upid": result.upid}


async def _say(respond: AsyncRespond, text: str) -> None:
    """An ephemeral answer to the clicker."""
    await respond(response_type="ephemeral", replace_original=False, **blocks.notice(Notice(text)))


async def _update(client: AsyncWebClient, channel: str | None, ts: str | None, msg: dict[str, Any]) -> None:
    """Replace a (non-ephemeral) message Cardinal posted; best effort (the action already happened)."""
    if channel is None or ts is None:
        return
    try:
        await client.chat_update(channel=channel, ts=ts, **msg)
    except SlackApiError as exc:
        log.warning("action.update_failed", error=str(exc.response.get("error")))


async def _tell_user(client: AsyncWebClient, user: str, msg: dict[str, Any]) -> None:
    """A direct message (best effort), to the DM's ``D…`` id from conversations.open (docs/slack-dm.md)."""
    try:
        opened = await client.conversations_open(users=user)
        await client.chat_postMessage(channel=opened["channel"]["id"], **msg)
    except SlackApiError as exc:
        log.warning("action.dm_failed", error=str(exc.response.get("error")))


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
            user = _start(body)
            _spawn(services, respond, work(services, body, client, respond, user, _value(body)), user)

    listen(blocks.ACTION_EXTEND, extend_clicked)
    listen(_POWER_ACTION_RE, power_clicked)
    listen(blocks.ACTION_DESTROY_CONFIRM, destroy_confirmed)
    listen(blocks.ACTION_DESTROY_APPROVE, partial(destroy_decided, approve=True))
    listen(blocks.ACTION_DESTROY_DENY, partial(destroy_decided, approve=False))
    listen(blocks.ACTION_ROLLBACK_CONFIRM, rollback_confirmed)
    listen(blocks.ACTION_RESIZE_APPROVE, partial(resize_decided, approve=True))
    listen(blocks.ACTION_RESIZE_DENY, partial(resize_decided, approve=False))


def _spawn(
    services: Services, respond: AsyncRespond, work: Coroutine[Any, Any, None], user: str | None = None
) -> None:
    name = getattr(work, "__name__", "container-action")
    refreshed = home.run_then_refresh(services, user, _guarded(work, respond))
    services.background.spawn(refreshed, name=f"lxc-{name}")


async def _guarded(work: Coroutine[Any, Any, None], respond: AsyncRespond) -> None:
    """Run a click's work; show any error to the clicker (a reference id for unexpected ones)."""
    try:
        await work
    except Exception as exc:
        text, error_blocks, ref = render_error(exc)
        if ref is not None:
            log.error("action.failed", ref=ref, exc_info=exc)
        else:
            log.info("action.refused", error_type=type(exc).__name__, what=str(exc))
        try:
            await respond(response_type="ephemeral", text=text, blocks=error_blocks, replace_original=False)
        except (SlackApiError, OSError) as send_exc:
            log.warning("action.error_not_delivered", ref=ref, reason=type(send_exc).__name__)


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
    containers = container_service(services)
    result = await containers.power(await actor_of(services, user), vmid, action)
    await respond(response_type="ephemeral", replace_original=False, **blocks.power_started(result))


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
    containers = container_service(services)
    actor = await actor_of(services, user)
    channel, ts, ephemeral = _where(body)
    if ephemeral:
        result = await containers.extend(actor, vmid, duration)
        await respond(
            response_type="ephemeral", replace_original=False, **blocks.extend_result(result, duration)
        )
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
    await _update(client, channel, ts, blocks.extend_result(result, duration, actor=user))


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
    containers = container_service(services)
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
        await respond(replace_original=True, **blocks.destroy_started(plan, already_gone=result.already_gone))
        return
    channel, _, _ = _where(body)
    target = services.policy.approval_channel or channel
    if target is None:
        await _finish(containers, DESTROY_CONFIRM_JOB, slot, user, {"error": "no channel"})
        raise CardinalError(
            "There is no approval channel to ask in.", hint="Run `/lxc destroy` in a channel, not a DM."
        )
    posted = await client.chat_postMessage(channel=target, **blocks.destroy_approval_card(plan))
    await _clicks(containers).finish_audited(
        DESTROY_CONFIRM_JOB,
        slot,
        user,
        action="container.destroy_approval_requested",
        vmid=vmid,
        detail={"owner": plan.owner, "card_channel": target, "card_ts": str(posted.get("ts", ""))},
        result={"card_ts": posted.get("ts")},
    )
    await respond(replace_original=True, **blocks.destroy_asked(plan, target))


async def destroy_decided(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
    *,
    approve: bool,
) -> None:
    """Approve destroy / Deny on a destroy approval card: an approver other than the requester, and the
    first decision on the card wins (a second click, or a second approver, only hears who decided)."""
    vmid, requester = destroy_value_of(value)
    containers = container_service(services)
    clicker = await actor_of(services, user)
    require_approve(clicker, requester)
    requester_actor = await actor_of(services, requester)
    plan = await containers.request_destroy(requester_actor, vmid)
    channel, ts, _ = _where(body)
    slot = f"{vmid}:{requester}:{_click_key(body)}"
    if not await _claim_decision(containers, respond, DESTROY_APPROVAL_JOB, slot, user, "destroy"):
        return
    if not approve:
        await _record_denial(
            containers,
            DESTROY_APPROVAL_JOB,
            slot,
            user,
            "container.destroy_denied",
            vmid,
            requested_by=requester,
        )
        await _update(
            client, channel, ts, blocks.destroy_approval_card(plan, decided_by=user, approved=False)
        )
        await _tell_user(client, requester, blocks.destroy_decision(plan, user, approved=False))
        return
    destroy = containers.destroy(requester_actor, vmid, approved_by=clicker)
    try:
        await _run_claimed(containers, DESTROY_APPROVAL_JOB, slot, user, destroy, _upid, approved=True)
    except CardinalError as exc:
        await _update(
            client,
            channel,
            ts,
            blocks.destroy_approval_card(
                plan, decided_by=user, approved=True, note=f"The destroy failed: {exc.what}"
            ),
        )
        raise
    await _update(client, channel, ts, blocks.destroy_approval_card(plan, decided_by=user, approved=True))
    await _tell_user(client, requester, blocks.destroy_decision(plan, user, approved=True))


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
    containers = container_service(services)
    actor = await actor_of(services, user)
    await containers.request_rollback(actor, vmid, name)  # access and the snapshot, checked now
    slot = f"{vmid}:{name}:{user}:{_click_key(body)}"
    if not await _claim(containers, ROLLBACK_CONFIRM_JOB, slot, user):
        await _say(respond, f"That rollback was already started. `/lxc status {vmid}` shows the container.")
        return
    rollback = containers.rollback(actor, vmid, name)
    result = await _run_claimed(containers, ROLLBACK_CONFIRM_JOB, slot, user, rollback, _upid)
    await respond(replace_original=True, **blocks.rollback_started(result))


async def resize_decided(
    services: Services,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: str,
    value: str,
    *,
    approve: bool,
) -> None:
    """Approve resize / Deny on a resize approval card: an approver other than the requester; the first
    decision on the card wins (a second click, or a second approver, only hears who decided)."""
    vmid, requester, cores, memory, disk = resize_value_of(value)
    containers = container_service(services)
    clicker = await actor_of(services, user)
    require_approve(clicker, requester)
    requester_actor = await actor_of(services, requester)
    channel, ts, _ = _where(body)
    slot = f"{value}:{_click_key(body)}"
    if not await _claim_decision(containers, respond, RESIZE_APPROVAL_JOB, slot, user, "resize"):
        return
    try:
        plan = await containers.plan_resize(requester_actor, vmid, cores, memory, disk)
    except CardinalError as exc:
        await _finish(containers, RESIZE_APPROVAL_JOB, slot, user, {"error": exc.what})
        raise
    if not approve:
        await _record_denial(
            containers,
            RESIZE_APPROVAL_JOB,
            slot,
            user,
            "container.resize_denied",
            vmid,
            requested_by=requester,
            value=value,
        )
        await _update(client, channel, ts, blocks.resize_approval_card(plan, decided_by=user, approved=False))
        await _tell_user(client, requester, blocks.resize_decision(plan, user, approved=False))
        return
    resize = containers.resize(requester_actor, vmid, cores, memory, disk, approved_by=clicker)
    try:
        result = await _run_claimed(containers, RESIZE_APPROVAL_JOB, slot, user, resize, _upid, approved=True)
    except CardinalError as exc:
        note = f"The resize failed: {exc.what}"
        card = blocks.resize_approval_card(plan, decided_by=user, approved=True, note=note)
        await _update(client, channel, ts, card)
        raise
    card = blocks.resize_approval_card(result.plan, decided_by=user, approved=True)
    await _update(client, channel, ts, card)
    await _tell_user(client, requester, blocks.resize_decision(result.plan, user, approved=True))
