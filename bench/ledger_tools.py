"""Ledger helpers for ``bench.tracker_efficiency``: counting ``tracked_task`` writes on an engine, a fresh
PostgreSQL schema per run, and the old claims its ``--self-test`` restores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class WriteCounter:
    """Counts ``tracked_task`` rows written (INSERT/UPDATE/DELETE) through a database engine."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.rows = 0
        self.statements = 0
        event.listen(engine.sync_engine, "after_cursor_execute", self._seen)

    def _seen(
        self, _conn: Any, cursor: Any, statement: str, params: Any, _ctx: Any, executemany: bool
    ) -> None:
        head = statement.lstrip()[:6].upper()
        if (
            head not in ("INSERT", "UPDATE", "DELETE")
            or "tracked_task" not in statement.split("SET", maxsplit=1)[0]
        ):
            return
        self.statements += 1
        count = cursor.rowcount
        if count is None or count < 0:
            count = len(params) if executemany else 0
        self.rows += count


@dataclass(frozen=True)
class DbTarget:
    """Where the ledger lives: a SQLite file, or a fresh schema on PostgreSQL."""

    url: str
    schema: str | None = None


async def postgres_schema(base_url: str) -> DbTarget:
    """A new, empty schema on the PostgreSQL server at ``base_url``."""
    import uuid

    from sqlalchemy import text

    from bot.db.engine import build_engine

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = build_engine(base_url, pooled=False)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        await admin.dispose()
    return DbTarget(base_url, schema)


async def drop_schema(target: DbTarget) -> None:
    """Drop the schema :func:`postgres_schema` made, with everything in it."""
    from sqlalchemy import text

    from bot.db.engine import build_engine

    admin = build_engine(target.url, pooled=False)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE'))
    finally:
        await admin.dispose()


def old_claims() -> Any:
    """The regression ``--self-test`` runs: ``claim_due`` claims running rows each time they are due, as
    the tracker did before it watched them through the task list. Returns a function that undoes it."""
    from bot.db.ledger import LedgerRepo

    original = LedgerRepo.claim_due

    async def claim_everything(self: Any, owner: str, **kw: Any) -> Any:
        kw["skip_watched"] = False
        return await original(self, owner, **kw)

    LedgerRepo.claim_due = claim_everything  # type: ignore[method-assign]

    def undo() -> None:
        LedgerRepo.claim_due = original  # type: ignore[method-assign]

    return undo
