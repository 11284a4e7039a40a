"""End-to-end harness: the real Cardinal app against the Proxmox simulator (over TLS, pinned) and a fake
Slack, on one database, with a hand-moved clock shared by the tracker and the simulator.

Tests drive it as people do — signed slash commands, modal submissions and button clicks over HTTP —
and move time with :meth:`Harness.settle`, which advances the clocks and runs tracker sweeps until a
condition holds. Nothing sleeps to synchronise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient

from bot.policy import Policy
from bot.settings import Settings
from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.server import Running
from cardinal_sim.slack.payloads import create_values
from handlers.blocks.ids import CALLBACK_CREATE
from handlers.runtime import Cardinal
from tests.conftest import SIM_TEMPLATE
from tests.fakes.signing import (
    block_action,
    form_body,
    interactive_body,
    signed_request_headers,
    slash_command,
    view_submission,
)
from tests.fakes.slack import FakeSlack

T = TypeVar("T")

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-bot-token"
TOKEN_ID = "cardinal@pve!e2e"
TOKEN_SECRET = "5f0c8a4e-1b2c-4d3e-8f9a-0b1c2d3e4f50"
CHANNEL = "C0LAB0001"
APPROVALS = "C0APPROVE"
REQUESTER = "U0REQUEST"
APPROVER = "U0APPROVE"
OTHER = "U0OTHER01"


def e2e_policy(**overrides: Any) -> Policy:
    """A policy with one approver, an approval channel and the default auto-approve rule (small ×1)."""
    data: dict[str, Any] = {
        "approvers": [APPROVER],
        "approval_channel": APPROVALS,
        "placement": {"vmid_min": 20000, "vmid_max": 20999},
    }
    data.update(overrides)
    return Policy.model_validate(data)


def e2e_settings(proxmox: Running, slack_api_url: str, database_url: str, **extra: Any) -> Settings:
    """Settings pointing at the local simulator (fingerprint pinned) and the fake Slack."""
    return Settings(
        proxmox_host="127.0.0.1",
        proxmox_port=proxmox.port,
        proxmox_token=TOKEN_ID,
        proxmox_secret=TOKEN_SECRET,
        proxmox_fingerprint=proxmox.fingerprint,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api_url,
        database_url=database_url,
        internal_port=0,
        **extra,
    )


@dataclass
class Harness:
    """One running Cardinal with its fakes."""

    sim: Simulator
    slack: FakeSlack
    cardinal: Cardinal
    http: TestClient[Any, Any]
    clock: Any  # tests.conftest.FakeClock
    trigger_seq: int = 0
    sweeps: int = 0
    opened_views: list[dict[str, Any]] = field(default_factory=list)
    hook_users: dict[str, str] = field(default_factory=dict)  # response_url hook id → who acted

    # --- sending, as Slack does --------------------------------------------------------------------
    async def _post(self, body: bytes, content_type: str, *, secret: str = SIGNING_SECRET) -> Any:
        headers = signed_request_headers(body, secret, int(time.time()))
        headers["Content-Type"] = content_type
        resp = await self.http.post("/slack/events", data=body, headers=headers)
        text = await resp.text()
        return resp.status, (json.loads(text) if text.startswith("{") else text)

    async def command(self, text: str, *, user: str = REQUESTER, channel: str = CHANNEL) -> Any:
        """``/lxc <text>`` as ``user``; returns (status, ack body)."""
        self.trigger_seq += 1
        fields = slash_command(
            text,
            user=user,
            channel=channel,
            trigger_id=self.slack.issue_trigger(),
            response_url=self.hook_url(f"cmd-{self.trigger_seq}", user),
        )
        status, body = await self._post(form_body(fields), "application/x-www-form-urlencoded")
        await self.idle()
        return status, body

    async def submit_view(self, view: dict[str, Any], values: dict[str, Any], *, user: str) -> Any:
        """Submit a modal Cardinal opened; returns (status, ack body)."""
        payload = view_submission(view["callback_id"], values, user=user, view=view)
        status, body = await self._post(interactive_body(payload), "application/x-www-form-urlencoded")
        refused = self.slack.view_response(view, body if status == 200 else f"HTTP {status}")
        assert not refused, f"Slack would reject Cardinal's answer to the submission: {refused}"
        await self.idle()
        return status, body

    async def click(self, action_id: str, value: str, *, user: str, channel: str = APPROVALS) -> Any:
        """Click a button in a message."""
        self.trigger_seq += 1
        payload = block_action(
            action_id,
            value,
            user=user,
            channel=channel,
            trigger_id=self.slack.issue_trigger(),
            response_url=self.hook_url(f"act-{self.trigger_seq}", user),
        )
        status, body = await self._post(interactive_body(payload), "application/x-www-form-urlencoded")
        await self.idle()
        return status, body

    def hook_url(self, hook_id: str, user: str | None = None) -> str:
        """A ``response_url`` on the fake Slack (remembered as ``user``'s, for :meth:`told`)."""
        if user is not None:
            self.hook_users[hook_id] = user
        base = self.cardinal.settings.slack_api_url.removesuffix("/api/")
        return f"{base}/hooks/{hook_id}"

    def told(self, user: str) -> list[str]:
        """The texts only ``user`` was shown: ephemeral messages and answers to their response_urls."""
        said = [e.get("text", "") for e in self.slack.ephemerals if e.get("user") == user]
        for hook, who in self.hook_users.items():
            if who == user:
                said.extend(str(p.get("text", "")) for p in self.slack.hook_posts(hook))
        return said

    # --- the create flow ---------------------------------------------------------------------------
    def last_view(self, callback_id: str) -> dict[str, Any]:
        """The latest version of the modal with ``callback_id`` (after views.update)."""
        for call in reversed(self.slack.recorded):
            if call.method in ("views.open", "views.update"):
                view = call.params["view"]
                view = json.loads(view) if isinstance(view, str) else view
                if view.get("callback_id") == callback_id:
                    return dict(view)
        raise AssertionError(f"no modal {callback_id!r} was opened")

    async def request(
        self,
        hostname: str,
        *,
        user: str = REQUESTER,
        preset: str = "small",
        count: int = 1,
        lifetime: str = "7d",
        template: str = SIM_TEMPLATE,
        fields: dict[str, Any] | None = None,
    ) -> Any:
        """``/lxc create`` then submit the modal; returns the submission's (status, ack body)."""
        await self.command("create", user=user)
        view = self.last_view(CALLBACK_CREATE)
        values = create_values(
            hostname, template=template, preset=preset, count=count, lifetime=lifetime, fields=fields
        )
        return await self.submit_view(view, values, user=user)

    # --- time --------------------------------------------------------------------------------------
    async def idle(self) -> None:
        """Wait for the work the app started after its acks."""
        await self.cardinal.services.background.idle()

    async def settle(self, until: Callable[[], T], *, step: float = 5.0, max_steps: int = 200) -> T:
        """Advance simulator and tracker clocks by ``step`` s and sweep until ``until()`` is truthy."""
        for _ in range(max_steps):
            await self.idle()
            result = until()
            if result:
                return result
            self.sim.advance(step)
            self.clock.advance(seconds=step)
            await self.cardinal.tracker.sweep()
            self.sweeps += 1
        raise AssertionError(f"condition not met after {max_steps} steps of {step}s")

    def now(self) -> datetime:
        return self.clock()  # type: ignore[no-any-return]

    def later(self, **delta: float) -> datetime:
        return self.now() + timedelta(**delta)

    # --- reading Slack -----------------------------------------------------------------------------
    def texts(self, channel: str = CHANNEL) -> list[str]:
        """Fallback texts of every message in ``channel`` (roots and thread replies), in order."""
        return [m.get("text", "") for m in self.slack.messages(channel)]

    def ephemeral_texts(self, user: str) -> list[str]:
        """What ``user`` was told privately (postEphemeral and response_url answers)."""
        out = [e.get("text", "") for e in self.slack.ephemerals if e.get("user") == user]
        for posts in self.slack.hooks.values():
            out += [str(p.get("text", "")) for p in posts]
        return out

    def creates(self) -> list[Any]:
        """Create requests that reached Proxmox."""
        return [r for r in self.sim.request_log if r.method == "POST" and r.path.endswith("/lxc")]


def button_value(message: dict[str, Any], action_id: str) -> str:
    """The value of the button ``action_id`` in a posted message."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no button {action_id!r} in the message")
