"""The error boundary: friendly messages for Cardinal's errors, a reference id for everything else."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from structlog.testing import capture_logs

from bot.errors import CardinalError, ConfigError, InputError
from handlers.errors import UNEXPECTED_HINT, error_context, handle_error, render_error
from handlers.parsing import parse_command
from handlers.slack_client import make_web_client
from tests.fakes.signing import LEGACY_TOKEN, block_action, plain, slash_command, view_submission
from tests.fakes.slack import FakeSlack

Listener = Callable[..., Awaitable[None]]


def all_text(blocks: list[dict[str, Any]]) -> str:
    """The visible text of blocks."""
    return json.dumps(blocks, ensure_ascii=False)


class TestRenderError:
    def test_cardinal_error_is_friendly(self) -> None:
        """Cardinal's own errors show what happened and what to do, with no reference id."""
        text, blocks, ref = render_error(
            CardinalError("Container 10042 is locked.", hint="Wait for the backup.")
        )
        assert ref is None
        assert "Container 10042 is locked." in text
        assert "Container 10042 is locked." in all_text(blocks)
        assert "Wait for the backup." in all_text(blocks)

    def test_usage_error_shows_usage(self) -> None:
        """A parsing error shows the suggestion and the usage line."""
        with pytest.raises(InputError) as exc:
            parse_command("stauts 10042")
        _, blocks, ref = render_error(exc.value)
        assert ref is None
        assert "Did you mean `status`?" in all_text(blocks)
        assert "/lxc status &lt;vmid|hostname&gt;" in all_text(blocks)

    def test_unknown_error_gets_reference_not_details(self) -> None:
        """Unexpected exceptions show a reference id and never their own message (it may hold secrets)."""
        text, blocks, ref = render_error(RuntimeError("db password=hunter2 rejected"))
        assert ref is not None
        assert re.fullmatch(r"[0-9a-f]{6}", ref)
        assert ref in text
        assert f"`{ref}`" in all_text(blocks)
        assert UNEXPECTED_HINT in all_text(blocks)
        assert "hunter2" not in text + all_text(blocks)

    def test_reference_can_be_given(self) -> None:
        """Callers that already logged under an id can show that id."""
        assert render_error(ValueError("x"), ref_id="abc123")[2] == "abc123"

    def test_reference_ids_differ(self) -> None:
        """Two failures get two different reference ids."""
        assert render_error(ValueError("x"))[2] != render_error(ValueError("x"))[2]

    def test_config_error_lists_problems(self) -> None:
        """A configuration error is still a Cardinal error with its text."""
        _, blocks, ref = render_error(ConfigError(["POLICY_FILE: x does not exist"]))
        assert ref is None
        assert "POLICY_FILE: x does not exist" in all_text(blocks)

    def test_context_has_no_secrets(self) -> None:
        """The log context keeps ids and drops tokens, response URLs and typed text."""
        body = slash_command("extend 10042 3d", user="U9", channel="C9")
        ctx = error_context(dict(body))
        assert ctx == {
            "payload_type": "slash_command",
            "user": "U9",
            "channel": "C9",
            "team": "T0001",
            "command": "/lxc",
            "subcommand": "extend",
        }
        action_ctx = error_context(block_action("approval_approve", "appr-1", user="U7"))
        assert action_ctx["actions"] == ["approval_approve"]
        assert LEGACY_TOKEN not in json.dumps(action_ctx)


class BoltHarness:
    """A real AsyncApp wired to the fake Slack with handle_error as its error boundary."""

    def __init__(self, fake: FakeSlack, server: TestServer) -> None:
        self.fake = fake
        self.server = server
        self.app = AsyncApp(
            client=make_web_client("xoxb-test", str(server.make_url("/api/"))), signing_secret="s"
        )
        self.app.error(handle_error)
        # Listeners that fail after ack() wait for this, so the failure happens after Bolt has answered
        # (Bolt's runner forgets the ack if the listener fails within its 10 ms ack poll).
        self.proceed = asyncio.Event()

    def hook(self, name: str) -> str:
        """A response_url on the fake."""
        return str(self.server.make_url(f"/hooks/{name}"))

    async def dispatch(self, body: dict[str, Any]) -> BoltResponse:
        """Deliver a payload as Socket Mode would (no signature)."""
        return await self.app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))


@pytest.fixture
def bolt(fake_slack: FakeSlack, slack_server: TestServer) -> BoltHarness:
    """The harness."""
    return BoltHarness(fake_slack, slack_server)


