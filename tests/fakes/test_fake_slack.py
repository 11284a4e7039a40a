"""The fake Slack answers slack_sdk's AsyncWebClient the way Slack does."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs, unquote

import pytest
from aiohttp import ClientSession, ServerDisconnectedError
from aiohttp.test_utils import TestServer
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.signing import (
    block_action,
    form_body,
    interactive_body,
    signed_request_headers,
    slash_command,
    view_submission,
)
from tests.fakes.slack import FakeSlack


@pytest.fixture
def client(api_url: str) -> AsyncWebClient:
    """A plain slack_sdk client against the fake (no retries)."""
    return AsyncWebClient(token="xoxb-test", base_url=api_url, retry_handlers=[])


class TestWebApi:
    async def test_auth_test_reports_identity_and_scopes(self, client: AsyncWebClient) -> None:
        """auth.test answers the bot's identity and the granted scopes in x-oauth-scopes."""
        resp = await client.auth_test()
        assert resp["team_id"] == "T0001"
        assert resp["user_id"] == "UBOT0001"
        assert "chat:write" in resp.headers["x-oauth-scopes"].split(",")

    async def test_calls_are_recorded_with_auth_header(
        self, client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        """Every call is recorded with its method, params and Authorization header, in order."""
        await client.auth_test()
        await client.chat_postMessage(channel="C1", text="hi")
        assert [c.method for c in fake_slack.calls()] == ["auth.test", "chat.postMessage"]
        assert fake_slack.calls("chat.postMessage")[0].params["text"] == "hi"
        assert fake_slack.calls()[0].auth == "Bearer xoxb-test"

    async def test_missing_token_is_not_authed(self, api_url: str) -> None:
        """A call without a token fails like Slack's not_authed."""
        with pytest.raises(SlackApiError) as exc:
            await AsyncWebClient(base_url=api_url).auth_test()
        assert exc.value.response["error"] == "not_authed"

    async def test_post_gives_increasing_ts_and_threads(
        self, client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        """Posts get increasing ts values; replies land in their thread and update the root."""
        root = await client.chat_postMessage(channel="C1", text="root")
        reply = await client.chat_postMessage(channel="C1", text="reply", thread_ts=root["ts"])
        other = await client.chat_postMessage(channel="C1", text="other")
        assert float(root["ts"]) < float(reply["ts"]) < float(other["ts"])
        assert [m["text"] for m in fake_slack.thread("C1", root["ts"])] == ["root", "reply"]
        assert [m["text"] for m in fake_slack.messages("C1")] == ["root", "reply", "other"]
        assert fake_slack.messages("C1")[0]["reply_count"] == 1

    async def test_reply_to_unknown_thread_fails(self, client: AsyncWebClient) -> None:
        """A reply to a thread that does not exist is refused."""
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(channel="C1", text="x", thread_ts="1.000001")
        assert exc.value.response["error"] == "thread_not_found"

    async def test_post_to_user_opens_dm(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """Posting to a user id goes to the DM channel with that user."""
        resp = await client.chat_postMessage(channel="U012AB3CD", text="psst")
        assert resp["channel"] == "D012AB3CD"
        opened = await client.conversations_open(users="U012AB3CD")
        assert opened["channel"]["id"] == "D012AB3CD"
        assert fake_slack.messages("D012AB3CD")[0]["text"] == "psst"

    async def test_dm_calls_need_the_conversation_id(
        self, client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        """Only chat.postMessage accepts a user id; history, replies, update, ephemeral and permalink
        answer channel_not_found for it, as Slack does, and work with the D… id."""
        posted = await client.chat_postMessage(channel="U012AB3CD", text="psst")
        dm = posted["channel"]
        assert dm.startswith("D")
        refused = [
            client.conversations_history(channel="U012AB3CD"),
            client.conversations_replies(channel="U012AB3CD", ts=posted["ts"]),
            client.chat_update(channel="U012AB3CD", ts=posted["ts"], text="edited"),
            client.chat_postEphemeral(channel="U012AB3CD", user="U012AB3CD", text="x"),
            client.chat_getPermalink(channel="U012AB3CD", message_ts=posted["ts"]),
        ]
        for call in refused:
            with pytest.raises(SlackApiError) as exc:
                await call
            assert exc.value.response["error"] == "channel_not_found"
        await client.chat_update(channel=dm, ts=posted["ts"], text="edited")
        history = await client.conversations_history(channel=dm)
        assert [m["text"] for m in history["messages"]] == ["edited"]

    async def test_dm_history_needs_im_history(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """Reading a DM without the im:history scope is missing_scope; opening one needs im:write."""
        fake_slack.scopes = ("chat:write",)
        posted = await client.chat_postMessage(channel="U1", text="x")
        with pytest.raises(SlackApiError) as exc:
            await client.conversations_history(channel=posted["channel"])
        assert (exc.value.response["error"], exc.value.response["needed"]) == ("missing_scope", "im:history")
        with pytest.raises(SlackApiError) as exc:
            await client.conversations_open(users="U1")
        assert (exc.value.response["error"], exc.value.response["needed"]) == ("missing_scope", "im:write")

    async def test_dm_id_is_stable_per_user(self, client: AsyncWebClient) -> None:
        """conversations.open gives each user one D… id, the same every time, and distinct per user."""
        a1 = await client.conversations_open(users="U1")
        a2 = await client.conversations_open(users="U1")
        b = await client.conversations_open(users="U2")
        assert a1["channel"]["id"] == a2["channel"]["id"] != b["channel"]["id"]
        assert a1["channel"]["id"].startswith("D")

    async def test_update_edits_the_message(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """chat.update replaces text and blocks of an existing message and counts the edit."""
        posted = await client.chat_postMessage(channel="C1", text="v1")
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "v2"}}]
        await client.chat_update(channel="C1", ts=posted["ts"], text="v2", blocks=blocks)
        message = fake_slack.messages("C1")[0]
        assert (message["text"], message["blocks"], message["edits"]) == ("v2", blocks, 1)
        with pytest.raises(SlackApiError) as exc:
            await client.chat_update(channel="C1", ts="1.000009", text="x")
        assert exc.value.response["error"] == "message_not_found"

    async def test_invalid_blocks_are_refused(self, client: AsyncWebClient) -> None:
        """Blocks Slack would refuse (too many, malformed) get invalid_blocks, as from Slack."""
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(channel="C1", text="x", blocks=[section] * 51)
        assert exc.value.response["error"] == "invalid_blocks"
        long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel="C1", text="x", blocks=[long])

    async def test_ephemeral_and_permalink(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """Ephemeral messages are stored separately; permalinks exist for real messages only."""
        await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
        assert fake_slack.ephemerals[0]["text"] == "only you"
        posted = await client.chat_postMessage(channel="C1", text="x")
        link = await client.chat_getPermalink(channel="C1", message_ts=posted["ts"])
        assert link["permalink"].startswith("https://fake.slack.com/archives/C1/p")

    async def test_history_with_metadata_and_oldest(self, client: AsyncWebClient) -> None:
        """conversations.history returns roots newest first, metadata only on request, after `oldest`."""
        meta = {"event_type": "cardinal_request", "event_payload": {"request_id": "r1"}}
        first = await client.chat_postMessage(channel="C1", text="a", metadata=meta)
        await client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])
        await client.chat_postMessage(channel="C1", text="b")
        plain = await client.conversations_history(channel="C1")
        assert [m["text"] for m in plain["messages"]] == ["b", "a"]
        assert "metadata" not in plain["messages"][1]
        full = await client.conversations_history(channel="C1", include_all_metadata=True)
        assert full["messages"][1]["metadata"] == meta
        newer = await client.conversations_history(channel="C1", oldest=first["ts"])
        assert [m["text"] for m in newer["messages"]] == ["b"]

    async def test_views_open_update_hash(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """views.update with the current hash works; a stale hash is a hash_conflict."""
        view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
        opened = await client.views_open(trigger_id="1.2.3", view=view)
        view_id, first_hash = opened["view"]["id"], opened["view"]["hash"]
        updated = await client.views_update(view_id=view_id, hash=first_hash, view=view)
        assert updated["view"]["hash"] != first_hash
        with pytest.raises(SlackApiError) as exc:
            await client.views_update(view_id=view_id, hash=first_hash, view=view)
        assert exc.value.response["error"] == "hash_conflict"
        assert len(fake_slack.views[view_id].history) == 1

    async def test_views_push_publish_and_expired_trigger(
        self, client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        """views.push needs a live trigger; views.publish stores the user's Home tab."""
        view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
        await client.views_push(trigger_id="1.2.4", view=view)
        with pytest.raises(SlackApiError) as exc:
            await client.views_open(trigger_id="expired.1", view=view)
        assert exc.value.response["error"] == "expired_trigger_id"
        await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        assert fake_slack.home_views["U1"]["type"] == "home"

    async def test_users_and_groups(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """users.info and usergroups.users.list answer registered data and Slack's errors otherwise."""
        fake_slack.add_user("U1", "alice", is_restricted=True)
        fake_slack.add_usergroup("S1", ["U1", "U2"])
        assert (await client.users_info(user="U1"))["user"]["is_restricted"] is True
        assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
        with pytest.raises(SlackApiError) as exc:
            await client.users_info(user="U404")
        assert exc.value.response["error"] == "user_not_found"
        with pytest.raises(SlackApiError) as exc:
            await client.usergroups_users_list(usergroup="S404")
        assert exc.value.response["error"] == "no_such_subteam"

    async def test_unknown_method(self, client: AsyncWebClient) -> None:
        """A method the fake does not implement fails loudly instead of pretending success."""
        with pytest.raises(SlackApiError) as exc:
            await client.api_call("pins.add", params={"channel": "C1"})
        assert exc.value.response["error"] == "unknown_method"

    async def test_response_url_hooks(self, slack_server: TestServer, fake_slack: FakeSlack) -> None:
        """Bodies posted to /hooks/<id> (response_url) are kept per hook."""
        async with ClientSession() as session:
            resp = await session.post(slack_server.make_url("/hooks/abc"), json={"text": "hello"})
            assert resp.status == 200
        assert fake_slack.hook_posts("abc") == [{"text": "hello"}]


class TestFaults:
    async def test_429_is_retried_by_slack_sdk(self, api_url: str, fake_slack: FakeSlack) -> None:
        """A 429 with Retry-After is retried by slack_sdk's rate-limit handler and then succeeds."""
        fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "0"})
        client = AsyncWebClient(
            token="xoxb-test", base_url=api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
        )
        resp = await client.chat_postMessage(channel="C1", text="hi")
        assert resp["ok"] is True
        assert [c.status for c in fake_slack.calls("chat.postMessage")] == [429, 200]
        assert len(fake_slack.messages("C1")) == 1

    async def test_429_without_handler_surfaces(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """Without a retry handler the 429 reaches the caller as SlackApiError with status 429."""
        fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "3"})
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(channel="C1", text="hi")
        assert exc.value.response.status_code == 429
        assert exc.value.response.headers["Retry-After"] == "3"
        assert fake_slack.messages("C1") == []

    async def test_fault_times_and_html_5xx(self, client: AsyncWebClient, fake_slack: FakeSlack) -> None:
        """A fault applies `times` times, then the method answers normally again."""
        fake_slack.fail_next("auth.test", 503, body="<html>upstream error</html>", times=2)
        for _ in range(2):
            with pytest.raises(SlackApiError):
                await client.auth_test()
        assert (await client.auth_test())["ok"] is True

    async def test_drop_next_posts_but_cuts_the_answer(
        self, client: AsyncWebClient, fake_slack: FakeSlack
    ) -> None:
        """drop_next models the unknown outcome: the message exists, the client sees a disconnect."""
        fake_slack.drop_next("chat.postMessage")
        with pytest.raises(ServerDisconnectedError):
            await client.chat_postMessage(channel="C1", text="maybe")
        assert [m["text"] for m in fake_slack.messages("C1")] == ["maybe"]

    async def test_wait_for_returns_value_and_times_out(self, fake_slack: FakeSlack) -> None:
        """wait_for returns the first truthy value and fails clearly when nothing comes."""
        fake_slack.ephemerals.append({"text": "x"})
        assert await fake_slack.wait_for(lambda: fake_slack.ephemerals) == [{"text": "x"}]
        with pytest.raises(AssertionError, match="not met"):
            await fake_slack.wait_for(lambda: fake_slack.messages("C9"), timeout=0.05)


class TestSigningAndPayloads:
    def test_signature_matches_slack_sdk(self) -> None:
        """Our signature is the one slack_sdk's verifier accepts (Slack's v0 algorithm)."""
        body = form_body(slash_command("list"))
        headers = signed_request_headers(body, "s3cret", timestamp=1_700_000_000)
        verifier = SignatureVerifier("s3cret", clock=_FixedClock(1_700_000_010))
        assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
        expected = hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
        assert headers["X-Slack-Signature"] == "v0=" + expected

    def test_wrong_secret_does_not_verify(self) -> None:
        """A body signed with another secret is rejected by slack_sdk's verifier."""
        body = form_body(slash_command("list"))
        headers = signed_request_headers(body, "other", timestamp=1_700_000_000)
        verifier = SignatureVerifier("s3cret", clock=_FixedClock(1_700_000_000))
        assert not verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])

    def test_slash_command_shape(self) -> None:
        """A slash command carries the fields Bolt reads, form-encoded."""
        fields = parse_qs(form_body(slash_command("status 10042", user="U9", channel="C9")).decode())
        assert fields["command"] == ["/lxc"]
        assert fields["text"] == ["status 10042"]
        assert fields["user_id"] == ["U9"]
        assert {"trigger_id", "response_url", "team_id", "channel_id"} <= fields.keys()

    def test_interactive_payload_shapes(self) -> None:
        """Interactive payloads have Slack's type, user, container and view fields."""
        action = block_action("approval_approve", "appr-1")
        assert action["type"] == "block_actions"
        assert action["container"]["type"] == "message"
        assert action["actions"][0]["value"] == "appr-1"
        submission = view_submission(
            "lxc_create", {"hostname": {"value": {"type": "plain_text_input", "value": "a"}}}
        )
        assert submission["view"]["type"] == "modal"
        assert submission["view"]["callback_id"] == "lxc_create"
        assert submission["view"]["state"]["values"]["hostname"]["value"]["value"] == "a"
        decoded = json.loads(unquote(interactive_body(submission).decode().removeprefix("payload=")))
        assert decoded == submission


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now
