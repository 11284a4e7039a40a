"""Container requests: what was asked for, by whom, and where the request stands."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.containers.stored import RequestSpec
from bot.db.enums import ContainerState, RequestState
from bot.db.records import ContainerRequest
from bot.db.tables import container as c
from bot.db.tables import container_request as t


def _states(expect: RequestState | Iterable[RequestState]) -> list[str]:
    return (
        [RequestState(expect).value] if isinstance(expect, str) else [RequestState(s).value for s in expect]
    )


def _stored(spec: RequestSpec) -> tuple[RequestSpec, dict[str, object]]:
    """The model and the JSON to store for ``spec``, validated afresh (a model built without validation
    is refused)."""
    checked = RequestSpec.model_validate(spec.model_dump(mode="json"))
    return checked, checked.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    """What a person holds of their quota: their live containers (failed ones aside) plus every container
    their requests in flight (:data:`QUOTA_CLAIMING`) will create, and the memory and disk those claim."""

    containers: int
    memory_mib: int
    disk_gib: int


QUOTA_CLAIMING = (RequestState.REQUESTED, RequestState.PENDING_APPROVAL, RequestState.APPROVED)
"""Request states whose containers count against the quota before they exist (a request being created
counts through its containers)."""


# Built once: the statements of every create-form submission (building and keying them per call costs
# more CPU than SQLite spends running them).
_INSERT = insert(t).returning(*t.c)
_NOT_HOLDING = (ContainerState.DESTROYED.value, ContainerState.FAILED.value)
_QUOTA = union_all(
    select(  # requests in flight: every container they will create
        literal(0).label("part"),
        func.coalesce(func.sum(t.c.count), 0),
        func.coalesce(func.sum(t.c.count * t.c.quota_memory_mib), 0),
        func.coalesce(func.sum(t.c.count * t.c.quota_disk_gib), 0),
    ).where(t.c.requester == bindparam("b_requester"), t.c.state.in_([s.value for s in QUOTA_CLAIMING])),
    select(  # live containers, with what their request claimed for each
        literal(1).label("part"),
        func.count(),
        func.coalesce(func.sum(t.c.quota_memory_mib), 0),
        func.coalesce(func.sum(t.c.quota_disk_gib), 0),
    )
    .select_from(c.outerjoin(t, t.c.id == c.c.request_id))
    .where(c.c.owner == bindparam("b_requester"), c.c.state.not_in(_NOT_HOLDING)),
)
_SET_THREAD = (
    update(t)
    .where(t.c.id == bindparam("b_id"))
    .values(thread_ts=bindparam("b_ts"), updated_at=bindparam("b_now"))
)
_SET_THREAD_MOVING = _SET_THREAD.values(
    state=case((t.c.state == bindparam("b_was"), bindparam("b_to")), else_=t.c.state)
)


class RequestRepo:
    """Reads and writes ``container_request``. ``spec`` is a :class:`RequestSpec` (stored as JSON; it
    never holds secrets)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create_request(
        self,
        *,
        requester: str,
        channel: str,
        spec: RequestSpec,
        now: datetime,
        count: int = 1,
        purpose: str = "",
        node: str | None = None,
        state: RequestState = RequestState.REQUESTED,
        expires_at: datetime | None = None,
        thread_ts: str | None = None,
        request_id: str | None = None,
    ) -> ContainerRequest:
        """Store a new request (id: a fresh UUID unless given) and return it as stored: the inserted row
        itself (``RETURNING``), so nobody needs to read it back."""
        checked, stored = _stored(spec)
        values = {
            "id": request_id or str(uuid.uuid4()),
            "requester": requester,
            "channel": channel,
            "thread_ts": thread_ts,
            "spec": stored,
            "count": count,
            "purpose": purpose,
            "node": node,
            "state": RequestState(state).value,
            "created_at": now,
            "updated_at": now,
            "expires_at": expires_at,
            "quota_memory_mib": checked.memory_mib,
            "quota_disk_gib": checked.total_disk_gib,
        }
        row = (await self._conn.execute(_INSERT, values)).one()
        # The spec just validated is the stored one: the record keeps the model instead of reading the
        # JSON back into a new one.
        mapping = row._mapping
        return ContainerRequest(
            **{f.name: mapping[f.name] for f in fields(ContainerRequest)} | {"spec": checked}
        )

    async def get_request(self, request_id: str) -> ContainerRequest | None:
        """The request, or ``None`` when there is no such id."""
        row = (await self._conn.execute(select(t).where(t.c.id == request_id))).first()
        return None if row is None else ContainerRequest.from_row(row)

    async def set_state(
        self,
        request_id: str,
        state: RequestState,
        *,
        now: datetime,
        expect: RequestState | Iterable[RequestState] | None = None,
    ) -> bool:
        """Move the request to ``state``; with ``expect``, only from those states (compare-and-set).

        Returns True when the row changed.
        """
        stmt = update(t).where(t.c.id == request_id)
        if expect is not None:
            stmt = stmt.where(t.c.state.in_(_states(expect)))
        result = await self._conn.execute(stmt.values(state=RequestState(state).value, updated_at=now))
        return result.rowcount == 1

    async def record_decision(
        self,
        request_id: str,
        *,
        approved: bool,
        by: str,
        reason: str | None,
        now: datetime,
        expect: Iterable[RequestState] = (RequestState.REQUESTED, RequestState.PENDING_APPROVAL),
    ) -> bool:
        """Set the request to approved/denied with who decided and why, only from an ``expect`` state."""
        result = await self._conn.execute(
            update(t)
            .where(t.c.id == request_id, t.c.state.in_(_states(expect)))
            .values(
                state=(RequestState.APPROVED if approved else RequestState.DENIED).value,
                decided_by=by,
                decided_at=now,
                decision_reason=reason,
                updated_at=now,
            )
        )
        return result.rowcount == 1

    async def set_thread_ts(
        self,
        request_id: str,
        thread_ts: str,
        *,
        now: datetime,
        moving: tuple[RequestState, RequestState] | None = None,
    ) -> bool:
        """Remember the ts of the request's root message (the thread all progress goes to).

        ``moving=(a, b)``: in the same statement, a request in state ``a`` moves to ``b`` (in any other
        state it keeps its state; the thread is recorded either way)."""
        params: dict[str, Any] = {"b_id": request_id, "b_ts": thread_ts, "b_now": now}
        if moving is None:
            result = await self._conn.execute(_SET_THREAD, params)
        else:
            params["b_was"], params["b_to"] = (RequestState(s).value for s in moving)
            result = await self._conn.execute(_SET_THREAD_MOVING, params)
        return result.rowcount == 1

    async def move_thread(self, request_id: str, channel: str, *, now: datetime) -> bool:
        """Move a request whose thread was never posted to ``channel`` (the requester's DM), so that every
        later message goes there; a request that has a thread keeps it."""
        result = await self._conn.execute(
            update(t)
            .where(t.c.id == request_id, t.c.thread_ts.is_(None))
            .values(channel=channel, updated_at=now)
        )
        return result.rowcount == 1

    async def set_node(self, request_id: str, node: str, *, now: datetime) -> bool:
        """Record the node placement chose for the request."""
        result = await self._conn.execute(
            update(t).where(t.c.id == request_id).values(node=node, updated_at=now)
        )
        return result.rowcount == 1

    async def list_by_requester(self, requester: str, *, limit: int = 50) -> list[ContainerRequest]:
        """The person's requests, newest first."""
        stmt = select(t).where(t.c.requester == requester).order_by(t.c.created_at.desc()).limit(limit)
        return [ContainerRequest.from_row(r) for r in await self._conn.execute(stmt)]

    async def quota_usage(self, requester: str) -> QuotaUsage:
        """What ``requester`` holds of their quota, summed in one statement over all their requests in
        flight and live containers (no spec is decoded)."""
        parts = {int(r[0]): r[1:] for r in await self._conn.execute(_QUOTA, {"b_requester": requester})}
        return QuotaUsage(*(int(parts[0][i]) + int(parts[1][i]) for i in range(3)))

    async def list_by_state(self, *states: RequestState, limit: int = 100) -> list[ContainerRequest]:
        """Requests in any of ``states``, oldest first."""
        stmt = select(t).where(t.c.state.in_(_states(states))).order_by(t.c.created_at).limit(limit)
        return [ContainerRequest.from_row(r) for r in await self._conn.execute(stmt)]
