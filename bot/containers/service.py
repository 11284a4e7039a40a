"""Day-2 operations on containers Cardinal owns: power, destroy, extend, addresses, lists, status, audit.

:class:`ContainerService` is what the Slack edge calls for ``/lxc start|stop|shutdown|reboot|destroy|
extend|ip|list|status|audit|templates|download|tasks|snapshot|rollback|resize``. It is a facade over one
part per concern (:mod:`bot.containers.power`, :mod:`~bot.containers.destroy`,
:mod:`~bot.containers.extend`, :mod:`~bot.containers.snapshots`, :mod:`~bot.containers.resize`,
:mod:`~bot.containers.listing`, :mod:`~bot.containers.catalog`, :mod:`~bot.containers.downloads`) sharing
one :class:`~bot.containers.context.ContainerContext`.

Every method takes the acting person as an :class:`~bot.access.Actor`, checks :mod:`bot.access`, talks to
Proxmox *outside* any database transaction, hands each Proxmox task to a
:class:`~bot.containers.context.TaskFollower` (which reports the outcome in the container's thread) and
writes an audit event. Errors are typed :class:`~bot.errors.CardinalError`\\ s whose message says what
happened and what to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from bot.access import Actor
from bot.clicks import ClickLedger
from bot.containers.catalog import CatalogOps
from bot.containers.context import ContainerContext, TaskFollower
from bot.containers.destroy import DestroyOps
from bot.containers.downloads import DownloadOps, DownloadResult, ThreadPoster
from bot.containers.extend import ExtendOps
from bot.containers.listing import ListingOps
from bot.containers.power import PowerOps
from bot.containers.resize import ResizeOps
from bot.containers.results import (
    DestroyPlan,
    DestroyResult,
    ExtendResult,
    PowerResult,
    ResizePlan,
    ResizeResult,
    RollbackPlan,
    RollbackResult,
    SnapshotResult,
)
from bot.containers.snapshots import SnapshotOps
from bot.containers.views import ContainerDetail, ContainerView, TaskView, TemplateList
from bot.db import Database
from bot.db.records import AuditEvent, Container
from bot.db.types import Clock
from bot.policy import Policy
from bot.proxmox.client import ProxmoxClient

__all__ = ["ContainerService"]


class ContainerService:
    """Day-2 operations. ``clock`` gives "now" (aware UTC); ``follower`` follows the Proxmox tasks;
    ``poster`` (the outbox) opens the threads of template downloads."""

    def __init__(
        self,
        db: Database,
        proxmox: ProxmoxClient,
        follower: TaskFollower,
        policy: Policy,
        clock: Clock,
        *,
        default_node: str | None = None,
        poster: ThreadPoster | None = None,
    ) -> None:
        self.db = db
        self.proxmox = proxmox
        self.follower = follower
        self.policy = policy
        self.clock = clock
        self.clicks = ClickLedger(db, clock)
        """First-click-wins bookkeeping for the buttons that start these operations (confirmations)."""
        self.default_node = default_node  # PROXMOX_NODE: where templates are listed and downloaded
        ctx = ContainerContext(db, proxmox, follower, policy, clock, default_node=default_node)
        self.ctx = ctx
        self._power = PowerOps(ctx)
        self._destroy = DestroyOps(ctx)
        self._extend = ExtendOps(ctx)
        self._snapshots = SnapshotOps(ctx)
        self._resize = ResizeOps(ctx)
        self._listing = ListingOps(ctx)
        self._catalog = CatalogOps(ctx)
        self._downloads = DownloadOps(ctx, poster)

    # --- power --------------------------------------------------------------------------------------

    async def power(self, actor: Actor, vmid: int, action: str) -> PowerResult:
        """Start, stop, shutdown or reboot a container (:meth:`PowerOps.power`)."""
        return await self._power.power(actor, vmid, action)

    # --- destroy ------------------------------------------------------------------------------------

    async def request_destroy(self, actor: Actor, vmid: int) -> DestroyPlan:
        """What ``/lxc destroy`` needs (:meth:`DestroyOps.request_destroy`)."""
        return await self._destroy.request_destroy(actor, vmid)

    async def destroy(self, actor: Actor, vmid: int, *, approved_by: Actor | None = None) -> DestroyResult:
        """Destroy a container after the confirmation (:meth:`DestroyOps.destroy`)."""
        return await self._destroy.destroy(actor, vmid, approved_by=approved_by)

    async def destroy_record(
        self,
        container: Container,
        actor_id: str,
        *,
        approved_by: Actor | None = None,
        reason: str = "request",
    ) -> DestroyResult:
        """Destroy without an authorization check, for Cardinal's own jobs
        (:meth:`DestroyOps.destroy_record`)."""
        return await self._destroy.destroy_record(container, actor_id, approved_by=approved_by, reason=reason)

    # --- extend -------------------------------------------------------------------------------------

    async def extend(self, actor: Actor, vmid: int, duration: timedelta) -> ExtendResult:
        """Push the expiry by ``duration`` (:meth:`ExtendOps.extend`)."""
        return await self._extend.extend(actor, vmid, duration)

    async def write_ownership(self, container: Container, expires_at: datetime | None) -> None:
        """Rewrite the container's ownership note and tags (:meth:`ExtendOps.write_ownership`)."""
        await self._extend.write_ownership(container, expires_at)

    # --- snapshots ----------------------------------------------------------------------------------

    async def snapshot(self, actor: Actor, vmid: int, name: str | None = None) -> SnapshotResult:
        """Take a snapshot (:meth:`SnapshotOps.snapshot`)."""
        return await self._snapshots.snapshot(actor, vmid, name)

    async def request_rollback(self, actor: Actor, vmid: int, name: str) -> RollbackPlan:
        """What ``/lxc rollback`` will do (:meth:`SnapshotOps.request_rollback`)."""
        return await self._snapshots.request_rollback(actor, vmid, name)

    async def rollback(self, actor: Actor, vmid: int, name: str) -> RollbackResult:
        """Roll back to a snapshot after the confirmation (:meth:`SnapshotOps.rollback`)."""
        return await self._snapshots.rollback(actor, vmid, name)

    # --- resize -------------------------------------------------------------------------------------

    async def plan_resize(
        self,
        actor: Actor,
        vmid: int,
        cores: int | None = None,
        memory_mib: int | None = None,
        disk_add_gib: int | None = None,
    ) -> ResizePlan:
        """Before → after of a resize and whether it needs an approver (:meth:`ResizeOps.plan_resize`)."""
        return await self._resize.plan_resize(actor, vmid, cores, memory_mib, disk_add_gib)

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
        """Resize a container (:meth:`ResizeOps.resize`)."""
        return await self._resize.resize(
            actor, vmid, cores, memory_mib, disk_add_gib, approved_by=approved_by
        )

    # --- lists and details --------------------------------------------------------------------------

    async def discover_ips(self, actor: Actor, vmid: int) -> list[str]:
        """Re-discover and store a container's addresses (:meth:`ListingOps.discover_ips`)."""
        return await self._listing.discover_ips(actor, vmid)

    async def list_containers(
        self, actor: Actor, scope: Literal["mine", "all"] = "mine"
    ) -> list[ContainerView]:
        """Containers with their live status (:meth:`ListingOps.list_containers`)."""
        return await self._listing.list_containers(actor, scope)

    async def status(self, actor: Actor, target: int | str) -> ContainerDetail:
        """One container in detail, by VMID or hostname (:meth:`ListingOps.status`)."""
        return await self._listing.status(actor, target)

    # --- catalog ------------------------------------------------------------------------------------

    async def audit(
        self, actor: Actor, vmid: int | None = None, user: str | None = None, *, limit: int = 20
    ) -> list[AuditEvent]:
        """Recent audit events, newest first (:meth:`CatalogOps.audit`)."""
        return await self._catalog.audit(actor, vmid, user, limit=limit)

    async def templates(self) -> TemplateList:
        """Templates on the template storage and downloadable ones (:meth:`CatalogOps.templates`)."""
        return await self._catalog.templates()

    async def download_template(
        self, actor: Actor, template: str, *, channel: str | None = None
    ) -> DownloadResult:
        """Download a template where it is missing, reported in a thread in ``channel``
        (:meth:`DownloadOps.download_template`)."""
        return await self._downloads.download_template(actor, template, channel=channel)

    async def tasks(self, *, limit: int = 20) -> list[TaskView]:
        """Pending tasks, then recently changed ones (:meth:`CatalogOps.tasks`)."""
        return await self._catalog.tasks(limit=limit)
