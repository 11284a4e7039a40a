"""The create modal's "More options": an extra volume, a second interface and nesting, filled by their
labels through the real Slack app, through approval and quota to the Proxmox create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.policy import load_policy
from cardinal_sim.slack.payloads import (
    block_action,
    checked,
    create_values,
    interactive_body,
    number,
    plain,
    selected,
)
from handlers.blocks.ids import ACTION_APPROVE, ACTION_CREATE_MORE, CALLBACK_CREATE
from tests.conftest import SIM_TEMPLATE
from tests.e2e.harness import APPROVALS, APPROVER, REQUESTER, Harness, button_value
from tests.e2e.test_day2_commands import ask
from tests.e2e.test_home import open_home, text_of


async def open_more_options(h: Harness, *, user: str = REQUESTER) -> dict[str, Any]:
    """``/lxc create``, then click "More options" in the modal; returns the expanded view."""
    await h.command("create", user=user)
    view = h.last_view(CALLBACK_CREATE)
    assert "More options" in str(view["blocks"])
    [stored] = [v for v in h.slack.views.values() if v.view.get("callback_id") == CALLBACK_CREATE]
    payload = block_action(
        ACTION_CREATE_MORE, "open", user=user, view={**stored.view, "id": stored.id, "hash": stored.hash}
    )
    status, _ = await h._post(interactive_body(payload), "application/x-www-form-urlencoded")
    assert status == 200
    await h.idle()
    return h.last_view(CALLBACK_CREATE)


def block_of(view: dict[str, Any], label: str) -> str:
    """The block id of the input labelled ``label`` (what a person reads, not what the code names)."""
    inputs = [b for b in view["blocks"] if b.get("type") == "input"]
    found = [b["block_id"] for b in inputs if b["label"]["text"] == label]
    assert len(found) == 1, f"no single input labelled {label!r}"
    return str(found[0])


def basics(hostname: str, preset: str) -> dict[str, Any]:
    return create_values(hostname, template=SIM_TEMPLATE, preset=preset)


def advanced(view: dict[str, Any], *, size: str = "20", path: str = "/data") -> dict[str, Any]:
    return {
        block_of(view, "Extra volume storage"): {"value": selected("local-lvm")},
        block_of(view, "Extra volume size GiB"): {"value": number(size)},
        block_of(view, "Extra volume mount path"): {"value": plain(path)},
        block_of(view, "Extra volume options"): {"value": checked("backup", "ro")},
        block_of(view, "Second interface bridge"): {"value": selected("vmbr0")},
        block_of(view, "Second interface VLAN tag"): {"value": number("20")},
        block_of(view, "Second interface network"): {"value": selected("static", "radio_buttons")},
        block_of(view, "Second interface IPv4 address (static)"): {"value": plain("198.51.100.10/24")},
        block_of(view, "Second interface gateway (static)"): {"value": plain("198.51.100.1")},
        block_of(view, "Features"): {"value": checked("nesting")},
    }


async def test_volume_interface_and_nesting_reach_the_proxmox_create_and_the_card(harness: Harness) -> None:
    h = harness
    view = await open_more_options(h)
    assert "root@pam" in str(view["blocks"])  # why keyctl, fuse and mount are not offered
    status, body = await h.submit_view(view, {**basics("db", "large"), **advanced(view)}, user=REQUESTER)
    assert (status, body) == (200, "")
    card = await h.settle(lambda: h.slack.messages(APPROVALS))
    shown = str(card[0]["blocks"])
    assert "20 GiB on local-lvm at /data, read-only" in shown
    assert "84 GiB needed" in shown  # the pre-flight storage check counts the volume (64 + 20 GiB)
    home = text_of(await open_home(h, APPROVER))
    assert "4 vCPU · 8192 MiB · 64 GiB + 20 GiB /data · 2 interfaces" in home
    assert "eth1: 198.51.100.10/24 via 198.51.100.1 on vmbr0, VLAN 20" in shown
    await h.click(ACTION_APPROVE, button_value(card[0], ACTION_APPROVE), user=APPROVER)
    await h.settle(lambda: [t for t in h.texts() if "is ready" in t])
    [create] = h.creates()
    assert create.status == 200  # the simulator checks the form against the official schema
    assert create.params["mp0"] == "local-lvm:20,mp=/data,backup=1,ro=1"
    assert create.params["net1"] == (
        "name=eth1,bridge=vmbr0,ip=198.51.100.10/24,gw=198.51.100.1,firewall=1,tag=20"
    )
    assert create.params["features"] == "nesting=1"
    status = str((await ask(h, "status db"))["blocks"])
    assert "*Volume* 20 GiB on local-lvm at /data, read-only" in status
    assert "*Interface* eth1: 198.51.100.10/24 via 198.51.100.1 on vmbr0, VLAN 20" in status


async def test_unticking_nesting_creates_without_features(harness: Harness) -> None:
    h = harness
    view = await open_more_options(h)
    values = {**basics("plain", "small"), block_of(view, "Features"): {"value": checked()}}
    assert await h.submit_view(view, values, user=REQUESTER) == (200, "")
    await h.settle(lambda: [t for t in h.texts() if "is ready" in t])
    [create] = h.creates()
    assert "features" not in create.params
    assert "mp0" not in create.params
    assert "net1" not in create.params


class TestQuota:
    @pytest.fixture
    def policy_overrides(self) -> dict[str, Any]:
        return {"quota": {"total_disk_gib": 100}}

    async def test_the_volume_counts_against_the_disk_quota_before_the_ack(self, harness: Harness) -> None:
        h = harness
        view = await open_more_options(h)
        # large is 64 GiB: with 40 GiB more it is within the 200 GiB ceiling but over the 100 GiB quota.
        values = {**basics("big", "large"), **advanced(view, size="40")}
        status, body = await h.submit_view(view, values, user=REQUESTER)
        assert status == 200
        assert body["response_action"] == "errors"
        assert "quota: total disk would exceed your 100 GiB" in str(body["errors"])
        without = {**basics("big", "large"), **advanced(view, size="30")}
        assert await h.submit_view(view, without, user=REQUESTER) == (200, "")


async def test_a_bad_mount_path_is_marked_on_its_field(harness: Harness) -> None:
    h = harness
    view = await open_more_options(h)
    values = {**basics("web", "small"), **advanced(view, path="/proc/x")}
    _, body = await h.submit_view(view, values, user=REQUESTER)
    assert body["response_action"] == "errors"
    assert "/proc" in body["errors"][block_of(view, "Extra volume mount path")]


class TestPresetWithDataVolume:
    @pytest.fixture
    def policy_overrides(self) -> dict[str, Any]:
        preset = {"cores": 1, "memory_mib": 1024, "disk_gib": 8, "data_volume_gib": 20}
        return {"presets": {"small": preset, "large": {**preset, "cores": 4}}}

    async def test_one_click_gives_the_preset_volume(self, harness: Harness) -> None:
        h = harness
        await h.command("create")
        view = h.last_view(CALLBACK_CREATE)
        assert "small — 1 vCPU · 1024 MiB RAM · 8 GiB disk + 20 GiB /data" in str(view["blocks"])
        assert await h.submit_view(view, basics("data", "small"), user=REQUESTER) == (200, "")
        await h.settle(lambda: [t for t in h.texts() if "is ready" in t])
        [create] = h.creates()
        assert create.status == 200
        assert create.params["mp0"] == "local-lvm:20,mp=/data,backup=1"


def test_a_preset_data_volume_in_a_system_directory_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(
        '[presets.small]\ncores = 1\nmemory_mib = 512\ndisk_gib = 8\ndata_volume_path = "/proc/x"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"presets\.small\.data_volume_path: .*/proc"):
        load_policy(file)
