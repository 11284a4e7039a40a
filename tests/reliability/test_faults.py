"""Faults: Proxmox answering 5xx/595/596, hanging and resetting; Slack answering 429 and 5xx and losing
answers. Every request still ends in one success or one clear failure, nothing is posted or created twice,
and the circuit breaker opens while Proxmox is down and closes once it is back."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from cardinal_sim.proxmox.state import FaultConfig
from tests.reliability.conftest import CHANNEL, REQUESTER, Lab, outstanding
from tests.reliability.procs import BotProcess, wait_until, wait_until_async

#: Client timeouts well below the simulator's hang, so hangs become timeouts quickly.
TIMEOUTS = {"proxmox_timeout_read": "1.0", "proxmox_timeout_write": "2.0", "proxmox_timeout_long": "3.0"}


def _proxmox_faults(seed: int) -> FaultConfig:
    return FaultConfig(
        seed=seed,
        error_rate=0.12,
        error_codes=(500, 502, 503, 595, 596),
        hang_rate=0.02,
        hang_seconds=4.0,
        reset_rate=0.04,
    )


def _slack_throttles(lab: Lab) -> None:
    """429 with Retry-After on posts and updates, and 5xx on updates (Slack refused: safe to retry)."""
    slack = lab.slack
    slack.fail_next("chat.postMessage", 429, {"Retry-After": "1"}, times=2)
    slack.fail_next("chat.update", 429, {"Retry-After": "1"})
    slack.fail_next("chat.update", 503, times=2)


def _slack_post_failures(lab: Lab) -> None:
    """The next posts fail with an outcome the bot cannot know: 500, a lost answer (posted!), 503."""
    slack = lab.slack
    slack.fail_next("chat.postMessage", 500, body="<html>Internal Server Error</html>")
    slack.drop_next("chat.postMessage")
    slack.fail_next("chat.postMessage", 503)


async def _ask(lab: Lab, bot: BotProcess, hostname: str) -> str | None:
    """Request ``hostname`` as a person would: when the modal answers with an error, press Request again
    (up to three times). Returns the last modal error, or None once the request was accepted."""
    error: str | None = None
    for _ in range(3):
        status, body = await lab.driver.request(bot.port, hostname, user=REQUESTER)
        assert status == 200, (status, body)
        if body == "":
            return None
        assert isinstance(body, dict), body
        assert body.get("response_action") == "errors", body
        error = " ".join(str(v) for v in body["errors"].values())
        assert error.strip(), "a refusal without a message"
    return error


def _outcome(texts: list[str], hostname: str) -> str | None:
    for text in texts:
        if f"{hostname} is ready" in text:
            return "ready"
        if hostname in text and ("failed" in text or "timed out" in text):
            return "failed"
    return None


async def _faulty_run(lab: Lab, *, requests: int) -> None:
    bot = lab.spawn("bot", **TIMEOUTS)
    await bot.wait_ready()
    _slack_throttles(lab)
    hostnames = [f"fault-{i}" for i in range(requests)]
    refused = {h: await _ask(lab, bot, h) for h in hostnames}
    accepted = [h for h, err in refused.items() if err is None]
    assert accepted, f"every request was refused: {refused}"
    # Once every thread is open, Slack starts failing posts (the progress and result messages).
    await wait_until(
        lambda: len(_roots(lab)) == len(accepted), timeout=30, what="every thread", explain=lab.explain
    )
    _slack_post_failures(lab)

    def all_final() -> bool:
        texts = [m["text"] for _k, m in lab.finals()]
        return all(_outcome(texts, h) for h in accepted)

    await wait_until(
        all_final, timeout=90, what="a final message for every accepted request", explain=lab.explain
    )
    await wait_until_async(lambda: _quiet(lab), timeout=60, what="the ledger to have nothing left to deliver")
    finals = Counter(k for k, _m in lab.finals())
    assert [k for k, n in finals.items() if n > 1] == [], "a final message was posted twice"
    keys = Counter(k for k, _m in lab.keyed(CHANNEL))
    assert [k for k, n in keys.items() if n > 1] == [], "a message was posted twice"
    texts = [m["text"] for _k, m in lab.finals()]
    outcomes = {h: _outcome(texts, h) for h in accepted}
    assert set(outcomes.values()) <= {"ready", "failed"}
    assert "ready" in outcomes.values(), outcomes
    for _k, m in lab.finals():
        if "failed" in m["text"] or "timed out" in m["text"]:
            assert len(m["text"]) > 20, m  # says what failed
            assert m["blocks"], m
    on_cluster = Counter(ct.config.get("hostname") for ct in lab.sim.containers.values())
    assert [h for h in hostnames if on_cluster[h] > 1] == [], "a container was created twice"
    assert [h for h, o in outcomes.items() if o == "ready" and on_cluster[h] != 1] == []
    # The faults really happened on both sides.
    faults = Counter((r.fault or "").split(":")[0] for r in lab.sim.request_log if r.fault)
    assert faults["status"], faults
    assert faults["reset"] or faults["hang"], faults
    posts = Counter(c.status for c in lab.slack.calls("chat.postMessage"))
    assert all(posts[code] for code in (429, 500, 503, 0)), posts  # 0: the answer was lost after posting


def _roots(lab: Lab) -> list[str]:
    return [k for k, _m in lab.keyed(CHANNEL) if k.startswith("request:") and k.endswith(":root")]


async def _quiet(lab: Lab) -> bool:
    return await outstanding(lab.sqlite_url()) == 0


@pytest.fixture
def sim_faults() -> FaultConfig:
    return _proxmox_faults(seed=11)


async def test_requests_end_once_in_success_or_clear_failure_under_faults(lab: Lab) -> None:
    await _faulty_run(lab, requests=6)


@pytest.mark.slow
async def test_many_requests_under_faults(lab: Lab) -> None:
    await _faulty_run(lab, requests=30)


async def test_breaker_opens_while_proxmox_is_down_and_recovers(lab: Lab) -> None:
    bot = lab.spawn("bot", **TIMEOUTS)
    await bot.wait_ready()
    lab.sim.faults = FaultConfig(seed=1)  # healthy while the requests are accepted
    hostnames = [f"brk-{i}" for i in range(3)]
    for h in hostnames:
        assert await lab.driver.request(bot.port, h, user=REQUESTER) == (200, "")
    await wait_until(lab.creates, timeout=30, what="a creation in flight")

    lab.sim.faults = FaultConfig(seed=1, error_rate=1.0, error_codes=(503, 595))  # Proxmox is down
    await wait_until(lambda: _events(bot, "proxmox_breaker_open"), timeout=30, what="the breaker to open")
    down = len(lab.sim.request_log)
    # While open, calls fail fast: the bot does not hammer the host (a probe every reset period at most).
    await asyncio.sleep(1.5)  # an observation window, not synchronisation
    assert len(lab.sim.request_log) - down <= 6

    lab.sim.faults = FaultConfig(seed=1)  # back
    await wait_until(lambda: _events(bot, "proxmox_breaker_closed"), timeout=30, what="the breaker to close")
    texts_ready = lambda: all(  # noqa: E731
        any(f"{h} is ready" in m["text"] for _k, m in lab.finals()) for h in hostnames
    )
    await wait_until(texts_ready, timeout=60, what="every request to be ready after recovery")
    finals = Counter(k for k, _m in lab.finals())
    assert len(finals) == len(hostnames)
    assert max(finals.values()) == 1


async def test_a_request_whose_first_post_fails_still_reaches_its_result(lab: Lab) -> None:
    bot = lab.spawn("bot")
    await bot.wait_ready()
    lab.slack.fail_next("chat.postMessage", 500, body="<html>Internal Server Error</html>")
    assert await lab.driver.request(bot.port, "first-500", user=REQUESTER) == (200, "")
    lab.slack.drop_next("chat.postMessage")
    assert await lab.driver.request(bot.port, "first-lost", user=REQUESTER) == (200, "")

    def both_ready() -> bool:
        texts = [m["text"] for _k, m in lab.finals()]
        return all(any(f"{h} is ready" in t for t in texts) for h in ("first-500", "first-lost"))

    # Carried on by the periodic resume job (tuned to a few seconds here), not by the failed submit.
    await wait_until(both_ready, timeout=40, what="both results", explain=lab.explain)
    assert len(_roots(lab)) == 2


def _events(bot: BotProcess, name: str) -> list[dict[str, Any]]:
    return [e for e in bot.log_events() if e.get("event") == name]
