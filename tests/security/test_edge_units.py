"""The edge's checks one by one, without a server: the signature and its timestamp window, the hooks
URLs ``response_url`` may point at, the payload shapes Slack sends, the body cap and read deadline.

Each case is something an attacker could try (a signature one bit off, a timestamp just outside the
window, digits that are not ASCII, a body one byte over the cap, a hooks URL on another host) or a
request Slack really sends that must keep passing. The end-to-end refusals are in
``test_unverified.py``, ``test_malformed.py`` and ``test_response_url.py``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, MutableMapping
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from structlog.testing import capture_logs

from handlers.edge import (
    BODY_DEADLINE,
    MAX_BODY,
    MAX_CLOCK_SKEW,
    Refusal,
    check_payload,
    check_signature,
    hooks_base,
    is_slack_hook,
    make_edge_app,
    server_logger,
)

SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000
HOOKS = "https://hooks.slack.com/"
HOOK = "https://hooks.slack.com/commands/T0001/1/abc"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def sign(body: bytes, timestamp: str, secret: bytes = SECRET) -> str:
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


# --- signature ------------------------------------------------------------------------------------------


def test_the_published_limits() -> None:
    assert MAX_CLOCK_SKEW == 300  # Slack: five minutes
    assert MAX_BODY == 1 << 20
    assert BODY_DEADLINE == 10.0


def test_a_correct_signature_holds() -> None:
    body = b"command=%2Flxc&user_id=U1"
    assert check_signature(SECRET, body, str(NOW), sign(body, str(NOW)), now=NOW) is None


def test_slack_documented_example_verifies() -> None:
    """The worked example from Slack's "Verifying requests from Slack" (docs/slack-platform.md)."""
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert check_signature(SECRET, body, "1531420618", expected, now=1531420618) is None


@pytest.mark.parametrize("position", [3, 30, 66])
def test_a_signature_one_bit_off_is_wrong(position: int) -> None:
    body = b"payload=%7B%7D"
    good = sign(body, str(NOW))
    flipped = format(int(good[position], 16) ^ 1, "x")
    bad = good[:position] + flipped + good[position + 1 :]
    assert check_signature(SECRET, body, str(NOW), bad, now=NOW) == "wrong X-Slack-Signature"


def test_the_signature_covers_the_body_the_timestamp_and_the_secret() -> None:
    body = b"command=%2Flxc"
    good = sign(body, str(NOW))
    assert check_signature(SECRET, body + b"x", str(NOW), good, now=NOW) == "wrong X-Slack-Signature"
    assert check_signature(SECRET, body, str(NOW + 1), good, now=NOW) == "wrong X-Slack-Signature"
    assert check_signature(b"other", body, str(NOW), good, now=NOW) == "wrong X-Slack-Signature"
    # v0:<ts>:<body>, with these exact separators
    other = "v0=" + hmac.new(SECRET, b"v0:" + str(NOW).encode() + body, hashlib.sha256).hexdigest()
    assert check_signature(SECRET, body, str(NOW), other, now=NOW) == "wrong X-Slack-Signature"


@pytest.mark.parametrize(("age", "ok"), [(299, True), (300, True), (301, False), (-300, True), (-301, False)])
def test_the_timestamp_window_is_five_minutes_either_way(age: int, ok: bool) -> None:
    ts = str(NOW - age)
    reason = check_signature(SECRET, b"x", ts, sign(b"x", ts), now=NOW)
    assert reason == (None if ok else "stale X-Slack-Request-Timestamp")


@pytest.mark.parametrize(
    "timestamp",
    ["+1e3", "1e3", " 123", "123 ", "-1", "1700000000.5", "０１２３", "١٧٠٠٠٠٠٠٠٠", "²", "0x10", "9" * 13],
)
def test_timestamps_that_are_not_plain_ascii_digits_are_malformed(timestamp: str) -> None:
    reason = check_signature(SECRET, b"x", timestamp, "v0=" + "0" * 64, now=NOW)
    assert reason == "malformed X-Slack-Request-Timestamp"


