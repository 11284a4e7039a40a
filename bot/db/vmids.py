"""VMID reservations: each request's container ids are taken in the database before Proxmox sees them."""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db._sql import insert_ignore
from bot.db.errors import VmidRangeExhausted
from bot.db.tables import vmid_reservation as t


class VmidRepo:
    """Reads and writes ``vmid_reservation``."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def reserve_vmid(
        self, request_id: str | None, lo: int, hi: int, taken: Set[int], *, now: datetime
    ) -> int:
        """Reserve and return the lowest VMID in ``[lo, hi]`` not reserved here and not in ``taken``.

        ``taken`` is what Proxmox already uses (``/cluster/resources`` or ``/cluster/nextid``). The
        primary key makes the reservation atomic: a candidate a concurrent caller got first is skipped
        (``INSERT … ON CONFLICT DO NOTHING``, which needs no savepoint) and the next one is tried.
        Raises :class:`VmidRangeExhausted` when nothing is free.
        """
        if lo > hi:
            raise ValueError(f"empty VMID range {lo}–{hi}")
        reserved = await self.reserved(lo, hi)
        for vmid in range(lo, hi + 1):
            if vmid in reserved or vmid in taken:
                continue
            values = {"vmid": vmid, "request_id": request_id, "reserved_at": now}
            stmt = insert_ignore(self._conn, t, values, ["vmid"]).returning(t.c.vmid)
            if (await self._conn.execute(stmt)).first() is not None:
                return vmid
        raise VmidRangeExhausted(lo, hi)

    async def reserved(self, lo: int, hi: int) -> set[int]:
        """The VMIDs reserved in ``[lo, hi]``."""
        stmt = select(t.c.vmid).where(t.c.vmid >= lo, t.c.vmid <= hi)
        return set((await self._conn.execute(stmt)).scalars())

    async def release(self, vmid: int) -> bool:
        """Drop the reservation of ``vmid`` (creation failed, or the container is gone)."""
        return (await self._conn.execute(delete(t).where(t.c.vmid == vmid))).rowcount == 1

    async def release_for_request(self, request_id: str) -> int:
        """Drop every reservation of a request; returns how many."""
        return (await self._conn.execute(delete(t).where(t.c.request_id == request_id))).rowcount
