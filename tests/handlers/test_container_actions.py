"""Container buttons through the real Bolt app: extend, quick power actions, destroy confirmation and the
destroy approval card — authorized at click time, forged values and forged approvals refused, first click
wins."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.db import Database
from bot.errors import InputError
from bot.events import Notice
from bot.expiry import EXTEND_ACTION_ID
from bot.policy import Policy
from handlers.app import create_app
from handlers.blocks.events import notice
from handlers.blocks.ids import (
    ACTION_DESTROY_APPROVE,
    ACTION_DESTROY_CONFIRM,
    ACTION_DESTROY_DENY,
    ACTION_RESIZE_APPROVE,
)
from handlers.container_actions import approval_id_of, extend_value_of, power_value_of, vmid_of
from handlers.notifier import SlackNotifier
from tests.conftest import FakeClock, ServerFactory
from tests.fakes.signing import block_action
from tests.fakes.slack import FakeSlack
from tests.handlers.day2_env import APPROVER, OTHER, OWNER, Day2Env, day2_env

APPROVALS = "C0APPROVE"
LAB = "C0LAB"
SECOND_APPROVER = "U0APPROV4"


@pytest.fixture
async def env(
    sqlite_db: Database, aiohttp_server: ServerFactory, clock: FakeClock, web_client: AsyncWebClient
) -> AsyncIterator[Day2Env]:
    policy = Policy(approvers=[APPROVER, SECOND_APPROVER], approval_channel=APPROVALS)
    notifier = SlackNotifier(web_client)
    async with day2_env(sqlite_db, aiohttp_server, clock, web_client, policy=policy, notifier=notifier) as e:
        yield e


@dataclass
class Clicker:
    """Clicks buttons in the real app as Slack would deliver them (Socket Mode, so unsigned)."""

    env: Day2Env
    app: AsyncApp
    slack: FakeSlack
    server: TestServer
    seq: int = 0

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        channel: str = LAB,
        message_ts: str = "1700000001.000001",
        ephemeral: bool = False,
    ) -> list[dict[str, Any]]:
        """Click and wait for the work; returns what the clicker was told through ``response_url``."""
        self.seq += 1
        hook = f"click-{self.seq}"
        body = block_action(
            action_id,
            value,
            user=user,
            channel=channel,
            message_ts=message_ts,
            response_url=str(self.server.make_url(f"/hooks/{hook}")),
        )
        body["container"]["is_ephemeral"] = ephemeral
        resp = await self.app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        assert resp.status == 200
        await self.env.services.background.idle()
        return self.slack.hook_posts(hook)


@pytest.fixture
def clicker(
    env: Day2Env, fake_slack: FakeSlack, slack_server: TestServer, web_client: AsyncWebClient
) -> Clicker:
    app = create_app(env.services, client=web_client, signing_secret=None)
    return Clicker(env, app, fake_slack, slack_server)


def said(posts: list[dict[str, Any]]) -> str:
    return " ".join(str(p.get("text", "")) for p in posts)


def deletes(env: Day2Env, vmid: int) -> list[Any]:
    return env.requests_to("DELETE", f"/lxc/{vmid}")


def card_value(card: dict[str, Any]) -> str:
    """The value of an approval card's Approve button."""
    [value] = [
        e["value"]
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] in (ACTION_DESTROY_APPROVE, ACTION_RESIZE_APPROVE)
    ]
    return str(value)


# --- strict values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (vmid_of, "10001:U0OTHER"),
        (vmid_of, "99"),
        (vmid_of, "010001"),
        (extend_value_of, "10001"),
        (extend_value_of, "10001:3d:x"),
        (extend_value_of, "10001:0d"),
        (extend_value_of, "10001:-3d"),
        (power_value_of, "10001:destroy"),
        (power_value_of, "10001:stop "),
    ],
)
def test_values_are_parsed_strictly(parse: Any, value: str) -> None:
    with pytest.raises(InputError) as info:
        parse(value)
    assert "does not match a container" in str(info.value)


def test_good_values_parse() -> None:
    assert vmid_of("10001") == 10001
    assert extend_value_of("10001:3d") == (10001, timedelta(days=3))
    assert power_value_of("10001:reboot") == (10001, "reboot")
    approval = str(uuid.uuid4())
    assert approval_id_of(approval) == approval


@pytest.mark.parametrize(
    "value", ["10001:U0OTHER", "10001", "", f"{uuid.uuid4()}:x", str(uuid.uuid4()).upper()]
)
def test_approval_buttons_carry_nothing_but_a_record_id(value: str) -> None:
    with pytest.raises(InputError) as info:
        approval_id_of(value)
    assert "does not match an open approval" in str(info.value)


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        (EXTEND_ACTION_ID, "10001:3d;drop"),
        ("lxc_power.stop", "10001:stop&destroy"),
        (ACTION_DESTROY_CONFIRM, "10001 "),
    ],
)
async def test_forged_clicks_are_refused_and_change_nothing(
    env: Day2Env, clicker: Clicker, action_id: str, value: str
) -> None:
    await env.seed(10001)
    before = await env.expiry_of(10001)
    posts = await clicker.click(action_id, value, user=APPROVER)
    assert "does not match a container" in said(posts)
    assert posts[0]["response_type"] == "ephemeral"
    assert [r for r in env.sim.request_log if r.method in ("POST", "PUT", "DELETE")] == []
    assert await env.expiry_of(10001) == before


