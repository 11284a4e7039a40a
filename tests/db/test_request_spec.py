"""A request's spec is stored as JSON and read back as a RequestSpec: rows the earlier code wrote still
read, and a row that does not fit is refused with the row and field named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from bot.containers.spec import ContainerSpec
from bot.containers.stored import RequestSpec
from bot.db import ContainerRequest, Database
from bot.db.errors import StoredRowInvalid
from bot.db.tables import container_request
from tests.conftest import T0

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
BASE = ContainerSpec(hostname="web", template=TEMPLATE, storage="local-lvm", cores=2, generate_password=True)
SPEC = RequestSpec.of(BASE, ["web-1", "web-2"], preset="medium", needs_approval=False)


async def _create(db: Database, spec: RequestSpec = SPEC) -> ContainerRequest:
    async with db.transaction() as tx:
        return await tx.requests.create_request(requester="U_REQ", channel="C1", spec=spec, count=2, now=T0)


async def _store_raw(db: Database, request_id: str, spec: object) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(
            update(container_request).where(container_request.c.id == request_id).values(spec=spec)
        )


async def _read(db: Database, request_id: str) -> ContainerRequest | None:
    async with db.transaction(readonly=True) as tx:
        return await tx.requests.get_request(request_id)


async def test_spec_reads_back_as_stored(db: Database) -> None:
    req = await _create(db)
    again = await _read(db, req.id)
    assert again is not None
    assert again.spec == SPEC
    assert again.spec.hostnames == ["web-1", "web-2"]
    assert (again.spec.preset, again.spec.needs_approval) == ("medium", False)
    assert again.spec.container_spec("web-2") == BASE.model_copy(update={"hostname": "web-2"})


async def test_rows_written_by_the_earlier_code_still_read(db: Database) -> None:
    """The flat JSON (ContainerSpec fields plus hostnames/preset/needs_approval) reads unchanged; a
    spec without ``hostnames`` is one container named like the base."""
    req = await _create(db)
    legacy = BASE.model_dump(mode="json")
    legacy.update({"hostnames": ["web-1", "web-2"], "preset": None, "needs_approval": True})
    await _store_raw(db, req.id, legacy)
    again = await _read(db, req.id)
    assert again is not None
    assert again.spec.hostnames == ["web-1", "web-2"]
    assert again.spec.needs_approval is True
    await _store_raw(db, req.id, BASE.model_dump(mode="json"))
    single = await _read(db, req.id)
    assert single is not None
    assert single.spec.hostnames == ["web"]


async def test_malformed_spec_is_a_typed_error_naming_row_and_field(db: Database) -> None:
    req = await _create(db)
    await _store_raw(db, req.id, {**SPEC.model_dump(mode="json"), "memory_mib": "lots", "template": None})
    with pytest.raises(StoredRowInvalid) as exc:
        await _read(db, req.id)
    assert exc.value.table == "container_request"
    assert exc.value.row_id == req.id
    assert any(p.startswith("spec.memory_mib:") for p in exc.value.problems)
    assert any(p.startswith("spec.template:") for p in exc.value.problems)


async def test_unknown_key_in_a_stored_spec_is_refused(db: Database) -> None:
    """A key the model does not know (a typo, a newer version's field) is named, not silently dropped."""
    req = await _create(db)
    await _store_raw(db, req.id, {**SPEC.model_dump(mode="json"), "password": "hunter22"})
    with pytest.raises(StoredRowInvalid, match=r"spec\.password"):
        await _read(db, req.id)


async def test_a_spec_built_without_validation_is_refused_on_write(db: Database) -> None:
    bad = SPEC.model_copy(update={"hostnames": ["<!here>"]})
    with pytest.raises(ValidationError):
        await _create(db, bad)


def test_a_request_needs_at_least_one_hostname() -> None:
    with pytest.raises(ValidationError, match="hostnames"):
        RequestSpec.of(BASE, [], preset=None, needs_approval=True)
