"""The record of containers Cardinal owns: owner, node, state, addresses, expiry and their thread."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db._sql import upsert
from bot.db.enums import ContainerState
from bot.db.records import Container
from bot.db.tables import container as t

_DESTROYED = ContainerState.DESTROYED.value


_NAMED = (  # built once: every create-form submission runs it
    select(t.c.hostname, t.c.vmid)
    .where(t.c.state != _DESTROYED, t.c.hostname.in_(bindparam("b_names", expanding=True)))
    .order_by(t.c.vmid.desc())
)


class ContainerRepo:
    """Reads and writes ``container``. Destroyed containers keep their row (state ``destroyed``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def upsert(
        self,
        *,
        vmid: int,
        node: str,
        hostname: str,
        owner: str,
        state: ContainerState,
        now: datetime,
        request_id: str | None = None,
        expires_at: datetime | None = None,
        ip_addresses: Sequence[str] = (),
        thread_channel: str | None = None,
        thread_ts: str | None = None,
    ) -> Container:
        """Insert the container or replace every field of an existing one (``created_at`` is kept)."""
        values: dict[str, Any] = {
            "vmid": vmid,
            "node": node,
            "hostname": hostname,
            "request_id": request_id,
            "owner": owner,
            "state": ContainerState(state).value,
            "expires_at": expires_at,
            "ip_addresses": list(ip_addresses),
            "thread_channel": thread_channel,
            "thread_ts": thread_ts,
            "created_at": now,
            "updated_at": now,
            "last_seen_at": None,
            "destroyed_at": now if state == ContainerState.DESTROYED else None,
        }
        stmt = upsert(self._conn, t, values, ["vmid"], keep=["created_at", "last_seen_at"])
        row = (await self._conn.execute(stmt.returning(*t.c))).one()
        return Container.from_row(row)

    async def get(self, vmid: int) -> Container | None:
        """The container, or ``None``."""
        row = (await self._conn.execute(select(t).where(t.c.vmid == vmid))).first()
        return None if row is None else Container.from_row(row)

    async def get_by_hostname(self, hostname: str) -> Container | None:
        """The live (not destroyed) container with this hostname, or ``None``."""
        stmt = select(t).where(t.c.hostname == hostname, t.c.state != _DESTROYED).order_by(t.c.vmid)
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else Container.from_row(row)

    async def list_all(self, *, include_destroyed: bool = False) -> list[Container]:
        """Every container, by vmid."""
        stmt = select(t).order_by(t.c.vmid)
        if not include_destroyed:
            stmt = stmt.where(t.c.state != _DESTROYED)
        return [Container.from_row(r) for r in await self._conn.execute(stmt)]

    async def list_by_owner(self, owner: str, *, include_destroyed: bool = False) -> list[Container]:
        """The person's containers, by vmid."""
        stmt = select(t).where(t.c.owner == owner).order_by(t.c.vmid)
        if not include_destroyed:
            stmt = stmt.where(t.c.state != _DESTROYED)
        return [Container.from_row(r) for r in await self._conn.execute(stmt)]

    async def hostnames_in_use(self, hostnames: Sequence[str]) -> dict[str, int]:
        """Which of ``hostnames`` a live (not destroyed) container of Cardinal's uses: name → its lowest
        VMID."""
        rows = await self._conn.execute(_NAMED, {"b_names": list(hostnames)})
        return {row.hostname: row.vmid for row in rows}  # by VMID descending: the lowest wins

    async def list_by_request(self, request_id: str) -> list[Container]:
        """The containers of one request (destroyed ones included), by vmid."""
        stmt = select(t).where(t.c.request_id == request_id).order_by(t.c.vmid)
        return [Container.from_row(r) for r in await self._conn.execute(stmt)]

    async def _set(self, vmid: int, **values: Any) -> bool:
        result = await self._conn.execute(update(t).where(t.c.vmid == vmid).values(**values))
        return result.rowcount == 1

    async def set_state(self, vmid: int, state: ContainerState, *, now: datetime, seen: bool = False) -> bool:
        """Record a new state; ``seen=True`` also stamps ``last_seen_at`` (state read from Proxmox)."""
        values: dict[str, Any] = {"state": ContainerState(state).value, "updated_at": now}
        if seen:
            values["last_seen_at"] = now
        return await self._set(vmid, **values)

    async def set_node(self, vmid: int, node: str, *, now: datetime) -> bool:
        """Record the node the cluster now names for the container (it moved)."""
        return await self._set(vmid, node=node, updated_at=now)

    async def set_ips(self, vmid: int, ip_addresses: Sequence[str], *, now: datetime) -> bool:
        """Replace the known IP addresses."""
        return await self._set(vmid, ip_addresses=list(ip_addresses), updated_at=now)

    async def set_expiry(self, vmid: int, expires_at: datetime | None, *, now: datetime) -> bool:
        """Set (or clear, with ``None``) the expiry time."""
        return await self._set(vmid, expires_at=expires_at, updated_at=now)

    async def set_thread(self, vmid: int, *, channel: str, thread_ts: str, now: datetime) -> bool:
        """Set the Slack thread where news about this container goes."""
        return await self._set(vmid, thread_channel=channel, thread_ts=thread_ts, updated_at=now)

    async def mark_seen(self, vmid: int, *, now: datetime) -> bool:
        """Stamp ``last_seen_at`` (the reconcile job found the container in Proxmox)."""
        return await self._set(vmid, last_seen_at=now)

    async def mark_destroyed(self, vmid: int, *, now: datetime) -> bool:
        """The container is gone; keep its record with state ``destroyed``. False if already destroyed."""
        result = await self._conn.execute(
            update(t)
            .where(t.c.vmid == vmid, t.c.state != _DESTROYED)
            .values(state=_DESTROYED, destroyed_at=now, updated_at=now, ip_addresses=[])
        )
        return result.rowcount == 1

    async def expiring_before(self, when: datetime) -> list[Container]:
        """Live containers whose expiry is at or before ``when``, soonest first."""
        stmt = (
            select(t)
            .where(t.c.expires_at.is_not(None), t.c.expires_at <= when, t.c.state != _DESTROYED)
            .order_by(t.c.expires_at)
        )
        return [Container.from_row(r) for r in await self._conn.execute(stmt)]