def test_twelve_digits_are_read_and_then_found_stale() -> None:
    reason = check_signature(SECRET, b"x", "9" * 12, "v0=" + "0" * 64, now=NOW)
    assert reason == "stale X-Slack-Request-Timestamp"


@pytest.mark.parametrize("timestamp", [None, ""])
def test_a_missing_timestamp_is_named(timestamp: str | None) -> None:
    assert check_signature(SECRET, b"x", timestamp, sign(b"x", str(NOW)), now=NOW) == (
        "no X-Slack-Request-Timestamp"
    )


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_is_named(signature: str | None) -> None:
    assert check_signature(SECRET, b"x", str(NOW), signature, now=NOW) == "no X-Slack-Signature"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.upper(),  # upper-case hex
        lambda s: "v1=" + s[3:],
        lambda s: "v0:" + s[3:],
        lambda s: s[:-1],  # one digit short
        lambda s: s + "0",  # one digit long
        lambda s: s[:-1] + "g",  # not hex
        lambda s: "xv0=" + s[4:],
    ],
)
def test_signatures_not_shaped_like_v0_hex_are_malformed(mangle: Any) -> None:
    good = sign(b"x", str(NOW))
    assert check_signature(SECRET, b"x", str(NOW), mangle(good), now=NOW) == "malformed X-Slack-Signature"


# --- response_url ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_url", "base"),
    [
        ("https://slack.com/api/", HOOKS),
        ("https://SLACK.com/api/", HOOKS),
        ("https://eu.slack.com/api/", HOOKS),
        ("https://notslack.com/api/", "https://notslack.com/hooks/"),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/hooks/"),
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/hooks/"),
        ("http://standin.lan/slack/api/", "http://standin.lan/slack/hooks/"),
        ("http://standin.lan/", "http://standin.lan/hooks/"),
        ("http://standin.lan/proxy/X/api/", "http://standin.lan/proxy/X/hooks/"),
        ("http://standin.lan/X/", "http://standin.lan/X/hooks/"),
    ],
)
def test_the_hooks_base_follows_the_api_base(api_url: str, base: str) -> None:
    assert hooks_base(api_url) == base


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (HOOK, True),
        ("https://HOOKS.SLACK.COM/commands/1", True),
        ("https://hooks.slack.com/x", True),
        ("https://hooks.slack.com/" + "a" * (2048 - 24), True),
        ("https://hooks.slack.com/" + "a" * (2049 - 24), False),
        ("https://hooks.slack.com/", False),
        ("http://hooks.slack.com/commands/1", False),
        ("https://user@hooks.slack.com/commands/1", False),
        ("https://user:pw@hooks.slack.com/commands/1", False),
        ("https://hooks.slack.com.evil.example/commands/1", False),
        ("https://evil.example/commands/1", False),
        ("https://hooks.slack.com:443/commands/1", False),
        ("https://hooks.slack.com/commands/../../admin", False),
        ("https://hooks.slack.com/..", False),
        ("https://hooks.slack.com/commands/1 x", False),
        ("https://hooks.slack.com/commands/1\\x", False),
        ("https://hooks.slack.com/commands/\u00e9", False),
        ("https://hooks.slack.com/commands/1\n", False),
        ("https://hooks.slack.com/commands/1\t", False),
        (None, False),
        (b"https://hooks.slack.com/commands/1", False),
    ],
)
def test_only_urls_under_the_hooks_base_pass(url: object, ok: bool) -> None:
    assert is_slack_hook(url, HOOKS) is ok


def test_a_stand_in_hooks_base_requires_its_path_prefix() -> None:
    base = "http://127.0.0.1:8080/slack/hooks/"
    assert is_slack_hook("http://127.0.0.1:8080/slack/hooks/commands/1", base)
    assert not is_slack_hook("http://127.0.0.1:8080/admin/reset", base)
    assert not is_slack_hook("http://127.0.0.1:8081/slack/hooks/commands/1", base)
    assert not is_slack_hook("http://127.0.0.1:8080/slack/hooks/../../admin", base)
    assert not is_slack_hook("https://127.0.0.1:8080/slack/hooks/commands/1", base)


