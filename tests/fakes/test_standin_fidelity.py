"""The Slack stand-in refuses what Slack refuses: channels the bot is not in, Block Kit beyond its limits,
modal error keys that are not input blocks of the view, and trigger_ids older than 3 s."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.conftest import ServerFactory
from tests.fakes.slack import FakeSlack


@pytest.fixture
def client(api_url: str) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=api_url, retry_handlers=[])


def _section(text: str = "x", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def _button(action_id: str, text: str = "Go") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}}


def _modal(*blocks: dict[str, Any], title: str = "Title") -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": list(blocks)}


def _input(block_id: str, **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": block_id},
        "element": {"type": "plain_text_input", "action_id": "value", **element},
    }


async def _error(call: Any) -> str:
    with pytest.raises(SlackApiError) as exc:
        await call
    return str(exc.value.response["error"])


class TestMembership:
    async def test_posts_where_the_bot_is_not_a_member_are_refused_like_slack(
        self, client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        fake_slack.add_channel("C0PUBLIC", member=False)
        fake_slack.add_channel("C0PRIVATE", member=False, private=True)
        fake_slack.add_channel("D0PEOPLE", member=False)
        fake_slack.add_channel("C0OLD", archived=True)
        assert await _error(client.chat_postMessage(channel="C0PUBLIC", text="x")) == "not_in_channel"
        assert await _error(client.chat_postMessage(channel="C0PRIVATE", text="x")) == "channel_not_found"
        assert await _error(client.chat_postMessage(channel="D0PEOPLE", text="x")) == "channel_not_found"
        assert await _error(client.chat_postMessage(channel="C0OLD", text="x")) == "is_archived"
        assert await _error(client.conversations_history(channel="C0PUBLIC")) == "not_in_channel"
        assert fake_slack.messages("C0PUBLIC") == []

    async def test_channels_not_registered_and_the_bots_own_dms_work(
        self, client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        await client.chat_postMessage(channel="C0CONFIGURED", text="x")
        await client.chat_postMessage(channel="U0PERSON", text="x")
        fake_slack.add_channel("C0LATER", member=False)
        fake_slack.add_channel("C0LATER", member=True)  # invited
        await client.chat_postMessage(channel="C0LATER", text="x")
        assert len(fake_slack.messages("C0LATER")) == 1


class TestBlockKit:
    @pytest.mark.parametrize(
        "blocks",
        [
            [_section()] * 51,
            [_section("x" * 3001)],
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            [{"type": "actions", "elements": [_button("a", "b" * 76)]}],
            [{"type": "actions", "elements": [_button("same"), _button("same")]}],
            [_section(block_id="one"), _section(block_id="one")],
        ],
        ids=["51 blocks", "section 3001", "header 151", "button 76", "action_id twice", "block_id twice"],
    )
    async def test_messages_beyond_the_limits_are_refused(
        self, client: AsyncWebClient, fake_slack: FakeSlack, blocks: list[dict[str, Any]]
    ) -> None:
        for call in (
            client.chat_postMessage(channel="C1", text="x", blocks=blocks),
            client.chat_postEphemeral(channel="C1", user="U1", text="x", blocks=blocks),
        ):
            assert await _error(call) == "invalid_blocks"
        assert fake_slack.block_kit_refusals

    async def test_the_same_action_id_in_two_blocks_is_fine(self, client: AsyncWebClient) -> None:
        blocks = [{"type": "actions", "elements": [_button("same")]} for _ in range(2)]
        await client.chat_postMessage(channel="C1", text="x", blocks=blocks)

    @pytest.mark.parametrize(
        "view",
        [
            _modal(*[_section()] * 101),
            _modal(title="t" * 25),
            _modal(_input("a", max_length=5000)),
            _modal(
                {
                    "type": "input",
                    "block_id": "s",
                    "label": {"type": "plain_text", "text": "s"},
                    "element": {
                        "type": "static_select",
                        "action_id": "value",
                        "options": [
                            {"text": {"type": "plain_text", "text": str(n)}, "value": str(n)}
                            for n in range(101)
                        ],
                    },
                }
            ),
        ],
        ids=["101 blocks", "title 25", "text input 5000", "101 options"],
    )
    async def test_views_beyond_the_limits_are_refused(
        self, client: AsyncWebClient, view: dict[str, Any], fake_slack: FakeSlack
    ) -> None:
        trigger = fake_slack.issue_trigger()
        assert await _error(client.views_open(trigger_id=trigger, view=view)) == "invalid_arguments"
        assert await _error(client.views_publish(user_id="U1", view=view)) == "invalid_arguments"


class TestViewResponses:
    def test_errors_must_name_input_blocks_of_the_view(self, fake_slack: FakeSlack) -> None:
        view = _modal(_section(block_id="intro"), _input("hostname"), _input("template_unavailable"))
        ok = {"response_action": "errors", "errors": {"template_unavailable": "wait"}}
        assert fake_slack.view_response(view, ok) == []
        assert fake_slack.view_response(view, "") == []
        for bad in ("template", "intro"):
            answer = {"response_action": "errors", "errors": {bad: "x"}}
            assert fake_slack.view_response(view, answer) == [
                f"errors key {bad!r} is not an input block of the view"
            ]
        assert fake_slack.view_response(view, {"response_action": "errors", "errors": {}})
        assert fake_slack.view_response(view, {"response_action": "update", "view": _modal(title="t" * 30)})
        assert len(fake_slack.refused_responses) == 4


class TestTriggers:
    async def test_a_trigger_expires_three_seconds_after_issue_on_the_fakes_clock(
        self, aiohttp_server: ServerFactory
    ) -> None:
        now = [1000.0]
        fake = FakeSlack(clock=lambda: now[0])
        server = await aiohttp_server(fake.app())
        client = AsyncWebClient(token="xoxb-test", base_url=str(server.make_url("/api/")), retry_handlers=[])
        trigger = fake.issue_trigger()
        now[0] += 3.0
        await client.views_open(trigger_id=trigger, view=_modal())
        late = fake.issue_trigger()
        now[0] += 3.5
        assert await _error(client.views_open(trigger_id=late, view=_modal())) == "expired_trigger_id"

    async def test_a_slow_method_ages_triggers(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        fake_slack.add_usergroup("S1", ["U1"])
        fake_slack.slow("usergroups.users.list", 4.0)
        trigger = fake_slack.issue_trigger()
        await client.usergroups_users_list(usergroup="S1")
        assert await _error(client.views_open(trigger_id=trigger, view=_modal())) == "expired_trigger_id"


async def test_response_url_answers_beyond_the_limits_are_refused(
    api_url: str, fake_slack: FakeSlack
) -> None:
    hook = api_url.removesuffix("/api/") + "/hooks/h1"
    async with ClientSession() as http:
        async with http.post(hook, json={"text": "x", "blocks": [_section()] * 51}) as resp:
            assert (resp.status, await resp.text()) == (400, "invalid_blocks")
        async with http.post(hook, json={"text": "x", "blocks": [_section()]}) as resp:
            assert resp.status == 200
    assert len(fake_slack.hook_posts("h1")) == 1
