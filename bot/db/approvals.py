"""Approval cards and their one-time decision (the first click wins; later clicks change nothing).

``approval`` holds create-request approvals, ``action_approval`` day-2 ones (destroy, resize).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.audit import AuditRepo
from bot.db.enums import ApprovalStatus, RequestState
from bot.db.records import ActionApproval, Approval, ContainerRequest, PendingApproval
from bot.db.requests import RequestRepo
from bot.db.tables import action_approval as a
from bot.db.tables import approval as t
from bot.db.tables import container_request as req


async def claim_pending(
    conn: AsyncConnection, table: Table, approval_id: str, **values: Any
) -> Row[Any] | None:
    """Decide the pending approval ``approval_id`` of ``table`` (``approval`` or ``action_approval``): the
    whole decided row for the first decision, ``None`` for every later or concurrent one.

    One ``UPDATE … WHERE id=:id AND status='pending' RETURNING …``: the database serialises concurrent
    updates of the row (SQLite locks the file, PostgreSQL re-checks the condition after the row lock), so of
    clicks on any number of replicas exactly one matches.
    """
    stmt = (
        update(table)
        .where(table.c.id == approval_id, table.c.status == ApprovalStatus.PENDING.value)
        .values(**values)
        .returning(*table.c)
    )
    return (await conn.execute(stmt)).first()


# Built once: opening an approval and noting its card happen on every submission that needs an approver.
_OPEN = insert(t).returning(*t.c)
_SET_CARD = (
    update(t)
    .where(t.c.id == bindparam("b_id"))
    .values(card_channel=bindparam("b_channel"), card_ts=bindparam("b_ts"))
)


class ApprovalRepo:
    """Reads and writes ``approval``; decisions also move the request and write an audit event."""

    def __init__(self, conn: AsyncConnection, *, requests: RequestRepo, audit: AuditRepo) -> None:
        self._conn = conn
        self._requests = requests
        self._audit = audit

    async def open_approval(
        self,
        request_id: str,
        *,
        now: datetime,
        card_channel: str | None = None,
        card_ts: str | None = None,
        approval_id: str | None = None,
        move_request: bool = True,
    ) -> Approval:
        """Open a pending approval; a ``requested`` request moves to ``pending_approval`` (skipped with
        ``move_request=False``, for a request stored as ``pending_approval`` in the same transaction)."""
        values = {
            "id": approval_id or str(uuid.uuid4()),
            "request_id": request_id,
            "status": ApprovalStatus.PENDING.value,
            "card_channel": card_channel,
            "card_ts": card_ts,
            "created_at": now,
        }
        row = (await self._conn.execute(_OPEN, values)).one()
        if move_request:
            await self._requests.set_state(
                request_id, RequestState.PENDING_APPROVAL, now=now, expect=RequestState.REQUESTED
            )
        return Approval.from_row(row)

    async def set_card(self, approval_id: str, *, channel: str, ts: str) -> bool:
        """Remember where the approval card was posted (so it can be updated after the decision)."""
        result = await self._conn.execute(_SET_CARD, {"b_id": approval_id, "b_channel": channel, "b_ts": ts})
        return result.rowcount == 1

    async def get_approval(self, approval_id: str) -> Approval | None:
        """The approval, or ``None``."""
        row = (await self._conn.execute(select(t).where(t.c.id == approval_id))).first()
        return None if row is None else Approval.from_row(row)

    async def for_request(self, request_id: str) -> list[Approval]:
        """All approvals of a request, oldest first."""
        stmt = select(t).where(t.c.request_id == request_id).order_by(t.c.created_at)
        return [Approval.from_row(r) for r in await self._conn.execute(stmt)]

    async def decide(
        self, approval_id: str, *, approve: bool, by: str, reason: str | None, now: datetime
    ) -> bool:
        """Decide a pending approval; True only for the first decision.

        A compare-and-set ``UPDATE … WHERE id=:id AND status='pending'``: concurrent or repeated clicks
        get False and change nothing. The winner, in the same transaction, moves the request to
        approved/denied (if it is still awaiting a decision) and appends an audit event. Whether ``by``
        may decide (approver, not the requester) is the caller's check, made before calling this.
        """
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
        row = await claim_pending(
            self._conn, t, approval_id, status=status.value, decided_by=by, decided_at=now, reason=reason
        )
        if row is None:
            return False
        request_id: str = row.request_id
        await self._requests.record_decision(request_id, approved=approve, by=by, reason=reason, now=now)
        await self._audit.append(
            by,
            f"request.{status.value}",
            now=now,
            request_id=request_id,
            detail={"approval_id": approval_id, "reason": reason},
        )
        return True

    async def pending_approvals(self, *, now: datetime, limit: int = 100) -> list[PendingApproval]:
        """Open approvals with their requests and age (``now`` − opened), oldest first."""
        stmt = (
            select(t, req)
            .join(req, req.c.id == t.c.request_id)
            .where(t.c.status == ApprovalStatus.PENDING.value)
            .order_by(t.c.created_at)
            .limit(limit)
        )
        out: list[PendingApproval] = []
        for row in await self._conn.execute(stmt):
            cols = list(row)
            n = len(t.c)
            a = Approval(**dict(zip(t.c.keys(), cols[:n], strict=True)))
            r = ContainerRequest(**dict(zip(req.c.keys(), cols[n:], strict=True)))
            out.append(PendingApproval(approval=a, request=r, age=now - a.created_at))
        return out


class ActionApprovalRepo:
    """Reads and writes ``action_approval`` (day-2 approvals); a decision is one compare-and-set."""

    def __init__(self, conn: AsyncConnection, *, audit: AuditRepo) -> None:
        self._conn = conn
        self._audit = audit

    async def open(
        self, action: str, *, vmid: int, requested_by: str, params: dict[str, Any], now: datetime
    ) -> ActionApproval:
        """Record a pending approval of ``action`` on ``vmid``; its id is what the card's buttons carry."""
        row = (
            await self._conn.execute(
                insert(a)
                .values(
                    id=str(uuid.uuid4()),
                    action=action,
                    vmid=vmid,
                    requested_by=requested_by,
                    params=params,
                    status=ApprovalStatus.PENDING.value,
                    created_at=now,
                )
                .returning(*a.c)
            )
        ).one()
        return ActionApproval.from_row(row)

    async def set_card(self, approval_id: str, *, channel: str, ts: str) -> bool:
        """Remember where the approval card was posted (so it can be revised after the decision)."""
        result = await self._conn.execute(
            update(a).where(a.c.id == approval_id).values(card_channel=channel, card_ts=ts)
        )
        return result.rowcount == 1

    async def get(self, approval_id: str) -> ActionApproval | None:
        """The approval, or ``None``."""
        row = (await self._conn.execute(select(a).where(a.c.id == approval_id))).first()
        return None if row is None else ActionApproval.from_row(row)

    async def decide(
        self, approval_id: str, *, approve: bool, by: str, now: datetime, audit_detail: dict[str, Any]
    ) -> ActionApproval | None:
        """Decide a pending approval; the decided record only for the first decision, else ``None``.

        ``UPDATE … WHERE id=:id AND status='pending'``: of concurrent or repeated clicks (on any replica)
        exactly one changes the row. The winner's audit event (``container.<action>_approved`` or
        ``_denied``) is written in the same transaction. Whether ``by`` may decide is the caller's check.
        """
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
        row = await claim_pending(
            self._conn, a, approval_id, status=status.value, decided_by=by, decided_at=now
        )
        if row is None:
            return None
        decided = ActionApproval.from_row(row)
        await self._audit.append(
            by,
            f"container.{decided.action}_{status.value}",
            now=now,
            vmid=decided.vmid,
            detail={"approval_id": approval_id, "requested_by": decided.requested_by, **audit_detail},
        )
        return decided

    async def set_result(self, approval_id: str, result: dict[str, Any]) -> None:
        """Record what the decided action did (its task, or the error it met)."""
        await self._conn.execute(update(a).where(a.c.id == approval_id).values(result=result))
