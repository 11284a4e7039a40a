"""Per-node template storage, shared storages and resource pools, as real Proxmox VE has them.

Sources are recorded in docs/simulator-fidelity.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from cardinal_sim.proxmox import Running, Simulator, serve
from tests.simulator.conftest import DEBIAN, SECRET, TOKEN, Api

DEBIAN_FILE = DEBIAN.split("/", 1)[1]
ALPINE_FILE = "alpine-3.22-default_20250617_amd64.tar.xz"
POOL_TOKEN = "cardinal@pve!pool"


@pytest.fixture
def sim() -> Simulator:
    """Three nodes whose ``local`` storages hold different templates."""
    simulator = Simulator(
        nodes=3,
        speed=0,
        seed=7,
        node_templates={"pve": [DEBIAN_FILE], "pve2": [ALPINE_FILE], "pve3": [DEBIAN_FILE, ALPINE_FILE]},
    )
    simulator.add_token(TOKEN, SECRET)
    return simulator


@pytest.fixture
async def running(sim: Simulator) -> AsyncIterator[Running]:
    handle = await serve(sim)
    yield handle
    await handle.close()
    assert sim.internal_errors == []


async def _templates(api: Api, node: str, storage: str = "local") -> list[str]:
    answer = await api.get(f"/nodes/{node}/storage/{storage}/content", params={"content": "vztmpl"})
    assert answer.status == 200, answer.text
    return [item["volid"] for item in answer.data]


async def test_local_is_a_per_node_dir_storage_with_its_own_templates(api: Api) -> None:
    assert await _templates(api, "pve") == [DEBIAN]
    assert await _templates(api, "pve2") == [f"local:vztmpl/{ALPINE_FILE}"]
    storages = (await api.get("/cluster/resources", params={"type": "storage"})).data
    local = [s for s in storages if s["storage"] == "local"]
    assert {s["node"] for s in local} == {"pve", "pve2", "pve3"}
    assert all(s["shared"] == 0 and s["plugintype"] == "dir" for s in local)


async def test_create_on_a_node_without_the_template_fails_in_the_task(api: Api, sim: Simulator) -> None:
    upid = (await api.create(101, node="pve2")).data
    sim.advance(10)
    status = await api.task_status(upid)
    assert status["exitstatus"] == f"unable to create CT 101 - volume '{DEBIAN}' does not exist"
    assert 101 not in sim.containers


async def test_a_download_lands_on_the_node_it_was_asked_on_only(api: Api, sim: Simulator) -> None:
    answer = await api.post("/nodes/pve2/aplinfo", data={"storage": "local", "template": DEBIAN_FILE})
    assert answer.status == 200, answer.text
    sim.advance(10)
    assert DEBIAN in await _templates(api, "pve2")
    assert await _templates(api, "pve") == [DEBIAN]  # unchanged
    assert f"local:vztmpl/{ALPINE_FILE}" not in await _templates(api, "pve")


async def test_a_shared_storage_shows_the_same_templates_on_every_node(api: Api, sim: Simulator) -> None:
    sim.add_shared_storage("nfs-tmpl")
    answer = await api.post("/nodes/pve/aplinfo", data={"storage": "nfs-tmpl", "template": ALPINE_FILE})
    assert answer.status == 200, answer.text
    sim.advance(10)
    for node in ("pve", "pve2", "pve3"):
        assert await _templates(api, node, "nfs-tmpl") == [f"nfs-tmpl:vztmpl/{ALPINE_FILE}"]
    storages = (await api.get("/cluster/resources", params={"type": "storage"})).data
    assert {s["shared"] for s in storages if s["storage"] == "nfs-tmpl"} == {1}


# --- pools -------------------------------------------------------------------------------------

ROLE = {
    "VM.Allocate",
    "VM.Audit",
    "VM.PowerMgmt",
    "VM.Config.Disk",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
}
OUTSIDE = {"/storage/local": {"Datastore.Audit"}, "/storage/local-lvm": {"Datastore.AllocateSpace"}}


@pytest.fixture
def pool_api(sim: Simulator, api_as: Callable[[str | None], Api]) -> Api:
    """A token whose VM privileges are granted on ``/pool/cardinal`` only."""
    sim.add_pool("cardinal")
    sim.add_token(POOL_TOKEN, SECRET, {"/pool/cardinal": ROLE, **OUTSIDE})
    return api_as(f"PVEAPIToken={POOL_TOKEN}={SECRET}")


async def test_pool_token_may_create_only_into_its_pool(pool_api: Api, sim: Simulator) -> None:
    outside = await pool_api.create(101, storage="local-lvm")
    assert outside.status == 403
    assert outside.reason == "Permission check failed"
    unknown = await pool_api.create(101, storage="local-lvm", pool="other")
    assert unknown.reason == "Permission check failed (pool 'other' does not exist)"
    inside = await pool_api.create(101, storage="local-lvm", pool="cardinal")
    assert inside.status == 200, inside.text
    sim.advance(10)
    assert sim.pools["cardinal"].vms == {101}


async def test_pool_members_carry_pool_and_inherit_the_pool_acl(pool_api: Api, sim: Simulator) -> None:
    sim.add_container(200, "pve")  # not in the pool
    await pool_api.create(101, storage="local-lvm", pool="cardinal")
    sim.advance(30)
    seen = (await pool_api.get("/cluster/resources", params={"type": "vm"})).data
    assert [(r["vmid"], r.get("pool")) for r in seen] == [(101, "cardinal")]
    start = await pool_api.post("/nodes/pve/lxc/101/status/start")
    assert start.status == 200, start.text
    other = await pool_api.post("/nodes/pve/lxc/200/status/start")
    assert other.status == 403


async def test_pool_members_are_listed_and_leave_the_pool_when_destroyed(
    pool_api: Api, api: Api, sim: Simulator
) -> None:
    await pool_api.create(101, storage="local-lvm", pool="cardinal")
    sim.advance(30)
    listed = (await api.get("/pools", params={"poolid": "cardinal"})).data
    assert listed[0]["members"] == [{"id": "lxc/101", "vmid": 101, "node": "pve", "type": "lxc"}]
    assert (await pool_api.get("/pools/cardinal")).status == 403  # Pool.Audit is not in the role
    await pool_api.delete("/nodes/pve/lxc/101")
    sim.advance(10)
    assert sim.pools["cardinal"].vms == set()


async def test_permissions_report_pool_derived_privileges_on_members(pool_api: Api, sim: Simulator) -> None:
    await pool_api.create(101, storage="local-lvm", pool="cardinal")
    sim.advance(30)
    perms = (await pool_api.get("/access/permissions")).data
    assert "VM.PowerMgmt" in perms["/pool/cardinal"]
    assert perms["/vms/101"]["VM.PowerMgmt"] == 0  # from the pool, not propagated
