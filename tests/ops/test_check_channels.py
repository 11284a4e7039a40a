"""`cardinal check` tells whether the bot is a member of the policy's channels, and how to invite it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.ops.check.config import check_policy
from bot.ops.check.result import passed, render
from bot.ops.check.run import run_checks
from bot.ops.scopes import REQUIRED_BOT_SCOPES
from tests.fakes.slack import FakeSlack
from tests.ops.conftest import make_settings

POLICY = """
approvers = ["U0APPROVE"]
approval_channel = "C0APPROVE"
ops_channel = "C0OPS"

[[digest]]
channel = "C0DIGEST"
cron = "0 9 * * 1"

[[digest]]
channel = "C0APPROVE"
cron = "0 17 * * 5"
"""


async def _slack_results(
    tmp_path: Path,
    fake: FakeSlack,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> dict[str, str]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    server = await aiohttp_server(fake.app())
    settings = make_settings(slack_api_url=str(server.make_url("/api/")), policy_file=policy)
    targets, _ = check_policy(settings)
    assert targets is not None
    results = await run_checks(settings, targets, limit=2.0)
    channels = [r for r in results if r.name == "Slack channels"]
    assert len(channels) == 1
    return {"line": render(channels), "passed": str(passed(channels))}


async def test_channels_the_bot_was_never_invited_to_fail_with_the_invite_command(
    tmp_path: Path, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> None:
    fake = FakeSlack(scopes=REQUIRED_BOT_SCOPES)
    fake.add_channel("C0OPS", member=False)
    fake.add_channel("C0DIGEST", member=False, private=True)
    out = await _slack_results(tmp_path, fake, aiohttp_server)
    assert out["passed"] == "False"
    assert "ops channel C0OPS (not a member)" in out["line"]
    assert "digest channel C0DIGEST (not found" in out["line"]
    assert "In the ops channel (C0OPS) type: /invite @cardinal" in out["line"]
    assert "If the digest channel (C0DIGEST) is private, type /invite @cardinal" in out["line"]
    assert "C0APPROVE" not in out["line"].split("→")[0]  # the approval channel is fine
    asked = [c.params["channel"] for c in fake.calls("conversations.history")]
    assert sorted(asked) == ["C0APPROVE", "C0DIGEST", "C0OPS"]  # each channel once


async def test_member_of_every_channel_passes(
    tmp_path: Path, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> None:
    fake = FakeSlack(scopes=REQUIRED_BOT_SCOPES)
    out = await _slack_results(tmp_path, fake, aiohttp_server)
    assert out["passed"] == "True"
    assert "@cardinal is a member of approval channel C0APPROVE, ops channel C0OPS" in out["line"]