# --- payload shapes -------------------------------------------------------------------------------------


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


def interactive(payload: object) -> bytes:
    return form(payload=json.dumps(payload))


def refusal(body: bytes, content_type: str = FORM) -> tuple[int, str]:
    with pytest.raises(Refusal) as caught:
        check_payload(body, content_type, HOOKS)
    assert str(caught.value) == caught.value.reason
    return caught.value.status, caught.value.reason


USER = {"id": "U1"}
VIEW = {"id": "V1", "callback_id": "create", "private_metadata": "", "state": {"values": {}}}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (form(command="/lxc", user_id="U1", text="", response_url=HOOK), FORM),
        (form(command="/lxc", user_id="U1"), FORM),
        (form(ssl_check="1", token="t"), FORM),
        (interactive({"type": "block_actions", "user": USER, "actions": [{"action_id": "a"}]}), FORM),
        (interactive({"type": "block_actions", "user": USER, "actions": []}), FORM),
        (interactive({"type": "view_submission", "user": USER, "view": VIEW}), FORM),
        (interactive({"type": "view_closed", "user": USER, "view": {"id": "V1", "callback_id": "c"}}), FORM),
        (interactive({"type": "shortcut", "user": USER, "response_url": HOOK}), FORM),
        (interactive({"type": "view_submission", "user": USER, "view": VIEW, "response_urls": []}), FORM),
        (
            interactive(
                {
                    "type": "view_submission",
                    "user": USER,
                    "view": VIEW,
                    "response_urls": [{"response_url": HOOK}],
                }
            ),
            FORM,
        ),
        (interactive({"type": "something_new"}), FORM),
        (json.dumps({"type": "url_verification", "challenge": "c"}).encode(), JSON),
        (json.dumps({"type": "app_rate_limited"}).encode(), JSON),
        (
            json.dumps(
                {
                    "type": "event_callback",
                    "event": {"type": "app_home_opened"},
                    "authorizations": [],
                    "authed_users": [],
                }
            ).encode(),
            JSON,
        ),
        (
            json.dumps({"type": "event_callback", "event": {"type": "x"}, "authorizations": None}).encode(),
            JSON,
        ),
    ],
)
def test_payloads_slack_sends_pass_as_text(body: bytes, content_type: str) -> None:
    assert check_payload(body, content_type, HOOKS) == body.decode()


