"""Reconcile Cardinal's records with what Proxmox actually has, and adopt containers into an empty database.

:func:`reconcile` (periodic, and ``cardinal reconcile``) compares the live containers in the database with
one ``GET /cluster/resources?type=vm`` and fixes the records: containers removed outside Cardinal are
marked destroyed (audit ``container.removed_outside``), moved containers get their new node, and changed
run states are recorded. :func:`adopt` (``cardinal reconcile --adopt``) rebuilds records from the
ownership Cardinal writes into each container (tags + description line, :mod:`bot.ownership`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.db import Database, open_database, utc_now
from bot.db.audit import SYSTEM_ACTOR
from bot.db.enums import ContainerState
from bot.db.types import Clock
from bot.ownership import CARDINAL_TAG, parse_ownership, parse_tags
from bot.policy import load_policy
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError, ProxmoxNotFoundError
from bot.proxmox.models import ClusterResource

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["ReconcileReport", "adopt", "reconcile", "run"]

EXIT_OK = 0
EXIT_FAILED = 1
_SKIP_STATES = (ContainerState.DESTROYED, ContainerState.CREATING)


@dataclass
class ReconcileReport:
    """What a reconcile or adopt run found and changed."""

    checked: int = 0
    unchanged: list[int] = field(default_factory=list)
    removed_outside: list[int] = field(default_factory=list)
    destroyed_by_cardinal: list[int] = field(default_factory=list)
    moved: list[tuple[int, str, str]] = field(default_factory=list)
    state_changed: list[tuple[int, str, str]] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    already_known: list[int] = field(default_factory=list)
    not_adoptable: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few human lines (printed by ``cardinal reconcile``)."""
        lines = [f"checked {self.checked} container(s)"]
        if self.removed_outside:
            lines.append(f"removed outside Cardinal (marked destroyed): {_ids(self.removed_outside)}")
        if self.destroyed_by_cardinal:
            lines.append(f"destroyed by Cardinal (record closed): {_ids(self.destroyed_by_cardinal)}")
        for vmid, old, new in self.moved:
            lines.append(f"{vmid} moved from {old} to {new}")
        for vmid, old, new in self.state_changed:
            lines.append(f"{vmid} is now {new} (was {old})")
        if self.adopted:
            lines.append(f"adopted: {_ids(self.adopted)}")
        if self.already_known:
            lines.append(f"already known: {_ids(self.already_known)}")
        if self.not_adoptable:
            lines.append(f"tagged '{CARDINAL_TAG}' but without valid ownership: {_ids(self.not_adoptable)}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def _ids(vmids: Sequence[int]) -> str:
    return ", ".join(str(v) for v in sorted(vmids))


def _lxc(resources: Sequence[ClusterResource]) -> dict[int, ClusterResource]:
    return {r.vmid: r for r in resources if r.type == "lxc" and r.vmid is not None}


def _state(status: str | None) -> ContainerState | None:
    return {"running": ContainerState.RUNNING, "stopped": ContainerState.STOPPED}.get(status or "")


async def reconcile(
    db: Database, proxmox: ProxmoxClient, clock: Clock, *, pool: str | None = None
) -> ReconcileReport:
    """Bring the live records in line with ``/cluster/resources?type=vm`` (LXC guests).

    Containers still being created are left to the task tracker. If Proxmox lists none of several known
    containers, nothing is marked destroyed (more likely a permission problem than a mass deletion).
    With a ``pool`` (policy ``placement.pool``), a known container that left the pool is reported.
    """
    report = ReconcileReport()
    resources = await proxmox.cluster_resources("vm")
    live = _lxc(resources)
    now = clock()
    async with db.transaction(readonly=True) as tx:
        records = [c for c in await tx.containers.list_all() if c.state not in _SKIP_STATES]
    report.checked = len(records)
    if len(records) >= 2 and not any(c.vmid in live for c in records):
        report.warnings.append(
            "Proxmox listed none of Cardinal's containers; nothing was marked destroyed. "
            "Check that Cardinal's token has VM.Audit (`cardinal check`)."
        )
        return report
    for c in records:
        item = live.get(c.vmid)
        async with db.transaction() as tx:
            if item is None:
                by_cardinal = any(
                    e.action == "container.destroy_requested" and e.at >= c.created_at
                    for e in await tx.audit.recent(vmid=c.vmid, limit=50)
                )
                if not await tx.containers.mark_destroyed(c.vmid, now=now):
                    continue
                if by_cardinal:
                    await tx.audit.append(SYSTEM_ACTOR, "container.destroyed", now=now, vmid=c.vmid)
                    report.destroyed_by_cardinal.append(c.vmid)
                else:
                    await tx.audit.append(
                        SYSTEM_ACTOR,
                        "container.removed_outside",
                        now=now,
                        vmid=c.vmid,
                        detail={"note": "removed outside Cardinal", "node": c.node, "hostname": c.hostname},
                    )
                    report.removed_outside.append(c.vmid)
                continue
            changed = False
            if pool is not None and item.pool != pool:
                report.warnings.append(
                    f"{c.vmid} is not in pool {pool} any more (pool: {item.pool or 'none'}); "
                    f"add it back: pvesh set /pools/{pool} --vms {c.vmid}"
                )
            if item.node and item.node != c.node:
                current = await tx.containers.get(c.vmid)
                if current is not None:
                    await tx.containers.upsert(
                        vmid=current.vmid,
                        node=item.node,
                        hostname=current.hostname,
                        owner=current.owner,
                        state=current.state,
                        now=now,
                        request_id=current.request_id,
                        expires_at=current.expires_at,
                        ip_addresses=current.ip_addresses,
                        thread_channel=current.thread_channel,
                        thread_ts=current.thread_ts,
                    )
                    await tx.audit.append(
                        SYSTEM_ACTOR,
                        "container.moved",
                        now=now,
                        vmid=c.vmid,
                        detail={"from": c.node, "to": item.node},
                    )
                    report.moved.append((c.vmid, c.node, item.node))
                    changed = True
            state = _state(item.status)
            if state is not None and state != c.state:
                await tx.containers.set_state(c.vmid, state, now=now, seen=True)
                report.state_changed.append((c.vmid, c.state.value, state.value))
                changed = True
            else:
                await tx.containers.mark_seen(c.vmid, now=now)
            if not changed:
                report.unchanged.append(c.vmid)
    return report


async def adopt(
    db: Database, proxmox: ProxmoxClient, clock: Clock, *, pool: str | None = None
) -> ReconcileReport:
    """Rebuild container records from Proxmox: every LXC guest tagged ``cardinal`` whose config carries a
    valid ownership (description line or owner tag) and that the database does not know is recorded,
    with owner, expiry, request id, node, hostname and state. Known containers are left alone. With a
    ``pool``, only its members are considered."""
    report = ReconcileReport()
    live = _lxc(await proxmox.cluster_resources("vm"))
    for vmid, item in sorted(live.items()):
        if CARDINAL_TAG not in parse_tags(item.tags):
            continue
        if pool is not None and item.pool != pool:
            continue
        report.checked += 1
        async with db.transaction(readonly=True) as tx:
            known = await tx.containers.get(vmid)
        if known is not None and known.state is not ContainerState.DESTROYED:
            report.already_known.append(vmid)
            continue
        try:
            config = await proxmox.container_config(item.node or "", vmid)
        except ProxmoxNotFoundError:
            continue  # removed between the two calls
        ownership = parse_ownership(config)
        if ownership is None:
            report.not_adoptable.append(vmid)
            continue
        raw_hostname = config.get("hostname") or item.name or f"CT{vmid}"
        hostname = str(raw_hostname)[:63]
        now = clock()
        async with db.transaction() as tx:
            request_id = ownership.request_id
            if request_id is not None and await tx.requests.get_request(request_id) is None:
                request_id = None
            await tx.containers.upsert(
                vmid=vmid,
                node=item.node or "",
                hostname=hostname,
                owner=ownership.owner,
                state=_state(item.status) or ContainerState.UNKNOWN,
                now=now,
                request_id=request_id,
                expires_at=ownership.expires_at,
            )
            await tx.audit.append(
                SYSTEM_ACTOR,
                "container.adopted",
                now=now,
                vmid=vmid,
                request_id=request_id,
                detail={
                    "owner": ownership.owner,
                    "source": ownership.source,
                    "request": ownership.request_id,
                    "node": item.node,
                },
            )
        report.adopted.append(vmid)
    return report


async def run(settings: Settings, adopt: bool = False) -> int:
    """``cardinal reconcile [--adopt]``: run once, print a short summary, return the exit code."""
    pool = load_policy(settings.policy_file).placement.pool
    database = await open_database(settings.database_url)
    try:
        async with ProxmoxClient.from_settings(settings) as proxmox:
            try:
                if adopt:
                    report = await _adopt(database, proxmox, utc_now, pool=pool)
                else:
                    report = await reconcile(database, proxmox, utc_now, pool=pool)
            except ProxmoxError as exc:
                print(f"cardinal reconcile: {exc.user_message}")
                return EXIT_FAILED
    finally:
        await database.dispose()
    print(("cardinal reconcile --adopt: " if adopt else "cardinal reconcile: ") + report.summary())
    return EXIT_OK


_adopt = adopt
