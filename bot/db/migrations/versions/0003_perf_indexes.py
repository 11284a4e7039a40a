"""Indexes for the reads that scanned whole tables: ``/lxc tasks`` and the digest (tracked tasks by
``updated_at``), the tracker's per-node grouping (``node, started_at``), and retention's pruning of posted
Slack messages and old job runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_tracked_task_updated_at", "tracked_task", ["updated_at"]),
    ("ix_tracked_task_node_started_at", "tracked_task", ["node", "started_at"]),
    ("ix_slack_message_posted_at", "slack_message", ["posted_at"]),
    ("ix_job_run_lease_until", "job_run", ["lease_until"]),
)


def upgrade() -> None:
    """Apply this revision."""
    for name, table, columns in INDEXES:
        op.create_index(op.f(name), table, columns, unique=False)


def downgrade() -> None:
    """Revert this revision."""
    for name, table, _ in reversed(INDEXES):
        op.drop_index(op.f(name), table_name=table)
