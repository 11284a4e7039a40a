"""GET retries with backoff, writes never retried, and the circuit breaker's three states."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.proxmox import (
    CircuitBreaker,
    CircuitOpenError,
    ProxmoxClient,
    ProxmoxConflictError,
    ProxmoxServerError,
    ProxmoxTimeoutError,
    ProxmoxUnreachableError,
    RetryPolicy,
    Timeouts,
)
from tests.proxmox.conftest import Clock, Sleeps
from tests.proxmox.fake_pve import FakePVE, Scripted

ClientFactory = Callable[..., ProxmoxClient]
STATUS = "/nodes/pve/lxc/101/status/current"


@pytest.mark.parametrize(
    "failure",
    [
        Scripted(status=500, message="Internal Server Error"),
        Scripted(status=595, message="No route to host"),
        Scripted(status=596, message="Connection reset by peer"),
    ],
)
async def test_get_is_retried_with_backoff(
    client: ProxmoxClient, fake: FakePVE, sleeps: Sleeps, failure: Scripted
) -> None:
    fake.script("GET", STATUS, failure, failure)
    status = await client.container_status("pve", 101)
    assert status.running
    assert fake.count("GET", STATUS) == 3
    assert len(sleeps.delays) == 2
    assert 0.005 <= sleeps.delays[0] <= 0.01
    assert 0.01 <= sleeps.delays[1] <= 0.02


async def test_get_after_connection_resets_is_retried(client: ProxmoxClient, fake: FakePVE) -> None:
    fake.script("GET", STATUS, Scripted(reset=True), Scripted(reset=True))
    assert (await client.container_status("pve", 101)).running
    assert fake.count("GET", STATUS) == 3


async def test_get_timeout_is_retried(make_client: ClientFactory, fake: FakePVE) -> None:
    client = make_client(timeouts=Timeouts(read=0.02))
    fake.script("GET", "/version", Scripted(delay=1.0))
    assert (await client.version()).release == "9.1"
    assert fake.count("GET", "/version") == 2


async def test_retries_give_up_after_the_last_attempt(client: ProxmoxClient, fake: FakePVE) -> None:
    fake.script("GET", "/version", *[Scripted(status=502, message="Bad Gateway")] * 3)
    with pytest.raises(ProxmoxServerError, match="Bad Gateway"):
        await client.version()
    assert fake.count("GET", "/version") == 3


@pytest.mark.parametrize(
    "failure",
    [
        Scripted(status=4 * 100 + 0, message="Parameter verification failed.", errors={"x": "bad"}),
        Scripted(status=501, message="Method 'GET /foo' not implemented"),
    ],
)
async def test_client_errors_are_not_retried(client: ProxmoxClient, fake: FakePVE, failure: Scripted) -> None:
    fake.script("GET", "/version", failure)
    with pytest.raises(Exception):  # noqa: B017 - the class is covered in test_errors
        await client.version()
    assert fake.count("GET", "/version") == 1


@pytest.mark.parametrize(
    "failure",
    [
        Scripted(status=500, message="Internal Server Error"),
        Scripted(status=595, message="No route to host"),
        Scripted(reset=True),
    ],
)
async def test_writes_are_never_retried(
    client: ProxmoxClient, fake: FakePVE, sleeps: Sleeps, failure: Scripted
) -> None:
    path = "/nodes/pve/lxc"
    fake.script("POST", path, failure)
    with pytest.raises((ProxmoxServerError, ProxmoxUnreachableError)):
        await client.create_container("pve", {"vmid": 150})
    assert fake.count("POST", path) == 1
    assert sleeps.delays == []
    fake.script("DELETE", "/nodes/pve/lxc/102", failure)
    with pytest.raises((ProxmoxServerError, ProxmoxUnreachableError)):
        await client.destroy_container("pve", 102)
    assert fake.count("DELETE", "/nodes/pve/lxc/102") == 1


async def test_write_timeout_is_not_retried_and_says_outcome_unknown(
    make_client: ClientFactory, fake: FakePVE
) -> None:
    client = make_client(timeouts=Timeouts(write=0.02))
    fake.script("PUT", "/nodes/pve/lxc/101/config", Scripted(delay=1.0))
    with pytest.raises(ProxmoxTimeoutError) as info:
        await client.update_config("pve", 101, {"memory": 256})
    assert "unknown" in info.value.hint
    assert fake.count("PUT", "/nodes/pve/lxc/101/config") == 1


async def test_breaker_opens_fails_fast_probes_and_closes(
    make_client: ClientFactory, fake: FakePVE, clock: Clock
) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=30, clock=clock)
    client = make_client(breaker=breaker, retries=RetryPolicy(attempts=1))
    fake.script("GET", "/version", *[Scripted(status=503, message="Service Unavailable")] * 4)
    for _ in range(3):
        assert _state(breaker) == "closed"
        with pytest.raises(ProxmoxServerError):
            await client.version()
    assert _state(breaker) == "open"
    with pytest.raises(CircuitOpenError) as info:
        await client.version()
    assert "pauses calls" in info.value.what
    assert fake.count("GET", "/version") == 3  # failed fast, Proxmox was not asked

    clock.advance(30)
    assert _state(breaker) == "half_open"
    with pytest.raises(ProxmoxServerError):  # the probe fails: open again for another cool-down
        await client.version()
    assert _state(breaker) == "open"
    with pytest.raises(CircuitOpenError):
        await client.version()

    clock.advance(30)
    assert (await client.version()).release == "9.1"  # the probe succeeds
    assert _state(breaker) == "closed"
    assert fake.count("GET", "/version") == 5


async def test_refusals_do_not_open_the_breaker(make_client: ClientFactory, clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    client = make_client(breaker=breaker)
    for _ in range(3):
        with pytest.raises(ProxmoxConflictError):
            await client.power("pve", 101, "start")
    assert _state(breaker) == "closed"


async def test_retries_stop_when_the_breaker_opens(
    make_client: ClientFactory, fake: FakePVE, clock: Clock
) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    client = make_client(breaker=breaker, retries=RetryPolicy(attempts=5, base_delay=0.0))
    fake.script("GET", "/version", *[Scripted(status=500, message="boom")] * 5)
    with pytest.raises(CircuitOpenError):
        await client.version()
    assert fake.count("GET", "/version") == 2


def test_half_open_admits_one_probe_at_a_time(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock)
    breaker.record_failure()
    assert _state(breaker) == "open"
    clock.advance(10)
    breaker.before_call()  # the probe
    assert _state(breaker) == "half_open"
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # a second caller while the probe is out
    breaker.release()  # the probe was cancelled: let the next caller probe
    breaker.before_call()
    breaker.record_success()
    assert _state(breaker) == "closed"
    assert breaker.consecutive_failures == 0


def test_breaker_needs_a_positive_threshold() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=3.0, jitter=0.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]
    jittered = RetryPolicy(base_delay=1.0, jitter=0.5)
    assert all(0.5 <= jittered.delay(1) <= 1.0 for _ in range(50))


async def test_a_cancelled_probe_lets_the_next_call_probe(
    make_client: ClientFactory, fake: FakePVE, clock: Clock
) -> None:
    import asyncio

    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock)
    client = make_client(breaker=breaker, retries=RetryPolicy(attempts=1))
    fake.script("GET", "/version", Scripted(status=503, message="Service Unavailable"), Scripted(delay=5.0))
    with pytest.raises(ProxmoxServerError):
        await client.version()
    clock.advance(10)
    probe = asyncio.create_task(client.version())
    for _ in range(200):  # bounded wait until the probe reached the server
        if fake.count("GET", "/version") == 2:
            break
        await asyncio.sleep(0.005)
    with pytest.raises(CircuitOpenError):
        await client.version()  # only one probe at a time
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert (await client.version()).release == "9.1"
    assert _state(breaker) == "closed"


def _state(breaker: CircuitBreaker) -> str:
    return breaker.state
