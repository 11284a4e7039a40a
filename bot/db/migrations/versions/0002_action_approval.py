"""Day-2 approvals (destroy, resize) as records: the card's buttons carry only the record's id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC_TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "action_approval",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("vmid", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("card_channel", sa.String(length=32), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied')", name=op.f("ck_action_approval_status")
        ),
        sa.CheckConstraint("action IN ('destroy', 'resize')", name=op.f("ck_action_approval_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_approval")),
    )
    op.create_index(
        op.f("ix_action_approval_status_created_at"),
        "action_approval",
        ["status", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_action_approval_vmid"), "action_approval", ["vmid"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_action_approval_vmid"), table_name="action_approval")
    op.drop_index(op.f("ix_action_approval_status_created_at"), table_name="action_approval")
    op.drop_table("action_approval")
