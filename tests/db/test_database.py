"""The Database handle: transactions commit or roll back as a whole, and time is always aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from bot.db import ContainerState, Database
from tests.conftest import T0


async def test_transaction_commits_everything_or_nothing(db: Database) -> None:
    """A block that raises leaves no trace of its writes; a block that ends commits them."""

    async def failing_block() -> None:
        async with db.transaction() as tx:
            await tx.seen.first_time("Ev-rolled-back", now=T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing_block()
    async with db.transaction() as tx:
        await tx.seen.first_time("Ev-kept", now=T0)

    async with db.transaction(readonly=True) as tx:
        assert await tx.seen.first_time("Ev-rolled-back", now=T0)
    async with db.transaction() as tx:
        assert not await tx.seen.first_time("Ev-kept", now=T0)


async def test_ping_answers(db: Database) -> None:
    """``ping`` succeeds on a reachable database (what /readyz runs)."""
    await db.ping()


async def test_timestamps_come_back_aware_utc(db: Database) -> None:
    """A time given in another zone is stored as the same instant and read back in UTC."""
    cest = timezone(timedelta(hours=2))
    expiry_local = datetime(2026, 12, 1, 14, 30, 15, 123456, tzinfo=cest)
    async with db.transaction() as tx:
        await tx.containers.upsert(
            vmid=101, node="pve1", hostname="web", owner="U1", state=ContainerState.RUNNING,
            now=T0, expires_at=expiry_local,
        )  # fmt: skip
    async with db.transaction() as tx:
        ct = await tx.containers.get(101)
    assert ct is not None
    assert ct.expires_at == expiry_local
    assert ct.expires_at is not None
    assert ct.expires_at.tzinfo == UTC
    assert ct.expires_at.hour == 12
    assert ct.created_at == T0
    assert ct.created_at.tzinfo == UTC


async def test_naive_datetime_is_refused(db: Database) -> None:
    """Passing a naive datetime is a bug and fails loudly instead of storing a wrong time."""
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.transaction() as tx:
            await tx.seen.first_time("Ev1", now=datetime(2026, 1, 1, 12, 0))


async def test_expiry_queries_compare_instants_across_zones(db: Database) -> None:
    """Containers expiring before a time are found by instant, whatever zone the times were given in."""
    plus5 = timezone(timedelta(hours=5))
    async with db.transaction() as tx:
        for vmid, expiry in [(101, T0 + timedelta(hours=1)), (102, T0 + timedelta(hours=3))]:
            await tx.containers.upsert(
                vmid=vmid, node="pve1", hostname=f"ct{vmid}", owner="U1",
                state=ContainerState.RUNNING, now=T0, expires_at=expiry.astimezone(plus5),
            )  # fmt: skip
        soon = await tx.containers.expiring_before(T0 + timedelta(hours=2))
    assert [c.vmid for c in soon] == [101]


async def test_engines_carry_no_connection_event_listeners(db: Database) -> None:
    """Any connection event listener on an engine makes every statement dispatch through SQLAlchemy's event
    machinery (about a tenth of a statement's CPU), so SQLite's BEGIN is the dialect's own and nothing
    listens on Cardinal's engines; read-only transactions on SQLite still begin DEFERRED."""
    from sqlalchemy.events import ConnectionEvents

    names = [
        n for n in dir(ConnectionEvents) if not n.startswith("_") and callable(getattr(ConnectionEvents, n))
    ]
    for engine in {id(e): e for e in (db.engine, db.reader)}.values():
        listening = [n for n in names if len(getattr(engine.sync_engine.dispatch, n, ())) > 0]
        assert listening == []
