"""Snapshot and resize operations of the client, against the Proxmox simulator served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.proxmox import ProxmoxClient, ProxmoxLockedError, ProxmoxServerError
from cardinal_sim.proxmox import Simulator
from tests.conftest import ServerFactory
from tests.sim_client import serve_sim_client

TOKEN = "cardinal@pve!bot"
SECRET = "7d1c2b3a-snap-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator(nodes=1, speed=0, seed=3)
    simulator.add_token(TOKEN, SECRET)
    simulator.add_container(101, status="running", cores=1)
    return simulator


@pytest.fixture
async def px(sim: Simulator, aiohttp_server: ServerFactory) -> AsyncIterator[ProxmoxClient]:
    client = await serve_sim_client(sim, aiohttp_server, TOKEN, SECRET)
    yield client
    await client.close()
    assert sim.internal_errors == []


async def test_create_list_and_delete_snapshot(px: ProxmoxClient, sim: Simulator) -> None:
    assert await px.snapshots("pve", 101) == []
    upid = await px.create_snapshot("pve", 101, "before", "pre-upgrade")
    assert (upid.type, upid.id, upid.node) == ("vzsnapshot", "101", "pve")
    assert (await px.container_config("pve", 101))["lock"] == "snapshot"
    sim.advance(5)
    assert (await px.task_status(upid)).succeeded
    [snap] = await px.snapshots("pve", 101)
    assert (snap.name, snap.description, snap.snaptime is not None) == ("before", "pre-upgrade", True)
    gone = await px.delete_snapshot("pve", 101, "before")
    assert gone.type == "vzdelsnapshot"
    sim.advance(5)
    assert (await px.task_status(gone)).succeeded
    assert await px.snapshots("pve", 101) == []


async def test_description_is_optional(px: ProxmoxClient, sim: Simulator) -> None:
    await px.create_snapshot("pve", 101, "plain")
    [record] = [r for r in sim.request_log if r.method == "POST" and r.path.endswith("/snapshot")]
    assert "description" not in record.params


async def test_rollback_sends_start_and_restores(px: ProxmoxClient, sim: Simulator) -> None:
    await px.create_snapshot("pve", 101, "s1")
    sim.advance(5)
    await px.update_config("pve", 101, {"cores": 4})
    upid = await px.rollback_snapshot("pve", 101, "s1", start=True)
    assert upid.type == "vzrollback"
    [record] = [r for r in sim.request_log if r.path.endswith("/snapshot/s1/rollback")]
    assert record.params["start"] in (1, "1", True)
    sim.advance(5)
    assert (await px.task_status(upid)).succeeded
    assert (await px.container_config("pve", 101))["cores"] == 1
    assert (await px.container_status("pve", 101)).running


async def test_resize_returns_the_task_and_grows_the_disk(px: ProxmoxClient, sim: Simulator) -> None:
    upid = await px.resize_disk("pve", 101, "rootfs", "+2G")
    assert upid is not None
    assert upid.type == "resize"
    sim.advance(5)
    assert (await px.task_status(upid)).succeeded
    assert (await px.container_config("pve", 101))["rootfs"].endswith("size=10G")


async def test_resize_refusals_are_typed(px: ProxmoxClient, sim: Simulator) -> None:
    with pytest.raises(ProxmoxServerError) as shrink:
        await px.resize_disk("pve", 101, "rootfs", "4G")
    assert "unable to shrink disk size" in shrink.value.what
    await px.create_snapshot("pve", 101, "s1")
    with pytest.raises(ProxmoxLockedError) as locked:
        await px.resize_disk("pve", 101, "rootfs", "+1G")
    assert "CT is locked (snapshot)" in locked.value.what
