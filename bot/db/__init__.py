"""Cardinal's storage: SQLite (default) or PostgreSQL through SQLAlchemy 2 async, migrated by Alembic.

Start with :func:`open_database`; do work in ``async with db.transaction() as tx:`` blocks and use the
repositories on ``tx`` (``tx.requests``, ``tx.approvals``, ``tx.action_approvals``, ``tx.containers``,
``tx.ledger``, ``tx.outbox``, ``tx.audit``, ``tx.jobs``, ``tx.vmids``, ``tx.seen``). Every function that
depends on time takes ``now`` (aware UTC) so callers and tests control the clock.
"""

from bot.db.database import Database, open_database
from bot.db.engine import create_engine
from bot.db.enums import (
    ApprovalStatus,
    ContainerState,
    NotifyState,
    OutboxState,
    RequestState,
    TaskKind,
    TaskStatus,
)
from bot.db.errors import DuplicateUpid, StorageError, StoredRowInvalid, VmidRangeExhausted
from bot.db.migrate import current_revision, head_revision, is_at_head, migrate
from bot.db.records import (
    ActionApproval,
    Approval,
    AuditEvent,
    Container,
    ContainerRequest,
    JobRun,
    PendingApproval,
    SlackMessage,
    Task,
)
from bot.db.tx import Tx
from bot.db.types import Clock, utc_now

__all__ = [
    "ActionApproval",
    "Approval",
    "ApprovalStatus",
    "AuditEvent",
    "Clock",
    "Container",
    "ContainerRequest",
    "ContainerState",
    "Database",
    "DuplicateUpid",
    "JobRun",
    "NotifyState",
    "OutboxState",
    "PendingApproval",
    "RequestState",
    "SlackMessage",
    "StorageError",
    "StoredRowInvalid",
    "Task",
    "TaskKind",
    "TaskStatus",
    "Tx",
    "VmidRangeExhausted",
    "create_engine",
    "current_revision",
    "head_revision",
    "is_at_head",
    "migrate",
    "open_database",
    "utc_now",
]
