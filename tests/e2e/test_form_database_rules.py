"""What the create form's rules read from Cardinal's database: requests still waiting for an approver count
against their requester's quota, and a hostname Cardinal knows in use (destroyed containers aside) is
refused."""

from __future__ import annotations

from typing import Any

import pytest

from bot.db import ContainerState
from tests.e2e.harness import APPROVALS, OTHER, REQUESTER, Harness


@pytest.fixture
def policy_overrides() -> dict[str, Any]:
    return {"quota": {"total_disk_gib": 100, "total_memory_mib": 12288}}


async def test_a_pending_request_counts_against_the_quota_of_the_next(harness: Harness) -> None:
    assert await harness.request("first", preset="large") == (200, "")  # 64 GiB, 8 GiB of memory
    assert len(harness.slack.messages(APPROVALS)) == 1  # waiting for an approver
    status, body = await harness.request("second", preset="medium")  # 32 GiB more: 96 ≤ 100 GiB
    assert (status, body) == (200, "")
    status, body = await harness.request("third", preset="medium")  # 4 GiB of memory more: 16 > 12 GiB
    assert status == 200
    assert "quota: total memory would exceed your 12288 MiB" in str(body["errors"])
    assert len(harness.slack.messages(APPROVALS)) == 2


async def test_a_hostname_a_known_container_uses_is_refused_unless_it_was_destroyed(harness: Harness) -> None:
    async with harness.cardinal.db.transaction() as tx:
        for vmid, owner, state in (
            (20007, OTHER, ContainerState.RUNNING),
            (20003, OTHER, ContainerState.STOPPED),
            (20001, REQUESTER, ContainerState.DESTROYED),
        ):
            await tx.containers.upsert(
                vmid=vmid, node="pve", hostname="web", owner=owner, state=state, now=harness.now()
            )
    status, body = await harness.request("web")
    assert status == 200
    assert body["errors"]["hostname"] == "hostname: web is already used by CT 20003"
    assert await harness.request("web-two") == (200, "")
