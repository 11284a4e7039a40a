"""Initial schema: requests, approvals, containers, the task ledger, outbox, audit, job runs.

Timestamps are ``DateTime(timezone=True)`` (the model side wraps them in ``UtcDateTime``).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC_TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("vmid", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("upid", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_actor_at"), "audit_event", ["actor", "at"], unique=False)
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"], unique=False)
    op.create_index(op.f("ix_audit_event_request_id"), "audit_event", ["request_id"], unique=False)
    op.create_index(op.f("ix_audit_event_vmid_at"), "audit_event", ["vmid", "at"], unique=False)

    op.create_table(
        "container_request",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requester", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('requested', 'pending_approval', 'approved', 'denied', 'creating', 'starting',"
            " 'ready', 'failed', 'partially_failed', 'cancelled')",
            name=op.f("ck_container_request_state"),
        ),
        sa.CheckConstraint("count >= 1", name=op.f("ck_container_request_count")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_container_request")),
    )
    op.create_index(
        op.f("ix_container_request_requester_created_at"),
        "container_request",
        ["requester", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_container_request_state"), "container_request", ["state"], unique=False)

    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("started_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("lease_until", UTC_TIMESTAMP, nullable=False),
        sa.Column("takeovers", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
        sa.UniqueConstraint("job", "slot", name=op.f("uq_job_run_job_slot")),
    )
    op.create_table(
        "slack_event_seen",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("seen_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_slack_event_seen")),
    )
    op.create_index(op.f("ix_slack_event_seen_seen_at"), "slack_event_seen", ["seen_at"], unique=False)

    op.create_table(
        "slack_message",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("posted_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("state IN ('intent', 'posted')", name=op.f("ck_slack_message_state")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_message")),
    )
    op.create_table(
        "approval",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("card_channel", sa.String(length=32), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'denied')", name=op.f("ck_approval_status")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["container_request.id"],
            name=op.f("fk_approval_request_id_container_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval")),
    )
    op.create_index(op.f("ix_approval_request_id"), "approval", ["request_id"], unique=False)
    op.create_index(op.f("ix_approval_status_created_at"), "approval", ["status", "created_at"], unique=False)

    op.create_table(
        "container",
        sa.Column("vmid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=63), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("ip_addresses", sa.JSON(), nullable=False),
        sa.Column("thread_channel", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("destroyed_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state IN ('creating', 'running', 'stopped', 'destroyed', 'failed', 'unknown')",
            name=op.f("ck_container_state"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["container_request.id"],
            name=op.f("fk_container_request_id_container_request"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("vmid", name=op.f("pk_container")),
    )
    op.create_index(op.f("ix_container_expires_at"), "container", ["expires_at"], unique=False)
    op.create_index(op.f("ix_container_hostname"), "container", ["hostname"], unique=False)
    op.create_index(op.f("ix_container_owner"), "container", ["owner"], unique=False)

    op.create_table(
        "tracked_task",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("upid", sa.String(length=255), nullable=True),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("vmid", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", UTC_TIMESTAMP, nullable=True),
        sa.Column("next_poll_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.Column("deadline_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("exitstatus", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("notify_state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("notify_state IN ('pending', 'final')", name=op.f("ck_tracked_task_notify_state")),
        sa.CheckConstraint(
            "status IN ('queued', 'submitting', 'running', 'succeeded', 'failed', 'timed_out', 'unknown')",
            name=op.f("ck_tracked_task_status"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["container_request.id"],
            name=op.f("fk_tracked_task_request_id_container_request"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracked_task")),
        sa.UniqueConstraint("upid", name=op.f("uq_tracked_task_upid")),
    )
    op.create_index(op.f("ix_tracked_task_lease_owner"), "tracked_task", ["lease_owner"], unique=False)
    op.create_index(op.f("ix_tracked_task_next_poll_at"), "tracked_task", ["next_poll_at"], unique=False)
    op.create_index(op.f("ix_tracked_task_request_id"), "tracked_task", ["request_id"], unique=False)
    op.create_index(
        op.f("ix_tracked_task_status_next_poll_at"), "tracked_task", ["status", "next_poll_at"], unique=False
    )
    op.create_index(op.f("ix_tracked_task_vmid"), "tracked_task", ["vmid"], unique=False)

    op.create_table(
        "vmid_reservation",
        sa.Column("vmid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("reserved_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["container_request.id"],
            name=op.f("fk_vmid_reservation_request_id_container_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vmid", name=op.f("pk_vmid_reservation")),
    )
    op.create_index(op.f("ix_vmid_reservation_request_id"), "vmid_reservation", ["request_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_vmid_reservation_request_id"), table_name="vmid_reservation")

    op.drop_table("vmid_reservation")
    op.drop_index(op.f("ix_tracked_task_vmid"), table_name="tracked_task")
    op.drop_index(op.f("ix_tracked_task_status_next_poll_at"), table_name="tracked_task")
    op.drop_index(op.f("ix_tracked_task_request_id"), table_name="tracked_task")
    op.drop_index(op.f("ix_tracked_task_next_poll_at"), table_name="tracked_task")
    op.drop_index(op.f("ix_tracked_task_lease_owner"), table_name="tracked_task")

    op.drop_table("tracked_task")
    op.drop_index(op.f("ix_container_owner"), table_name="container")
    op.drop_index(op.f("ix_container_hostname"), table_name="container")
    op.drop_index(op.f("ix_container_expires_at"), table_name="container")

    op.drop_table("container")
    op.drop_index(op.f("ix_approval_status_created_at"), table_name="approval")
    op.drop_index(op.f("ix_approval_request_id"), table_name="approval")

    op.drop_table("approval")
    op.drop_table("slack_message")
    op.drop_index(op.f("ix_slack_event_seen_seen_at"), table_name="slack_event_seen")

    op.drop_table("slack_event_seen")
    op.drop_table("job_run")
    op.drop_index(op.f("ix_container_request_state"), table_name="container_request")
    op.drop_index(op.f("ix_container_request_requester_created_at"), table_name="container_request")

    op.drop_table("container_request")
    op.drop_index(op.f("ix_audit_event_vmid_at"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_request_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_actor_at"), table_name="audit_event")

    op.drop_table("audit_event")
