"""The App Home: the pure view builder (Block Kit limits, buttons the existing listeners accept) and the
refresher (debounced per person, only for people looking at their Home), against a fake Slack."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.containers.stored import RequestSpec
from bot.containers.views import ContainerView
from bot.db import Database
from bot.db.enums import ApprovalStatus, RequestState
from bot.db.records import Approval, ContainerRequest, PendingApproval
from bot.policy import Policy
from handlers.actions import approval_id_of
from handlers.app import create_app
from handlers.blocks.home import home_view
from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY, ACTION_EXTEND, ACTION_POWER
from handlers.container_actions import extend_value_of, power_value_of
from handlers.home import HomeRefresher
from tests.conftest import FakeClock, ServerFactory
from tests.fakes.slack import FakeSlack
from tests.handlers.day2_env import APPROVER, OTHER, OWNER, Day2Env, day2_env
from tests.handlers.helpers import buttons, text_of

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
APPROVAL_ID = "0b9f6c3e-2a41-4d8e-9c55-7e1f0a2b3c4d"

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def container(vmid: int = 10042, **changes: Any) -> ContainerView:
    base: dict[str, Any] = {
        "vmid": vmid,
        "hostname": f"web-{vmid}",
        "status": "running",
        "node": "pve1",
        "ips": ("10.0.0.5/24",),
        "owner_id": OWNER,
        "expires_at": NOW + timedelta(days=3),
    }
    base.update(changes)
    return ContainerView(**base)


def pending(n: int = 0, *, requester: str = OTHER, age: timedelta = timedelta(hours=3), **spec: Any) -> Any:
    approval_id = f"0b9f6c3e-2a41-4d8e-9c55-{n:012x}"
    approval = Approval(
        id=approval_id,
        request_id=f"req-{n}",
        status=ApprovalStatus.PENDING,
        card_channel="C0APPROVE",
        card_ts="1700000000.000100",
        decided_by=None,
        decided_at=None,
        reason=None,
        created_at=NOW - age,
    )
    request = ContainerRequest(
        id=f"req-{n}",
        requester=requester,
        channel="C0LAB",
        thread_ts=None,
        # model_copy does not validate: the hostile-text test stores names the model would refuse,
        # to show rendering escapes them even so.
        spec=RequestSpec(
            hostname=f"db-{n}", template=TEMPLATE, storage="local-lvm", cores=2, memory_mib=2048
        ).model_copy(update=spec),
        count=1,
        purpose="load tests",
        node=None,
        state=RequestState.PENDING_APPROVAL,
        created_at=NOW - age,
        updated_at=NOW - age,
        expires_at=None,
        decided_by=None,
        decided_at=None,
        decision_reason=None,
    )
    return PendingApproval(approval=approval, request=request, age=age)


def valid(view: dict[str, Any]) -> dict[str, Any]:
    """slack_sdk's own validation of a Home view (≤ 100 blocks, text and id limits) passes."""
    as_dict: dict[str, Any] = View(**view).to_dict()
    assert as_dict["type"] == "home"
    assert len(as_dict["blocks"]) <= 100
    return as_dict


# --- the builder -------------------------------------------------------------------------------------


def test_a_persons_containers_show_state_node_ip_expiry_and_their_actions() -> None:
    view = valid(
        home_view(
            [container(10042), container(10043, status="stopped", ips=())],
            [pending()],
            is_approver=False,
            now=NOW,
        )
    )
    text = text_of(view)
    assert "Your containers (2)" in text
    assert "web-10042" in text
    assert "pve1" in text
    assert "`10.0.0.5`" in text
    assert "no IP yet" in text
    assert "expires <!date^" in text
    assert "Pending approvals" not in text, "only approvers see pending approvals"
    by_block = {
        b["block_id"]: [e["action_id"] for e in b["elements"]] for b in view["blocks"] if "block_id" in b
    }
    assert by_block["home_ct_10042"] == ["lxc_power.stop", "lxc_power.reboot", ACTION_EXTEND]
    assert by_block["home_ct_10043"] == ["lxc_power.start", ACTION_EXTEND]


