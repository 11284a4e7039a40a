"""The async Proxmox VE client: one pooled aiohttp session, typed operations, typed errors.

Each method names one endpoint and turns its ``data`` into a model; the transport
(:mod:`bot.proxmox.transport`) does auth, encoding, retries of GETs, the circuit breaker and error mapping.
Path parameters are URL-encoded (UPIDs contain ``:``, ``@`` and ``!``); endpoint templates such as
``/nodes/{node}/lxc/{vmid}/config`` are what metrics and errors see, never raw ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, get_args
from urllib.parse import quote

from pydantic import BaseModel, SecretStr, TypeAdapter

from bot.proxmox.breaker import CircuitBreaker
from bot.proxmox.errors import ProxmoxExistsError, ProxmoxServerError
from bot.proxmox.models import (
    AplInfo,
    ClusterResource,
    ContainerConfig,
    ContainerStatus,
    Interface,
    NodeInfo,
    Permissions,
    ProxmoxTaskStatus,
    SnapshotInfo,
    StorageContent,
    TaskListItem,
    TaskLogLine,
    Version,
    parse_interfaces,
)
from bot.proxmox.snapshot import DEFAULT_TTL, GuestIndex, SnapshotCache
from bot.proxmox.tls import build_ssl
from bot.proxmox.transport import Envelope, RequestHook, RetryPolicy, Timeouts, Transport
from bot.proxmox.upid import Upid, UpidError

if TYPE_CHECKING:
    from bot.settings import Settings

PowerAction = Literal["start", "stop", "shutdown", "reboot", "suspend", "resume"]
TaskSource = Literal["archive", "active", "all"]

POWER_ACTIONS: frozenset[str] = frozenset(get_args(PowerAction))

_NODES = TypeAdapter(list[NodeInfo])
_RESOURCES = TypeAdapter(list[ClusterResource])
_CONTAINERS = TypeAdapter(list[ContainerStatus])
_TASKS = TypeAdapter(list[TaskListItem])
_LOG = TypeAdapter(list[TaskLogLine])
_CONTENT = TypeAdapter(list[StorageContent])
_APLINFO = TypeAdapter(list[AplInfo])
_SNAPSHOTS = TypeAdapter(list[SnapshotInfo])

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Answers validated straight from their bytes (Transport.get_enveloped); lists may be null in the API.
_VERSION_ENV = Envelope[Version]
_STATUS_ENV = Envelope[ContainerStatus]
_TASK_STATUS_ENV = Envelope[ProxmoxTaskStatus]
_NODES_ENV = Envelope[list[NodeInfo] | None]
_RESOURCES_ENV = Envelope[list[ClusterResource] | None]
_CONTAINERS_ENV = Envelope[list[ContainerStatus] | None]
_TASKS_ENV = Envelope[list[TaskListItem] | None]
_CONTENT_ENV = Envelope[list[StorageContent] | None]
_APLINFO_ENV = Envelope[list[AplInfo] | None]
_SNAPSHOTS_ENV = Envelope[list[SnapshotInfo] | None]


def _q(value: str | int) -> str:
    return str(value) if isinstance(value, int) else quote(value, safe="")


def _upid(data: Any, what: str) -> Upid:
    try:
        return Upid.parse(data) if isinstance(data, str) else Upid.parse(str(data))
    except UpidError:
        raise ProxmoxServerError(f"Proxmox accepted {what} but answered without a task id") from None


def _upid_path(upid: Upid) -> str:
    return f"/nodes/{_q(upid.node)}/tasks/{quote(str(upid), safe='')}"


class ProxmoxClient:
    """Use as ``async with ProxmoxClient.from_settings(settings) as px: ...`` or call ``close()``.

    Auth is an API token (``token_id`` + ``token_secret``) or a ticket (``username`` + ``password``).
    TLS is verified by default; ``ca_file`` adds a CA, ``fingerprint`` pins the certificate's SHA-256.
    ``on_request(method, endpoint_template, status_or_None, seconds)`` is called once per HTTP attempt.
    ``clock`` (monotonic seconds) decides ticket renewal after ``ticket_renew_after`` seconds.
    ``snapshot_ttl`` is how long the shared snapshots (:mod:`bot.proxmox.snapshot`) of the ``cached_*``
    reads and :meth:`guest_index` live; any write the client sends invalidates them.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_id: str | None = None,
        token_secret: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
        verify_tls: bool = True,
        ca_file: Path | None = None,
        fingerprint: str | None = None,
        timeouts: Timeouts | None = None,
        retries: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_connections: int = 20,
        on_request: RequestHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        ticket_renew_after: float = 3600.0,
        snapshot_ttl: float = DEFAULT_TTL,
    ) -> None:
        self._shared = SnapshotCache(clock, snapshot_ttl)
        self._on_request = on_request
        self._t = Transport(
            base_url,
            token_id=token_id,
            token_secret=token_secret,
            username=username,
            password=password,
            ssl=build_ssl(verify_tls=verify_tls, ca_file=ca_file, fingerprint=fingerprint),
            timeouts=timeouts,
            retries=retries,
            breaker=breaker,
            max_connections=max_connections,
            on_request=self._observe,
            clock=clock,
            ticket_renew_after=ticket_renew_after,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ProxmoxClient:
        """A client for the configured host; an API token wins over username/password when both are set.

        ``kwargs`` are passed on (e.g. ``on_request``, ``breaker``).
        """
        token = settings.uses_token
        kwargs.setdefault(
            "timeouts",
            Timeouts(
                read=settings.proxmox_timeout_read,
                write=settings.proxmox_timeout_write,
                long=settings.proxmox_timeout_long,
            ),
        )
        return cls(
            settings.proxmox_base_url,
            token_id=settings.proxmox_token if token else None,
            token_secret=settings.proxmox_secret if token else None,
            username=None if token else settings.proxmox_username,
            password=None if token else settings.proxmox_password,
            verify_tls=settings.proxmox_verify_tls,
            ca_file=settings.proxmox_ca_file,
            fingerprint=settings.proxmox_fingerprint,
            **kwargs,
        )

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker (its ``state`` is exported as a metric)."""
        return self._t.breaker

    @property
    def base_url(self) -> str:
        """``https://host:8006/api2/json``."""
        return self._t.base_url

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pooled HTTP session."""
        await self._t.close()

    def _observe(self, method: str, template: str, status: int | None, seconds: float) -> None:
        # Cardinal changed something (or may have): the shared snapshots are stale from now on.
        if method != "GET" and template != "/access/ticket":
            self._shared.invalidate()
        if self._on_request is not None:
            self._on_request(method, template, status, seconds)

    def invalidate_snapshots(self) -> None:
        """Forget the shared snapshots (e.g. when a task Cardinal started has finished)."""
        self._shared.invalidate()

    async def _get(self, path: str, template: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self._t.request("GET", path, template, params))["data"]

    async def _get_one(self, path: str, template: str, envelope: type[Envelope[M]], model: type[M]) -> M:
        """A GET whose ``data`` is one ``model``; an answer that does not fit is validated as before."""
        got = await self._t.get_enveloped(path, template, envelope)
        if isinstance(got, Envelope):
            return got.data
        return model.model_validate(got["data"])

    async def _get_list(
        self,
        path: str,
        template: str,
        envelope: type[Envelope[list[T] | None]],
        adapter: TypeAdapter[list[T]],
        params: Mapping[str, Any] | None = None,
    ) -> list[T]:
        """A GET whose ``data`` is a list (``null`` = empty); an answer that does not fit is validated as
        before."""
        got = await self._t.get_enveloped(path, template, envelope, params)
        if isinstance(got, Envelope):
            return got.data or []
        return adapter.validate_python(got["data"] or [])

    # --- cluster ------------------------------------------------------------------------------

    async def version(self) -> Version:
        """``GET /version``."""
        return await self._get_one("/version", "/version", _VERSION_ENV, Version)

    async def nodes(self) -> list[NodeInfo]:
        """``GET /nodes``: the cluster's nodes with their load (stats need Sys.Audit)."""
        return await self._get_list("/nodes", "/nodes", _NODES_ENV, _NODES)

    async def cluster_resources(
        self, type: Literal["vm", "storage", "node", "sdn"] | None = None
    ) -> list[ClusterResource]:
        """``GET /cluster/resources[?type=…]``; ``vm`` covers both QEMU and LXC guests."""
        return await self._get_list(
            "/cluster/resources", "/cluster/resources", _RESOURCES_ENV, _RESOURCES, {"type": type}
        )

    async def guest_index(self) -> GuestIndex:
        """The shared, short-lived snapshot of ``/cluster/resources?type=vm`` with its look-ups by VMID
        and name (:mod:`bot.proxmox.snapshot`). For interactive reads, not for decisions that must see
        the cluster as it is this instant."""

        async def fetch() -> GuestIndex:
            return GuestIndex.build(await self.cluster_resources("vm"))

        return await self._shared.get(("guests",), fetch)

    async def cached_cluster_resources(
        self, type: Literal["storage", "node", "sdn"]
    ) -> list[ClusterResource]:
        """:meth:`cluster_resources` of one non-guest type from the shared snapshot."""

        async def fetch() -> list[ClusterResource]:
            return await self.cluster_resources(type)

        return list(await self._shared.get(("resources", type), fetch))

    async def cached_nodes(self) -> list[NodeInfo]:
        """:meth:`nodes` from the shared snapshot (a copy of the list; the items are shared)."""
        return list(await self._shared.get(("nodes",), self.nodes))

    async def cached_storage_content(
        self, node: str, storage: str, content: str | None = "vztmpl"
    ) -> list[StorageContent]:
        """:meth:`storage_content` from the shared snapshot."""

        async def fetch() -> list[StorageContent]:
            return await self.storage_content(node, storage, content)

        return list(await self._shared.get(("content", node, storage, content), fetch))

    async def cached_aplinfo(self, node: str) -> list[AplInfo]:
        """:meth:`aplinfo` from the shared snapshot."""

        async def fetch() -> list[AplInfo]:
            return await self.aplinfo(node)

        return list(await self._shared.get(("aplinfo", node), fetch))

    async def next_vmid(self, vmid: int | None = None) -> int:
        """``GET /cluster/nextid``: the lowest free VMID (or ``vmid`` itself when free). Not a reservation."""
        data = await self._get("/cluster/nextid", "/cluster/nextid", {"vmid": vmid})
        return int(str(data))

    async def cluster_options(self) -> dict[str, Any]:
        """``GET /cluster/options``: ``datacenter.cfg`` as Proxmox parses it (``tag-style``,
        ``user-tag-access``, ``registered-tags`` …). Needs ``Sys.Audit`` on ``/``."""
        data = await self._get("/cluster/options", "/cluster/options")
        return dict(data) if isinstance(data, dict) else {}

    async def vmid_is_free(self, vmid: int) -> bool:
        """True when no guest uses ``vmid`` right now (``nextid?vmid=N`` answers 400 when taken)."""
        try:
            await self.next_vmid(vmid)
        except ProxmoxExistsError:
            return False
        return True

    async def networks(self, node: str, type: str | None = None) -> list[dict[str, Any]]:
        """``GET /nodes/{node}/network[?type=…]``: the node's interfaces (``iface``, ``type``…);
        ``type="any_bridge"`` lists Linux and OVS bridges. Any authenticated caller may read it."""
        data = await self._get(f"/nodes/{_q(node)}/network", "/nodes/{node}/network", {"type": type})
        return [item for item in data or [] if isinstance(item, dict)]

    async def permissions(self, path: str | None = None) -> Permissions:
        """``GET /access/permissions[?path=…]``: the privileges of Cardinal's own token or user."""
        data = await self._get("/access/permissions", "/access/permissions", {"path": path})
        return Permissions(paths=data or {})

    # --- containers ---------------------------------------------------------------------------

    async def create_container(self, node: str, params: Mapping[str, Any]) -> Upid:
        """``POST /nodes/{node}/lxc`` → the ``vzcreate`` task. Never retried: an unclear outcome must be
        checked (config / task list by vmid) before trying again."""
        env = await self._t.request("POST", f"/nodes/{_q(node)}/lxc", "/nodes/{node}/lxc", params)
        return _upid(env["data"], "the create")

    async def container_config(self, node: str, vmid: int) -> ContainerConfig:
        """``GET /nodes/{node}/lxc/{vmid}/config`` (pending changes applied, as Proxmox shows by default)."""
        data = await self._get(f"/nodes/{_q(node)}/lxc/{vmid}/config", "/nodes/{node}/lxc/{vmid}/config")
        if not isinstance(data, dict):
            raise ProxmoxServerError(f"Proxmox returned no configuration for CT {vmid}")
        return data

    async def update_config(self, node: str, vmid: int, params: Mapping[str, Any]) -> None:
        """``PUT /nodes/{node}/lxc/{vmid}/config``: synchronous, returns nothing."""
        await self._t.request(
            "PUT", f"/nodes/{_q(node)}/lxc/{vmid}/config", "/nodes/{node}/lxc/{vmid}/config", params
        )

    async def destroy_container(
        self,
        node: str,
        vmid: int,
        *,
        purge: bool = True,
        destroy_unreferenced_disks: bool = True,
        force: bool = False,
    ) -> Upid:
        """``DELETE /nodes/{node}/lxc/{vmid}`` (flags in the query string) → the ``vzdestroy`` task."""
        params = {"purge": purge, "destroy-unreferenced-disks": destroy_unreferenced_disks, "force": force}
        env = await self._t.request(
            "DELETE", f"/nodes/{_q(node)}/lxc/{vmid}", "/nodes/{node}/lxc/{vmid}", params
        )
        return _upid(env["data"], f"destroying CT {vmid}")

    async def container_status(self, node: str, vmid: int) -> ContainerStatus:
        """``GET /nodes/{node}/lxc/{vmid}/status/current``."""
        return await self._get_one(
            f"/nodes/{_q(node)}/lxc/{vmid}/status/current",
            "/nodes/{node}/lxc/{vmid}/status/current",
            _STATUS_ENV,
            ContainerStatus,
        )

    async def containers(self, node: str) -> list[ContainerStatus]:
        """``GET /nodes/{node}/lxc``: every CT on the node."""
        return await self._get_list(
            f"/nodes/{_q(node)}/lxc", "/nodes/{node}/lxc", _CONTAINERS_ENV, _CONTAINERS
        )

    async def power(self, node: str, vmid: int, action: PowerAction, **params: Any) -> Upid:
        """``POST /nodes/{node}/lxc/{vmid}/status/{action}`` → its task. LXC has no ``restart``: use
        ``reboot``. Extra ``params`` (e.g. ``timeout``, ``forceStop``) go into the form body."""
        if action not in POWER_ACTIONS:
            raise ValueError(f"unknown container action {action!r}; use one of {sorted(POWER_ACTIONS)}")
        env = await self._t.request(
            "POST",
            f"/nodes/{_q(node)}/lxc/{vmid}/status/{action}",
            f"/nodes/{{node}}/lxc/{{vmid}}/status/{action}",
            params,
        )
        return _upid(env["data"], f"{action} of CT {vmid}")

    async def interfaces(self, node: str, vmid: int) -> list[Interface]:
        """``GET /nodes/{node}/lxc/{vmid}/interfaces`` without ``lo``; ``[]`` for a stopped CT (API: null)."""
        data = await self._get(
            f"/nodes/{_q(node)}/lxc/{vmid}/interfaces", "/nodes/{node}/lxc/{vmid}/interfaces"
        )
        return parse_interfaces(data)

    # --- snapshots and resize -----------------------------------------------------------------

    async def snapshots(self, node: str, vmid: int) -> list[SnapshotInfo]:
        """``GET /nodes/{node}/lxc/{vmid}/snapshot``: the snapshots, without the ``current`` entry."""
        snapshots = await self._get_list(
            f"/nodes/{_q(node)}/lxc/{vmid}/snapshot",
            "/nodes/{node}/lxc/{vmid}/snapshot",
            _SNAPSHOTS_ENV,
            _SNAPSHOTS,
        )
        return [s for s in snapshots if not s.is_current]

    async def create_snapshot(self, node: str, vmid: int, name: str, description: str | None = None) -> Upid:
        """``POST /nodes/{node}/lxc/{vmid}/snapshot`` → the ``vzsnapshot`` task (``lock: snapshot`` while it
        runs; a name in use or a locked CT fails the task, not the call)."""
        env = await self._t.request(
            "POST",
            f"/nodes/{_q(node)}/lxc/{vmid}/snapshot",
            "/nodes/{node}/lxc/{vmid}/snapshot",
            {"snapname": name, "description": description},
        )
        return _upid(env["data"], f"the snapshot of CT {vmid}")

    async def rollback_snapshot(self, node: str, vmid: int, name: str, start: bool = False) -> Upid:
        """``POST …/snapshot/{snapname}/rollback`` → the ``vzrollback`` task; a running CT is stopped
        first, and started again afterwards only with ``start``."""
        env = await self._t.request(
            "POST",
            f"/nodes/{_q(node)}/lxc/{vmid}/snapshot/{_q(name)}/rollback",
            "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback",
            {"start": start},
        )
        return _upid(env["data"], f"the rollback of CT {vmid}")

    async def delete_snapshot(self, node: str, vmid: int, name: str, *, force: bool = False) -> Upid:
        """``DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}`` → the ``vzdelsnapshot`` task."""
        env = await self._t.request(
            "DELETE",
            f"/nodes/{_q(node)}/lxc/{vmid}/snapshot/{_q(name)}",
            "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
            {"force": force or None},
        )
        return _upid(env["data"], f"deleting snapshot {name} of CT {vmid}")

    async def resize_disk(self, node: str, vmid: int, disk: str, size: str) -> Upid | None:
        """``PUT /nodes/{node}/lxc/{vmid}/resize`` (``size`` like ``+2G`` to grow by, ``10G`` absolute).

        Returns the ``resize`` task, or None when Proxmox answered ``null`` (it resized synchronously).
        Shrinking is refused by Proxmox (``unable to shrink disk size``), as is a locked CT.
        """
        env = await self._t.request(
            "PUT",
            f"/nodes/{_q(node)}/lxc/{vmid}/resize",
            "/nodes/{node}/lxc/{vmid}/resize",
            {"disk": disk, "size": size},
        )
        data = env.get("data")
        return None if data is None else _upid(data, f"the resize of CT {vmid}")

    # --- tasks --------------------------------------------------------------------------------

    async def task_status(self, upid: Upid) -> ProxmoxTaskStatus:
        """``GET /nodes/{node}/tasks/{upid}/status``, asked of the node named in the UPID."""
        return await self._get_one(
            _upid_path(upid) + "/status",
            "/nodes/{node}/tasks/{upid}/status",
            _TASK_STATUS_ENV,
            ProxmoxTaskStatus,
        )

    async def task_log(self, upid: Upid, *, start: int = 0, limit: int = 0) -> list[TaskLogLine]:
        """``GET /nodes/{node}/tasks/{upid}/log``; ``start`` is a 0-based offset, ``limit=0`` = whole log."""
        env = await self._t.request(
            "GET",
            _upid_path(upid) + "/log",
            "/nodes/{node}/tasks/{upid}/log",
            {"start": start, "limit": limit},
            call="long" if limit == 0 else "read",
        )
        return _LOG.validate_python(env["data"] or [])

    async def task_log_tail(self, upid: Upid, lines: int = 20) -> list[str]:
        """The last ``lines`` log lines as text (one request for short logs, two for long ones)."""
        if lines <= 0:
            return []
        path, template = _upid_path(upid) + "/log", "/nodes/{node}/tasks/{upid}/log"
        env = await self._t.request("GET", path, template, {"start": 0, "limit": lines})
        total = env.get("total")
        if isinstance(total, int) and total > lines:
            env = await self._t.request("GET", path, template, {"start": total - lines, "limit": lines})
        return [line.t for line in _LOG.validate_python(env["data"] or [])][-lines:]

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
        """``GET /nodes/{node}/tasks``: newest first; ``source="archive"`` lists finished tasks only,
        ``"active"`` the running ones, ``"all"`` both."""
        items, _total = await self.node_tasks_page(
            node,
            source=source,
            since=since,
            vmid=vmid,
            typefilter=typefilter,
            userfilter=userfilter,
            limit=limit,
        )
        return items

    async def node_tasks_page(
        self,
        node: str,
        *,
        source: TaskSource = "archive",
        since: int | None = None,
        vmid: int | None = None,
        typefilter: str | None = None,
        userfilter: str | None = None,
        limit: int | None = None,
        start: int | None = None,
    ) -> tuple[list[TaskListItem], int | None]:
        """:meth:`node_tasks` from offset ``start`` (0-based), with the answer's ``total``: how many tasks
        match the filters in all (``None`` when Proxmox did not say). ``total > start + len(items)`` means
        more pages follow."""
        params = {
            "source": source,
            "since": since,
            "vmid": vmid,
            "typefilter": typefilter,
            "userfilter": userfilter,
            "limit": limit,
            "start": start,
        }
        got = await self._t.get_enveloped(
            f"/nodes/{_q(node)}/tasks", "/nodes/{node}/tasks", _TASKS_ENV, params
        )
        if isinstance(got, Envelope):
            items, total = got.data or [], got.total
        else:
            items, total = _TASKS.validate_python(got["data"] or []), got.get("total")
        return items, total if isinstance(total, int) and not isinstance(total, bool) else None

    async def cluster_tasks(self) -> list[TaskListItem]:
        """``GET /cluster/tasks``: running plus recent finished tasks of every node (may lag a few s)."""
        return await self._get_list("/cluster/tasks", "/cluster/tasks", _TASKS_ENV, _TASKS)

    async def stop_task(self, upid: Upid) -> None:
        """``DELETE /nodes/{node}/tasks/{upid}``: the task ends with ``received interrupt``."""
        await self._t.request("DELETE", _upid_path(upid), "/nodes/{node}/tasks/{upid}")

    # --- storage and templates ----------------------------------------------------------------

    async def storage_content(
        self, node: str, storage: str, content: str | None = "vztmpl"
    ) -> list[StorageContent]:
        """``GET /nodes/{node}/storage/{storage}/content[?content=…]``; ``volid`` is the ``ostemplate``."""
        return await self._get_list(
            f"/nodes/{_q(node)}/storage/{_q(storage)}/content",
            "/nodes/{node}/storage/{storage}/content",
            _CONTENT_ENV,
            _CONTENT,
            {"content": content},
        )

    async def aplinfo(self, node: str) -> list[AplInfo]:
        """``GET /nodes/{node}/aplinfo``: templates available for download."""
        return await self._get_list(
            f"/nodes/{_q(node)}/aplinfo", "/nodes/{node}/aplinfo", _APLINFO_ENV, _APLINFO
        )

    async def download_template(self, node: str, storage: str, template: str) -> Upid:
        """``POST /nodes/{node}/aplinfo`` → the ``download`` task writing ``template`` to ``storage``."""
        env = await self._t.request(
            "POST",
            f"/nodes/{_q(node)}/aplinfo",
            "/nodes/{node}/aplinfo",
            {"storage": storage, "template": template},
        )
        return _upid(env["data"], f"the download of {template}")