def test_a_form_with_blank_values_is_kept() -> None:
    assert check_payload(b"command=%2Flxc&user_id=U1&text=", FORM, HOOKS)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\xff\xfe", FORM, "body is not UTF-8"),
        (form(command="/lxc", user_id="U1"), "text/plain", "unsupported Content-Type"),
        (form(command="/lxc", user_id="U1"), "", "unsupported Content-Type"),
        ("&".join(f"f{i}=1" for i in range(101)).encode(), FORM, "too many form fields"),
        (b"command=%2Flxc&user_id=U1&user_id=U2", FORM, "a form field is repeated"),
        (b"command=%2Flxc&user_id=U1&text=&text=", FORM, "a form field is repeated"),
        (form(payload="{not json"), FORM, "payload is not JSON"),
        (form(payload="[1]"), FORM, "payload is not a JSON object"),
        (form(command="lxc", user_id="U1"), FORM, "slash command without command or user_id"),
        (form(command="/lxc"), FORM, "slash command without command or user_id"),
        (form(command="/lxc", user_id=""), FORM, "slash command without command or user_id"),
        (
            form(command="/lxc", user_id="U1", response_url="https://evil.example/x"),
            FORM,
            "response_url is not a Slack hooks URL",
        ),
        (form(token="t"), FORM, "form is neither a slash command nor an interactive payload"),
        (b"", FORM, "form is neither a slash command nor an interactive payload"),
        (interactive({"user": USER}), FORM, "interactive payload without a type"),
        (interactive({"type": 3}), FORM, "interactive payload without a type"),
        (interactive({"type": "block_actions", "actions": []}), FORM, "block_actions without user.id"),
        (interactive({"type": "shortcut", "user": {"id": 7}}), FORM, "shortcut without user.id"),
        (interactive({"type": "message_action", "user": {}}), FORM, "message_action without user.id"),
        (interactive({"type": "block_suggestion"}), FORM, "block_suggestion without user.id"),
        (interactive({"type": "view_closed", "user": None}), FORM, "view_closed without user.id"),
        (
            interactive({"type": "block_actions", "user": USER}),
            FORM,
            "block_actions without a list of actions",
        ),
        (
            interactive({"type": "block_actions", "user": USER, "actions": {"action_id": "a"}}),
            FORM,
            "block_actions without a list of actions",
        ),
        (
            interactive({"type": "block_actions", "user": USER, "actions": [{"action_id": "a"}, "b"]}),
            FORM,
            "block_actions without a list of actions",
        ),
        (
            interactive(
                {"type": "block_actions", "user": USER, "actions": [{"action_id": "a"}, {"value": "v"}]}
            ),
            FORM,
            "block_actions without a list of actions",
        ),
        (
            interactive({"type": "view_submission", "user": USER}),
            FORM,
            "view_submission without view.id and view.callback_id",
        ),
        (
            interactive({"type": "view_closed", "user": USER, "view": {"id": "V1"}}),
            FORM,
            "view_closed without view.id and view.callback_id",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": {**VIEW, "id": 1}}),
            FORM,
            "view_submission without view.id and view.callback_id",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": {**VIEW, "private_metadata": {}}}),
            FORM,
            "view_submission with a private_metadata that is not text",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": {**VIEW, "state": {"values": []}}}),
            FORM,
            "view_submission without view.state.values",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": {**VIEW, "state": []}}),
            FORM,
            "view_submission without view.state.values",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": {**VIEW, "state": None}}),
            FORM,
            "view_submission without view.state.values",
        ),
        (interactive({"type": "shortcut", "user": "U1"}), FORM, "user is not an object"),
        (interactive({"type": "x", "team": "T1"}), FORM, "team is not an object"),
        (interactive({"type": "x", "channel": []}), FORM, "channel is not an object"),
        (interactive({"type": "x", "container": 1}), FORM, "container is not an object"),
        (interactive({"type": "x", "view": "v"}), FORM, "view is not an object"),
        (interactive({"type": "x", "message": "m"}), FORM, "message is not an object"),
        (interactive({"type": "x", "enterprise": "e"}), FORM, "enterprise is not an object"),
        (interactive({"type": "x", "event": "e"}), FORM, "event is not an object"),
        (
            interactive({"type": "shortcut", "user": USER, "response_url": "http://10.0.0.1/admin"}),
            FORM,
            "response_url is not a Slack hooks URL",
        ),
        (
            interactive({"type": "shortcut", "user": USER, "response_url": None}),
            FORM,
            "response_url is not a Slack hooks URL",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": VIEW, "response_urls": {"a": 1}}),
            FORM,
            "response_urls is not a list of objects",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": VIEW, "response_urls": [HOOK]}),
            FORM,
            "response_urls is not a list of objects",
        ),
        (
            interactive(
                {
                    "type": "view_submission",
                    "user": USER,
                    "view": VIEW,
                    "response_urls": [{"response_url": HOOK}, {"response_url": "https://evil.example/x"}],
                }
            ),
            FORM,
            "response_url is not a Slack hooks URL",
        ),
        (
            interactive({"type": "view_submission", "user": USER, "view": VIEW, "response_urls": [{}]}),
            FORM,
            "response_url is not a Slack hooks URL",
        ),
        (b"{not json", JSON, "body is not JSON"),
        (b"[]", JSON, "body is not a JSON object"),
        (
            json.dumps({"command": "/lxc", "type": "event_callback"}).encode(),
            JSON,
            "slash commands are form-encoded, not JSON",
        ),
        (json.dumps({"type": "block_actions"}).encode(), JSON, "not an Events API envelope"),
        (json.dumps({}).encode(), JSON, "not an Events API envelope"),
        (json.dumps({"type": "url_verification"}).encode(), JSON, "url_verification without a challenge"),
        (
            json.dumps({"type": "url_verification", "challenge": 1}).encode(),
            JSON,
            "url_verification without a challenge",
        ),
        (json.dumps({"type": "event_callback"}).encode(), JSON, "event_callback without an event object"),
        (
            json.dumps({"type": "event_callback", "event": "e"}).encode(),
            JSON,
            "event_callback without an event object",
        ),
        (
            json.dumps({"type": "event_callback", "event": {}}).encode(),
            JSON,
            "event_callback without an event object",
        ),
        (
            json.dumps({"type": "event_callback", "event": {"type": "x"}, "authorizations": {}}).encode(),
            JSON,
            "authorizations is not a list",
        ),
        (
            json.dumps({"type": "event_callback", "event": {"type": "x"}, "authed_users": "U1"}).encode(),
            JSON,
            "authed_users is not a list",
        ),
    ],
)
def test_malformed_payloads_are_refused_with_400_and_a_fixed_reason(
    body: bytes, content_type: str, reason: str
) -> None:
    assert refusal(body, content_type) == (400, reason)


