"""``resume_stalled`` runs every 30 s on every replica; what it leaves in ``job_run`` must stay bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from bot.containers.stored import RequestSpec
from bot.db import Database, TaskStatus
from bot.db.enums import RequestState, TaskKind
from bot.db.payloads import CreateParams
from bot.db.tables import job_run
from tests.conftest import FakeClock, ServerFactory
from tests.handlers.day2_env import Day2Env, day2_env

SPEC = RequestSpec(hostname="web", template="local:vztmpl/debian-12.tar.zst", storage="local-lvm")


@pytest.fixture
async def env(
    sqlite_db: Database, aiohttp_server: ServerFactory, clock: FakeClock, web_client: AsyncWebClient
) -> AsyncIterator[Day2Env]:
    async with day2_env(sqlite_db, aiohttp_server, clock, web_client) as e:
        yield e


async def _job_rows(db: Database) -> int:
    async with db.transaction(readonly=True) as tx:
        query = select(func.count()).select_from(job_run).where(job_run.c.job == "request.resume")
        return int((await tx.conn.execute(query)).scalar_one())


async def _resume_every_minute(env: Day2Env, clock: FakeClock, minutes: int) -> int:
    advanced = 0
    for _ in range(minutes):
        clock.advance(seconds=60)
        advanced += await env.services.requests.resume_stalled(owner="A", older_than=timedelta(minutes=1))
    return advanced


async def test_a_request_waiting_for_an_approver_costs_no_job_rows(env: Day2Env, clock: FakeClock) -> None:
    async with env.db.transaction() as tx:
        req = await tx.requests.create_request(
            requester="U1", channel="C1", spec=SPEC, now=clock(), state=RequestState.PENDING_APPROVAL,
            thread_ts="1700000000.000001",
        )  # fmt: skip
        await tx.approvals.open_approval(req.id, now=clock(), card_channel="C1", card_ts="1700000000.000002")
    assert await _resume_every_minute(env, clock, 30) == 0
    assert await _job_rows(env.db) == 0


async def test_a_stalled_request_retried_every_minute_keeps_one_job_row(
    env: Day2Env, clock: FakeClock
) -> None:
    async with env.db.transaction() as tx:
        req = await tx.requests.create_request(
            requester="U1", channel="C1", spec=SPEC, now=clock(), state=RequestState.CREATING,
            thread_ts="1700000000.000001",
        )  # fmt: skip
        # Its creation is queued, so every attempt looks at it and leaves it be.
        deadline = clock() + timedelta(hours=1)
        await tx.ledger.enqueue(
            TaskKind.CREATE,
            node="pve",
            vmid=10001,
            request_id=req.id,
            params=CreateParams(hostname="web", requester="U1", create={"vmid": 10001}),
            deadline_at=deadline,
            now=clock(),
        )
    await _resume_every_minute(env, clock, 30)
    assert await _job_rows(env.db) == 1
    async with env.db.transaction(readonly=True) as tx:
        assert [t.status for t in await tx.ledger.tasks_for_request(req.id)] == [TaskStatus.QUEUED]
