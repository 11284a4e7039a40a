"""What each container of a request claims of the quota, as columns: the create form's quota check sums
them in SQL over every request in flight and every live container, instead of decoding the spec of the
requester's newest requests one by one (which also left out older ones).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
INDEX = "ix_container_request_requester_state"

_requests = sa.table(
    "container_request",
    sa.column("id", sa.String()),
    sa.column("spec", sa.JSON()),
    sa.column("quota_memory_mib", sa.Integer()),
    sa.column("quota_disk_gib", sa.Integer()),
)


def claims(spec: Any) -> tuple[int, int]:
    """(memory MiB, root disk plus volumes GiB) of one container of a stored spec; (0, 0) for a spec that
    does not hold them (such a row is refused wherever it is read, see ``StoredRowInvalid``)."""
    if not isinstance(spec, Mapping):
        return 0, 0
    try:
        volumes = sum(int(mp["size_gib"]) for mp in spec.get("mountpoints") or ())
        return int(spec["memory_mib"]), int(spec["disk_gib"]) + volumes
    except (KeyError, TypeError, ValueError):
        return 0, 0


def _claims_of(rows: Sequence[Any]) -> list[tuple[str, tuple[int, int]]]:
    return [(request_id, claims(spec)) for request_id, spec in rows]


def upgrade() -> None:
    """Apply this revision: add the columns, fill them from every stored spec, index the quota read."""
    op.add_column(
        "container_request", sa.Column("quota_memory_mib", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "container_request", sa.Column("quota_disk_gib", sa.Integer(), nullable=False, server_default="0")
    )
    conn = op.get_bind()
    fill = (
        sa.update(_requests)
        .where(_requests.c.id == sa.bindparam("b_id"))
        .values(quota_memory_mib=sa.bindparam("b_mem"), quota_disk_gib=sa.bindparam("b_disk"))
    )
    page = sa.select(_requests.c.id, _requests.c.spec).order_by(_requests.c.id).limit(BATCH)
    after = ""
    while rows := conn.execute(page.where(_requests.c.id > after)).all():  # bounded memory, by id
        conn.execute(fill, [{"b_id": i, "b_mem": m, "b_disk": d} for i, (m, d) in _claims_of(rows)])
        after = rows[-1][0]
    op.create_index(op.f(INDEX), "container_request", ["requester", "state"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f(INDEX), table_name="container_request")
    with op.batch_alter_table("container_request") as batch:
        batch.drop_column("quota_disk_gib")
        batch.drop_column("quota_memory_mib")