def test_every_button_carries_only_an_id_the_existing_listeners_accept() -> None:
    view = valid(
        home_view(
            [container(10042), container(10043, status="stopped")], [pending(1)], is_approver=True, now=NOW
        )
    )
    seen = set()
    for button in buttons(view):
        action, value = button["action_id"], button["value"]
        seen.add(action.split(".")[0])
        if action.startswith(ACTION_POWER + "."):
            vmid, verb = power_value_of(value)
            assert action == f"{ACTION_POWER}.{verb}"
            assert vmid in (10042, 10043)
        elif action == ACTION_EXTEND:
            assert extend_value_of(value)[0] in (10042, 10043)
        else:
            assert action in (ACTION_APPROVE, ACTION_DENY)
            assert approval_id_of(value) == pending(1).approval.id
    assert seen == {ACTION_POWER, ACTION_EXTEND, ACTION_APPROVE, ACTION_DENY}


def test_approvers_see_pending_approvals_with_age_and_the_card_buttons() -> None:
    view = valid(home_view([], [pending(1, age=timedelta(days=1, hours=2))], is_approver=True, now=NOW))
    text = text_of(view)
    assert "You have no containers" in text
    assert "Pending approvals (1)" in text
    assert f"<@{OTHER}>" in text
    assert "`db-1`" in text
    assert "2 vCPU" in text
    assert "waiting 1d 2h" in text
    pair = [(b["action_id"], b["value"], b.get("style")) for b in buttons(view)]
    approval_id = pending(1).approval.id
    assert pair == [
        (ACTION_APPROVE, approval_id, "primary"),
        (ACTION_DENY, approval_id, "danger"),
    ]


def test_an_approvers_own_request_is_listed_without_buttons() -> None:
    view = valid(home_view([], [pending(1, requester=APPROVER)], is_approver=True, now=NOW, viewer=APPROVER))
    assert "Pending approvals (1)" in text_of(view)
    assert buttons(view) == []


def test_an_approver_with_nothing_pending_is_told_so() -> None:
    view = valid(home_view([container()], [], is_approver=True, now=NOW))
    assert "Nothing is waiting for a decision." in text_of(view)


def test_missing_and_last_known_containers_offer_no_power_buttons_and_say_why() -> None:
    view = valid(
        home_view(
            [container(10042, status="missing"), container(10043, live=False, status="running")],
            [],
            is_approver=False,
            now=NOW,
        )
    )
    actions = [b["action_id"] for b in buttons(view)]
    assert actions == [ACTION_EXTEND], "no buttons for a missing one; only Extend when status is stale"
    assert "last known state" in text_of(view)


def test_huge_inputs_are_cut_to_100_blocks_and_say_how_many_were_left_out() -> None:
    many = [container(10000 + i, hostname="h" * 300, node="n" * 300) for i in range(500)]
    approvals = [pending(i) for i in range(300)]
    view = valid(home_view(many, approvals, is_approver=True, now=NOW))
    text = text_of(view)
    assert "Your containers (500)" in text
    assert "Pending approvals (300)" in text
    left_containers = re.search(r"… and (\d+) more; `/lxc list`", text)
    left_approvals = re.search(r"… and (\d+) more waiting", text)
    assert left_containers
    assert left_approvals
    shown_containers = sum(1 for b in view["blocks"] if b.get("block_id", "").startswith("home_ct_"))
    shown_approvals = sum(1 for b in view["blocks"] if b.get("block_id", "").startswith("home_ap_"))
    assert shown_containers + int(left_containers.group(1)) == 500
    assert shown_approvals + int(left_approvals.group(1)) == 300
    assert shown_approvals >= 1, "both lists keep a share of the tab"
    assert shown_containers >= 1, "both lists keep a share of the tab"
    assert "Updated <!date^" in text, "the footer survives the cut"
    block_ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))


def test_a_non_approver_gets_the_whole_tab_for_containers() -> None:
    view = valid(
        home_view([container(10000 + i) for i in range(60)], [pending()], is_approver=False, now=NOW)
    )
    shown = sum(1 for b in view["blocks"] if b.get("block_id", "").startswith("home_ct_"))
    assert shown > 40


def test_text_from_people_and_proxmox_is_escaped() -> None:
    view = valid(
        home_view(
            [container(hostname="<!channel>", node="<http://x|y>")],
            [pending(1, hostnames=["<!here>"])],
            is_approver=True,
            now=NOW,
        )
    )
    text = text_of(view)
    assert "<!channel>" not in text
    assert "<!here>" not in text
    assert "<http://x" not in text
    assert "&lt;!channel&gt;" in text


# --- publishing and the refresher ---------------------------------------------------------------------


