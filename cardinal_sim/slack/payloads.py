"""Slack request signing and real-shaped Slack payloads, for driving Cardinal exactly as Slack would.

``cardinal demo`` sends these to the real app over HTTP; the test suite uses them too
(``tests.fakes.signing`` re-exports them).

``signed_request_headers`` computes ``X-Slack-Signature`` exactly as Slack does (v0, HMAC-SHA256 over
``v0:<timestamp>:<raw body>``). The payload builders return the shapes Slack really sends (see
https://docs.slack.dev/reference/interaction-payloads): slash commands as form fields, interactive
payloads as the JSON that goes into the ``payload=`` form field. Bolt breaks on incomplete fixtures
(a ``view_submission`` without ``view.type`` is a 500), so every builder fills the whole shape.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

TEAM_ID = "T0001"
TEAM_DOMAIN = "fake"
APP_ID = "A0CARDINAL"
BOT_ID = "BBOT0001"
BOT_USER_ID = "UBOT0001"
# The legacy verification token Slack still puts into payloads; Cardinal must never rely on (or log) it.
LEGACY_TOKEN = "legacy-verification-token"  # noqa: S105 (a placeholder, not a secret)


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """The ``v0=…`` signature Slack computes for ``body`` at ``timestamp``."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_request_headers(
    body: bytes,
    secret: str,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """Headers Slack sends with ``body``: content type, request timestamp and v0 signature."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret, ts),
    }


def form_body(fields: dict[str, str]) -> bytes:
    """A slash-command payload as Slack posts it (form-encoded)."""
    return urlencode(fields).encode()


def interactive_body(payload: dict[str, Any]) -> bytes:
    """An interactive payload as Slack posts it: ``payload=<url-quoted JSON>``."""
    return ("payload=" + quote(json.dumps(payload))).encode()


def _user(user: str, name: str | None = None) -> dict[str, str]:
    shown = name or user.lower()
    return {"id": user, "username": shown, "name": shown, "team_id": TEAM_ID}


def slash_command(
    text: str,
    user: str = "U012AB3CD",
    channel: str = "C0123ABCD",
    trigger_id: str = "1337.42.abcdef",
    response_url: str = "https://hooks.slack.com/commands/T0001/1/abc",
    *,
    command: str = "/lxc",
    user_name: str | None = None,
    channel_name: str = "lab",
) -> dict[str, str]:
    """The form fields of a slash command invocation (``user_name`` defaults to the lower-cased id)."""
    return {
        "token": LEGACY_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user_name or user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_action(
    action_id: str,
    value: str | None = None,
    *,
    user: str = "U012AB3CD",
    channel: str = "C0123ABCD",
    message_ts: str = "1700000001.000001",
    block_id: str = "actions",
    response_url: str = "https://hooks.slack.com/actions/T0001/1/abc",
    trigger_id: str = "1337.43.abcdef",
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    action_type: str = "button",
    user_name: str | None = None,
    channel_name: str = "lab",
) -> dict[str, Any]:
    """A ``block_actions`` payload: a button click in a message, or in a modal when ``view`` is given."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": "1700000100.000200",
    }
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
        if value is not None:
            action["value"] = value
    elif value is not None:
        action["selected_option"] = {"text": {"type": "plain_text", "text": value}, "value": value}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user, user_name),
        "api_app_id": APP_ID,
        "token": LEGACY_TOKEN,
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "V00000001")}
        payload["view"] = view_payload(view)
        return payload
    payload["container"] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    payload["channel"] = {"id": channel, "name": channel_name}
    payload["message"] = message or {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": message_ts,
        "text": "",
        "blocks": [],
    }
    payload["response_url"] = response_url
    return payload


def view_payload(
    view: dict[str, Any],
    values: dict[str, dict[str, Any]] | None = None,
    *,
    view_id: str = "V00000001",
    view_hash: str = "h00000001",
) -> dict[str, Any]:
    """A full view object as Slack sends it back, built from the view we opened and the entered values."""
    return {
        "id": view.get("id", view_id),
        "team_id": TEAM_ID,
        "type": view.get("type", "modal"),
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": values or {}},
        "hash": view.get("hash", view_hash),
        "title": view.get("title", {"type": "plain_text", "text": "Modal", "emoji": True}),
        "clear_on_close": False,
        "notify_on_close": False,
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": None,
        "root_view_id": view.get("id", view_id),
        "app_id": APP_ID,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }


def view_submission(
    callback_id: str,
    values: dict[str, dict[str, Any]],
    *,
    user: str = "U012AB3CD",
    private_metadata: str = "",
    view: dict[str, Any] | None = None,
    trigger_id: str = "1337.44.abcdef",
    response_urls: list[dict[str, str]] | None = None,
    user_name: str | None = None,
) -> dict[str, Any]:
    """A ``view_submission`` payload. ``values`` is ``{block_id: {action_id: element state}}``."""
    base = dict(view or {"type": "modal"})
    base.setdefault("callback_id", callback_id)
    base.setdefault("private_metadata", private_metadata)
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user, user_name),
        "api_app_id": APP_ID,
        "token": LEGACY_TOKEN,
        "trigger_id": trigger_id,
        "view": view_payload(base, values),
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def plain(value: str | None) -> dict[str, Any]:
    """State of a ``plain_text_input``."""
    return {"type": "plain_text_input", "value": value}


def number(value: str | None) -> dict[str, Any]:
    """State of a ``number_input`` (Slack sends the number as text)."""
    return {"type": "number_input", "value": value}


def selected(value: str | None, element: str = "static_select") -> dict[str, Any]:
    """State of a ``static_select`` or ``radio_buttons`` element."""
    option = None if value is None else {"text": {"type": "plain_text", "text": value}, "value": value}
    return {"type": element, "selected_option": option}


def checked(*values: str) -> dict[str, Any]:
    """State of a ``checkboxes`` element."""
    return {
        "type": "checkboxes",
        "selected_options": [{"text": {"type": "plain_text", "text": v}, "value": v} for v in values],
    }


def create_values(
    hostname: str,
    *,
    template: str,
    preset: str = "small",
    count: int = 1,
    lifetime: str = "7d",
    purpose: str = "testing",
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The create modal's state values as a person fills the first screen (DHCP on ``vmbr0``, automatic
    node); ``fields`` replace or add blocks by block id (``hostname`` included)."""
    values: dict[str, Any] = {
        "hostname": {"value": plain(hostname)},
        "count": {"value": number(str(count))},
        "template": {"value": selected(template)},
        "preset": {"value": selected(preset)},
        "net_mode": {"value": selected("dhcp", "radio_buttons")},
        "bridge": {"value": selected("vmbr0")},
        "lifetime": {"value": selected(lifetime)},
        "node": {"value": selected("auto")},
        "purpose": {"value": plain(purpose)},
    }
    values.update(fields or {})
    return values
