"""The policy's per-container ceilings ([limits] max_cores …) are what the create modal enforces."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import Harness


@pytest.fixture
def policy_overrides() -> dict[str, Any]:
    return {"limits": {"max_cores": 1, "max_disk_gib": 16}}


async def test_request_over_the_policy_ceiling_is_refused_in_the_modal(harness: Harness) -> None:
    status, body = await harness.request("big", preset="medium")  # 2 cores, 32 GiB
    assert status == 200
    errors = body["errors"]
    assert "more than the limit of 1 per container" in errors["cores"]
    assert harness.creates() == []


async def test_request_within_the_policy_ceiling_is_accepted(harness: Harness) -> None:
    status, body = await harness.request("web", preset="small")  # 1 core, 8 GiB
    assert status == 200
    assert body == ""