@pytest.fixture
async def env(
    sqlite_db: Database, aiohttp_server: ServerFactory, clock: FakeClock, web_client: AsyncWebClient
) -> AsyncIterator[Day2Env]:
    async with day2_env(
        sqlite_db, aiohttp_server, clock, web_client, policy=Policy(approvers=[APPROVER])
    ) as e:
        yield e


class Timers:
    """A hand-driven ``loop.call_later`` and monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def clock(self) -> float:
        return self.now

    def schedule(self, delay: float, callback: Callable[[], None]) -> None:
        self.pending.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [cb for at, cb in self.pending if at <= self.now]
        self.pending = [(at, cb) for at, cb in self.pending if at > self.now]
        for callback in due:
            callback()


def refresher(env: Day2Env, client: AsyncWebClient, timers: Timers, **options: Any) -> HomeRefresher:
    """A refresher on the environment's services, driven by ``timers``."""
    s = env.services
    return HomeRefresher(
        requests=s.requests,
        approvers=s.approvers,
        containers=s.containers,
        background=s.background,
        client=client,
        clock=timers.clock,
        schedule=timers.schedule,
        **options,
    )


def publishes(slack: FakeSlack, user: str) -> int:
    return sum(1 for c in slack.calls("views.publish") if c.params.get("user_id") == user)


async def test_publish_shows_the_persons_containers_the_persons_containers(
    env: Day2Env, fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    await env.seed(10042, hostname="mine")
    await env.seed(10043, hostname="theirs", owner=OTHER)
    assert await env.services.home.publish(OWNER)
    view = fake_slack.home_views[OWNER]
    valid(view)
    assert "mine" in text_of(view)
    assert "theirs" not in text_of(view)


async def test_publish_never_raises(env: Day2Env, fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    fake_slack.fail_next("views.publish", 200, body={"ok": False, "error": "invalid_auth"}, times=5)
    assert not await env.services.home.publish(OWNER)
    assert OWNER not in fake_slack.home_views


async def test_app_home_opened_publishes_and_the_messages_tab_does_not(
    env: Day2Env, fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    await env.seed(10042, hostname="mine")
    app = create_app(env.services, client=web_client, signing_secret=None)

    async def event(tab: str) -> None:
        body = {
            "type": "event_callback",
            "team_id": "T0001",
            "api_app_id": "A0CARDINAL",
            "event_id": f"Ev{tab}",
            "event_time": 1700000000,
            "event": {"type": "app_home_opened", "user": OWNER, "channel": "D0OWNER", "tab": tab},
        }
        resp = await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        assert resp.status == 200

    await event("messages")
    await event("home")
    # Bolt runs event listeners after the ack; wait (bounded) for the publish.
    await fake_slack.wait_for(lambda: OWNER in fake_slack.home_views)
    await env.services.background.idle()
    assert "mine" in text_of(fake_slack.home_views[OWNER])
    assert publishes(fake_slack, OWNER) == 1, "the Messages tab publishes nothing"


async def test_refreshes_are_debounced_per_person_and_coalesced(
    env: Day2Env, fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    timers = Timers()
    home = refresher(env, web_client, timers, min_interval=5.0)
    home.opened(OWNER)
    await env.services.background.idle()
    assert publishes(fake_slack, OWNER) == 1
    await env.seed(10042, hostname="fresh")
    for _ in range(10):  # a burst of changes inside the window
        home.request(OWNER)
    await env.services.background.idle()
    assert publishes(fake_slack, OWNER) == 1, "nothing published inside the window"
    assert len(timers.pending) == 1, "the burst coalesced into one trailing publish"
    timers.advance(5.0)
    await env.services.background.idle()
    assert publishes(fake_slack, OWNER) == 2
    assert "fresh" in text_of(fake_slack.home_views[OWNER]), "the trailing publish shows the latest state"
    timers.advance(60.0)
    home.request(OWNER)
    await env.services.background.idle()
    assert publishes(fake_slack, OWNER) == 3, "after the window a change publishes at once"


async def test_only_people_looking_at_their_home_are_refreshed(
    env: Day2Env, fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    timers = Timers()
    home = refresher(env, web_client, timers)
    home.request(OWNER, "not-a-user", None)
    await env.services.background.idle()
    assert fake_slack.calls("views.publish") == []
    home.opened(OWNER)
    timers.advance(2 * 3600)  # the tab was opened long ago
    home.request(OWNER)
    await env.services.background.idle()
    assert publishes(fake_slack, OWNER) == 1, "only the opening published"
