"""Replicas: three Cardinal processes on one PostgreSQL database share the work. Every request reaches
its result exactly once, whichever replica took the request, and each digest slot is posted once."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.reliability.conftest import CHANNEL, DIGESTS, REQUESTER, Lab, outstanding
from tests.reliability.procs import wait_until, wait_until_async


async def _replicas_run(lab: Lab, database_url: str, *, requests: int) -> None:
    bots = [lab.spawn(f"replica-{i}", database_url=database_url, digest=True) for i in range(3)]
    await asyncio.gather(*(bot.wait_ready(timeout=60) for bot in bots))
    hostnames = [f"rep-{i}" for i in range(requests)]
    limit = asyncio.Semaphore(10)

    async def ask(i: int, hostname: str) -> None:
        async with limit:
            port = bots[i % len(bots)].port  # as a load balancer would spread them
            assert await lab.driver.request(port, hostname, user=REQUESTER) == (200, "")

    await asyncio.gather(*(ask(i, h) for i, h in enumerate(hostnames)))
    await wait_until(
        lambda: len(lab.finals()) >= requests,
        timeout=30 + requests,
        what="every final message",
        explain=lab.explain,
    )
    await wait_until_async(
        lambda: _quiet(database_url), timeout=60, what="the ledger to have nothing left to deliver"
    )
    await wait_until(lambda: lab.keyed(DIGESTS), timeout=60, what="a scheduled digest")

    finals = Counter(k for k, _m in lab.finals())
    assert len(finals) == requests
    assert [k for k, n in finals.items() if n > 1] == [], "a final message was posted twice"
    texts = [m["text"] for _k, m in lab.finals()]
    assert [h for h in hostnames if sum(f"{h} is ready" in t for t in texts) != 1] == []
    keys = Counter(k for k, _m in lab.keyed(CHANNEL))
    assert [k for k, n in keys.items() if n > 1] == [], "a message was posted twice"
    on_cluster = Counter(ct.config.get("hostname") for ct in lab.sim.containers.values())
    assert [h for h in hostnames if on_cluster[h] != 1] == [], "a container is missing or doubled"
    digests = Counter(k for k, _m in lab.keyed(DIGESTS))
    assert all(k.startswith(f"digest:{DIGESTS}:") for k in digests), digests
    assert [k for k, n in digests.items() if n > 1] == [], "a digest slot was posted twice"
    # The work really was shared: every replica took requests and ran sweeps that finished tasks.
    for bot in bots:
        events = {e.get("event") for e in bot.log_events()}
        assert "tracker.task_finished" in events or "tracker.create_submitted" in events, bot.name


async def _quiet(database_url: str) -> bool:
    return await outstanding(database_url) == 0


@pytest.mark.postgres
async def test_three_replicas_post_each_result_and_digest_once(lab: Lab, postgres_url: str) -> None:
    await _replicas_run(lab, postgres_url, requests=30)


@pytest.mark.postgres
@pytest.mark.slow
async def test_three_replicas_with_300_requests(lab: Lab, postgres_url: str) -> None:
    await _replicas_run(lab, postgres_url, requests=300)
