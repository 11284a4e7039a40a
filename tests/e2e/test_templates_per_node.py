"""A 3-node cluster whose ``local`` template storages hold different templates (``local`` is a ``dir``
storage, not shared): the modal says where each template is, placement only picks a node that holds the
chosen template, and the create → ready flow works."""

from __future__ import annotations

from typing import Any

import pytest

from cardinal_sim.proxmox.state import GiB
from handlers.blocks.ids import CALLBACK_CREATE
from tests.conftest import SIM_TEMPLATE
from tests.e2e.harness import APPROVALS, CHANNEL, Harness
from tests.fakes.signing import selected

DEBIAN = SIM_TEMPLATE.split("/", 1)[1]
UBUNTU = "ubuntu-24.04-standard_24.04-2_amd64.tar.zst"
ALPINE = "alpine-3.22-default_20250617_amd64.tar.xz"


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"node_templates": {"pve": [ALPINE], "pve2": [UBUNTU, ALPINE], "pve3": [DEBIAN]}}


def _template_options(harness: Harness) -> dict[str, str]:
    view = harness.last_view(CALLBACK_CREATE)
    [block] = [b for b in view["blocks"] if b.get("block_id") == "template"]
    return {o["value"]: o["text"]["text"] for o in block["element"]["options"]}


async def _ready(harness: Harness) -> list[dict[str, Any]]:
    return await harness.settle(
        lambda: [m for m in harness.slack.messages(CHANNEL) if "is ready" in m["text"]]
    )


async def test_modal_offers_every_nodes_templates_and_says_where_they_are(harness: Harness) -> None:
    await harness.command("create")
    await harness.idle()
    options = _template_options(harness)
    assert options == {
        f"local:vztmpl/{ALPINE}": "alpine-3.22-default_20250617_amd64 (pve, pve2)",
        SIM_TEMPLATE: "debian-12-standard_12.12-1_amd64 (pve3)",
        f"local:vztmpl/{UBUNTU}": "ubuntu-24.04-standard_24.04-2_amd64 (pve2)",
    }


async def test_container_goes_to_the_node_holding_its_template_not_the_emptiest(harness: Harness) -> None:
    harness.sim.nodes["pve3"].base_mem = 40 * GiB  # pve3 has the least free memory, but the template
    await harness.request("web", template=SIM_TEMPLATE)
    ready = await _ready(harness)
    assert len(ready) == 1
    [create] = harness.creates()
    assert create.path == "/nodes/pve3/lxc"
    [ct] = harness.sim.containers.values()
    assert ct.node == "pve3"
    assert ct.running


async def test_automatic_placement_spreads_only_over_holders(harness: Harness) -> None:
    await harness.request("db", template=f"local:vztmpl/{UBUNTU}")
    await _ready(harness)
    assert [c.path for c in harness.creates()] == ["/nodes/pve2/lxc"]


async def test_choosing_a_node_without_the_template_is_refused_in_the_modal(harness: Harness) -> None:
    status, body = await harness.request(
        "web", template=SIM_TEMPLATE, fields={"node": {"value": selected("pve")}}
    )
    assert status == 200
    assert "pve does not hold this template (it is on pve3)" in str(body)
    assert harness.creates() == []


async def test_approval_card_preflight_names_the_nodes_holding_the_template(harness: Harness) -> None:
    await harness.request("big", preset="large", template=f"local:vztmpl/{UBUNTU}")
    card = await harness.settle(lambda: harness.slack.messages(APPROVALS))
    text = str(card[0]["blocks"])
    assert "ubuntu-24.04-standard_24.04-2_amd64.tar.zst (on pve2)" in text
