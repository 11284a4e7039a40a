"""Cardinal's schema (SQLAlchemy Core). Alembic migrations in ``bot/db/migrations`` must match it.

Every timestamp is :class:`~bot.db.types.UtcDateTime`. State columns are plain strings guarded by
CHECK constraints listing the values of the enums in :mod:`bot.db.enums`. The naming convention gives
every constraint a stable name, which Alembic's batch mode on SQLite needs.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.db.enums import (
    ApprovalStatus,
    ContainerState,
    NotifyState,
    OutboxState,
    RequestState,
    TaskStatus,
    sql_in,
)
from bot.db.types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

SLACK_ID = 32  # U…, C…, W… ids
TS = 32  # Slack message ts "1712345678.123456"
UUID = 36
NODE = 64

container_request = Table(
    "container_request",
    metadata,
    Column("id", String(UUID), primary_key=True),
    Column("requester", String(SLACK_ID), nullable=False),
    Column("channel", String(SLACK_ID), nullable=False),
    Column("thread_ts", String(TS)),
    Column("spec", JSON, nullable=False),
    Column("count", Integer, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("node", String(NODE)),
    Column("state", String(24), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("decided_by", String(SLACK_ID)),
    Column("decided_at", UtcDateTime),
    Column("decision_reason", Text),
    # What each of the request's containers claims of its requester's quota (memory; root disk plus
    # volumes), kept beside ``spec`` so the quota is summed in SQL instead of decoding every spec.
    Column("quota_memory_mib", Integer, nullable=False, server_default="0"),
    Column("quota_disk_gib", Integer, nullable=False, server_default="0"),
    CheckConstraint(f"state IN ({sql_in(RequestState)})", name="state"),
    CheckConstraint("count >= 1", name="count"),
    Index(None, "requester", "created_at"),
    Index(None, "requester", "state"),
    Index(None, "state"),
)

approval = Table(
    "approval",
    metadata,
    Column("id", String(UUID), primary_key=True),
    Column(
        "request_id", String(UUID), ForeignKey("container_request.id", ondelete="CASCADE"), nullable=False
    ),
    Column("status", String(16), nullable=False),
    Column("card_channel", String(SLACK_ID)),
    Column("card_ts", String(TS)),
    Column("decided_by", String(SLACK_ID)),
    Column("decided_at", UtcDateTime),
    Column("reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(f"status IN ({sql_in(ApprovalStatus)})", name="status"),
    Index(None, "request_id"),
    Index(None, "status", "created_at"),
)

action_approval = Table(
    "action_approval",
    metadata,
    Column("id", String(UUID), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("vmid", Integer, nullable=False),
    Column("requested_by", String(SLACK_ID), nullable=False),
    Column("params", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("card_channel", String(SLACK_ID)),
    Column("card_ts", String(TS)),
    Column("decided_by", String(SLACK_ID)),
    Column("decided_at", UtcDateTime),
    Column("result", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(f"status IN ({sql_in(ApprovalStatus)})", name="status"),
    CheckConstraint("action IN ('destroy', 'resize')", name="action"),
    Index(None, "status", "created_at"),
    Index(None, "vmid"),
)
"""A day-2 action waiting for an approver (destroy, resize): who asked, what, with which parameters, and
the card its Approve/Deny buttons are on (they carry only ``id``). ``status`` leaves ``pending`` once."""

container = Table(
    "container",
    metadata,
    Column("vmid", Integer, primary_key=True, autoincrement=False),
    Column("node", String(NODE), nullable=False),
    Column("hostname", String(63), nullable=False),
    Column("request_id", String(UUID), ForeignKey("container_request.id", ondelete="SET NULL")),
    Column("owner", String(SLACK_ID), nullable=False),
    Column("state", String(16), nullable=False),
    Column("expires_at", UtcDateTime),
    Column("ip_addresses", JSON, nullable=False),
    Column("thread_channel", String(SLACK_ID)),
    Column("thread_ts", String(TS)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime),
    Column("destroyed_at", UtcDateTime),
    CheckConstraint(f"state IN ({sql_in(ContainerState)})", name="state"),
    Index(None, "owner"),
    Index(None, "expires_at"),
    Index(None, "hostname"),
)

tracked_task = Table(
    "tracked_task",
    metadata,
    Column("id", String(UUID), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("upid", String(255), unique=True),
    Column("node", String(NODE), nullable=False),
    Column("vmid", Integer),
    Column("request_id", String(UUID), ForeignKey("container_request.id", ondelete="SET NULL")),
    Column("actor", String(SLACK_ID)),
    Column("channel", String(SLACK_ID)),
    Column("thread_ts", String(TS)),
    Column("status", String(16), nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_until", UtcDateTime),
    Column("next_poll_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("consecutive_errors", Integer, nullable=False),
    Column("deadline_at", UtcDateTime, nullable=False),
    Column("started_at", BigInteger),
    Column("exitstatus", String(255)),
    Column("error", Text),
    Column("result", JSON),
    Column("params", JSON),
    Column("notify_state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(f"status IN ({sql_in(TaskStatus)})", name="status"),
    CheckConstraint(f"notify_state IN ({sql_in(NotifyState)})", name="notify_state"),
    Index(None, "next_poll_at"),
    Index(None, "status", "next_poll_at"),
    Index(None, "vmid"),
    Index(None, "request_id"),
    Index(None, "lease_owner"),
    Index(None, "updated_at"),  # `/lxc tasks` (newest first), the digest's failures, retention
    Index(None, "node", "started_at"),  # LedgerRepo.watched_running: running rows by node and start
)

slack_message = Table(
    "slack_message",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("channel", String(SLACK_ID), nullable=False),
    Column("thread_ts", String(TS)),
    Column("ts", String(TS)),
    Column("state", String(16), nullable=False),
    Column("payload_hash", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("posted_at", UtcDateTime),
    CheckConstraint(f"state IN ({sql_in(OutboxState)})", name="state"),
    Index(None, "posted_at"),  # retention
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(SLACK_ID), nullable=False),
    Column("action", String(64), nullable=False),
    Column("vmid", Integer),
    Column("request_id", String(UUID)),
    Column("upid", String(255)),
    Column("detail", JSON, nullable=False),
    Index(None, "at"),
    Index(None, "vmid", "at"),
    Index(None, "actor", "at"),
    Index(None, "request_id"),
)

job_run = Table(
    "job_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=False),
    Column("slot", String(64), nullable=False),
    Column("owner", String(128), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("lease_until", UtcDateTime, nullable=False),
    Column("takeovers", Integer, nullable=False),
    Column("result", JSON),
    UniqueConstraint("job", "slot"),
    Index(None, "lease_until"),  # retention
)

vmid_reservation = Table(
    "vmid_reservation",
    metadata,
    Column("vmid", Integer, primary_key=True, autoincrement=False),
    Column("request_id", String(UUID), ForeignKey("container_request.id", ondelete="CASCADE")),
    Column("reserved_at", UtcDateTime, nullable=False),
    Index(None, "request_id"),
)

slack_event_seen = Table(
    "slack_event_seen",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Index(None, "seen_at"),
)
