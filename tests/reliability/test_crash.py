"""Crash safety: ``kill -9`` while creations are in flight, restart, and nothing is lost or doubled."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.reliability.conftest import CHANNEL, REQUESTER, Lab, outstanding, requests_in
from tests.reliability.procs import wait_until, wait_until_async


def _roots(lab: Lab) -> list[str]:
    return [k for k, _m in lab.keyed(CHANNEL) if k.startswith("request:") and k.endswith(":root")]


async def _crash_run(lab: Lab, *, requests: int, kills: int) -> None:
    bot = lab.spawn("bot")
    await bot.wait_ready()
    hostnames = [f"crash-{i}" for i in range(requests)]
    for hostname in hostnames:
        assert await lab.driver.request(bot.port, hostname, user=REQUESTER) == (200, "")
    # Every request is past its submission (thread open, creations queued in the ledger). A kill before
    # that can strand a request: see test_faults::test_a_request_whose_first_post_fails_still_...
    await wait_until_async(
        lambda: _submitted(lab, requests), timeout=30, what="every request to be queued for creation"
    )
    for round_ in range(kills):
        # Kill while the bot is busy with creations in flight at Proxmox.
        seen = len(lab.sim.request_log)
        await wait_until(
            lambda seen=seen: lab.creates() and len(lab.sim.request_log) >= seen + 5,
            timeout=30,
            what=f"work in flight before kill {round_ + 1}",
        )
        bot.kill()
        assert len(lab.finals()) < requests, "everything finished before the kill; nothing was in flight"
        bot.start()
        await bot.wait_ready()

    await wait_until(lambda: len(lab.finals()) >= requests, timeout=90, what="every final message")
    await wait_until_async(lambda: _quiet(lab), timeout=30, what="the ledger to have nothing left to deliver")

    finals = Counter(k for k, _m in lab.finals())
    assert len(finals) == requests
    assert [k for k, n in finals.items() if n > 1] == [], "a final message was posted twice"
    texts = [m["text"] for _k, m in lab.finals()]
    for hostname in hostnames:
        assert sum(f"{hostname} is ready" in t for t in texts) == 1, (hostname, texts)
    assert [k for k, n in Counter(_roots(lab)).items() if n > 1] == [], "a thread was opened twice"

    # No container was created twice: one container per hostname, one accepted create per hostname.
    on_cluster = Counter(ct.config.get("hostname") for ct in lab.sim.containers.values())
    assert {h: on_cluster[h] for h in hostnames} == dict.fromkeys(hostnames, 1)
    accepted = Counter(r.params.get("hostname") for r in lab.creates() if r.status == 200)
    assert {h: accepted[h] for h in hostnames} == dict.fromkeys(hostnames, 1)


async def _submitted(lab: Lab, requests: int) -> bool:
    url = lab.sqlite_url()
    return len(_roots(lab)) == requests and await requests_in(url, "requested", "approved") == 0


async def _quiet(lab: Lab) -> bool:
    return await outstanding(lab.sqlite_url()) == 0


async def test_sigkill_with_creations_in_flight_posts_each_result_once(lab: Lab) -> None:
    await _crash_run(lab, requests=8, kills=1)


@pytest.mark.slow
async def test_repeated_sigkills_lose_nothing_and_double_nothing(lab: Lab) -> None:
    await _crash_run(lab, requests=30, kills=4)
