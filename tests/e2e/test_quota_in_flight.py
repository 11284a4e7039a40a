"""Requests still waiting for an approver count against their requester's quota in the create modal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import APPROVALS, Harness


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