def test_one_hundred_form_fields_are_still_read() -> None:
    body = "&".join(f"f{i}=1" for i in range(99)).encode() + b"&command=%2Flxc"
    with pytest.raises(Refusal) as caught:
        check_payload(body, FORM, HOOKS)
    assert caught.value.reason == "slash command without command or user_id"  # parsed, not "too many"


# --- the aiohttp app: body cap, deadline, signature, dispatch -------------------------------------------


class Edge:
    def __init__(self, client: TestClient[web.Request, web.Application], clock: list[float]) -> None:
        self.client = client
        self.clock = clock
        self.closed = False

    async def post(
        self,
        body: bytes,
        *,
        content_type: str = FORM,
        signed: bool = True,
        extra: dict[str, str] | None = None,
        path: str = "/slack/events",
    ) -> tuple[int, object]:
        """POST ``body`` signed now; the status and the answer (JSON when it is JSON, else its text)."""
        ts = str(int(abs(self.clock[0])))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, **(extra or {})}
        if signed:
            headers["X-Slack-Signature"] = sign(body, ts)
        response = await self.client.post(path, data=body, headers=headers)
        self.closed = response.headers.get("Connection", "").lower() == "close"
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


CAP = 512
LARGE_CAP = 70_000


@pytest.fixture
async def edge() -> AsyncIterator[Edge]:
    async with serve(CAP) as served:
        yield served


@pytest.fixture
async def large_edge() -> AsyncIterator[Edge]:
    """An edge whose cap is above the 64 KiB it reads at a time, so a body arrives in several reads."""
    async with serve(LARGE_CAP) as served:
        yield served


@contextlib.asynccontextmanager
async def serve(cap: int) -> AsyncIterator[Edge]:
    async def authorize(**_: Any) -> AuthorizeResult:  # no Web API call: the edge is under test
        return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UB")

    bolt = AsyncApp(signing_secret=SECRET.decode(), authorize=authorize, request_verification_enabled=False)

    @bolt.command("/lxc")
    async def lxc(ack: Any, request: Any) -> None:
        retry = request.headers.get("x-slack-retry-num", ["-"])[0]
        await ack("ok" if retry == "-" and not request.query else f"ok retry={retry} query={request.query}")

    clock: list[float] = [float(NOW)]

    def now() -> float:
        if clock[0] < 0:
            raise OSError("clock unavailable")
        return clock[0]

    app = make_edge_app(
        bolt,
        signing_secret=SECRET,
        api_url="https://slack.com/api/",
        max_body=cap,
        body_deadline=0.2,
        clock=now,
    )
    async with TestClient(TestServer(app)) as client:
        yield Edge(client, clock)


def command(size: int) -> bytes:
    base = form(command="/lxc", user_id="U1", text="")
    return base + b"x" * (size - len(base))


async def test_a_signed_command_reaches_bolt(edge: Edge) -> None:
    status, answer = await edge.post(command(CAP))
    assert (status, answer) == (200, "ok")