# --- extend ------------------------------------------------------------------------------------------


async def post_reminder(env: Day2Env, web_client: AsyncWebClient, vmid: int) -> str:
    """Post the expiry reminder (with its Extend 3d button) as the expiry job does; returns its ts."""
    msg = notice(Notice(f"ct{vmid} expires soon.", ((EXTEND_ACTION_ID, "Extend 3d", f"{vmid}:3d"),)))
    posted = await web_client.chat_postMessage(channel=LAB, **msg)
    return str(posted["ts"])


async def test_extend_from_a_reminder_counts_once_and_updates_it(
    env: Day2Env, clicker: Clicker, web_client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    await env.seed(10001, expires_in=timedelta(hours=1))
    before = await env.expiry_of(10001)
    ts = await post_reminder(env, web_client, 10001)
    await clicker.click(EXTEND_ACTION_ID, "10001:3d", user=OWNER, message_ts=ts)
    again = await clicker.click(EXTEND_ACTION_ID, "10001:3d", user=OWNER, message_ts=ts)
    assert await env.expiry_of(10001) - before == timedelta(days=3)
    assert "already extended" in said(again)
    [reminder] = fake_slack.messages(LAB)
    assert f"<@{OWNER}> extended CT 10001 by 3d" in reminder["text"]
    assert not any(b["type"] == "actions" for b in reminder["blocks"])  # the button is gone


async def test_extend_by_someone_else_is_refused(
    env: Day2Env, clicker: Clicker, web_client: AsyncWebClient
) -> None:
    await env.seed(10001)
    before = await env.expiry_of(10001)
    ts = await post_reminder(env, web_client, 10001)
    posts = await clicker.click(EXTEND_ACTION_ID, "10001:3d", user=OTHER, message_ts=ts)
    assert "Only the owner" in said(posts)
    assert await env.expiry_of(10001) == before


async def test_extend_from_the_status_message_answers_the_clicker(env: Day2Env, clicker: Clicker) -> None:
    await env.seed(10001, expires_in=timedelta(days=1))
    posts = await clicker.click(EXTEND_ACTION_ID, "10001:3d", user=OWNER, ephemeral=True)
    assert "Extended CT 10001 by 3d" in said(posts)
    assert posts[0]["response_type"] == "ephemeral"


# --- power -------------------------------------------------------------------------------------------


async def test_quick_stop_by_the_owner_and_refusal_for_others(env: Day2Env, clicker: Clicker) -> None:
    await env.seed(10001)
    refused = await clicker.click("lxc_power.stop", "10001:stop", user=OTHER, ephemeral=True)
    assert "Only the owner" in said(refused)
    assert env.requests_to("POST", "/status/stop") == []
    done = await clicker.click("lxc_power.stop", "10001:stop", user=OWNER, ephemeral=True)
    assert "Stopping CT 10001" in said(done)
    assert len(env.requests_to("POST", "/lxc/10001/status/stop")) == 1


# --- destroy -----------------------------------------------------------------------------------------


async def test_owner_confirmation_destroys_once_with_purge(env: Day2Env, clicker: Clicker) -> None:
    await env.seed(10001)
    first = await clicker.click(ACTION_DESTROY_CONFIRM, "10001", user=OWNER, ephemeral=True)
    second = await clicker.click(ACTION_DESTROY_CONFIRM, "10001", user=OWNER, ephemeral=True)
    [delete] = deletes(env, 10001)
    assert delete.params.get("purge") in (1, "1", True)
    assert delete.params.get("destroy-unreferenced-disks") in (1, "1", True)
    assert "Destroying ct10001 (10001)" in said(first)
    assert first[0]["replace_original"] is True  # the confirmation button is replaced
    assert "already done" in said(second)


async def approval_card(env: Day2Env, clicker: Clicker, fake_slack: FakeSlack) -> dict[str, Any]:
    """OTHER confirms destroying OWNER's 10001: the card posted to the approval channel."""
    await env.seed(10001)
    asked = await clicker.click(ACTION_DESTROY_CONFIRM, "10001", user=OTHER, ephemeral=True)
    assert f"<#{APPROVALS}>" in said(asked)
    [card] = fake_slack.messages(APPROVALS)
    return card


async def test_non_owner_confirmation_asks_the_approvers(
    env: Day2Env, clicker: Clicker, fake_slack: FakeSlack
) -> None:
    card = await approval_card(env, clicker, fake_slack)
    approval = card_value(card)
    assert approval_id_of(approval) == approval  # the record's id, nothing the click could alter
    values = {
        e["action_id"]: e["value"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    assert values == {ACTION_DESTROY_APPROVE: approval, ACTION_DESTROY_DENY: approval}
    assert deletes(env, 10001) == []
    assert (OTHER, "container.destroy_approval_requested") in await env.audit_actions(10001)


async def test_approval_is_for_approvers_only_and_the_first_decision_wins(
    env: Day2Env, clicker: Clicker, fake_slack: FakeSlack
) -> None:
    card = await approval_card(env, clicker, fake_slack)
    value = card_value(card)

    async def click(action: str, user: str) -> str:
        return said(await clicker.click(action, value, user=user, channel=APPROVALS, message_ts=card["ts"]))

    assert "Only approvers" in await click(ACTION_DESTROY_APPROVE, OTHER)
    assert "Only approvers" in await click(ACTION_DESTROY_APPROVE, OWNER)
    assert deletes(env, 10001) == []
    await click(ACTION_DESTROY_APPROVE, APPROVER)
    assert f"already decided by <@{APPROVER}>" in await click(ACTION_DESTROY_DENY, SECOND_APPROVER)
    assert "already decided" in await click(ACTION_DESTROY_APPROVE, APPROVER)
    [delete] = deletes(env, 10001)
    assert delete.params.get("purge") in (1, "1", True)
    [updated] = fake_slack.messages(APPROVALS)
    assert f"Approved by <@{APPROVER}>" in str(updated["blocks"])
    assert "lxc_destroy_approve" not in str(updated["blocks"])
    [dm] = fake_slack.messages("D" + OTHER[1:])
    assert "approved destroying ct10001" in dm["text"]


async def test_an_approver_cannot_approve_their_own_destroy_request(
    env: Day2Env, clicker: Clicker, fake_slack: FakeSlack
) -> None:
    await env.seed(10001)
    await clicker.click(ACTION_DESTROY_CONFIRM, "10001", user=APPROVER, ephemeral=True)
    [card] = fake_slack.messages(APPROVALS)
    posts = await clicker.click(
        ACTION_DESTROY_APPROVE,
        card_value(card),
        user=APPROVER,
        channel=APPROVALS,
        message_ts=card["ts"],
    )
    assert "own request" in said(posts)
    assert deletes(env, 10001) == []


async def test_deny_keeps_the_container_and_tells_the_requester(
    env: Day2Env, clicker: Clicker, fake_slack: FakeSlack
) -> None:
    card = await approval_card(env, clicker, fake_slack)
    await clicker.click(
        ACTION_DESTROY_DENY, card_value(card), user=APPROVER, channel=APPROVALS, message_ts=card["ts"]
    )
    assert deletes(env, 10001) == []
    [updated] = fake_slack.messages(APPROVALS)
    assert f"Denied by <@{APPROVER}>" in str(updated["blocks"])
    [dm] = fake_slack.messages("D" + OTHER[1:])
    assert "denied destroying ct10001" in dm["text"]
    assert (APPROVER, "container.destroy_denied") in await env.audit_actions(10001)


# --- forged approvals (no card was ever posted) ------------------------------------------------------


@pytest.mark.parametrize(
    "action_id",
    [ACTION_DESTROY_APPROVE, ACTION_DESTROY_DENY, ACTION_RESIZE_APPROVE],
)
@pytest.mark.parametrize("value", [f"10001:{OTHER}", f"10001:{OTHER}:-:8192:-", "forged-id"])
async def test_a_forged_approval_with_no_card_reaches_no_proxmox_call(
    env: Day2Env, clicker: Clicker, fake_slack: FakeSlack, action_id: str, value: str
) -> None:
    """A signed click shaped like an old approval button (``<vmid>:<user>``), with no card ever posted:
    an approver clicking it destroys or resizes nothing."""
    await env.seed(10001)
    posts = await clicker.click(action_id, value, user=APPROVER, channel=APPROVALS)
    assert "does not match an open approval" in said(posts)
    assert posts[0]["response_type"] == "ephemeral"
    assert [r for r in env.sim.request_log if r.method in ("POST", "PUT", "DELETE")] == []
    assert fake_slack.messages(APPROVALS) == []
    assert not any(action.endswith(("_approved", "_denied")) for _, action in await env.audit_actions(10001))


async def test_an_unknown_approval_id_changes_nothing(
    env: Day2Env, clicker: Clicker, fake_slack: FakeSlack
) -> None:
    """A well-formed id that is no open record (made up, or from another workspace) is refused alike."""
    await env.seed(10001)
    posts = await clicker.click(ACTION_DESTROY_APPROVE, str(uuid.uuid4()), user=APPROVER)
    assert "does not match an open approval" in said(posts)
    assert deletes(env, 10001) == []


async def test_a_card_for_one_container_cannot_be_reused_for_another(
    env: Day2Env, clicker: Clicker, fake_slack: FakeSlack
) -> None:
    """The record says which container: the id of 10001's denied card does not destroy 10002."""
    card = await approval_card(env, clicker, fake_slack)
    await env.seed(10002)
    value = card_value(card)
    await clicker.click(ACTION_DESTROY_DENY, value, user=APPROVER, channel=APPROVALS, message_ts="1.2")
    again = await clicker.click(ACTION_DESTROY_APPROVE, value, user=SECOND_APPROVER, channel=LAB)
    assert f"already decided by <@{APPROVER}>" in said(again)
    assert deletes(env, 10001) == []
    assert deletes(env, 10002) == []
