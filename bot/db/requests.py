"""Container requests: what was asked for, by whom, and where the request stands."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.containers.stored import RequestSpec
from bot.db.enums import RequestState
from bot.db.errors import StoredRowInvalid
from bot.db.records import ContainerRequest
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
class RequestUsage:
    """What one request claims of its requester's quota, read without rebuilding its whole spec."""

    id: str
    state: RequestState
    count: int
    memory_mib: int
    total_disk_gib: int  # root disk plus every volume, per container


def _usage(row: Mapping[Any, Any]) -> RequestUsage:
    spec = row["spec"]
    try:
        disk = int(spec["disk_gib"]) + sum(int(mp["size_gib"]) for mp in spec.get("mountpoints") or ())
        state = RequestState(row["state"])
        return RequestUsage(row["id"], state, int(row["count"]), int(spec["memory_mib"]), disk)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = f"spec: {type(exc).__name__}: {exc}"
        raise StoredRowInvalid("container_request", str(row["id"]), [problem]) from None


# Built once: the statements of every create-form submission (building and keying them per call costs
# more CPU than SQLite spends running them).
_INSERT = insert(t).returning(*t.c)
_USAGE = (
    select(t.c.id, t.c.state, t.c.count, t.c.spec)
    .where(t.c.requester == bindparam("b_requester"))
    .order_by(t.c.created_at.desc())
    .limit(bindparam("b_limit"))
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

    async def usage_by_requester(self, requester: str, *, limit: int = 50) -> list[RequestUsage]:
        """What the person's newest requests claim of their quota (the quota check reads only this: no
        request's spec is rebuilt into its model)."""
        rows = await self._conn.execute(_USAGE, {"b_requester": requester, "b_limit": limit})
        return [_usage(r._mapping) for r in rows]

    async def list_by_state(self, *states: RequestState, limit: int = 100) -> list[ContainerRequest]:
        """Requests in any of ``states``, oldest first."""
        stmt = select(t).where(t.c.state.in_(_states(states))).order_by(t.c.created_at).limit(limit)
        return [ContainerRequest.from_row(r) for r in await self._conn.execute(stmt)]
