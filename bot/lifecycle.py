"""Day-2 operations on containers Cardinal owns: power, destroy, extend, addresses, lists, status, audit.

:class:`ContainerService` is what the Slack edge calls for ``/lxc start|stop|shutdown|reboot|destroy|
extend|ip|list|status|audit|templates|tasks``. Every method takes the acting person as an
:class:`~bot.access.Actor`, checks :mod:`bot.access`, talks to Proxmox *outside* any database
transaction, hands each Proxmox task to a :class:`TaskFollower` (which reports the outcome in the
container's thread) and writes an audit event. Errors are typed :class:`~bot.errors.CardinalError`\\ s
whose message says what happened and what to do.

Only containers Cardinal knows (its database) are operated on; the node always comes from the record
(the reconcile job keeps it current when a container moves).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from bot.access import (
    AccessDenied,
    Actor,
    may_destroy_directly,
    require_operate,
    require_view,
    require_view_all,
)
from bot.clicks import ClickLedger
from bot.db import Database
from bot.db.enums import ContainerState, TaskStatus
from bot.db.records import AuditEvent, Container, Task
from bot.db.types import Clock
from bot.errors import CardinalError, InputError
from bot.ownership import (
    format_expiry,
    ownership_line,
    parse_tags,
    with_ownership_tags,
    with_updated_description,
)
from bot.policy import Policy, format_duration
from bot.proxmox.client import PowerAction, ProxmoxClient
from bot.proxmox.codec import parse_net, parse_property
from bot.proxmox.errors import (
    ProxmoxConflictError,
    ProxmoxError,
    ProxmoxLockedError,
    ProxmoxNotFoundError,
)
from bot.proxmox.models import ClusterResource, NodeInfo
from bot.proxmox.upid import Upid
from bot.template_locations import locate_templates

__all__ = [
    "ContainerAlreadyRunning",
    "ContainerBusy",
    "ContainerDetail",
    "ContainerNotManaged",
    "ContainerNotRunning",
    "ContainerService",
    "ContainerView",
    "DestroyPlan",
    "DestroyResult",
    "ExtendResult",
    "PowerAction",
    "PowerResult",
    "ResizePlan",
    "ResizeResult",
    "RollbackPlan",
    "RollbackResult",
    "SnapshotEntry",
    "SnapshotResult",
    "TaskFollower",
    "TaskView",
    "TemplateEntry",
    "TemplateList",
    "check_snapshot_name",
]

_POWER_ACTIONS: tuple[PowerAction, ...] = ("start", "stop", "shutdown", "reboot")
"""The power actions people may run (suspend/resume are Proxmox's, not offered in Slack)."""


class TaskFollower(Protocol):
    """Follows a Proxmox task to its end and reports it in the container's thread (``bot.tracker``)."""

    async def track(
        self,
        kind: str,
        upid: Upid,
        *,
        vmid: int,
        node: str,
        actor: str,
        channel: str | None,
        thread_ts: str | None,
        request_id: str | None = None,
    ) -> object:
        """Start following ``upid``; returns once it is recorded (not when the task ends)."""
        ...


# --- errors ----------------------------------------------------------------------------------------


class ContainerNotManaged(InputError):
    """Cardinal has no (live) record of this container."""

    default_hint = (
        "`/lxc list all` shows the containers Cardinal manages. A container made outside Cardinal can be "
        "taken over by an operator with `cardinal reconcile --adopt` if it carries Cardinal's tags."
    )


class ContainerAlreadyRunning(CardinalError):
    """Start asked for a running container."""


class ContainerNotRunning(CardinalError):
    """Stop/shutdown/reboot asked for a stopped container."""


class ContainerBusy(CardinalError):
    """Another operation (create, backup, destroy…) holds the container's lock."""

    default_hint = "Wait for the other operation to finish (`/lxc tasks` lists them) and try again."


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PowerResult:
    """A power action was accepted by Proxmox; its task is being followed."""

    vmid: int
    action: PowerAction
    node: str
    upid: str


@dataclass(frozen=True, slots=True)
class DestroyPlan:
    """What ``/lxc destroy`` needs before it happens.

    The owner confirms and it happens (``needs_approval`` False). Anyone else needs an approver's
    decision (an approver other than the one asking) before :meth:`ContainerService.destroy`.
    """

    vmid: int
    hostname: str
    node: str
    owner: str
    requested_by: str
    needs_approval: bool
    confirm_text: str


@dataclass(frozen=True, slots=True)
class DestroyResult:
    """Outcome of :meth:`ContainerService.destroy`: ``upid`` is None when the container was already gone."""

    vmid: int
    node: str
    upid: str | None
    already_gone: bool = False


@dataclass(frozen=True, slots=True)
class ExtendResult:
    """The new expiry; ``written_to_container`` is False if only the database could be updated."""

    vmid: int
    previous: datetime | None
    expires_at: datetime
    written_to_container: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerView:
    """One container for ``/lxc list`` (field names match ``handlers.blocks.ContainerInfo``).

    ``status`` is Proxmox's live status (``running``/``stopped``/``unknown``), ``missing`` when the
    container is absent from Proxmox, or Cardinal's last known state when ``live`` is False (Proxmox
    could not be asked).
    """

    vmid: int
    hostname: str
    status: str
    node: str
    ips: tuple[str, ...] = ()
    owner_id: str | None = None
    expires_at: datetime | None = None
    live: bool = True


@dataclass(frozen=True, slots=True)
class ContainerDetail:
    """One container in detail for ``/lxc status``."""

    vmid: int
    hostname: str
    status: str
    node: str
    ips: tuple[str, ...] = ()
    owner_id: str | None = None
    expires_at: datetime | None = None
    live: bool = True
    cores: int | None = None
    memory_mib: int | None = None
    disk_gib: int | None = None
    template: str | None = None
    uptime: timedelta | None = None
    purpose: str | None = None
    request_id: str | None = None
    lock: str | None = None
    tags: tuple[str, ...] = ()
    thread_channel: str | None = None
    thread_ts: str | None = None
    snapshots: tuple[SnapshotEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    """A template on the template storage (``volid`` set) or downloadable (``volid`` None)."""

    name: str
    volid: str | None = None
    size_bytes: int | None = None
    description: str | None = None
    #: The nodes holding it, when only some of them do (the template storage is per node).
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TemplateList:
    """``/lxc templates``: what is on the template storage, and what could be downloaded."""

    storage: str
    node: str
    available: tuple[TemplateEntry, ...]
    downloadable: tuple[TemplateEntry, ...]


@dataclass(frozen=True, slots=True)
class TaskView:
    """A tracked task for ``/lxc tasks`` (field names match ``handlers.blocks.TaskInfo``)."""

    upid: str | None
    kind: str
    node: str
    state: Literal["running", "ok", "failed"]
    started_at: datetime
    vmid: int | None = None
    finished_at: datetime | None = None
    exitstatus: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """One snapshot of a container (``/lxc status``, rollback plans)."""

    name: str
    taken_at: datetime | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """A snapshot was asked of Proxmox; its ``vzsnapshot`` task is being followed."""

    vmid: int
    hostname: str
    name: str
    node: str
    upid: str


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """What ``/lxc rollback`` will do; the person confirms before :meth:`ContainerService.rollback`."""

    vmid: int
    hostname: str
    node: str
    name: str
    taken_at: datetime | None
    requested_by: str
    confirm_text: str


@dataclass(frozen=True, slots=True)
class RollbackResult:
    """A rollback was asked of Proxmox (``restart``: the container is started again afterwards)."""

    vmid: int
    hostname: str
    name: str
    node: str
    upid: str
    restart: bool


@dataclass(frozen=True, slots=True)
class ResizePlan:
    """A resize, before → after (``None`` = unknown or Proxmox's default).

    ``needs_approval``: growing beyond the owner's quota (``reason`` says which) needs an approver other
    than the requester. ``quota_*`` are the owner's totals after the change.
    """

    vmid: int
    hostname: str
    node: str
    owner: str
    requested_by: str
    cores_before: int | None
    cores_after: int | None
    memory_before_mib: int | None
    memory_after_mib: int | None
    disk_before_gib: int | None
    disk_add_gib: int
    needs_approval: bool
    reason: str | None = None
    quota_memory_mib: int = 0
    quota_disk_gib: int = 0

    @property
    def disk_after_gib(self) -> int | None:
        """The root disk's size after growing it."""
        return None if self.disk_before_gib is None else self.disk_before_gib + self.disk_add_gib

    @property
    def cores(self) -> int | None:
        """The requested cores (None: unchanged)."""
        return self.cores_after if self.cores_after != self.cores_before else None

    @property
    def memory_mib(self) -> int | None:
        """The requested memory (None: unchanged)."""
        return self.memory_after_mib if self.memory_after_mib != self.memory_before_mib else None


@dataclass(frozen=True, slots=True)
class ResizeResult:
    """Outcome of :meth:`ContainerService.resize`.

    ``applied`` False: nothing was changed; ``plan.needs_approval`` says an approver must decide. When
    applied, cores/memory are already in effect and ``upid`` (if any) is the followed disk ``resize`` task.
    """

    plan: ResizePlan
    applied: bool
    upid: str | None = None


# --- helpers ---------------------------------------------------------------------------------------

_SIZE_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGT]?)$")
_SIZE_FACTOR = {"": 1 / (1 << 30), "K": 1 / (1 << 20), "M": 1 / 1024, "G": 1.0, "T": 1024.0}


