"""The client's shared, short-lived snapshots of slowly changing reads (bot.proxmox.snapshot), against the
simulator: one request for concurrent readers, fresh data after Cardinal's own changes, expiry on the clock.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.proxmox import ProxmoxClient, ProxmoxError
from cardinal_sim.proxmox import Simulator
from cardinal_sim.proxmox.state import FaultConfig
from tests.integration.conftest import ClientFactory, finish_task


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def resource_reads(sim: Simulator) -> int:
    return sum(1 for r in sim.request_log if r.method == "GET" and r.path == "/cluster/resources")


async def test_concurrent_readers_share_one_cluster_resources_request(
    px: ProxmoxClient, sim: Simulator
) -> None:
    first, second, third = await asyncio.gather(px.guest_index(), px.guest_index(), px.guest_index())
    assert resource_reads(sim) == 1
    assert first is second is third
    assert set(first.lxc) == {100, 101}
    assert {"web", "db"} <= first.names
    await px.guest_index()  # still fresh: no new request
    assert resource_reads(sim) == 1


async def test_a_guest_created_outside_cardinal_shows_once_the_snapshot_expires(
    make_client: ClientFactory, sim: Simulator
) -> None:
    clock = ManualClock()
    px = make_client(clock=clock, snapshot_ttl=15.0)
    assert 300 not in (await px.guest_index()).lxc
    sim.add_container(300, "pve", hostname="outside")
    clock.now += 14.0
    assert 300 not in (await px.guest_index()).lxc
    clock.now += 1.0
    index = await px.guest_index()
    assert 300 in index.lxc
    assert "outside" in index.names


async def test_cardinals_destroy_is_seen_without_waiting_for_expiry(
    make_client: ClientFactory, sim: Simulator
) -> None:
    px = make_client(clock=ManualClock(), snapshot_ttl=3600.0)
    assert 101 in (await px.guest_index()).lxc
    upid = await px.destroy_container("pve", 101)
    # Read while the destroy still runs: the guest is still listed, and that copy is kept …
    assert 101 in (await px.guest_index()).lxc
    await finish_task(px, sim, upid)
    # … until the tracker, seeing the task end, invalidates the snapshots.
    px.invalidate_snapshots()
    assert 101 not in (await px.guest_index()).lxc


async def test_any_write_invalidates_nodes_and_template_listings(
    make_client: ClientFactory, sim: Simulator
) -> None:
    px = make_client(clock=ManualClock(), snapshot_ttl=3600.0)
    await px.cached_nodes()
    await px.cached_storage_content("pve", "local")
    await px.cached_nodes()
    await px.cached_storage_content("pve", "local")
    gets = [r.path for r in sim.request_log if r.method == "GET"]
    assert gets.count("/nodes") == 1
    assert gets.count("/nodes/pve/storage/local/content") == 1
    await px.power("pve", 101, "start")
    await px.cached_nodes()
    await px.cached_storage_content("pve", "local")
    gets = [r.path for r in sim.request_log if r.method == "GET"]
    assert gets.count("/nodes") == 2
    assert gets.count("/nodes/pve/storage/local/content") == 2


async def test_a_failed_read_is_not_kept(make_client: ClientFactory, sim: Simulator) -> None:
    px = make_client(clock=ManualClock(), snapshot_ttl=3600.0)
    sim.faults = FaultConfig(error_rate=1.0, error_codes=(500,), only_paths=("/cluster/resources",))
    with pytest.raises(ProxmoxError):
        await px.guest_index()
    sim.faults = FaultConfig()
    assert 100 in (await px.guest_index()).lxc