class TestBoltAdapter:
    async def test_error_before_ack_answers_in_the_ack(self, bolt: BoltHarness) -> None:
        """A slash command that fails before ack() gets the friendly ephemeral as its answer."""

        @bolt.app.command("/lxc")
        async def command(ack: AsyncAck, command: dict[str, str]) -> None:
            parse_command(command["text"])
            await ack()

        resp = await bolt.dispatch(dict(slash_command("stauts 10042", response_url=bolt.hook("c1"))))
        assert resp.status == 200
        answer = json.loads(resp.body)
        assert answer["response_type"] == "ephemeral"
        assert "Did you mean `status`?" in answer["text"]

    async def test_error_after_ack_goes_to_response_url_and_log(
        self, bolt: BoltHarness, fake_slack: FakeSlack
    ) -> None:
        """A crash after ack() reaches the user through response_url with a ref that is in the log."""

        @bolt.app.command("/lxc")
        async def command(ack: AsyncAck) -> None:
            await ack()
            await bolt.proceed.wait()
            raise RuntimeError("token xoxb-leak in a bug")

        with capture_logs() as logs:
            resp = await bolt.dispatch(dict(slash_command("list", user="U5", response_url=bolt.hook("c2"))))
            assert resp.status == 200
            bolt.proceed.set()
            posts = await fake_slack.wait_for(lambda: fake_slack.hook_posts("c2"))
        assert posts[0]["response_type"] == "ephemeral"
        ref = re.search(r"ref ([0-9a-f]{6})", posts[0]["text"])
        assert ref is not None
        entry = next(e for e in logs if e["event"] == "slack.unexpected_error")
        assert entry["ref"] == ref.group(1)
        assert entry["user"] == "U5"
        assert entry["subcommand"] == "list"
        logged = json.dumps([{k: v for k, v in e.items() if k != "exc_info"} for e in logs], default=str)
        assert LEGACY_TOKEN not in logged
        assert "/hooks/c2" not in logged
        assert "xoxb-leak" not in posts[0]["text"]

    async def test_modal_field_error_is_inline(self, bolt: BoltHarness) -> None:
        """An InputError naming a modal field becomes response_action=errors on that field."""

        @bolt.app.view("lxc_create")
        async def submit(ack: AsyncAck) -> None:
            raise InputError("`web_1` is not a valid host name.", field="hostname")

        resp = await bolt.dispatch(view_submission("lxc_create", {"hostname": {"value": plain("web_1")}}))
        answer = json.loads(resp.body)
        assert answer == {
            "response_action": "errors",
            "errors": {"hostname": "`web_1` is not a valid host name."},
        }

    async def test_modal_crash_pushes_an_error_view(self, bolt: BoltHarness) -> None:
        """An unexpected failure in a submission keeps the form and pushes a view with the reference."""

        @bolt.app.view("lxc_create")
        async def submit(ack: AsyncAck) -> None:
            raise RuntimeError("boom")

        with capture_logs():
            resp = await bolt.dispatch(view_submission("lxc_create", {}))
        answer = json.loads(resp.body)
        assert answer["response_action"] == "push"
        assert answer["view"]["type"] == "modal"
        assert "Reference" in json.dumps(answer["view"]["blocks"], ensure_ascii=False)

    async def test_button_error_after_ack(self, bolt: BoltHarness, fake_slack: FakeSlack) -> None:
        """A refused click (e.g. self-approval) tells the clicker ephemerally via response_url."""

        @bolt.app.action("approval_approve")
        async def approve(ack: AsyncAck) -> None:
            await ack()
            await bolt.proceed.wait()
            raise CardinalError("You cannot approve your own request.", hint="Ask another approver.")

        resp = await bolt.dispatch(block_action("approval_approve", "appr-1", response_url=bolt.hook("a1")))
        assert resp.status == 200
        bolt.proceed.set()
        posts = await fake_slack.wait_for(lambda: fake_slack.hook_posts("a1"))
        assert "You cannot approve your own request." in posts[0]["text"]
        assert posts[0]["replace_original"] is False

    async def test_modal_error_after_ack_goes_ephemeral_to_the_channel(
        self, bolt: BoltHarness, fake_slack: FakeSlack
    ) -> None:
        """Without a response_url, the error is posted ephemerally in the channel kept in the modal."""

        @bolt.app.view("lxc_create")
        async def submit(ack: AsyncAck) -> None:
            await ack()
            await bolt.proceed.wait()
            raise CardinalError("Proxmox is unreachable.")

        body = view_submission("lxc_create", {}, user="U5", private_metadata=json.dumps({"channel": "C77"}))
        resp = await bolt.dispatch(body)
        assert resp.status == 200
        bolt.proceed.set()
        await fake_slack.wait_for(lambda: fake_slack.ephemerals)
        assert fake_slack.ephemerals[0]["channel"] == "C77"
        assert fake_slack.ephemerals[0]["user"] == "U5"
        assert "Proxmox is unreachable." in fake_slack.ephemerals[0]["text"]
