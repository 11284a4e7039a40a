"""The internal HTTP server: /healthz, /readyz (200 and 503) and /metrics, through aiohttp's test client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient
from prometheus_client import generate_latest

from bot.ops.health import ProbeResult, make_ops_app, readiness_from_probes, start_ops_server
from bot.ops.metrics import Metrics
from bot.proxmox.breaker import CircuitBreaker
from bot.proxmox.transport import RequestHook

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def ok() -> ProbeResult:
    return True


async def down() -> ProbeResult:
    return "database is locked"


async def broken() -> ProbeResult:
    raise ConnectionRefusedError("connection refused")


async def hangs() -> ProbeResult:
    await asyncio.Event().wait()
    return True


def _app(
    probes: dict[str, Callable[[], Awaitable[ProbeResult]]], metrics: Metrics | None = None
) -> web.Application:
    readiness = readiness_from_probes(probes, timeout=0.2)
    return make_ops_app(readiness, (metrics or Metrics()).registry)


async def test_healthz_answers_ok_even_when_dependencies_are_down(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app({"database": down}))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_is_200_when_every_probe_passes(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app({"database": ok, "migrations": ok, "scheduler": ok, "slack": ok}))
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "scheduler": "ok", "slack": "ok"},
    }


async def test_readyz_is_503_with_a_reason_per_failing_probe(aiohttp_client: ClientFactory) -> None:
    async def no() -> ProbeResult:
        return False

    client = await aiohttp_client(
        _app({"database": down, "migrations": broken, "scheduler": no, "slack": hangs, "extra": ok})
    )
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "not ready"
    assert body["checks"] == {
        "database": "database is locked",
        "migrations": "ConnectionRefusedError: connection refused",
        "scheduler": "failed",
        "slack": "timed out after 0.2 s",
        "extra": "ok",
    }


async def test_an_advisory_probe_is_shown_but_does_not_make_readyz_fail(
    aiohttp_client: ClientFactory,
) -> None:
    async def proxmox() -> ProbeResult:
        return "unreachable (ConnectionRefusedError: connection refused); retrying"

    readiness = readiness_from_probes({"database": ok, "proxmox": proxmox}, timeout=0.2)
    client = await aiohttp_client(make_ops_app(readiness, Metrics().registry, advisory={"proxmox"}))
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body["checks"]["proxmox"].startswith("unreachable (ConnectionRefusedError")
    readiness = readiness_from_probes({"database": down, "proxmox": proxmox}, timeout=0.2)
    client = await aiohttp_client(make_ops_app(readiness, Metrics().registry, advisory={"proxmox"}))
    assert (await client.get("/readyz")).status == 503  # the other probes still gate


async def test_readyz_survives_a_readiness_callable_that_raises(aiohttp_client: ClientFactory) -> None:
    async def readiness() -> dict[str, ProbeResult]:
        raise RuntimeError("engine disposed")

    client = await aiohttp_client(make_ops_app(readiness, Metrics().registry))
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"readiness": "RuntimeError: engine disposed"}


async def test_metrics_exposes_cardinal_series(aiohttp_client: ClientFactory) -> None:
    metrics = Metrics()
    metrics.observe_proxmox("GET", "/nodes/{node}/lxc/{vmid}/status/current", 200, 0.012)
    metrics.observe_proxmox("POST", "/nodes/{node}/lxc", None, 10.0)
    metrics.commands.labels("create", "ok").inc()
    metrics.set_breaker_state("open")
    client = await aiohttp_client(_app({}, metrics))
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    text = await resp.text()
    assert (
        'cardinal_proxmox_requests_total{endpoint="/nodes/{node}/lxc/{vmid}/status/current",'
        'method="GET",status="200"} 1.0' in text
    )
    assert (
        'cardinal_proxmox_requests_total{endpoint="/nodes/{node}/lxc",method="POST",status="error"} 1.0'
        in text
    )
    assert 'cardinal_commands_total{command="create",outcome="ok"} 1.0' in text
    assert "cardinal_proxmox_breaker_state 2.0" in text
    assert "cardinal_build_info{" in text
    for series in (
        "cardinal_actions_total",
        "cardinal_approvals_total",
        "cardinal_approval_decision_seconds",
        "cardinal_tasks_total",
        "cardinal_sweep_duration_seconds",
        "cardinal_proxmox_request_seconds",
        "cardinal_slack_api_errors_total",
        "cardinal_slack_retries_total",
    ):
        assert f"# TYPE {series.removesuffix('_total')}" in text, series


def test_concrete_paths_never_become_labels() -> None:
    metrics = Metrics()
    upid = "UPID:pve1:0000A1B2:00C3D4E5:6743A1B2:vzcreate:101:cardinal@pve!bot:"
    metrics.observe_proxmox("get", "/nodes/pve1/lxc/101/status/current", 200, 0.1)
    metrics.observe_proxmox("GET", f"/nodes/pve1/tasks/{upid}/status", 200, 0.1)
    text = generate_latest(metrics.registry).decode()
    assert "101" not in text
    assert "UPID" not in text
    assert 'endpoint="/nodes/pve1/lxc/{vmid}/status/current",method="GET"' in text


async def test_start_ops_server_listens_until_cleaned_up(unused_tcp_port: int) -> None:
    runner = await start_ops_server(_app({"database": ok}), "127.0.0.1", unused_tcp_port)
    try:
        async with (
            ClientSession() as session,
            session.get(f"http://127.0.0.1:{unused_tcp_port}/healthz") as resp,
        ):
            assert resp.status == 200
    finally:
        await runner.cleanup()


def test_breaker_state_is_read_at_scrape_time() -> None:
    metrics = Metrics()
    breaker = CircuitBreaker(failure_threshold=1, clock=lambda: 0.0)
    metrics.watch_breaker(lambda: breaker.state)
    assert "cardinal_proxmox_breaker_state 0.0" in generate_latest(metrics.registry).decode()
    breaker.record_failure()
    assert "cardinal_proxmox_breaker_state 2.0" in generate_latest(metrics.registry).decode()


def test_observe_proxmox_fits_the_client_hook() -> None:
    hook: RequestHook = Metrics().observe_proxmox  # mypy checks the signatures agree
    hook("GET", "/version", 200, 0.01)
