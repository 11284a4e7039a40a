"""Every URL the HTTP manifest gives Slack is answered by ``cardinal run``'s server (``serve_http``):
a signed request of the kind Slack sends to that URL gets 200, not Bolt's 404 for "no listener"."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yaml

from handlers.blocks.ids import ACTION_DENY
from handlers.runtime import serve_http
from tests.e2e.harness import CHANNEL, REQUESTER, SIGNING_SECRET, Harness
from tests.fakes.signing import (
    block_action,
    form_body,
    interactive_body,
    signed_request_headers,
    slash_command,
)

HTTP_MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "slack-app-http.yaml"


def requests_for(h: Harness, manifest: dict[str, Any]) -> list[tuple[str, str, bytes, str]]:
    """(what, URL path, body, content type): one request of each kind Slack sends, to the URL the manifest
    names for it."""
    (command,) = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    event = {
        "type": "event_callback",
        "team_id": "T0001",
        "api_app_id": "A0CARDINAL",
        "event_id": "Ev0URLS0001",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": REQUESTER, "tab": "home", "event_ts": "1.000100"},
    }
    out = [
        (
            "slash command",
            command["url"],
            form_body(
                slash_command("help", user=REQUESTER, channel=CHANNEL, response_url=h.hook_url("urls-1"))
            ),
            "application/x-www-form-urlencoded",
        ),
        (
            "interactivity",
            settings["interactivity"]["request_url"],
            interactive_body(
                block_action(
                    ACTION_DENY, "no-such-request", user=REQUESTER, response_url=h.hook_url("urls-2")
                )
            ),
            "application/x-www-form-urlencoded",
        ),
        (
            "events",
            settings["event_subscriptions"]["request_url"],
            json.dumps(event).encode(),
            "application/json",
        ),
    ]
    options_url = settings["interactivity"].get("message_menu_options_url")
    if options_url is not None:
        suggestion = {"type": "block_suggestion", "action_id": "any", "value": "x", "user": {"id": REQUESTER}}
        out.append(
            ("options load", options_url, interactive_body(suggestion), "application/x-www-form-urlencoded")
        )
    return [(what, urlsplit(url).path, body, kind) for what, url, body, kind in out]


async def test_every_manifest_url_is_served(harness: Harness) -> None:
    manifest = yaml.safe_load(HTTP_MANIFEST.read_text("utf-8"))
    runner = await serve_http(harness.cardinal, port=0, host="127.0.0.1")
    try:
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession() as session:
            for what, path, body, kind in requests_for(harness, manifest):
                headers = signed_request_headers(body, SIGNING_SECRET, int(time.time()))
                headers["Content-Type"] = kind
                async with session.post(f"http://{host}:{port}{path}", data=body, headers=headers) as resp:
                    assert resp.status == 200, f"{what} at {path}: {resp.status} {await resp.text()}"
                await harness.idle()
    finally:
        await runner.cleanup()
