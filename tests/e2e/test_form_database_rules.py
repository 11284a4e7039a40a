"""What the create form's rules read from Cardinal's database: requests still waiting for an approver count
against their requester's quota, and a hostname Cardinal knows in use (destroyed containers aside) is
refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.containers.stored import RequestSpec
from bot.db import ContainerState, RequestState
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


async def test_containers_of_old_requests_count_however_many_requests_came_after(harness: Harness) -> None:
    """The quota sums every live container and every request in flight, not just the newest requests: a
    container from a request with 250 newer (denied) ones still holds its memory."""
    big = RequestSpec(
        hostname="old",
        template="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        storage="local-lvm",
        memory_mib=8192,
    )
    async with harness.cardinal.db.transaction() as tx:
        old = await tx.requests.create_request(
            requester=REQUESTER, channel="C1", spec=big, state=RequestState.READY, now=harness.now()
        )
        await tx.containers.upsert(
            vmid=20009,
            node="pve",
            hostname="old",
            owner=REQUESTER,
            state=ContainerState.RUNNING,
            request_id=old.id,
            now=harness.now(),
        )
        for i in range(250):
            await tx.requests.create_request(
                requester=REQUESTER,
                channel="C1",
                spec=big.model_copy(update={"hostname": f"later-{i}", "memory_mib": 512}),
                state=RequestState.DENIED,
                now=harness.now() + timedelta(seconds=i + 1),
            )
    status, body = await harness.request("next", preset="medium")  # 4 GiB more: 8 + 4 = 12 GiB fits
    assert (status, body) == (200, "")
    status, body = await harness.request("one-more", preset="small")  # anything more exceeds 12 GiB
    assert status == 200
    assert "quota: total memory would exceed your 12288 MiB" in str(body["errors"])
