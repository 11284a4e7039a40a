"""Requests that have not passed signature verification: 401, nothing logged but size and reason, and
nothing sent anywhere — whatever is wrong with them (issue: unsigned requests froze the bot through the
log scrubber; a malformed timestamp made Bolt's check raise and the error handler answer the body)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from handlers.edge import check_signature
from tests.e2e.harness import CHANNEL, REQUESTER, SIGNING_SECRET
from tests.fakes.signing import (
    block_action,
    form_body,
    interactive_body,
    signature,
    signed_request_headers,
    slash_command,
)

from .conftest import Edge

MARKER = "ATTACKER-MARKER-7f1d"


def hostile_command(edge: Edge) -> bytes:
    """A slash command whose response_url is the attacker's target and whose text is a marker."""
    return form_body(
        slash_command(f"status {MARKER}", user=REQUESTER, channel=CHANNEL, response_url=edge.target.url())
    )


def headers_for(body: bytes, timestamp: str, sig: str | None = None) -> dict[str, str]:
    headers = {"X-Slack-Request-Timestamp": timestamp}
    headers["X-Slack-Signature"] = sig if sig is not None else signature(body, SIGNING_SECRET, timestamp)  # type: ignore[arg-type]
    return headers


def assert_refused_quietly(edge: Edge, *secrets_sent: str) -> None:
    """Nothing went out, and the log holds the refusal (size, reason) and nothing the client sent."""
    assert edge.outbound() == []
    refusals = [line for line in edge.log_lines() if line["event"] == "slack.request_refused"]
    assert refusals, edge.log.getvalue()
    assert all(
        set(line) <= {"event", "status", "reason", "size", "level", "logger", "timestamp"}
        for line in refusals
    )
    text = edge.log.getvalue()
    assert MARKER not in text
    for sent in secrets_sent:
        assert sent not in text


@pytest.mark.parametrize(
    "timestamp",
    ["abc", "", "1e9", " 1700000000", "1700000000.5", "-1", "０１２３", "١٧٠٠٠٠٠٠٠٠", "9" * 40],
)
async def test_malformed_timestamps_get_401_and_no_outbound_call(edge: Edge, timestamp: str) -> None:
    body = hostile_command(edge)
    status, _ = await edge.post(body, headers_for(body, timestamp))
    assert status == 401
    assert_refused_quietly(edge)


async def test_missing_wrong_and_stale_signatures_get_401(edge: Edge) -> None:
    body = hostile_command(edge)
    now = int(time.time())
    cases = [
        {},
        {"X-Slack-Request-Timestamp": str(now)},
        signed_request_headers(body, "not-the-secret", now),
        signed_request_headers(body, SIGNING_SECRET, now - 6 * 60),
        signed_request_headers(body, SIGNING_SECRET, now + 6 * 60),
        headers_for(body, str(now), "v0=" + "0" * 64),
        headers_for(body, str(now), "v1=" + signature(body, SIGNING_SECRET, now)[3:]),
        headers_for(body, str(now), signature(body, SIGNING_SECRET, now).upper()),
    ]
    for headers in cases:
        status, _ = await edge.post(body, headers)
        assert status == 401, headers
    assert_refused_quietly(edge)


async def test_an_interactive_payload_naming_a_channel_and_user_gets_401_and_no_ephemeral(edge: Edge) -> None:
    payload = block_action(
        "approval_approve", MARKER, user=REQUESTER, channel=CHANNEL, response_url=edge.target.url()
    )
    body = interactive_body(payload)
    for timestamp in ("abc", "", "1e9"):
        status, _ = await edge.post(body, headers_for(body, timestamp))
        assert status == 401
    assert_refused_quietly(edge)


async def test_a_huge_signature_header_is_refused_without_logging_it(edge: Edge) -> None:
    body = hostile_command(edge)
    huge = "v0=" + "xoxb-" * 1600  # 8,000 characters of secret-shaped text
    status, _ = await edge.post(
        body, {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": huge}
    )
    assert status == 401
    assert_refused_quietly(edge, "xoxb-xoxb")


async def test_a_large_unsigned_body_does_not_hold_up_a_signed_command(edge: Edge) -> None:
    """60 KB of scrubber-hostile text, unsigned, sent alongside a real command: both are answered."""
    junk = form_body({"text": "password=" * 7000, "response_url": edge.target.url()})
    unsigned = edge.post(junk, {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "=" * 8000})
    valid = edge.signed(
        form_body(slash_command("help", user=REQUESTER, channel=CHANNEL, response_url=edge.hook_url("h1")))
    )
    (bad_status, _), (ok_status, answer) = await asyncio.gather(unsigned, valid)
    assert bad_status == 401
    assert ok_status == 200
    assert answer  # the help text is the acknowledgement
    assert edge.target.hits == []
    assert "password=password" not in edge.log.getvalue()


async def test_the_refusal_reason_never_echoes_the_request(edge: Edge) -> None:
    body = hostile_command(edge)
    status, text = await edge.post(body, {"X-Slack-Request-Timestamp": MARKER, "X-Slack-Signature": MARKER})
    assert status == 401
    assert MARKER not in text
    assert json.loads(text) == {"error": "malformed X-Slack-Request-Timestamp"}


@pytest.mark.parametrize(
    ("timestamp", "sig", "reason"),
    [
        (None, None, "no X-Slack-Request-Timestamp"),
        ("17e8", "v0=", "malformed X-Slack-Request-Timestamp"),
        ("1700000000", None, "no X-Slack-Signature"),
        ("1700000000", "v0=zz", "malformed X-Slack-Signature"),
        ("1699999000", "v0=" + "a" * 64, "stale X-Slack-Request-Timestamp"),
        ("1700000000", "v0=" + "a" * 64, "wrong X-Slack-Signature"),
    ],
)
def test_check_signature_names_a_fixed_reason(timestamp: str | None, sig: str | None, reason: str) -> None:
    assert check_signature(b"s", b"body", timestamp, sig, now=1_700_000_000) == reason


def test_check_signature_agrees_with_slack_sdks_verifier() -> None:
    """slack_sdk's SignatureVerifier is the reference (docs/slack-platform.md §2.1)."""
    body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070"
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    verifier = SignatureVerifier(secret, clock=FixedClock(1531420618))
    sig = verifier.generate_signature(timestamp="1531420618", body=body)
    assert sig is not None
    assert verifier.is_valid(body, "1531420618", sig)
    assert check_signature(secret.encode(), body, "1531420618", sig, now=1531420618) is None
    assert check_signature(secret.encode(), body + b"&x", "1531420618", sig, now=1531420618) is not None


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


async def test_malformed_http_is_refused_without_quoting_it_in_the_log(edge: Edge) -> None:
    """aiohttp's parser quotes the bad line in its error; Cardinal's log keeps only the error type."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(f"POST /slack/events HTTP/1.1\r\nHost: x\r\nBad Header {MARKER}: 1\r\n\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(20):
        answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    assert MARKER not in edge.log.getvalue()
    assert any(line["event"] == "http.request_rejected" for line in edge.log_lines())
    assert edge.outbound() == []