async def test_a_body_one_byte_over_the_cap_is_413(edge: Edge) -> None:
    status, answer = await edge.post(command(CAP + 1))
    assert (status, answer) == (413, {"error": f"body larger than {CAP} bytes"})


async def test_a_chunked_body_over_the_cap_is_413(edge: Edge) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield command(CAP)
        yield b"y"

    ts = str(NOW)
    response = await edge.client.post(
        "/slack/events", data=chunks(), headers={"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0="}
    )
    assert response.status == 413
    assert await response.json() == {"error": f"body larger than {CAP} bytes"}


async def test_a_body_that_never_finishes_is_408(edge: Edge) -> None:
    gate = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"command=%2Flxc"
        await gate.wait()
        yield b""

    try:
        async with asyncio.timeout(10):  # without the deadline the edge would wait for ever
            response = await edge.client.post(
                "/slack/events",
                data=stalls(),
                headers={"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "x"},
            )
        assert response.status == 408
        assert response.headers.get("Connection", "").lower() == "close"
        assert await response.json() == {"error": "body not received within 0.2 s"}
    finally:
        gate.set()


async def post_chunked(edge: Edge, body: bytes) -> tuple[int, str]:
    """POST a signed ``body`` without a Content-Length, in pieces: only the edge's own count can cap it."""

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 10_000):
            yield body[start : start + 10_000]

    ts = str(NOW)
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts)}
    response = await edge.client.post("/slack/events", data=pieces(), headers=headers)
    return response.status, await response.text()


async def test_a_body_read_in_several_pieces_is_verified_whole(large_edge: Edge) -> None:
    assert await post_chunked(large_edge, command(LARGE_CAP)) == (200, "ok")


async def test_a_body_over_the_cap_only_in_total_is_413(large_edge: Edge) -> None:
    status, answer = await post_chunked(large_edge, command(LARGE_CAP + 1))
    assert (status, json.loads(answer)) == (413, {"error": f"body larger than {LARGE_CAP} bytes"})


async def test_an_unsigned_request_is_401_with_the_reason(edge: Edge) -> None:
    status, answer = await edge.post(command(100), signed=False)
    assert (status, answer) == (401, {"error": "no X-Slack-Signature"})


async def test_a_request_signed_six_minutes_ago_is_401(edge: Edge) -> None:
    body = command(100)
    ts = str(NOW - 301)
    response = await edge.client.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": FORM, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts)},
    )
    assert response.status == 401
    assert await response.json() == {"error": "stale X-Slack-Request-Timestamp"}


async def test_a_signed_but_malformed_payload_is_400(edge: Edge) -> None:
    status, answer = await edge.post(form(command="/lxc"))
    assert (status, answer) == (400, {"error": "slash command without command or user_id"})


async def test_a_signed_payload_is_checked_against_the_real_hooks_base(edge: Edge) -> None:
    status, answer = await edge.post(
        form(command="/lxc", user_id="U1", response_url="http://127.0.0.1/hooks/x")
    )
    assert (status, answer) == (400, {"error": "response_url is not a Slack hooks URL"})
    status, _ = await edge.post(form(command="/lxc", user_id="U1", response_url=HOOK))
    assert status == 200


async def test_only_the_configured_path_and_post_are_served(edge: Edge) -> None:
    assert (await edge.client.get("/slack/events")).status == 405
    assert (await edge.client.post("/other", data=b"")).status == 404


def refusals(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == "slack.request_refused"]


async def test_each_refusal_is_logged_with_status_reason_and_size_only(edge: Edge) -> None:
    with capture_logs() as logs:
        await edge.post(command(100), signed=False)
        await edge.post(form(command="/lxc"))
        await edge.post(command(CAP + 1))
    assert refusals(logs) == [
        {
            "event": "slack.request_refused",
            "log_level": "warning",
            "status": 401,
            "reason": "no X-Slack-Signature",
            "size": 100,
        },
        {
            "event": "slack.request_refused",
            "log_level": "warning",
            "status": 400,
            "reason": "slash command without command or user_id",
            "size": len(form(command="/lxc")),
        },
        {
            "event": "slack.request_refused",
            "log_level": "warning",
            "status": 413,
            "reason": f"body larger than {CAP} bytes",
            "size": CAP + 1,
        },
    ]


