"""Ledger rows carry typed parameters: what was stored reads back as the same model, rows written
before the models existed still read, and a row that does not fit is refused with a clear error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from bot.db import Database, Task, TaskStatus
from bot.db.enums import TaskKind
from bot.db.errors import StoredRowInvalid
from bot.db.payloads import CreateParams, ProvisioningParams
from bot.db.tables import tracked_task
from tests.conftest import T0

DEADLINE = T0 + timedelta(minutes=30)
UPID = "UPID:pve1:000ABCDE:0123ABCD:6745A1B2:vzstart:105:cardinal@pve!bot:"
CREATE = CreateParams(
    create={"vmid": 105, "ostemplate": "local:vztmpl/debian-12.tar.zst", "hostname": "web-1", "start": 0},
    hostname="web-1",
    requester="U_REQ",
    generate_password=True,
    expires_at="2026-12-09T07:00:00+00:00",
)


async def _enqueue(db: Database, params: CreateParams = CREATE) -> Task:
    async with db.transaction() as tx:
        return await tx.ledger.enqueue(
            TaskKind.CREATE,
            node="pve1",
            vmid=105,
            request_id=None,
            params=params,
            deadline_at=DEADLINE,
            now=T0,
        )


async def _store_raw(db: Database, task_id: str, **values: object) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(update(tracked_task).where(tracked_task.c.id == task_id).values(**values))


async def _read(db: Database, task_id: str) -> Task | None:
    async with db.transaction(readonly=True) as tx:
        return await tx.ledger.get_task(task_id)


async def test_create_params_read_back_as_stored(db: Database) -> None:
    """A queued creation comes back with the same typed parameters, integers still integers."""
    task = await _enqueue(db)
    again = await _read(db, task.id)
    assert again is not None
    assert again.kind is TaskKind.CREATE
    assert again.params == CREATE
    assert isinstance(again.params, CreateParams)
    assert again.params.create["vmid"] == 105


async def test_rows_stored_before_the_models_still_read(db: Database) -> None:
    """The JSON the ledger has always stored (plain dicts) reads into the models unchanged."""
    task = await _enqueue(db)
    legacy = {
        "create": {"vmid": 105, "ostemplate": "local:vztmpl/debian-12.tar.zst", "hostname": "web-1"},
        "hostname": "web-1",
        "requester": "U_REQ",
        "generate_password": False,
        "expires_at": None,
    }
    await _store_raw(db, task.id, params=legacy)
    again = await _read(db, task.id)
    assert again is not None
    assert isinstance(again.params, CreateParams)
    assert (again.params.hostname, again.params.requester, again.params.expires_at) == (
        "web-1",
        "U_REQ",
        None,
    )
    async with db.transaction() as tx:
        step = await tx.ledger.add_step(
            TaskKind.CREATE_IP, node="pve1", vmid=105, request_id=None, deadline_at=DEADLINE, now=T0
        )
    await _store_raw(db, step.id, params={"hostname": "web-1"})  # the chain copied only present keys
    read = await _read(db, step.id)
    assert read is not None
    assert read.params == ProvisioningParams(hostname="web-1")


async def test_malformed_params_are_a_typed_error_naming_row_and_field(db: Database) -> None:
    """A hand-edited row is refused on read with the row id and the broken field, not a KeyError later."""
    task = await _enqueue(db)
    await _store_raw(db, task.id, params={"hostname": "web-1", "generate_password": "maybe"})
    with pytest.raises(StoredRowInvalid) as exc:
        await _read(db, task.id)
    assert exc.value.row_id == task.id
    assert any(p.startswith("params.create:") for p in exc.value.problems)
    assert any(p.startswith("params.generate_password:") for p in exc.value.problems)
    assert task.id in exc.value.what


async def test_unknown_kind_is_a_typed_error(db: Database) -> None:
    task = await _enqueue(db)
    await _store_raw(db, task.id, kind="teleport")
    with pytest.raises(StoredRowInvalid, match="'teleport' is not a task kind"):
        await _read(db, task.id)


async def test_day2_rows_carry_no_params(db: Database) -> None:
    """A day-2 row with parameters (nothing writes them) is refused on write and on read."""
    async with db.transaction() as tx:
        with pytest.raises(ValueError, match="carries no parameters"):
            await tx.ledger.add_task(
                TaskKind.START, node="pve1", vmid=105, request_id=None, upid=UPID, deadline_at=DEADLINE,
                now=T0, params=ProvisioningParams(hostname="web-1"),
            )  # fmt: skip
        task = await tx.ledger.add_task(
            TaskKind.START, node="pve1", vmid=105, request_id=None, upid=UPID, deadline_at=DEADLINE, now=T0
        )
    assert task.params is None
    await _store_raw(db, task.id, params={"hostname": "web-1"})
    with pytest.raises(StoredRowInvalid, match="a start task carries none"):
        await _read(db, task.id)


async def test_wrong_model_for_the_kind_is_refused_on_write(db: Database) -> None:
    async with db.transaction() as tx:
        with pytest.raises(ValueError, match="needs CreateParams"):
            await tx.ledger.enqueue(
                TaskKind.CREATE, node="pve1", vmid=105, request_id=None,
                params=ProvisioningParams(hostname="web-1"), deadline_at=DEADLINE, now=T0,
            )  # fmt: skip


def test_create_params_never_hold_a_password() -> None:
    with pytest.raises(ValidationError, match="must not hold a password"):
        CreateParams(create={"vmid": 105, "password": "hunter22"}, hostname="web-1")


async def test_an_unreadable_row_does_not_stop_the_sweep_claiming_the_others(db: Database) -> None:
    """Claiming leaves a broken row out (it is logged) and hands out every readable one."""
    async with db.transaction() as tx:
        good = await tx.ledger.add_step(
            TaskKind.CREATE_IP, node="pve1", vmid=105, request_id=None, deadline_at=DEADLINE, now=T0,
            params=ProvisioningParams(hostname="web-1"),
        )  # fmt: skip
        bad = await tx.ledger.add_step(
            TaskKind.CREATE_IP, node="pve1", vmid=106, request_id=None, deadline_at=DEADLINE, now=T0
        )
    await _store_raw(db, bad.id, params={"hostname": 7})
    async with db.transaction() as tx:
        claimed = await tx.ledger.claim_due("sweeper", now=T0, lease_seconds=30, limit=10)
    assert [(t.id, t.status) for t in claimed] == [(good.id, TaskStatus.RUNNING)]
