"""Template downloads from Slack end to end: ``/lxc templates`` offers a Download button to approvers, the
click (or ``/lxc download``) starts ``POST /nodes/{node}/aplinfo`` on every node whose ``local`` storage
(per node, not shared) lacks the template, the tracker reports each task in the download's thread, and the
create modal then offers the template."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.blocks.ids import ACTION_DOWNLOAD, CALLBACK_CREATE
from tests.conftest import SIM_TEMPLATE
from tests.e2e.harness import APPROVER, CHANNEL, OTHER, REQUESTER, Harness
from tests.e2e.test_day2_commands import ask, click, posts_to

DEBIAN = SIM_TEMPLATE.split("/", 1)[1]
UBUNTU = "ubuntu-24.04-standard_24.04-2_amd64.tar.zst"
ALPINE = "alpine-3.22-default_20250617_amd64.tar.xz"
TRIXIE = "debian-13-standard_13.6-1_amd64.tar.zst"  # in the appliance index, on no node


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"node_templates": {"pve": [ALPINE], "pve2": [UBUNTU, ALPINE], "pve3": [DEBIAN]}}


async def _modal_templates(harness: Harness) -> dict[str, str]:
    await harness.command("create")
    await harness.idle()
    view = harness.last_view(CALLBACK_CREATE)
    [block] = [b for b in view["blocks"] if b.get("block_id") == "template"]
    return {o["value"]: o["text"]["text"] for o in block["element"]["options"]}


def _download_buttons(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        b["accessory"]["value"]: b["accessory"]
        for b in answer["blocks"]
        if b.get("accessory", {}).get("action_id") == ACTION_DOWNLOAD
    }


def _thread(harness: Harness, template: str) -> list[str]:
    roots = [m for m in harness.slack.messages(CHANNEL) if f"is downloading `{template}`" in m["text"]]
    assert len(roots) == 1
    return [m["text"] for m in harness.slack.thread(CHANNEL, roots[0]["ts"])]


async def test_an_approvers_download_click_ends_with_the_template_in_the_modal(harness: Harness) -> None:
    listing = await ask(harness, "templates", user=APPROVER)
    buttons = _download_buttons(listing)
    assert TRIXIE in buttons
    assert buttons[TRIXIE]["confirm"]["confirm"]["text"] == "Download"
    assert f"local:vztmpl/{TRIXIE}" not in await _modal_templates(harness)

    said = await click(harness, ACTION_DOWNLOAD, TRIXIE, user=APPROVER, ephemeral=True)
    assert "Downloading" in str(said)
    posts = posts_to(harness, "POST", "/aplinfo")
    assert sorted(p.path for p in posts) == [
        "/nodes/pve/aplinfo",
        "/nodes/pve2/aplinfo",
        "/nodes/pve3/aplinfo",
    ]
    assert {p.params["template"] for p in posts} == {TRIXIE}
    assert {p.params["storage"] for p in posts} == {"local"}

    await harness.settle(lambda: len([t for t in _thread(harness, TRIXIE) if "downloaded on" in t]) == 3)
    texts = _thread(harness, TRIXIE)
    for node in ("pve", "pve2", "pve3"):
        assert f"✅ `{TRIXIE}` downloaded on {node}." in texts
    options = await _modal_templates(harness)
    assert options[f"local:vztmpl/{TRIXIE}"] == "debian-13-standard_13.6-1_amd64"

    again = await click(harness, ACTION_DOWNLOAD, TRIXIE, user=APPROVER, ephemeral=True)
    assert "already started" in str(again)
    assert len(posts_to(harness, "POST", "/aplinfo")) == 3


async def test_download_command_runs_only_on_the_nodes_lacking_the_template(harness: Harness) -> None:
    answer = await ask(harness, f"download {UBUNTU}", user=APPROVER)
    assert "pve, pve3" in answer["text"] or "pve, pve3" in str(answer["blocks"])
    posts = posts_to(harness, "POST", "/aplinfo")
    assert sorted(p.path for p in posts) == ["/nodes/pve/aplinfo", "/nodes/pve3/aplinfo"]
    await harness.settle(lambda: len([t for t in _thread(harness, UBUNTU) if "downloaded on" in t]) == 2)
    assert (await _modal_templates(harness))[
        f"local:vztmpl/{UBUNTU}"
    ] == "ubuntu-24.04-standard_24.04-2_amd64"


async def test_a_non_approver_can_neither_see_the_button_nor_download(harness: Harness) -> None:
    listing = await ask(harness, "templates", user=REQUESTER)
    assert _download_buttons(listing) == {}
    assert TRIXIE in str(listing["blocks"])

    refused = await click(harness, ACTION_DOWNLOAD, TRIXIE, user=OTHER, ephemeral=True)
    assert "Only approvers may download templates." in str(refused)
    typed = await ask(harness, f"download {TRIXIE}", user=REQUESTER)
    assert "Only approvers may download templates." in str(typed)
    assert posts_to(harness, "POST", "/aplinfo") == []
    assert harness.slack.messages(CHANNEL) == []


@pytest.mark.parametrize(
    "value",
    [
        "../../../etc/passwd",
        f"{TRIXIE} ",
        "evil-template_1.0_amd64.tar.zst",  # shaped like one, but not in the appliance index
        "",
    ],
)
async def test_a_forged_download_value_is_refused(harness: Harness, value: str) -> None:
    said = await click(harness, ACTION_DOWNLOAD, value, user=APPROVER, ephemeral=True)
    assert "template" in str(said)
    assert posts_to(harness, "POST", "/aplinfo") == []


async def test_a_failed_download_is_reported_with_its_log_and_the_modal_does_not_offer_it(
    harness: Harness,
) -> None:
    harness.sim.faults.task_failure_rate = 1.0
    await click(harness, ACTION_DOWNLOAD, TRIXIE, user=APPROVER, ephemeral=True)
    failed = await harness.settle(
        lambda: (
            len([t for t in _thread(harness, TRIXIE) if "Can't connect" in t]) == 3
            and _thread(harness, TRIXIE)
        )
    )
    assert not any("downloaded on" in t for t in failed)
    roots = [m for m in harness.slack.messages(CHANNEL) if "is downloading" in m["text"]]
    blocks = str([m["blocks"] for m in harness.slack.thread(CHANNEL, roots[0]["ts"])])
    assert "*Last lines of the task log*" in blocks
    assert "target file: /var/lib/vz/template/cache/" + TRIXIE in blocks
    harness.sim.faults.task_failure_rate = 0.0
    assert f"local:vztmpl/{TRIXIE}" not in await _modal_templates(harness)