def _disk_gib(rootfs: Any) -> int | None:
    if not isinstance(rootfs, str) or not rootfs:
        return None
    try:
        values = parse_property(rootfs, field="rootfs", default_key="volume")
    except InputError:
        return None
    m = _SIZE_RE.match(values.get("size", ""))
    if m is None:
        return None
    return round(float(m.group(1)) * _SIZE_FACTOR[m.group(2)])


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def static_addresses(config: dict[str, Any]) -> list[str]:
    """Addresses configured statically on ``net0``…``net31`` (``ip=``/``ip6=`` CIDRs, prefix removed)."""
    out: list[str] = []
    for index in range(32):
        text = config.get(f"net{index}")
        if not isinstance(text, str):
            continue
        try:
            net = parse_net(text, field=f"net{index}")
        except InputError:
            continue
        for value in (net.ip, net.ip6):
            if not value or value in ("dhcp", "manual", "auto"):
                continue
            address = value.split("/", 1)[0]
            try:
                ipaddress.ip_address(address)
            except ValueError:
                continue
            out.append(address)
    return out


def _state_of(status: str | None) -> ContainerState | None:
    if status == "running":
        return ContainerState.RUNNING
    if status == "stopped":
        return ContainerState.STOPPED
    return None


def _lxc_resources(resources: Sequence[ClusterResource]) -> dict[int, ClusterResource]:
    return {r.vmid: r for r in resources if r.type == "lxc" and r.vmid is not None}


