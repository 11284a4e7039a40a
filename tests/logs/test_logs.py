"""Log lines: the right renderer, one chain for structlog and stdlib, context on every line, no secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from pydantic import SecretStr

from bot.logs import (
    REDACTED,
    bind_context,
    bound_context,
    clear_context,
    configure_logging,
    new_request_id,
    redact,
)

from .conftest import Captured, TtyStream

UPID = "UPID:pve:0000A1B2:00C3D4E5:65F0A1B2:vzcreate:101:cardinal@pve!bot:"

# (secret-bearing text, the secret part that must vanish)
SECRET_SHAPES = [
    ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp"),
    ("xoxp-1234-5678-9012-abcdef0123456789", "abcdef0123456789"),
    ("xoxa-2-1234-abcdefabcdef", "abcdefabcdef"),
    ("xoxr-1234-rotating-refresh", "rotating-refresh"),
    ("xoxs-1234-legacy-session", "legacy-session"),
    ("xoxe.xoxp-1-Mi0yLTEyMzQ", "Mi0yLTEyMzQ"),
    ("xapp-1-A0123456789-1234567890-0a1b2c3d4e5f", "0a1b2c3d4e5f"),
    ("Authorization: PVEAPIToken=cardinal@pve!bot=7f3a1c2e-9b4d-4e5f-8a6b-1c2d3e4f5a6b", "9b4d-4e5f"),
    ("header 'PVEAPIToken=cardinal@pve!bot=S3CR3T-VALUE' sent", "S3CR3T-VALUE"),
    ("Cookie: PVEAuthCookie=PVE:root@pam:65F0A1B2::c2lnbmF0dXJlLXNlY3JldA==; path=/", "c2lnbmF0dXJl"),
    ("CSRFPreventionToken: 65F0A1B2:Y3NyZi1zZWNyZXQtdmFsdWU", "Y3NyZi1zZWNyZXQtdmFsdWU"),
    ('{"CSRFPreventionToken":"65F0A1B2:Y3NyZi1zZWNyZXQ","ticket":"PVE:root@pam:XYZ"}', "Y3NyZi1zZWNyZXQ"),
    ("token secret is 7f3a1c2e-9b4d-4e5f-8a6b-1c2d3e4f5a6b ok", "7f3a1c2e-9b4d"),
    ("POST /access/ticket username=root@pam&password=hunter2-hunter2", "hunter2-hunter2"),
    ("PROXMOX_PASSWORD=correct-horse-battery", "correct-horse-battery"),
    ('body {"password": "pa ss word with spaces"}', "pa ss word"),
    ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0", "eyJhbGciOi"),
]


def one_line(captured: Captured) -> dict[str, object]:
    lines = captured.lines()
    assert len(lines) == 1, lines
    return lines[0]


# --- renderer choice -------------------------------------------------------------------------------------


def test_json_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "auto", stream)
    structlog.get_logger("cardinal.test").info("container created", vmid=101)
    line = json.loads(stream.getvalue())
    assert line["event"] == "container created"
    assert line["vmid"] == 101
    assert line["level"] == "info"
    assert line["logger"] == "cardinal.test"
    assert line["timestamp"].endswith("Z")
    assert "T" in line["timestamp"]


def test_console_when_the_stream_is_a_terminal() -> None:
    stream = TtyStream()
    configure_logging("INFO", "auto", stream)
    structlog.get_logger("cardinal.test").info("container created", vmid=101)
    text = stream.getvalue()
    assert "container created" in text
    assert "vmid" in text
    assert "info" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.parametrize(
    ("fmt", "stream_type", "is_json"), [("json", TtyStream, True), ("console", io.StringIO, False)]
)
def test_format_can_be_forced(fmt: str, stream_type: type[io.StringIO], is_json: bool) -> None:
    stream = stream_type()
    configure_logging("INFO", fmt, stream)  # type: ignore[arg-type]
    structlog.get_logger().warning("disk almost full", node="pve")
    text = stream.getvalue()
    assert "disk almost full" in text
    try:
        json.loads(text)
        parsed = True
    except json.JSONDecodeError:
        parsed = False
    assert parsed is is_json


def test_level_filters_structlog_and_stdlib_alike() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream)
    structlog.get_logger().info("quiet")
    logging.getLogger("aiohttp.access").info("quiet too")
    structlog.get_logger().warning("loud")
    logging.getLogger("apscheduler.scheduler").error("loud too")
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["loud", "loud too"]


def test_reconfiguring_replaces_the_handler_instead_of_duplicating_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "json", first)
    configure_logging("INFO", "json", second)
    structlog.get_logger().info("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD", "json", io.StringIO())


# --- stdlib records --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["aiohttp.client", "slack_bolt.App", "apscheduler.executors.default", "sqlalchemy.engine"]
)
def test_stdlib_records_are_rendered_by_the_same_chain(captured: Captured, name: str) -> None:
    with bound_context(request_id="req-1"):
        logging.getLogger(name).warning(
            "sent %s to %s", "xoxb-1-2-secretsecret", "slack", extra={"password": "pw1"}
        )
    line = one_line(captured)
    assert line["logger"] == name
    assert line["level"] == "warning"
    assert line["request_id"] == "req-1"
    assert line["event"] == f"sent {REDACTED} to slack"
    assert line["password"] == REDACTED
    assert "secretsecret" not in captured.text
    assert "pw1" not in captured.text


# --- redaction -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "secret"), SECRET_SHAPES)
def test_each_secret_shape_is_masked_everywhere(captured: Captured, text: str, secret: str) -> None:
    log = structlog.get_logger()
    log.info(f"request failed: {text}")
    log.info("request failed", detail=text, nested={"items": [text, ("tuple", text)]})
    logging.getLogger("aiohttp.client").error("request failed: %s", text)
    assert secret not in captured.text
    assert len(captured.lines()) == 3
    assert captured.text.count(REDACTED) >= 5


@pytest.mark.parametrize(
    "key",
    ["password", "PROXMOX_PASSWORD", "secret", "signing_secret", "Token", "bot_token", "Authorization",
     "cookie", "Set-Cookie", "api_key", "apiKey", "X-CSRF-Token", "CSRFPreventionToken", "ticket", "passwd"],
)  # fmt: skip
def test_values_are_masked_by_key_name(captured: Captured, key: str) -> None:
    structlog.get_logger().info("config", **{key: "plain-value-123", "hostname": "web-1"})
    line = one_line(captured)
    assert line[key] == REDACTED
    assert line["hostname"] == "web-1"
    assert "plain-value-123" not in captured.text


def test_nested_keys_are_masked_recursively(captured: Captured) -> None:
    structlog.get_logger().info(
        "settings",
        settings={
            "proxmox": {"host": "pve.lan", "Secret": "s1", "nodes": [{"name": "pve", "api_key": "k1"}]},
            "slack": [{"headers": {"Authorization": "Bearer b1", "Accept": "json"}}],
        },
    )
    settings = one_line(captured)["settings"]
    assert settings == {
        "proxmox": {"host": "pve.lan", "Secret": REDACTED, "nodes": [{"name": "pve", "api_key": REDACTED}]},
        "slack": [{"headers": {"Authorization": REDACTED, "Accept": "json"}}],
    }


def test_secretstr_is_rendered_masked_under_any_key(captured: Captured) -> None:
    structlog.get_logger().info("loaded", value=SecretStr("hidden-123"), items=[SecretStr("hidden-456")])
    line = one_line(captured)
    assert line["value"] == REDACTED
    assert line["items"] == [REDACTED]
    assert "hidden" not in captured.text


def test_objects_whose_text_holds_a_secret_are_scrubbed(captured: Captured) -> None:
    structlog.get_logger().info("failed", error=RuntimeError("auth with xoxb-9-9-topsecret refused"))
    assert "topsecret" not in captured.text
    assert one_line(captured)["error"] == f"auth with {REDACTED} refused"


def test_ordinary_values_are_left_alone() -> None:
    event = {
        "event": "ok",
        "vmid": 101,
        "upid": UPID,
        "ratio": 0.5,
        "ready": True,
        "none": None,
        "password": None,
    }
    assert redact(None, "info", dict(event)) == event


# --- exceptions ------------------------------------------------------------------------------------------


def fail_with_secret_local() -> None:
    api_secret = "LOCAL-SECRET-4242"  # must never show up: tracebacks carry no locals
    raise RuntimeError(f"could not log in ({len(api_secret)} chars)")


def test_json_tracebacks_are_dicts_without_locals(captured: Captured) -> None:
    try:
        fail_with_secret_local()
    except RuntimeError:
        structlog.get_logger().exception("login failed")
    line = one_line(captured)
    assert "LOCAL-SECRET-4242" not in captured.text
    exc = line["exception"]
    assert isinstance(exc, list)
    assert exc[0]["exc_type"] == "RuntimeError"
    assert exc[0]["exc_value"] == "could not log in (17 chars)"
    assert [f["name"] for f in exc[0]["frames"]][-1] == "fail_with_secret_local"
    assert all("locals" not in frame for frame in exc[0]["frames"])


def test_stdlib_exceptions_are_rendered_and_redacted(captured: Captured) -> None:
    try:
        raise ConnectionError("PVEAuthCookie=PVE:root@pam:AAAA::sig-secret rejected")
    except ConnectionError:
        logging.getLogger("aiohttp.client").exception("request failed")
    line = one_line(captured)
    assert "sig-secret" not in captured.text
    assert line["exception"][0]["exc_value"] == f"PVEAuthCookie={REDACTED} rejected"  # type: ignore[index]


def test_console_tracebacks_have_no_locals_and_are_redacted() -> None:
    stream = TtyStream()
    configure_logging("INFO", "console", stream)
    try:
        fail_with_secret_local()
    except RuntimeError as exc:
        structlog.get_logger().error("login failed", exc_info=exc, token="xoxb-1-2-consolesecret")
    text = stream.getvalue()
    assert "Traceback" in text
    assert "fail_with_secret_local" in text
    assert "LOCAL-SECRET-4242" not in text
    assert "consolesecret" not in text


# --- context ---------------------------------------------------------------------------------------------


def test_bound_context_appears_on_every_line_and_is_removed_afterwards(captured: Captured) -> None:
    request_id = new_request_id()
    with bound_context(request_id=request_id, slack_user="U024BE7LH", vmid=101, upid=UPID, channel=None):
        structlog.get_logger().info("creating")
        logging.getLogger("aiohttp.client").info("POST /nodes/pve/lxc")
    structlog.get_logger().info("after")
    first, second, after = captured.lines()
    for line in (first, second):
        assert line["request_id"] == request_id
        assert line["slack_user"] == "U024BE7LH"
        assert line["vmid"] == 101
        assert line["upid"] == UPID
        assert "channel" not in line
    assert "request_id" not in after


def test_bind_and_clear_context(captured: Captured) -> None:
    bind_context(request_id="r-1", slack_user="U1")
    bind_context(vmid=300)
    structlog.get_logger().info("one")
    clear_context()
    structlog.get_logger().info("two")
    one, two = captured.lines()
    assert (one["request_id"], one["slack_user"], one["vmid"]) == ("r-1", "U1", 300)
    assert "request_id" not in two


def test_request_ids_are_unique_and_survive_redaction(captured: Captured) -> None:
    ids = {new_request_id() for _ in range(200)}
    assert len(ids) == 200
    request_id = ids.pop()
    structlog.get_logger().info("x", request_id=request_id)
    assert one_line(captured)["request_id"] == request_id
