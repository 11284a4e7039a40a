"""Project-wide fixtures: migrated databases on SQLite and PostgreSQL, and a controllable clock.

``db`` runs a test twice, on a fresh SQLite file and on a fresh PostgreSQL schema (the second is skipped,
with the reason shown by ``-ra``, when ``CARDINAL_TEST_POSTGRES_URL`` is unset). ``sqlite_db`` is the
cheaper SQLite-only variant for tests that are not about the database. ``db_factory`` opens more
``Database`` objects on the same database — separate engines, i.e. "replicas". ``fake_slack`` is a fresh
:class:`~tests.fakes.slack.FakeSlack`, served by ``slack_server``; ``api_url`` is its Web API base URL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot.db import Database, migrate, open_database
from bot.db.engine import build_engine
from tests.fakes.slack import FakeSlack

POSTGRES_ENV = "CARDINAL_TEST_POSTGRES_URL"
SLOW_ENV = "CARDINAL_RUN_SLOW"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
"""A fixed "now" for tests; build later times as ``T0 + timedelta(...)``."""
SIM_TEMPLATE = "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst"
"""The template the Proxmox simulator has on its ``local`` storage (and the create form offers)."""

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
"""The type of pytest-aiohttp's ``aiohttp_server`` fixture."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--run-slow``: also run the larger variants marked ``slow`` (as does ``CARDINAL_RUN_SLOW=1``)."""
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help=f"run the larger variants marked slow (or set {SLOW_ENV}=1)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests anywhere unless ``--run-slow`` or ``CARDINAL_RUN_SLOW=1`` asks for them."""
    if config.getoption("--run-slow") or os.environ.get(SLOW_ENV, "") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason=f"larger variant: run with --run-slow or {SLOW_ENV}=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    """A local TCP port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class FakeClock:
    """A clock tests move by hand: ``clock()`` is "now", ``clock.advance(seconds=30)`` moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move time forward by ``timedelta(**delta)`` and return the new now."""
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A :class:`FakeClock` starting at :data:`T0`."""
    return FakeClock()


@dataclass(frozen=True)
class DbTarget:
    """Where a test's database lives: a URL and, on PostgreSQL, the test's own schema."""

    backend: str
    url: str
    schema: str | None = None

    async def open(self, *, migrate_first: bool = False) -> Database:
        """A new :class:`Database` (own engine and pool) on this database."""
        return await open_database(self.url, migrate_first=migrate_first, schema=self.schema)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (same bytes as migrating anew)."""
    path = tmp_path_factory.mktemp("db-template") / "template.db"
    asyncio.run(migrate(f"sqlite+aiosqlite:///{path}"))
    return path


async def _postgres_target(base_url: str) -> DbTarget:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = build_engine(base_url, pooled=False)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        await admin.dispose()
    return DbTarget("postgresql", base_url, schema)


async def _drop_schema(target: DbTarget) -> None:
    admin = build_engine(target.url, pooled=False)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE'))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DbTarget]:
    """An empty, not yet migrated database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield DbTarget("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'cardinal.db'}")
        return
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url:
        pytest.skip(f"{POSTGRES_ENV} is unset, so the PostgreSQL variant is skipped")
    target = await _postgres_target(base_url)
    try:
        yield target
    finally:
        await _drop_schema(target)


@pytest.fixture
async def migrated_target(db_target: DbTarget, _sqlite_template: Path, tmp_path: Path) -> DbTarget:
    """``db_target`` with Cardinal's schema at head."""
    if db_target.backend == "sqlite":
        shutil.copyfile(_sqlite_template, tmp_path / "cardinal.db")
    else:
        await migrate(db_target.url, schema=db_target.schema)
    return db_target


@pytest.fixture
async def db(migrated_target: DbTarget) -> AsyncIterator[Database]:
    """A migrated :class:`Database`, once on SQLite and once on PostgreSQL."""
    database = await migrated_target.open()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def db_factory(migrated_target: DbTarget) -> AsyncIterator[Callable[[], Awaitable[Database]]]:
    """Open extra :class:`Database` objects ("replicas", each with its own engine) on ``db``'s database."""
    opened: list[Database] = []

    async def make() -> Database:
        database = await migrated_target.open()
        opened.append(database)
        return database

    try:
        yield make
    finally:
        for database in opened:
            await database.dispose()


@pytest.fixture
async def sqlite_db(_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite :class:`Database` in ``tmp_path``, for tests not about the database itself."""
    path = tmp_path / "cardinal-sqlite.db"
    shutil.copyfile(_sqlite_template, path)
    database = await open_database(f"sqlite+aiosqlite:///{path}", migrate_first=False)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def fake_slack() -> FakeSlack:
    """A fresh fake workspace."""
    return FakeSlack()


@pytest.fixture
async def slack_server(fake_slack: FakeSlack, aiohttp_server: ServerFactory) -> TestServer:
    """The fake served on 127.0.0.1 with a random port."""
    return await aiohttp_server(fake_slack.app())


@pytest.fixture
def api_url(slack_server: TestServer) -> str:
    """Base URL of the fake's Web API, for ``AsyncWebClient(base_url=...)``."""
    return str(slack_server.make_url("/api/"))
