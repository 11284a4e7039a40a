"""Secrets: a whole scenario with distinctive secret values, at INFO and at DEBUG level. No token, secret or
generated password appears in any log line, any Slack message, view or answer, or the database — the one
place a generated root password may appear is the direct message to its requester."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from handlers.blocks.ids import ACTION_APPROVE
from tests.e2e.harness import button_value
from tests.fakes.signing import checked, form_body, plain, signed_request_headers, slash_command
from tests.reliability.conftest import APPROVALS, APPROVER, CHANNEL, REQUESTER, TOKEN_ID, Lab
from tests.reliability.procs import wait_until

# Deliberately not shaped like tokens or UUIDs: only keeping them out of logs works, not pattern masking.
PROXMOX_SECRET = "kumquat-proxmox-secret-5150"
SIGNING_SECRET = "zebra-quartz-signing-7731"
BOT_TOKEN = "xoxb-narwhal-bot-token-8868"


def _everything_slack_saw(lab: Lab, *, skip_dm_to: str | None = None) -> str:
    dm = lab.slack.dm_of(skip_dm_to) if skip_dm_to else None
    parts = []
    for call in lab.slack.recorded:
        params = dict(call.params)
        params.pop("token", None)  # the bot token is how Slack authenticates the call; checked below
        if call.method == "chat.postMessage" and dm is not None and params.get("channel") == dm:
            params["text"] = "(direct message to the requester)"
            params.pop("blocks", None)
        parts.append(json.dumps([call.method, params], ensure_ascii=False))
    parts += [json.dumps(posts, ensure_ascii=False) for posts in lab.slack.hooks.values()]
    return "\n".join(parts)


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
async def test_no_secret_appears_in_logs_messages_or_the_database(lab: Lab, log_level: str) -> None:
    lab.sim.add_token(TOKEN_ID, PROXMOX_SECRET)
    bot = lab.spawn(
        "bot",
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        token_secret=PROXMOX_SECRET,
        log_level=log_level,
    )
    lab.driver.secret = SIGNING_SECRET
    await bot.wait_ready()
    port = bot.port

    # 1. An auto-approved request with a generated root password.
    view = await lab.driver.open_create(port, user=REQUESTER)
    values = {
        **_values("sec-pw"),
        "password": {"value": checked("generate")},
        "ssh_key": {"value": plain(_public_key())},
    }
    assert await lab.driver.submit_create(port, view, values, user=REQUESTER) == (200, "")
    # 2. A request that needs an approver, approved.
    view = await lab.driver.open_create(port, user=REQUESTER)
    assert await lab.driver.submit_create(port, view, _values("sec-big", "large"), user=REQUESTER) == (
        200,
        "",
    )
    card = await wait_until(lambda: lab.slack.messages(APPROVALS), timeout=20, what="the approval card")
    value = button_value(card[0], ACTION_APPROVE)
    assert (await lab.driver.click(port, ACTION_APPROVE, value, user=APPROVER, channel=APPROVALS))[0] == 200
    # 3. One that fails at Proxmox (its disk storage is full), with the task log in the thread.
    lab.sim.storage("pve", "local-lvm").capacity = 1024**3
    view = await lab.driver.open_create(port, user=REQUESTER)
    failing = {
        **_values("sec-fail"),
        "template": {"value": _sel("local:vztmpl/debian-13-standard_13.6-1_amd64.tar.zst")},
        "node": {"value": _sel("pve")},
    }
    assert await lab.driver.submit_create(port, view, failing, user=REQUESTER) == (200, "")
    await wait_until(lambda: len(lab.finals()) >= 3, timeout=40, what="three results", explain=lab.explain)
    # 4. Day-2 commands, a bad signature, and a graceful stop.
    for text in ("list", "tasks", "templates", "digest", "status sec-pw", "audit"):
        trigger = lab.driver.next_id("sec")
        assert (await lab.driver.command(port, text, user=REQUESTER, trigger=trigger))[0] == 200
        await wait_until(lambda t=trigger: lab.slack.hook_posts(t), timeout=10, what=f"/lxc {text}")
    body = form_body(slash_command("list", user=REQUESTER))
    headers = signed_request_headers(body, "not-the-secret")
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers)
        assert resp.status == 401
    assert await bot.stop() == 0

    directs = [m for m in lab.slack.messages(lab.slack.dm_of(REQUESTER)) if "Root password" in m["text"]]
    assert len(directs) == 1
    match = re.search(r"`([^`]+)`", directs[0]["text"])
    assert match is not None
    password = match.group(1)

    secrets = {
        "PROXMOX_SECRET": PROXMOX_SECRET,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "generated password": password,
    }
    logs = bot.log_text()
    assert len(logs.splitlines()) > 20  # the scenario really was logged
    slack_side = _everything_slack_saw(lab, skip_dm_to=REQUESTER)
    database = (lab.tmp / "cardinal.db").read_bytes().decode("utf-8", "replace")
    found = {
        where: [name for name, value in secrets.items() if value in text]
        for where, text in (("logs", logs), ("Slack", slack_side), ("database", database))
    }
    assert found == {"logs": [], "Slack": [], "database": []}
    # Slack saw the bot token only as the credential of the API calls.
    assert all(c.auth == f"Bearer {BOT_TOKEN}" for c in lab.slack.recorded)
    assert any("sec-pw is ready" in m["text"] for _k, m in lab.finals())
    assert any("failed" in m["text"] for _k, m in lab.finals())
    assert lab.slack.messages(CHANNEL)


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return raw.decode() + " user@host"


def _sel(value: str) -> dict[str, object]:
    return {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
    }


def _values(hostname: str, preset: str = "tiny") -> dict[str, object]:
    from tests.reliability.procs import create_values

    return create_values(hostname, preset=preset)
