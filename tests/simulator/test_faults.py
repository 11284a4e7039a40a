"""Injected faults and the request log (deterministic from a seed)."""

from __future__ import annotations

import aiohttp
import pytest

from cardinal_sim.proxmox import FaultConfig, Running, Simulator, serve
from tests.simulator.conftest import SECRET, TOKEN, Api


async def _served(faults: FaultConfig) -> tuple[Simulator, Running]:
    sim = Simulator(speed=0, faults=faults)
    sim.add_token(TOKEN, SECRET)
    return sim, await serve(sim)


async def _statuses(
    session: aiohttp.ClientSession, faults: FaultConfig, n: int = 60
) -> list[tuple[int, str]]:
    _sim, running = await _served(faults)
    try:
        api = Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")
        out = []
        for _ in range(n):
            answer = await api.get("/version")
            out.append((answer.status, answer.reason))
        return out
    finally:
        await running.close()


async def test_fault_rate_answers_5xx_and_595_deterministically(session: aiohttp.ClientSession) -> None:
    faults = FaultConfig(seed=42, error_rate=0.5)
    first = await _statuses(session, faults)
    again = await _statuses(session, FaultConfig(seed=42, error_rate=0.5))
    assert first == again
    codes = {status for status, _ in first}
    assert 200 in codes
    assert codes - {200} <= {500, 502, 503, 595, 596}
    assert len(codes - {200}) >= 3
    assert (595, "Connection refused") in first or (596, "Connection timed out") in first


async def test_fault_595_has_empty_body(session: aiohttp.ClientSession) -> None:
    sim, running = await _served(FaultConfig(error_rate=1.0, error_codes=(595,)))
    try:
        answer = await Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}").get("/nodes")
        assert (answer.status, answer.reason, answer.text) == (595, "Connection refused", "")
        assert sim.request_log[-1].fault == "status:595"
    finally:
        await running.close()


async def test_faults_can_be_limited_to_some_paths(session: aiohttp.ClientSession) -> None:
    _sim, running = await _served(FaultConfig(error_rate=1.0, only_paths=("/status/",)))
    try:
        api = Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")
        assert (await api.get("/version")).status == 200
        assert (await api.post("/nodes/pve/lxc/101/status/start")).status >= 500
    finally:
        await running.close()


async def test_connection_reset_fault(session: aiohttp.ClientSession) -> None:
    sim, running = await _served(FaultConfig(reset_rate=1.0))
    try:
        api = Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")
        with pytest.raises(aiohttp.ClientError):
            await api.get("/version")
        assert sim.request_log[-1].fault in ("reset:before", "reset:after")
    finally:
        await running.close()


async def test_reset_after_processing_leaves_the_write_done(session: aiohttp.ClientSession) -> None:
    sim, running = await _served(FaultConfig(seed=1, reset_rate=1.0))
    try:
        api = Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")
        outcomes = []
        for vmid in range(101, 111):
            with pytest.raises(aiohttp.ClientError):
                await api.create(vmid)
            outcomes.append(vmid in sim.containers)
        assert True in outcomes
        assert False in outcomes
    finally:
        await running.close()


async def test_hang_fault_exceeds_client_timeout(session: aiohttp.ClientSession) -> None:
    _sim, running = await _served(FaultConfig(hang_rate=1.0, hang_seconds=30))
    try:
        api = Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")
        with pytest.raises(TimeoutError):
            await api.get("/version", client_timeout=0.2)
    finally:
        await running.close()


async def test_latency_is_added(session: aiohttp.ClientSession) -> None:
    sim, running = await _served(FaultConfig(latency=(0.01, 0.02)))
    try:
        answer = await Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}").get("/version")
        assert answer.status == 200
        assert sim.request_log[-1].status == 200
    finally:
        await running.close()


async def test_request_log_records_requests(api: Api, sim: Simulator) -> None:
    await api.create(101, hostname="web-1", password="hunter22")
    await api.create(5)
    created, refused = sim.request_log[-2:]
    assert (created.method, created.path, created.status) == ("POST", "/nodes/pve/lxc", 200)
    assert created.params["hostname"] == "web-1"
    assert created.params["password"] == "***"
    assert created.user == TOKEN
    assert refused.status == 400
    assert sim.counters["requests"] == 2
    assert not any("evil" in str(r.params) for r in sim.request_log)
