"""A token scoped to a resource pool, and ``PROXMOX_NODE`` as the default node, end to end."""

from __future__ import annotations

from typing import Any

import pytest

from bot.ops.privileges import REQUIRED_PRIVILEGES
from bot.reconcile import adopt
from cardinal_sim.proxmox.state import GiB
from tests.e2e.harness import CHANNEL, Harness

VM_ROLE = {p for p in REQUIRED_PRIVILEGES if p.startswith("VM.")}
POOL_ONLY = {
    "/pool/cardinal": VM_ROLE,
    "/storage": set(REQUIRED_PRIVILEGES) - VM_ROLE,
    "/nodes": {"Sys.Audit"},
    "/sdn/zones/localnetwork": {"SDN.Use"},
}


async def _ready(harness: Harness) -> list[dict[str, Any]]:
    return await harness.settle(
        lambda: [m for m in harness.slack.messages(CHANNEL) if "is ready" in m["text"]]
    )


class TestPool:
    @pytest.fixture
    def sim_options(self) -> dict[str, Any]:
        return {"token_privileges": POOL_ONLY}

    @pytest.fixture
    def policy_overrides(self) -> dict[str, Any]:
        return {"placement": {"vmid_min": 20000, "vmid_max": 20999, "pool": "cardinal"}}

    async def test_a_pool_scoped_token_creates_into_the_pool_and_the_container_gets_ready(
        self, harness: Harness
    ) -> None:
        harness.sim.add_pool("cardinal")
        await harness.request("web")
        ready = await _ready(harness)
        assert "ssh root@10." in str(ready[0]["blocks"])
        [create] = harness.creates()
        assert create.params["pool"] == "cardinal"
        assert harness.sim.pools["cardinal"].vms == {20000}


class TestAdoptWithAWiderToken:
    @pytest.fixture
    def sim_options(self) -> dict[str, Any]:
        # This token may also look at every guest, so the pool is what keeps others' CTs out.
        return {"token_privileges": {**POOL_ONLY, "/vms": {"VM.Audit"}}}

    @pytest.fixture
    def policy_overrides(self) -> dict[str, Any]:
        return {"placement": {"vmid_min": 20000, "vmid_max": 20999, "pool": "cardinal"}}

    async def test_adopt_only_takes_members_of_the_pool(self, harness: Harness) -> None:
        harness.sim.add_pool("cardinal")
        await harness.request("web")
        await _ready(harness)
        async with harness.cardinal.db.transaction() as tx:
            await tx.containers.mark_destroyed(20000, now=harness.now())
        # The same ownership on a CT outside the pool is not Cardinal's to adopt.
        config = harness.sim.containers[20000].config
        harness.sim.add_container(20001, "pve2", tags=config["tags"], description=config["description"])
        report = await adopt(harness.cardinal.db, harness.cardinal.proxmox, harness.clock, pool="cardinal")
        assert report.adopted == [20000]


class TestDefaultNode:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"proxmox_node": "pve2"}

    async def test_containers_go_to_the_default_node_even_when_another_has_more_room(
        self, harness: Harness
    ) -> None:
        harness.sim.nodes["pve2"].base_mem = 30 * GiB
        await harness.request("web")
        await _ready(harness)
        assert [c.path for c in harness.creates()] == ["/nodes/pve2/lxc"]

    async def test_without_the_template_the_default_node_is_passed_over(self, harness: Harness) -> None:
        harness.sim.remove_template("pve2", "local", "debian-12-standard_12.12-1_amd64.tar.zst")
        await harness.request("web")
        await _ready(harness)
        assert [c.path for c in harness.creates()] == ["/nodes/pve/lxc"]
