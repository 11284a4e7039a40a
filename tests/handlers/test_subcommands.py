"""``subcommands.run``: every day-2 command against the Proxmox simulator and a real database, plus the
``/lxc`` listener delivering answers and errors through ``response_url``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import AccessDenied
from bot.containers.errors import ContainerNotManaged
from bot.db import Database
from bot.errors import InputError
from bot.policy import DigestSchedule, Policy
from handlers import subcommands
from handlers.app import create_app
from handlers.blocks.ids import ACTION_DESTROY_CONFIRM, ACTION_EXTEND, ACTION_ROLLBACK_CONFIRM
from handlers.parsing import Command, parse_command
from tests.conftest import FakeClock, ServerFactory
from tests.fakes.signing import slash_command
from tests.fakes.slack import FakeSlack
from tests.handlers.day2_env import APPROVER, OTHER, OWNER, UI_URL, Day2Env, day2_env
from tests.handlers.helpers import assert_valid_message, text_of


@pytest.fixture
async def env(
    sqlite_db: Database, aiohttp_server: ServerFactory, clock: FakeClock, web_client: AsyncWebClient
) -> AsyncIterator[Day2Env]:
    async with day2_env(sqlite_db, aiohttp_server, clock, web_client) as e:
        yield e


async def run(env: Day2Env, text: str, user: str = OWNER, channel: str = "C0LAB") -> dict[str, Any]:
    """``/lxc <text>`` as ``user``: the answer, which must be a valid message."""
    cmd: Command = parse_command(text)
    answer = await subcommands.run(env.services, cmd, {"user_id": user, "channel_id": channel})
    assert answer is not None
    assert_valid_message(answer)
    return answer


def buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for blk in msg["blocks"] if blk["type"] == "actions" for e in blk["elements"]]


# --- list and status -------------------------------------------------------------------------------


async def test_list_mine_and_all(env: Day2Env) -> None:
    await env.seed(10001, hostname="mine")
    await env.seed(10002, hostname="theirs", owner=OTHER, status="stopped")
    mine = text_of(await run(env, "list"))
    assert "`mine`" in mine
    assert "theirs" not in mine
    everything = await run(env, "list all", user=APPROVER)
    assert "🟢 *10001* `mine`" in text_of(everything)
    assert "🔴 *10002* `theirs`" in text_of(everything)
    assert everything["text"] == "All containers: 2"


async def test_status_in_detail_with_quick_actions_for_the_owner(env: Day2Env) -> None:
    await env.seed(10001, hostname="web", cores=2, memory=1024)
    answer = await run(env, "status web")
    text = text_of(answer)
    for part in ("web (10001)", "🟢 running", "pve", f"<@{OWNER}>", "2 vCPU · 1024 MiB · 8 GiB"):
        assert part in text
    assert f"<{UI_URL}/#v1:0:=lxc%2F10001|Open in the Proxmox UI>" in text
    ids = {b["action_id"] for b in buttons(answer)}
    assert ids == {"lxc_power.stop", "lxc_power.reboot", ACTION_EXTEND, ACTION_DESTROY_CONFIRM}


async def test_status_shows_no_buttons_to_others_but_does_to_approvers(
    sqlite_db: Database, aiohttp_server: ServerFactory, clock: FakeClock, web_client: AsyncWebClient
) -> None:
    """With ``others_containers = "everyone"`` anyone may look, but only those who may act get buttons."""
    policy = Policy.model_validate({"approvers": [APPROVER], "access": {"others_containers": "everyone"}})
    async with day2_env(sqlite_db, aiohttp_server, clock, web_client, policy=policy) as env:
        await env.seed(10001)
        assert buttons(await run(env, "status 10001", user=OTHER)) == []
        assert buttons(await run(env, "status 10001", user=APPROVER)) != []


async def test_status_of_an_unknown_container_says_so(env: Day2Env) -> None:
    with pytest.raises(ContainerNotManaged):
        await run(env, "status 10999", user=APPROVER)
    # Someone who sees only their own containers gets the refusal they get for others' containers.
    with pytest.raises(AccessDenied, match="no container 10999 that you may see"):
        await run(env, "status 10999")


# --- power -----------------------------------------------------------------------------------------


async def test_non_owner_stop_is_refused_before_proxmox(env: Day2Env) -> None:
    await env.seed(10001)
    with pytest.raises(AccessDenied) as info:
        await run(env, "stop 10001", user=OTHER)
    assert f"<@{OWNER}>" in info.value.what
    assert env.requests_to("POST", "/status/stop") == []
    assert env.follower.calls == []


async def test_approver_stop_is_accepted_and_followed(env: Day2Env) -> None:
    await env.seed(10001)
    answer = await run(env, "stop 10001", user=APPROVER)
    assert answer["text"] == "⏳ Stopping CT 10001 on pve… I'll post the result in its thread."
    assert len(env.requests_to("POST", "/lxc/10001/status/stop")) == 1
    [tracked] = env.follower.calls
    assert (tracked.kind, tracked.vmid, tracked.actor) == ("stop", 10001, APPROVER)


# --- destroy, extend, ip -------------------------------------------------------------------------------


async def test_destroy_only_asks_for_confirmation(env: Day2Env) -> None:
    await env.seed(10001, hostname="web")
    mine = await run(env, "destroy 10001")
    [button] = buttons(mine)
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        ACTION_DESTROY_CONFIRM,
        "10001",
        "Destroy web",
    )
    [theirs] = buttons(await run(env, "destroy 10001", user=OTHER))
    assert theirs["text"]["text"] == "Ask an approver to destroy"
    assert env.requests_to("DELETE", "/lxc/10001") == []


async def test_extend_within_policy_shows_the_new_expiry(env: Day2Env) -> None:
    await env.seed(10001, expires_in=timedelta(days=2))
    before = await env.expiry_of(10001)
    answer = await run(env, "extend 10001 3d")
    after = await env.expiry_of(10001)
    assert after - before == timedelta(days=3)
    assert "Extended CT 10001 by 3d" in answer["text"]
    assert after.strftime("%Y-%m-%d %H:%M UTC") in answer["text"]
    assert f"<!date^{int(after.timestamp())}^" in text_of(answer)


async def test_extend_beyond_policy_is_refused_with_the_room_left(env: Day2Env) -> None:
    await env.seed(10001, expires_in=timedelta(days=20))
    before = await env.expiry_of(10001)
    with pytest.raises(InputError) as info:
        await run(env, "extend 10001 30d")
    assert "at most 30d" in info.value.what
    assert info.value.hint is not None
    assert "at most 10d" in info.value.hint
    assert await env.expiry_of(10001) == before


async def test_ip_rediscovers_addresses(env: Day2Env) -> None:
    await env.seed(10001, net0="name=eth0,bridge=vmbr0,ip=10.1.2.3/24,gw=10.1.2.1,type=veth")
    answer = await run(env, "ip 10001")
    assert "`10.1.2.3`" in text_of(answer)
    assert "ssh root@10.1.2.3" in text_of(answer)


# --- templates, tasks, audit, digest --------------------------------------------------------------------


async def test_templates_lists_the_template_storage(env: Day2Env) -> None:
    answer = await run(env, "templates")
    assert "Templates on local" in text_of(answer)
    assert "debian-12-standard" in text_of(answer)


async def test_tasks_answers_even_when_there_are_none(env: Day2Env) -> None:
    assert "No pending or recent tasks." in text_of(await run(env, "tasks"))


async def test_audit_of_a_container_for_its_owner_not_for_others(env: Day2Env) -> None:
    await env.seed(10001)
    with pytest.raises(AccessDenied):
        await run(env, "stop 10001", user=OTHER)
    answer = await run(env, "audit 10001")
    assert f"<@{OTHER}> · `access.denied` · CT 10001" in text_of(answer)
    with pytest.raises(AccessDenied):
        await run(env, "audit 10001", user=OTHER)
    assert "access.denied" in text_of(await run(env, f"audit <@{OTHER}>", user=APPROVER))


async def test_digest_elsewhere_than_a_digest_channel_is_never_posted(env: Day2Env) -> None:
    await env.seed(10001)
    with pytest.raises(AccessDenied, match="only approvers may see it"):
        await run(env, "digest", channel="C0LAB")
    private = await run(env, "digest", user=APPROVER, channel="C0LAB")
    assert "Cardinal digest" in text_of(private)
    assert "(10001)" in text_of(private)
    assert env.outbox.deliveries == []


async def test_digest_in_a_digest_channel_is_posted_there(
    sqlite_db: Database, aiohttp_server: ServerFactory, clock: FakeClock, web_client: AsyncWebClient
) -> None:
    policy = Policy(approvers=[APPROVER], digest=[DigestSchedule(channel="C0DIGEST", cron="0 9 * * 1-5")])
    async with day2_env(sqlite_db, aiohttp_server, clock, web_client, policy=policy) as env:
        answer = await run(env, "digest", user=OTHER, channel="C0DIGEST")
        assert answer["text"] == "Posted the digest in this channel."
        [delivery] = env.outbox.deliveries
        assert delivery.channel == "C0DIGEST"


@pytest.mark.parametrize("text", ["status 10001", "status web-1", "ip 10001", "list all"])
async def test_others_may_not_look_at_a_container_by_default(env: Day2Env, text: str) -> None:
    await env.seed(10001, hostname="web-1")
    before = len(env.sim.request_log)
    with pytest.raises(AccessDenied) as info:
        await run(env, text, user=OTHER)
    assert OWNER not in f"{info.value.what} {info.value.hint}"
    assert len(env.sim.request_log) == before
    assert "10001" in text_of(await run(env, text, user=APPROVER))


async def test_snapshot_rollback_and_resize_are_dispatched(env: Day2Env) -> None:
    await env.seed(10001, cores=1)
    assert "Taking snapshot `before`" in text_of(await run(env, "snapshot 10001 before"))
    env.sim.advance(5)
    confirmation = await run(env, "rollback 10001 before")
    [button] = buttons(confirmation)
    assert (button["action_id"], button["value"]) == (ACTION_ROLLBACK_CONFIRM, "10001:before")
    assert env.requests_to("POST", "/rollback") == []
    assert "cores 1 → 2" in text_of(await run(env, "resize 10001 cores=2"))
    assert env.sim.containers[10001].config["cores"] == 2


@pytest.mark.parametrize("text", ["snapshot 10001", "rollback 10001 before", "resize 10001 cores=2"])
async def test_snapshot_rollback_and_resize_of_others_are_refused(env: Day2Env, text: str) -> None:
    await env.seed(10001)
    with pytest.raises(AccessDenied):
        await run(env, text, user=OTHER)
    assert env.requests_to("POST", "/snapshot") == []
    assert env.requests_to("PUT", "/config") == []


# --- through the /lxc listener ---------------------------------------------------------------------


async def test_answers_and_errors_arrive_ephemerally_through_response_url(
    env: Day2Env, fake_slack: FakeSlack, slack_server: TestServer, web_client: AsyncWebClient
) -> None:
    await env.seed(10001)
    app = create_app(env.services, client=web_client, signing_secret=None)

    async def send(text: str, user: str, hook: str) -> list[dict[str, Any]]:
        url = str(slack_server.make_url(f"/hooks/{hook}"))
        body = dict(slash_command(text, user=user, response_url=url))
        resp = await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        assert resp.status == 200
        await env.services.background.idle()
        return fake_slack.hook_posts(hook)

    [refused] = await send("stop 10001", OTHER, "h1")
    assert refused["response_type"] == "ephemeral"
    assert "Only the owner" in refused["text"]
    [listing] = await send("list", OWNER, "h2")
    assert listing["text"] == "Your containers: 1"
    assert "10001" in json.dumps(listing["blocks"])
    assert env.requests_to("POST", "/status/stop") == []