def _task_view(task: Task) -> TaskView:
    if not task.is_final:
        state: Literal["running", "ok", "failed"] = "running"
    elif task.status is TaskStatus.SUCCEEDED:
        state = "ok"
    else:
        state = "failed"
    started = datetime.fromtimestamp(task.started_at, UTC) if task.started_at is not None else task.created_at
    return TaskView(
        upid=task.upid,
        kind=task.kind,
        node=task.node,
        state=state,
        started_at=started,
        vmid=task.vmid,
        finished_at=task.updated_at if task.is_final else None,
        exitstatus=task.exitstatus or task.error,
        user_id=task.actor,
    )


def _parse_target(target: int | str) -> int | str:
    if isinstance(target, int):
        return target
    text = target.strip()
    if text.isdigit():
        return int(text)
    if not text or len(text) > 253:
        raise InputError("Give a VMID (e.g. 10042) or a hostname.", field="target")
    return text.lower()


# --- the service -----------------------------------------------------------------------------------


class ContainerService:
    """Day-2 operations. ``clock`` gives "now" (aware UTC); ``follower`` follows the Proxmox tasks."""

    def __init__(
        self,
        db: Database,
        proxmox: ProxmoxClient,
        follower: TaskFollower,
        policy: Policy,
        clock: Clock,
        *,
        default_node: str | None = None,
    ) -> None:
        self.db = db
        self.proxmox = proxmox
        self.follower = follower
        self.policy = policy
        self.clock = clock
        self.clicks = ClickLedger(db, clock)
        """First-click-wins bookkeeping for the buttons that start these operations (confirmations)."""
        self.default_node = default_node  # PROXMOX_NODE: where templates are listed and downloaded

    # --- lookups ------------------------------------------------------------------------------------

    async def _container(self, vmid: int) -> Container:
        async with self.db.transaction(readonly=True) as tx:
            container = await tx.containers.get(vmid)
        if container is None or container.state is ContainerState.DESTROYED:
            gone = container is not None
            raise ContainerNotManaged(
                f"Container {vmid} was destroyed."
                if gone
                else f"Cardinal does not manage a container {vmid}.",
                field="vmid",
            )
        return container

    async def _audit(
        self,
        actor: str,
        action: str,
        *,
        vmid: int | None,
        upid: str | None = None,
        request_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        async with self.db.transaction() as tx:
            await tx.audit.append(
                actor, action, now=self.clock(), vmid=vmid, upid=upid, request_id=request_id, detail=detail
            )

    async def _deny(self, actor: Actor, action: str, container: Container, exc: AccessDenied) -> None:
        await self._audit(
            actor.user_id, "access.denied", vmid=container.vmid, detail={"action": action, "reason": exc.what}
        )

    async def _operable(self, actor: Actor, vmid: int, action: str) -> Container:
        """The managed container ``vmid``, if ``actor`` may ``action`` it (a refusal is audited)."""
        container = await self._container(vmid)
        try:
            require_operate(actor, container, action)
        except AccessDenied as exc:
            await self._deny(actor, action, container, exc)
            raise
        return container

    async def _viewable(self, actor: Actor, key: int | str, action: str) -> Container:
        """The managed container ``key`` (VMID or hostname), if ``actor`` may see it (a refusal of an
        existing container is audited). Without the right to see others' containers, "not yours" and
        "not managed" are the same refusal (:func:`bot.access.require_view`)."""
        async with self.db.transaction(readonly=True) as tx:
            if isinstance(key, int):
                found = await tx.containers.get(key)
            else:
                found = await tx.containers.get_by_hostname(key)
        managed = found if found is not None and found.state is not ContainerState.DESTROYED else None
        try:
            require_view(actor, managed, key, self.policy.access.others_containers)
        except AccessDenied as exc:
            if managed is not None:
                await self._deny(actor, action, managed, exc)
            raise
        if managed is None:
            field = "vmid" if isinstance(key, int) else "target"
            raise ContainerNotManaged(f"Cardinal does not manage a container {key}.", field=field)
        return managed

    async def _require_approval(
        self, actor: Actor, approved_by: Actor | None, container: Container, action: str, *, missing: str
    ) -> None:
        """Refuse (audited :class:`~bot.access.AccessDenied`) unless ``approved_by`` is an approver other
        than ``actor``; ``missing`` is the refusal when there is no approver at all."""
        if approved_by is None:
            problem = missing
        elif not approved_by.is_approver:
            problem = f"<@{approved_by.user_id}> is not an approver."
        elif approved_by.user_id == actor.user_id:
            problem = f"You cannot approve your own {action} request."
        else:
            return
        exc = AccessDenied(problem, hint="Ask an approver (other than yourself) to approve it.")
        await self._deny(actor, action, container, exc)
        raise exc

    async def _follow(self, kind: str, upid: Upid, container: Container, actor_id: str) -> None:
        """Hand a started task to the follower; its outcome goes to the container's thread."""
        await self.follower.track(
            kind,
            upid,
            vmid=container.vmid,
            node=upid.node,
            actor=actor_id,
            channel=container.thread_channel,
            thread_ts=container.thread_ts,
            request_id=container.request_id,
        )

    # --- power --------------------------------------------------------------------------------------

    async def power(self, actor: Actor, vmid: int, action: str) -> PowerResult:
        """Start, stop, shutdown or reboot a container (owner or approver); the task is followed.

        ``restart`` is refused with a pointer to ``reboot`` (LXC has no restart). Raises
        :class:`ContainerNotManaged`, :class:`~bot.access.AccessDenied`, :class:`ContainerAlreadyRunning`,
        :class:`ContainerNotRunning`, :class:`ContainerBusy` or a :class:`~bot.proxmox.errors.ProxmoxError`.
        """
        if action == "restart":
            raise InputError("Containers have no restart; use `reboot`.", field="action")
        if action not in _POWER_ACTIONS:
            raise InputError(
                f"Unknown action {action[:20]!r}; use one of {', '.join(_POWER_ACTIONS)}.", field="action"
            )
        verb: PowerAction = action
        container = await self._operable(actor, vmid, action)
        try:
            upid = await self.proxmox.power(container.node, vmid, verb)
        except ProxmoxConflictError as exc:
            raise self._conflict(container, action, exc) from exc
        except ProxmoxLockedError as exc:
            raise _busy(container, exc) from exc
        await self._follow(action, upid, container, actor.user_id)
        await self._audit(
            actor.user_id, f"container.{action}", vmid=vmid, upid=str(upid), detail={"node": upid.node}
        )
        return PowerResult(vmid=vmid, action=verb, node=upid.node, upid=str(upid))

    @staticmethod
    def _conflict(container: Container, action: str, exc: ProxmoxConflictError) -> CardinalError:
        name = f"{container.hostname} ({container.vmid})"
        text = exc.what.lower()
        if "already running" in text:
            return ContainerAlreadyRunning(
                f"{name} is already running.",
                hint=(
                    f"To restart it use `/lxc reboot {container.vmid}`; "
                    f"to stop it `/lxc stop {container.vmid}`."
                ),
            )
        if "not running" in text:
            return ContainerNotRunning(
                f"{name} is not running, so it cannot {action}.",
                hint=f"Start it with `/lxc start {container.vmid}`.",
            )
        return exc

    # --- destroy ------------------------------------------------------------------------------------

    async def request_destroy(self, actor: Actor, vmid: int) -> DestroyPlan:
        """What ``/lxc destroy`` needs: always a confirmation; an approver's decision for non-owners."""
        container = await self._container(vmid)
        direct = may_destroy_directly(actor, container)
        name = f"{container.hostname} ({vmid})"
        if direct:
            text = f"Destroy {name} on {container.node}? Its disks are deleted; this cannot be undone."
        else:
            text = (
                f"{name} belongs to <@{container.owner}>. Destroying it needs an approver's decision; "
                "ask for it? Its disks will be deleted; this cannot be undone."
            )
        return DestroyPlan(
            vmid=vmid,
            hostname=container.hostname,
            node=container.node,
            owner=container.owner,
            requested_by=actor.user_id,
            needs_approval=not direct,
            confirm_text=text,
        )

    async def destroy(self, actor: Actor, vmid: int, *, approved_by: Actor | None = None) -> DestroyResult:
        """Destroy a container (after the confirmation): ``DELETE`` with ``purge=1``,
        ``destroy-unreferenced-disks=1`` and ``force=1``.

        ``force=1`` lets Proxmox stop a running container inside the same ``vzdestroy`` task, so there is
        one non-idempotent call and no window between a separate stop task and the destroy. The owner may
        destroy directly; anyone else needs ``approved_by``: an approver who is not ``actor``. A container
        already gone from Proxmox is marked destroyed. The database record is marked destroyed by the
        follower when the task succeeds (or by the reconcile job once Proxmox no longer lists it).
        """
        container = await self._container(vmid)
        if not may_destroy_directly(actor, container):
            missing = (
                f"Only the owner <@{container.owner}> may destroy {container.hostname} ({vmid}) directly."
            )
            await self._require_approval(actor, approved_by, container, "destroy", missing=missing)
        return await self.destroy_record(container, actor.user_id, approved_by=approved_by)

    async def destroy_record(
        self,
        container: Container,
        actor_id: str,
        *,
        approved_by: Actor | None = None,
        reason: str = "request",
    ) -> DestroyResult:
        """Destroy ``container`` *without* an authorization check (for Cardinal's own jobs, e.g. expiry).

        Same call as :meth:`destroy`; follows the task and writes ``container.destroy_requested``.
        """
        vmid = container.vmid
        try:
            upid = await self.proxmox.destroy_container(
                container.node, vmid, purge=True, destroy_unreferenced_disks=True, force=True
            )
        except ProxmoxNotFoundError:
            now = self.clock()
            async with self.db.transaction() as tx:
                await tx.containers.mark_destroyed(vmid, now=now)
                await tx.audit.append(
                    actor_id,
                    "container.destroyed",
                    now=now,
                    vmid=vmid,
                    detail={"note": "already gone from Proxmox", "reason": reason},
                )
            return DestroyResult(vmid=vmid, node=container.node, upid=None, already_gone=True)
        except ProxmoxLockedError as exc:
            raise _busy(container, exc) from exc
        await self._follow("destroy", upid, container, actor_id)
        detail: dict[str, Any] = {"node": upid.node, "reason": reason}
        if approved_by is not None:
            detail["approved_by"] = approved_by.user_id
        await self._audit(actor_id, "container.destroy_requested", vmid=vmid, upid=str(upid), detail=detail)
        return DestroyResult(vmid=vmid, node=upid.node, upid=str(upid))

    # --- extend -------------------------------------------------------------------------------------

    async def extend(self, actor: Actor, vmid: int, duration: timedelta) -> ExtendResult:
        """Push the expiry by ``duration`` (from the current expiry, or from now if already past).

        The new expiry may be at most ``limits.max_lifetime`` from now. The database is updated first (it
        drives the expiry job); then the container's description line (and tags) are rewritten with
        ``PUT …/config`` guarded by the config ``digest``. If Proxmox cannot be updated the extension still
        holds and ``written_to_container`` is False.
        """
        if duration <= timedelta(0):
            raise InputError("The extension must be longer than zero.", field="duration")
        container = await self._operable(actor, vmid, "extend")
        now = self.clock()
        base = max(container.expires_at or now, now)
        new_expiry = (base + duration).replace(microsecond=0)
        limit = now + self.policy.limits.max_lifetime
        if new_expiry > limit:
            room = limit - base
            hint = (
                f"You can extend it by at most {format_duration(room)} now."
                if room >= timedelta(minutes=1)
                else "It is already at the limit; extend it again later."
            )
            most = format_duration(self.policy.limits.max_lifetime)
            raise InputError(
                f"{container.hostname} ({vmid}) may live at most {most}"
                f" from now (until {format_expiry(limit)}); {format_duration(duration)} more would reach "
                f"{format_expiry(new_expiry)}.",
                field="duration",
                hint=hint,
            )
        async with self.db.transaction() as tx:
            await tx.containers.set_expiry(vmid, new_expiry, now=now)
            await tx.audit.append(
                actor.user_id,
                "container.extended",
                now=now,
                vmid=vmid,
                detail={
                    "from": container.expires_at.isoformat() if container.expires_at else None,
                    "to": new_expiry.isoformat(),
                    "by": format_duration(duration),
                },
            )
        note: str | None = None
        try:
            await self.write_ownership(container, new_expiry)
            written = True
        except (ProxmoxError, InputError) as exc:
            written = False
            note = f"The new expiry is saved, but Proxmox's note on the container was not updated: {exc.what}"
        return ExtendResult(
            vmid=vmid,
            previous=container.expires_at,
            expires_at=new_expiry,
            written_to_container=written,
            note=note,
        )

    async def write_ownership(self, container: Container, expires_at: datetime | None) -> None:
        """Rewrite the ``cardinal:`` description line and ownership tags in the container's config.

        Reads the config for its ``description``/``tags`` and ``digest``; a concurrent change (digest
        mismatch) is retried once with a fresh read.
        """
        line = ownership_line(container.owner, expires_at, container.request_id)
        for attempt in range(2):
            config = await self.proxmox.container_config(container.node, container.vmid)
            description = config.get("description")
            tags = config.get("tags")
            params: dict[str, Any] = {
                "description": with_updated_description(
                    description if isinstance(description, str) else None, line
                )
            }
            new_tags = with_ownership_tags(tags if isinstance(tags, str) else None, container.owner)
            if parse_tags(tags if isinstance(tags, str) else None) != parse_tags(new_tags):
                params["tags"] = new_tags
            if isinstance(config.get("digest"), str):
                params["digest"] = config["digest"]
            try:
                await self.proxmox.update_config(container.node, container.vmid, params)
                return
            except ProxmoxConflictError:
                if attempt == 1:
                    raise

    # --- addresses ----------------------------------------------------------------------------------

    async def discover_ips(self, actor: Actor, vmid: int) -> list[str]:
        """Re-discover a container's addresses: live interfaces (running CTs; IPv4 and global IPv6)
        plus static ``ip=``/``ip6=`` from the config. Stores them and returns them (may be empty).
        Only for those who may see the container (:func:`bot.access.require_view`)."""
        container = await self._viewable(actor, vmid, "ip")
        found: list[str] = []
        for iface in await self.proxmox.interfaces(container.node, vmid):
            found.extend(iface.ipv4)
            found.extend(iface.ipv6_global)
        config = await self.proxmox.container_config(container.node, vmid)
        for address in static_addresses(config):
            if address not in found:
                found.append(address)
        ips = list(dict.fromkeys(found))
        async with self.db.transaction() as tx:
            await tx.containers.set_ips(vmid, ips, now=self.clock())
        return ips

    # --- views --------------------------------------------------------------------------------------

    async def list_containers(
        self, actor: Actor, scope: Literal["mine", "all"] = "mine"
    ) -> list[ContainerView]:
        """Containers with live status and node from one ``/cluster/resources?type=vm`` call, merged with
        Cardinal's records (owner, IPs, expiry). If Proxmox cannot be asked, the last known state is
        shown with ``live=False``. ``"all"`` only for those who may see everyone's containers."""
        if scope == "all":
            require_view_all(actor, self.policy.access.others_containers)
        async with self.db.transaction(readonly=True) as tx:
            if scope == "mine":
                records = await tx.containers.list_by_owner(actor.user_id)
            else:
                records = await tx.containers.list_all()
        try:
            live: dict[int, ClusterResource] | None = _lxc_resources(
                await self.proxmox.cluster_resources("vm")
            )
        except ProxmoxError:
            live = None
        views: list[ContainerView] = []
        for c in records:
            if live is None:
                views.append(self._view(c, status=c.state.value, node=c.node, live=False))
                continue
            item = live.get(c.vmid)
            if item is None:
                views.append(self._view(c, status="missing", node=c.node, live=True))
            else:
                views.append(
                    self._view(c, status=item.status or "unknown", node=item.node or c.node, live=True)
                )
        return views

    @staticmethod
    def _view(c: Container, *, status: str, node: str, live: bool) -> ContainerView:
        return ContainerView(
            vmid=c.vmid,
            hostname=c.hostname,
            status=status,
            node=node,
            ips=tuple(c.ip_addresses),
            owner_id=c.owner,
            expires_at=c.expires_at,
            live=live,
        )

    async def status(self, actor: Actor, target: int | str) -> ContainerDetail:
        """One container in detail, by VMID or hostname: live status, size, addresses, owner, expiry.
        Only for those who may see it (:func:`bot.access.require_view`)."""
        container = await self._viewable(actor, _parse_target(target), "status")
        async with self.db.transaction(readonly=True) as tx:
            request = await tx.requests.get_request(container.request_id) if container.request_id else None
        status = await self.proxmox.container_status(container.node, container.vmid)
        config = await self.proxmox.container_config(container.node, container.vmid)
        template = None
        purpose = None
        if request is not None:
            template = request.spec.template
            purpose = request.purpose or None
        return ContainerDetail(
            vmid=container.vmid,
            hostname=str(config.get("hostname") or container.hostname),
            status=status.status,
            node=container.node,
            ips=tuple(container.ip_addresses),
            owner_id=container.owner,
            expires_at=container.expires_at,
            live=True,
            cores=_int_or_none(config.get("cores")),
            memory_mib=_int_or_none(config.get("memory")),
            disk_gib=_disk_gib(config.get("rootfs")),
            template=template,
            uptime=timedelta(seconds=status.uptime) if status.running else None,
            purpose=purpose,
            request_id=container.request_id,
            lock=status.lock,
            tags=tuple(parse_tags(config.get("tags") if isinstance(config.get("tags"), str) else None)),
            thread_channel=container.thread_channel,
            thread_ts=container.thread_ts,
            snapshots=await self._snapshot_entries(container.node, container.vmid),
        )

    async def audit(
        self, actor: Actor, vmid: int | None = None, user: str | None = None, *, limit: int = 20
    ) -> list[AuditEvent]:
        """Recent audit events, newest first.

        Approvers see everything. Others see events about their own containers (``vmid``) and their own
        actions (``user`` = themselves; the default without filters).
        """
        if vmid is not None and not actor.is_approver:
            async with self.db.transaction(readonly=True) as tx:
                container = await tx.containers.get(vmid)
            if container is None or container.owner != actor.user_id:
                raise AccessDenied(
                    f"Only the owner or an approver may see the audit trail of {vmid}.",
                    hint="`/lxc audit` without arguments shows your own actions.",
                )
        if user is not None and user != actor.user_id and not actor.is_approver:
            raise AccessDenied(
                "Only approvers may see other people's audit trail.",
                hint="`/lxc audit` without arguments shows your own actions.",
            )
        if vmid is None and user is None and not actor.is_approver:
            user = actor.user_id
        async with self.db.transaction(readonly=True) as tx:
            return await tx.audit.recent(vmid=vmid, actor=user, limit=limit)

    async def _template_node(self) -> str:
        return (await self._template_nodes())[0]

    async def _template_nodes(self) -> list[str]:
        """Allowed nodes (online ones, if any), the default node first."""
        nodes: list[NodeInfo] = await self.proxmox.nodes()
        allowed = [n for n in nodes if self.policy.placement.node_allowed(n.node)]
        online = [n for n in allowed if n.status == "online"] or allowed
        if not online:
            raise CardinalError(
                "No Proxmox node that Cardinal may use is known.",
                hint="The operators should check `placement.nodes` in the policy.",
            )
        return [n.node for n in sorted(online, key=lambda n: (n.node != self.default_node, n.node))]

    async def templates(self) -> TemplateList:
        """Templates on the policy's template storage (of every allowed node: the storage is per node
        unless shared) and downloadable ones, both filtered by the policy's ``placement.templates``
        allow-list (downloadable ones already present are left out)."""
        storage = self.policy.placement.template_storage
        names = await self._template_nodes()
        node = names[0]
        where = await locate_templates(self.proxmox, storage, names)
        available = tuple(
            TemplateEntry(
                name=volid.split("/", 1)[-1],
                volid=volid,
                size_bytes=where.sizes.get(volid),
                nodes=() if where.everywhere(volid) else where.nodes_with(volid),
            )
            for volid in where.templates
            if self.policy.placement.template_allowed(volid)
        )
        have = {t.name for t in available}
        try:
            apl = await self.proxmox.aplinfo(node)
        except ProxmoxError:
            apl = []
        downloadable = tuple(
            TemplateEntry(name=a.template, description=a.headline or None)
            for a in sorted(apl, key=lambda a: a.template)
            if a.type == "lxc"
            and a.template not in have
            and self.policy.placement.template_allowed(a.template)
        )
        return TemplateList(storage=storage, node=node, available=available, downloadable=downloadable)

    async def tasks(self, *, limit: int = 20) -> list[TaskView]:
        """Pending tasks (oldest first), then recently changed ones (newest first), without duplicates."""
        async with self.db.transaction(readonly=True) as tx:
            pending = await tx.ledger.pending_tasks(limit=limit)
            recent = await tx.ledger.recent_tasks(limit=limit)
        seen: set[str] = set()
        out: list[TaskView] = []
        for task in [*pending, *recent]:
            if task.id in seen:
                continue
            seen.add(task.id)
            out.append(_task_view(task))
        return out[:limit]

    # --- snapshots ----------------------------------------------------------------------------------

    async def _snapshot_entries(self, node: str, vmid: int) -> tuple[SnapshotEntry, ...]:
        """The container's snapshots, oldest first; empty when Proxmox cannot say."""
        try:
            found = await self.proxmox.snapshots(node, vmid)
        except ProxmoxError:
            return ()
        entries = [
            SnapshotEntry(
                name=s.name,
                taken_at=datetime.fromtimestamp(s.snaptime, UTC) if s.snaptime else None,
                description=s.description,
            )
            for s in found
        ]
        return tuple(sorted(entries, key=lambda e: (e.taken_at or datetime.min.replace(tzinfo=UTC), e.name)))

    async def snapshot(self, actor: Actor, vmid: int, name: str | None = None) -> SnapshotResult:
        """Take a snapshot (owner or approver); the ``vzsnapshot`` task is followed (kind ``snapshot``).

        ``name`` defaults to ``s<YYYYmmdd>-<HHMM>`` (UTC); it must match ``[A-Za-z][A-Za-z0-9_-]{1,39}``
        and not be used yet on this container.
        """
        snapname = name if name is not None else self.clock().astimezone(UTC).strftime("s%Y%m%d-%H%M")
        check_snapshot_name(snapname)
        container = await self._operable(actor, vmid, "snapshot")
        taken = {e.name for e in await self._snapshot_entries(container.node, vmid)}
        if snapname in taken:
            raise InputError(
                f"{container.hostname} ({vmid}) already has a snapshot named `{snapname}`.",
                field="name",
                hint=f"Pick another name: `/lxc snapshot {vmid} <name>`.",
            )
        try:
            upid = await self.proxmox.create_snapshot(
                container.node, vmid, snapname, f"taken by Cardinal for {actor.user_id}"
            )
        except ProxmoxLockedError as exc:
            raise _busy(container, exc) from exc
        await self._follow("snapshot", upid, container, actor.user_id)
        await self._audit(
            actor.user_id,
            "container.snapshot",
            vmid=vmid,
            upid=str(upid),
            detail={"name": snapname, "node": upid.node},
        )
        return SnapshotResult(
            vmid=vmid, hostname=container.hostname, name=snapname, node=upid.node, upid=str(upid)
        )

    async def request_rollback(self, actor: Actor, vmid: int, name: str) -> RollbackPlan:
        """What ``/lxc rollback`` will do (owner or approver); the snapshot must exist. Changes nothing."""
        check_snapshot_name(name)
        container = await self._operable(actor, vmid, "roll back")
        entries = {e.name: e for e in await self._snapshot_entries(container.node, vmid)}
        entry = entries.get(name)
        if entry is None:
            have = ", ".join(f"`{n}`" for n in entries) or "none"
            raise InputError(
                f"{container.hostname} ({vmid}) has no snapshot named `{name}` (snapshots: {have}).",
                field="name",
                hint=f"`/lxc status {vmid}` lists its snapshots.",
            )
        when = f" taken {entry.taken_at:%Y-%m-%d %H:%M} UTC" if entry.taken_at else ""
        text = (
            f"Roll {container.hostname} ({vmid}) back to snapshot `{name}`{when}? Everything changed since "
            "is lost; a running container is stopped for the rollback and started again afterwards."
        )
        return RollbackPlan(
            vmid=vmid,
            hostname=container.hostname,
            node=container.node,
            name=name,
            taken_at=entry.taken_at,
            requested_by=actor.user_id,
            confirm_text=text,
        )

    async def rollback(self, actor: Actor, vmid: int, name: str) -> RollbackResult:
        """Roll back to a snapshot (after the confirmation; owner or approver). A running container is
        started again in the same ``vzrollback`` task; the task is followed (kind ``rollback``)."""
        check_snapshot_name(name)
        container = await self._operable(actor, vmid, "roll back")
        status = await self.proxmox.container_status(container.node, vmid)
        try:
            upid = await self.proxmox.rollback_snapshot(container.node, vmid, name, start=status.running)
        except ProxmoxLockedError as exc:
            raise _busy(container, exc) from exc
        await self._follow("rollback", upid, container, actor.user_id)
        await self._audit(
            actor.user_id,
            "container.rollback",
            vmid=vmid,
            upid=str(upid),
            detail={"name": name, "node": upid.node, "restart": status.running},
        )
        return RollbackResult(
            vmid=vmid,
            hostname=container.hostname,
            name=name,
            node=upid.node,
            upid=str(upid),
            restart=status.running,
        )

    # --- resize -------------------------------------------------------------------------------------

    async def plan_resize(
        self,
        actor: Actor,
        vmid: int,
        cores: int | None = None,
        memory_mib: int | None = None,
        disk_add_gib: int | None = None,
    ) -> ResizePlan:
        """Before → after of a resize and whether it needs an approver (owner or approver may ask).

        Growth that takes the owner's total memory or disk (live sizes of all their containers) beyond
        ``policy.quota`` needs approval, unless the one asking is an approver other than the owner.
        """
        if cores is None and memory_mib is None and not disk_add_gib:
            raise InputError("Say what to change: `cores=`, `memory=` or `disk=+`.", field="size")
        if cores is not None and not 1 <= cores <= 8192:
            raise InputError("cores must be from 1 to 8192.", field="cores")
        if memory_mib is not None and not 16 <= memory_mib <= 4 * 1024 * 1024:
            raise InputError("memory must be 16 MiB to 4 TiB.", field="memory")
        if disk_add_gib is not None and not 0 <= disk_add_gib <= 65536:
            raise InputError("disk can grow by 1 to 65536 GiB at a time.", field="disk")
        container = await self._operable(actor, vmid, "resize")
        config = await self.proxmox.container_config(container.node, vmid)
        cores_before = _int_or_none(config.get("cores"))
        memory_before = _int_or_none(config.get("memory")) or 512
        disk_before = _disk_gib(config.get("rootfs"))
        add = disk_add_gib or 0
        cores_after = cores if cores is not None else cores_before
        memory_after = memory_mib if memory_mib is not None else memory_before
        if cores_after == cores_before and memory_after == memory_before and add == 0:
            raise InputError(
                f"{container.hostname} ({vmid}) already has that size.",
                field="size",
                hint=f"`/lxc status {vmid}` shows its size.",
            )
        mem_total, disk_total = await self._owner_usage(container)
        mem_total += memory_after - memory_before
        disk_total += add
        q = self.policy.quota
        reasons = []
        if memory_after > memory_before and mem_total > q.total_memory_mib:
            reasons.append(f"total memory would be {mem_total} MiB; the quota is {q.total_memory_mib} MiB")
        if add > 0 and disk_total > q.total_disk_gib:
            reasons.append(f"total disk would be {disk_total} GiB; the quota is {q.total_disk_gib} GiB")
        exempt = actor.is_approver and actor.user_id != container.owner
        return ResizePlan(
            vmid=vmid,
            hostname=container.hostname,
            node=container.node,
            owner=container.owner,
            requested_by=actor.user_id,
            cores_before=cores_before,
            cores_after=cores_after,
            memory_before_mib=memory_before,
            memory_after_mib=memory_after,
            disk_before_gib=disk_before,
            disk_add_gib=add,
            needs_approval=bool(reasons) and not exempt,
            reason="; ".join(reasons) or None,
            quota_memory_mib=mem_total,
            quota_disk_gib=disk_total,
        )

    async def _owner_usage(self, container: Container) -> tuple[int, int]:
        """The owner's live totals (memory MiB, disk GiB) over their containers, from one resources call."""
        async with self.db.transaction(readonly=True) as tx:
            owned = await tx.containers.list_by_owner(container.owner)
        live = _lxc_resources(await self.proxmox.cluster_resources("vm"))
        mem = disk = 0
        for c in owned:
            item = live.get(c.vmid)
            if item is None:
                continue
            mem += (item.maxmem or 0) // (1 << 20)
            disk += round((item.maxdisk or 0) / (1 << 30))
        return mem, disk

    async def resize(
        self,
        actor: Actor,
        vmid: int,
        cores: int | None = None,
        memory_mib: int | None = None,
        disk_add_gib: int | None = None,
        *,
        approved_by: Actor | None = None,
    ) -> ResizeResult:
        """Resize a container (owner or approver): cores/memory at once (``PUT config``), the root disk
        grown by a followed ``resize`` task (kind ``resize``).

        Beyond the owner's quota nothing happens (``applied`` False, the plan says why) unless
        ``approved_by`` is an approver other than ``actor``.
        """
        plan = await self.plan_resize(actor, vmid, cores, memory_mib, disk_add_gib)
        if plan.needs_approval and approved_by is None:
            return ResizeResult(plan=plan, applied=False)
        container = await self._container(vmid)
        if plan.needs_approval:
            await self._require_approval(actor, approved_by, container, "resize", missing="")  # not None
        params: dict[str, Any] = {}
        if plan.cores is not None:
            params["cores"] = plan.cores
        if plan.memory_mib is not None:
            params["memory"] = plan.memory_mib
        try:
            if params:
                await self.proxmox.update_config(container.node, vmid, params)
            upid = (
                await self.proxmox.resize_disk(container.node, vmid, "rootfs", f"+{plan.disk_add_gib}G")
                if plan.disk_add_gib
                else None
            )
        except ProxmoxLockedError as exc:
            raise _busy(container, exc) from exc
        if upid is not None:
            await self._follow("resize", upid, container, actor.user_id)
        detail: dict[str, Any] = {
            "cores": [plan.cores_before, plan.cores_after],
            "memory_mib": [plan.memory_before_mib, plan.memory_after_mib],
            "disk_gib": [plan.disk_before_gib, plan.disk_after_gib],
        }
        if approved_by is not None and plan.needs_approval:
            detail["approved_by"] = approved_by.user_id
        await self._audit(
            actor.user_id, "container.resized", vmid=vmid, upid=str(upid) if upid else None, detail=detail
        )
        return ResizeResult(plan=plan, applied=True, upid=str(upid) if upid else None)


def _busy(container: Container, exc: ProxmoxLockedError) -> ContainerBusy:
    """Proxmox holds a lock on ``container`` (another task is running on it)."""
    return ContainerBusy(f"{container.hostname} ({container.vmid}) is busy: {exc.what}")


_SNAPNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,39}$")


def check_snapshot_name(name: str) -> None:
    """Refuse a snapshot name Proxmox would refuse (``pve-configid``, ≤ 40 chars, no reserved name)."""
    if not _SNAPNAME_RE.fullmatch(name) or name.lower() in ("current", "vzdump"):
        raise InputError(
            f"`{name[:45]}` is not a valid snapshot name: start with a letter, then 1–39 letters, digits, "
            "'_' or '-' (and not `current` or `vzdump`).",
            field="name",
        )
