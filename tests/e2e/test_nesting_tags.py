"""Nesting by default, and Proxmox's warnings shown in the request's thread, through the real Slack app."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import CHANNEL, Harness


async def test_an_unprivileged_container_is_created_with_nesting_and_no_warning(harness: Harness) -> None:
    await harness.request("web")
    await harness.settle(lambda: [t for t in harness.texts() if "is ready" in t])
    [create] = harness.creates()
    assert create.status == 200  # the simulator validates the form against the official schema
    assert create.params["features"] == "nesting=1"
    assert create.params["unprivileged"] == "1"
    assert not [t for t in harness.texts(CHANNEL) if "warning" in t.lower()]


class TestNestingOff:
    @pytest.fixture
    def policy_overrides(self) -> dict[str, Any]:
        return {"features": {"nesting": False}}

    async def test_the_systemd_warning_is_posted_in_the_thread(self, harness: Harness) -> None:
        await harness.request("web")
        await harness.settle(lambda: [t for t in harness.texts() if "is ready" in t])
        [create] = harness.creates()
        assert "features" not in create.params
        messages = harness.slack.messages(CHANNEL)
        [root] = [m for m in messages if "thread_ts" not in m or m["thread_ts"] == m["ts"]]
        warned = [
            m
            for m in harness.slack.messages(CHANNEL)
            if "finished with 1 warning" in str(m.get("blocks", m.get("text")))
        ]
        assert len(warned) == 1
        assert warned[0]["thread_ts"] == root["ts"]
        assert "You may need to enable nesting." in str(warned[0]["blocks"])