async def test_oversized_bodies_close_the_connection_and_other_refusals_keep_it(edge: Edge) -> None:
    status, _ = await edge.post(command(CAP + 1))
    assert (status, edge.closed) == (413, True)
    status, _ = await edge.post(command(100), signed=False)
    assert (status, edge.closed) == (401, False)
    status, _ = await edge.post(form(command="/lxc"))
    assert (status, edge.closed) == (400, False)


async def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(edge: Edge) -> None:
    """Only the headers arrive: the declared length alone earns the 413 (not a 408 after the deadline)."""
    server = edge.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
            + FORM.encode()
            + b"\r\nContent-Length: "
            + str(CAP + 1).encode()
            + b"\r\n\r\ncommand"
        )
        await writer.drain()
        with capture_logs() as logs:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                answer = await reader.readexactly(length)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(answer) == {"error": f"body larger than {CAP} bytes"}
    [line] = refusals(logs)
    assert line["size"] == CAP + 1  # what the client declared


async def test_a_failure_before_the_signature_holds_is_a_plain_401(edge: Edge) -> None:
    edge.clock[0] = -NOW  # the clock cannot be read
    body = command(100)
    with capture_logs() as logs:
        status, answer = await edge.post(body)
    assert (status, answer) == (401, {"error": "request could not be read or verified"})
    assert refusals(logs) == [
        {
            "event": "slack.request_refused",
            "log_level": "warning",
            "status": 401,
            "reason": "request could not be read or verified",
            "size": 100,
        }
    ]


async def test_a_payload_bolt_cannot_read_is_400_and_the_log_names_only_the_error(edge: Edge) -> None:
    body = json.dumps(
        {"type": "event_callback", "event": {"type": "app_mention"}, "authorizations": [1]}
    ).encode()
    with capture_logs() as logs:
        status, answer = await edge.post(body, content_type=JSON)
    assert (status, answer) == (400, {"error": "malformed payload"})
    assert refusals(logs) == [
        {
            "event": "slack.request_refused",
            "log_level": "warning",
            "status": 400,
            "reason": "AttributeError",
            "size": len(body),
        }
    ]


async def test_bolt_sees_the_request_headers_and_query(edge: Edge) -> None:
    status, answer = await edge.post(
        form(command="/lxc", user_id="U1"), extra={"X-Slack-Retry-Num": "2"}, path="/slack/events?a=1"
    )
    assert (status, answer) == (200, "ok retry=2 query={'a': ['1']}")


# --- the aiohttp server's own log -----------------------------------------------------------------------


def test_the_server_log_keeps_the_error_type_but_not_what_the_client_sent() -> None:
    for old in list(logging.getLogger("cardinal.edge.http").filters):
        logging.getLogger("cardinal.edge.http").removeFilter(old)
    logger = server_logger()
    assert logger.name == "cardinal.edge.http"
    assert server_logger().filters == logger.filters  # added once
    [scrub] = logger.filters
    assert isinstance(scrub, logging.Filter)
    try:
        raise ValueError("Bad request line 'GET /SECRET-PATH'")
    except ValueError as exc:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "Error handling request %s",
            ("SECRET",),
            (type(exc), exc, None),
        )
    record.exc_text = "cached SECRET"
    assert scrub.filter(record) is True
    assert record.msg == "http.request_rejected"
    assert record.args == ()
    assert record.exc_info is None
    assert record.exc_text is None
    assert record.error_type == "ValueError"
    debug = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, "got %s", ("SECRET",), None)
    assert scrub.filter(debug) is True
    assert (debug.msg, debug.args) == ("http.server", ())
    assert not hasattr(debug, "error_type")
    warning = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "w %s", ("SECRET",), None)
    scrub.filter(warning)
    assert warning.msg == "http.request_rejected"
