"""The part of the Proxmox client the tracker uses, and a wrapper that counts the calls per sweep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from bot.proxmox import (
    ClusterResource,
    ContainerConfig,
    ContainerStatus,
    Interface,
    PowerAction,
    ProxmoxTaskStatus,
    TaskListItem,
    TaskSource,
    Upid,
)


class TrackerProxmox(Protocol):
    """What the tracker needs from :class:`bot.proxmox.ProxmoxClient` (which satisfies it)."""

    async def node_tasks(
        self,
        node: str,
        *,
        source: TaskSource = "archive",
        since: int | None = None,
        vmid: int | None = None,
        typefilter: str | None = None,
        userfilter: str | None = None,
        limit: int | None = None,
    ) -> list[TaskListItem]: ...

    async def task_status(self, upid: Upid) -> ProxmoxTaskStatus: ...

    async def task_log_tail(self, upid: Upid, lines: int = 20) -> list[str]: ...

    async def create_container(self, node: str, params: Mapping[str, Any]) -> Upid: ...

    async def container_config(self, node: str, vmid: int) -> ContainerConfig: ...

    async def container_status(self, node: str, vmid: int) -> ContainerStatus: ...

    async def power(self, node: str, vmid: int, action: PowerAction, **params: Any) -> Upid: ...

    async def interfaces(self, node: str, vmid: int) -> list[Interface]: ...

    async def cluster_resources(
        self, type: Literal["vm", "storage", "node", "sdn"] | None = None
    ) -> list[ClusterResource]: ...


class CountingProxmox:
    """Delegates to a client and counts API calls (``calls``), for the sweep report."""

    def __init__(self, inner: TrackerProxmox) -> None:
        self.inner = inner
        self.calls = 0

    def invalidate_snapshots(self) -> None:
        """Tell the client (when it keeps shared snapshots) that a task ended: guests, templates and
        nodes may have changed (:mod:`bot.proxmox.snapshot`)."""
        invalidate = getattr(self.inner, "invalidate_snapshots", None)
        if callable(invalidate):
            invalidate()

    async def node_tasks(
        self,
        node: str,
        *,
        source: TaskSource = "archive",
        since: int | None = None,
        vmid: int | None = None,
        typefilter: str | None = None,
        userfilter: str | None = None,
        limit: int | None = None,
    ) -> list[TaskListItem]:
        """See :meth:`bot.proxmox.ProxmoxClient.node_tasks`."""
        self.calls += 1
        return await self.inner.node_tasks(
            node,
            source=source,
            since=since,
            vmid=vmid,
            typefilter=typefilter,
            userfilter=userfilter,
            limit=limit,
        )

    async def node_tasks_page(
        self,
        node: str,
        *,
        source: TaskSource = "archive",
        since: int | None = None,
        limit: int | None = None,
        start: int | None = None,
    ) -> tuple[list[TaskListItem], int | None]:
        """See :meth:`bot.proxmox.ProxmoxClient.node_tasks_page`. A client without it is asked
        :meth:`node_tasks` instead: ``total`` is then ``None`` and a later page (``start`` > 0) is empty."""
        paged = getattr(self.inner, "node_tasks_page", None)
        if paged is None and start:
            return [], None
        self.calls += 1
        if paged is None:
            return await self.inner.node_tasks(node, source=source, since=since, limit=limit), None
        items, total = await paged(node, source=source, since=since, limit=limit, start=start)
        return list(items), total if isinstance(total, int) else None

    async def task_status(self, upid: Upid) -> ProxmoxTaskStatus:
        """See :meth:`bot.proxmox.ProxmoxClient.task_status`."""
        self.calls += 1
        return await self.inner.task_status(upid)

    async def task_log_tail(self, upid: Upid, lines: int = 20) -> list[str]:
        """See :meth:`bot.proxmox.ProxmoxClient.task_log_tail`."""
        self.calls += 1
        return await self.inner.task_log_tail(upid, lines)

    async def create_container(self, node: str, params: Mapping[str, Any]) -> Upid:
        """See :meth:`bot.proxmox.ProxmoxClient.create_container`."""
        self.calls += 1
        return await self.inner.create_container(node, params)

    async def container_config(self, node: str, vmid: int) -> ContainerConfig:
        """See :meth:`bot.proxmox.ProxmoxClient.container_config`."""
        self.calls += 1
        return await self.inner.container_config(node, vmid)

    async def container_status(self, node: str, vmid: int) -> ContainerStatus:
        """See :meth:`bot.proxmox.ProxmoxClient.container_status`."""
        self.calls += 1
        return await self.inner.container_status(node, vmid)

    async def power(self, node: str, vmid: int, action: PowerAction, **params: Any) -> Upid:
        """See :meth:`bot.proxmox.ProxmoxClient.power`."""
        self.calls += 1
        return await self.inner.power(node, vmid, action, **params)

    async def interfaces(self, node: str, vmid: int) -> list[Interface]:
        """See :meth:`bot.proxmox.ProxmoxClient.interfaces`."""
        self.calls += 1
        return await self.inner.interfaces(node, vmid)

    async def cluster_resources(
        self, type: Literal["vm", "storage", "node", "sdn"] | None = None
    ) -> list[ClusterResource]:
        """See :meth:`bot.proxmox.ProxmoxClient.cluster_resources`."""
        self.calls += 1
        return await self.inner.cluster_resources(type)
