"""Alembic environment for Cardinal (async-capable; batch mode so SQLite can ALTER).

Normally run through :func:`bot.db.migrate.migrate`, which passes an open connection (inside a locked
transaction) in ``config.attributes["connection"]``. Run by the ``alembic`` command instead, it makes
its own engine from ``sqlalchemy.url`` (or ``DATABASE_URL``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from bot.db.engine import build_engine
from bot.db.tables import metadata

config = context.config


def _configure(**kwargs: Any) -> None:
    context.configure(target_metadata=metadata, render_as_batch=True, compare_type=True, **kwargs)


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or DATABASE_URL to run migrations")
    return url


async def _run_async() -> None:
    engine = build_engine(
        _url(), schema=config.attributes.get("schema"), pooled=False, sqlite_foreign_keys=False
    )
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_on)
    finally:
        await engine.dispose()


def main() -> None:
    """Entry point Alembic calls when it loads this file."""
    if context.is_offline_mode():
        _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
    else:
        asyncio.run(_run_async())


main()
