"""One short database transaction and the repositories bound to it (a unit of work)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.approvals import ActionApprovalRepo, ApprovalRepo
from bot.db.audit import AuditRepo
from bot.db.containers import ContainerRepo
from bot.db.jobruns import JobRunRepo
from bot.db.ledger import LedgerRepo
from bot.db.outbox import OutboxRepo
from bot.db.requests import RequestRepo
from bot.db.seen import SeenEventRepo
from bot.db.vmids import VmidRepo


class Tx:
    """What ``Database.transaction()`` yields: every repository, all on the same open transaction.

    Everything done through one ``Tx`` commits together when the ``async with`` block ends, or rolls
    back if it raises. Keep it short: never await Proxmox or Slack while a ``Tx`` is open.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.audit = AuditRepo(conn)
        self.requests = RequestRepo(conn)
        self.approvals = ApprovalRepo(conn, requests=self.requests, audit=self.audit)
        self.action_approvals = ActionApprovalRepo(conn, audit=self.audit)
        self.containers = ContainerRepo(conn)
        self.ledger = LedgerRepo(conn)
        self.outbox = OutboxRepo(conn)
        self.jobs = JobRunRepo(conn)
        self.vmids = VmidRepo(conn)
        self.seen = SeenEventRepo(conn)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.conn.dialect.name
