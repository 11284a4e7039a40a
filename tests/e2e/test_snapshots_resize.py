"""Snapshots, rollback and resize end to end: signed ``/lxc`` commands and clicks into the real app, the
Proxmox simulator behind it, the tracker reporting task outcomes in the container's thread."""

from __future__ import annotations

import re
from typing import Any

import pytest

from handlers.blocks.ids import ACTION_RESIZE_APPROVE, ACTION_ROLLBACK_CONFIRM
from tests.e2e.harness import APPROVALS, APPROVER, OTHER, REQUESTER, Harness, button_value
from tests.e2e.test_day2_commands import ask, click, created, posts_to, thread_texts


@pytest.fixture
def policy_overrides() -> dict[str, Any]:
    """A small quota: 4096 MiB memory and 30 GiB disk per person (one small container is 1024 MiB, 8 GiB)."""
    return {"quota": {"total_memory_mib": 4096, "total_disk_gib": 30}}


async def test_owner_snapshot_is_followed_and_reported_in_the_thread(harness: Harness) -> None:
    ct = await created(harness)
    answer = await ask(harness, f"snapshot {ct.vmid} before-upgrade")
    assert "Taking snapshot `before-upgrade`" in answer["text"]
    assert len(posts_to(harness, "POST", f"/lxc/{ct.vmid}/snapshot")) == 1
    done = await harness.settle(
        lambda: [t for t in thread_texts(harness, ct) if f"snapshot of {ct.vmid}" in t]
    )
    assert "done" in done[0]
    assert "before-upgrade" in harness.sim.containers[ct.vmid].snapshots
    status = await ask(harness, f"status {ct.vmid}")
    assert "before-upgrade" in str(status["blocks"])


async def test_rollback_asks_for_confirmation_then_runs(harness: Harness) -> None:
    ct = await created(harness)
    await ask(harness, f"snapshot {ct.vmid} clean")
    await harness.settle(lambda: [t for t in thread_texts(harness, ct) if f"snapshot of {ct.vmid}" in t])
    harness.sim.containers[ct.vmid].config["cores"] = 3  # a change made after the snapshot
    confirmation = await ask(harness, f"rollback {ct.vmid} clean")
    assert posts_to(harness, "POST", "/rollback") == []  # only a question so far
    value = button_value(confirmation, ACTION_ROLLBACK_CONFIRM)
    assert value == f"{ct.vmid}:clean"
    said = await click(harness, ACTION_ROLLBACK_CONFIRM, value, user=REQUESTER, ephemeral=True)
    assert "Rolling web" in said[0]["text"]
    again = await click(harness, ACTION_ROLLBACK_CONFIRM, value, user=REQUESTER, ephemeral=True)
    assert "already started" in again[0]["text"]
    assert len(posts_to(harness, "POST", f"/lxc/{ct.vmid}/snapshot/clean/rollback")) == 1
    await harness.settle(lambda: [t for t in thread_texts(harness, ct) if f"rollback of {ct.vmid}" in t])
    assert harness.sim.containers[ct.vmid].config["cores"] == 1
    assert harness.sim.containers[ct.vmid].running  # it was running, so it is started again


async def test_non_owner_snapshot_and_forged_rollback_never_reach_proxmox(harness: Harness) -> None:
    ct = await created(harness)
    answer = await ask(harness, f"snapshot {ct.vmid}", user=OTHER)
    assert "Only the owner" in answer["text"]
    said = await click(harness, ACTION_ROLLBACK_CONFIRM, f"{ct.vmid}:x y", user=REQUESTER, ephemeral=True)
    assert "does not match" in said[0]["text"]
    assert posts_to(harness, "POST", "/snapshot") == []
    assert posts_to(harness, "POST", "/rollback") == []


async def test_resize_within_quota_runs_at_once(harness: Harness) -> None:
    ct = await created(harness)
    answer = await ask(harness, f"resize {ct.vmid} cores=2 memory=2048 disk=+2")
    assert "Resized web" in answer["text"]
    assert "memory 1024 → 2048 MiB" in answer["text"]
    config = harness.sim.containers[ct.vmid].config
    assert (config["cores"], config["memory"]) == (2, 2048)
    await harness.settle(lambda: [t for t in thread_texts(harness, ct) if f"resize of {ct.vmid}" in t])
    assert harness.sim.containers[ct.vmid].config["rootfs"].endswith("size=10G")
    assert harness.slack.messages(APPROVALS) == []


async def test_resize_beyond_quota_needs_another_approver(harness: Harness) -> None:
    ct = await created(harness)
    answer = await ask(harness, f"resize {ct.vmid} memory=8G")
    assert "Asked the approvers" in answer["text"]
    assert posts_to(harness, "PUT", f"/lxc/{ct.vmid}/config") == []
    [card] = [m for m in harness.slack.messages(APPROVALS) if "Resize approval" in m["text"]]
    assert "memory 1024 → 8192 MiB" in str(card["blocks"])
    value = button_value(card, ACTION_RESIZE_APPROVE)
    assert re.fullmatch(r"[0-9a-f-]{36}", value)  # only the approval record's id travels in the button
    assert str(ct.vmid) not in value
    assert REQUESTER not in value
    own = await click(
        harness, ACTION_RESIZE_APPROVE, value, user=REQUESTER, channel=APPROVALS, message_ts=card["ts"]
    )
    assert "approvers may decide" in own[0]["text"]
    assert harness.sim.containers[ct.vmid].config["memory"] == 1024
    await click(
        harness, ACTION_RESIZE_APPROVE, value, user=APPROVER, channel=APPROVALS, message_ts=card["ts"]
    )
    assert harness.sim.containers[ct.vmid].config["memory"] == 8192
    second = await click(
        harness, ACTION_RESIZE_APPROVE, value, user=APPROVER, channel=APPROVALS, message_ts=card["ts"]
    )
    assert "already decided" in second[0]["text"]
    assert len([r for r in posts_to(harness, "PUT", f"/lxc/{ct.vmid}/config") if "memory" in r.params]) == 1
    [updated] = [m for m in harness.slack.messages(APPROVALS) if m["ts"] == card["ts"]]
    assert f"Approved by <@{APPROVER}>" in str(updated["blocks"])
    assert [m for m in harness.slack.messages("D" + REQUESTER[1:]) if "approved resizing" in m["text"]]
