"""Containers Cardinal owns, and the audit trail."""

from __future__ import annotations

from datetime import timedelta

from bot.db import ContainerState, Database
from tests.conftest import T0


async def _ct(db: Database, vmid: int, owner: str = "U1", **kw: object) -> None:
    async with db.transaction() as tx:
        await tx.containers.upsert(
            vmid=vmid, node="pve1", hostname=f"web-{vmid}", owner=owner,
            state=ContainerState.RUNNING, now=T0, **kw,  # type: ignore[arg-type]
        )  # fmt: skip


class TestContainers:
    async def test_upsert_replaces_fields_but_keeps_created_at(self, db: Database) -> None:
        """Re-upserting updates node, state and IPs while the creation time stays the first one."""
        await _ct(db, 101, ip_addresses=["10.0.0.5"])
        later = T0 + timedelta(hours=1)
        async with db.transaction() as tx:
            updated = await tx.containers.upsert(
                vmid=101, node="pve2", hostname="web-101", owner="U1",
                state=ContainerState.STOPPED, now=later, ip_addresses=["10.0.0.6", "fd00::6"],
            )  # fmt: skip
        assert updated.node == "pve2"
        assert updated.state is ContainerState.STOPPED
        assert updated.ip_addresses == ["10.0.0.6", "fd00::6"]
        assert (updated.created_at, updated.updated_at) == (T0, later)

    async def test_lists_by_owner_and_hides_destroyed(self, db: Database) -> None:
        """Owner lists show live containers; destroyed ones stay on record but leave the lists."""
        await _ct(db, 101, "U1")
        await _ct(db, 102, "U1")
        await _ct(db, 103, "U2")
        async with db.transaction() as tx:
            assert await tx.containers.mark_destroyed(102, now=T0)
            assert not await tx.containers.mark_destroyed(102, now=T0)
            mine = await tx.containers.list_by_owner("U1")
            everyone = await tx.containers.list_all()
            gone = await tx.containers.get(102)
            by_name = await tx.containers.get_by_hostname("web-103")
        assert [c.vmid for c in mine] == [101]
        assert [c.vmid for c in everyone] == [101, 103]
        assert gone is not None
        assert gone.state is ContainerState.DESTROYED
        assert gone.destroyed_at == T0
        assert by_name is not None
        assert by_name.vmid == 103

    async def test_setters_and_expiry_window(self, db: Database) -> None:
        """State, IPs, thread and expiry updates are stored; expiring_before finds only those due."""
        await _ct(db, 101)
        await _ct(db, 102)
        t1 = T0 + timedelta(minutes=1)
        async with db.transaction() as tx:
            assert await tx.containers.set_state(101, ContainerState.STOPPED, now=t1, seen=True)
            assert await tx.containers.set_ips(101, ["192.0.2.10"], now=t1)
            assert await tx.containers.set_thread(101, channel="C1", thread_ts="5.5", now=t1)
            assert await tx.containers.set_expiry(101, T0 + timedelta(days=1), now=t1)
            assert await tx.containers.set_expiry(102, T0 + timedelta(days=9), now=t1)
            assert not await tx.containers.set_ips(999, [], now=t1)
            ct = await tx.containers.get(101)
            due = await tx.containers.expiring_before(T0 + timedelta(days=2))
        assert ct is not None
        assert (ct.state, ct.ip_addresses, ct.thread_ts, ct.last_seen_at) == (
            ContainerState.STOPPED, ["192.0.2.10"], "5.5", t1,
        )  # fmt: skip
        assert [c.vmid for c in due] == [101]


class TestAudit:
    async def test_append_and_filter_newest_first(self, db: Database) -> None:
        """Events are listed newest first and can be filtered by container or by person."""
        async with db.transaction() as tx:
            await tx.audit.append("U1", "container.started", now=T0, vmid=101)
            await tx.audit.append("U2", "container.stopped", now=T0 + timedelta(seconds=1), vmid=101)
            await tx.audit.append(
                "cardinal", "task.failed", now=T0 + timedelta(seconds=2), vmid=102,
                upid="UPID:pve1:00000001:00000001:00000001:vzstart:102:root@pam:", detail={"error": "x"},
            )  # fmt: skip
            on_101 = await tx.audit.recent(vmid=101)
            by_u1 = await tx.audit.recent(actor="U1")
            latest = await tx.audit.recent(limit=1)
        assert [e.action for e in on_101] == ["container.stopped", "container.started"]
        assert [e.vmid for e in by_u1] == [101]
        assert latest[0].detail == {"error": "x"}
        assert latest[0].actor == "cardinal"
