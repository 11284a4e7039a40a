"""Who may see what, end to end: others' containers (``/lxc status``, ``/lxc ip``, ``/lxc list all``)
follow the policy's ``[access] others_containers``, and ``/lxc digest`` is posted only in a configured
digest channel (elsewhere it is answered to the asker only)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.harness import APPROVER, CHANNEL, OTHER, REQUESTER, Harness
from tests.e2e.test_day2_commands import ask, created, posts_to

DIGESTS = "C0DIGEST1"


@pytest.fixture
def policy_overrides() -> dict[str, Any]:
    return {"digest": [{"channel": DIGESTS, "cron": "0 9 * * 1-5"}]}


def shown(message: dict[str, Any]) -> str:
    """Everything a person could read in an answer: its text and its blocks."""
    return json.dumps(message, ensure_ascii=False)


def digest_posts(h: Harness, channel: str) -> list[str]:
    return [t for t in h.texts(channel) if "digest" in t.lower()]


async def test_a_stranger_is_refused_status_and_ip_of_someone_elses_container_and_learns_nothing(
    harness: Harness,
) -> None:
    ct = await created(harness)
    ips = list(ct.ip_addresses)
    seen_by_proxmox = len(harness.sim.request_log)

    for text in (f"status {ct.vmid}", "status web", f"ip {ct.vmid}"):
        refused = await ask(harness, text, user=OTHER)
        body = shown(refused)
        assert "that you may see" in refused["text"]
        assert REQUESTER not in body
        assert "running" not in body
        assert all(ip.split("/")[0] not in body for ip in ips)
        if text != "status web":
            assert "`web`" not in body
            assert "web (" not in body
    # Nothing was asked of Proxmox on the stranger's behalf.
    assert len(harness.sim.request_log) == seen_by_proxmox

    # A VMID nobody uses gets the very same refusal: it does not tell which VMIDs are in use.
    missing = await ask(harness, "status 20999", user=OTHER)
    assert missing["text"].replace("20999", "X") == (await ask(harness, f"status {ct.vmid}", user=OTHER))[
        "text"
    ].replace(str(ct.vmid), "X")

    everything = await ask(harness, "list all", user=OTHER)
    assert "Only approvers may see everyone's containers" in everything["text"]
    assert str(ct.vmid) not in shown(everything)


async def test_the_owner_and_an_approver_still_see_status_and_ip(harness: Harness) -> None:
    ct = await created(harness)
    for user in (REQUESTER, APPROVER):
        status = await ask(harness, f"status {ct.vmid}", user=user)
        assert f"web ({ct.vmid})" in shown(status)
        addresses = await ask(harness, f"ip {ct.vmid}", user=user)
        assert "ssh root@10." in shown(addresses)
    everything = await ask(harness, "list all", user=APPROVER)
    assert f"*{ct.vmid}* `web`" in shown(everything)


async def test_a_refused_look_is_audited(harness: Harness) -> None:
    ct = await created(harness)
    await ask(harness, f"status {ct.vmid}", user=OTHER)
    audit = await ask(harness, f"audit {ct.vmid}")
    assert f"<@{OTHER}> · `access.denied`" in shown(audit)
    # An approver looks the person up by mention, as Slack sends it with should_escape: true.
    by_person = await ask(harness, f"audit <@{OTHER}|other>", user=APPROVER)
    assert f"<@{OTHER}> · `access.denied` · CT {ct.vmid}" in shown(by_person)
    status, ack = await harness.command("audit @other", user=APPROVER)  # usage errors come in the ack
    assert status == 200
    assert "should_escape: true" in shown(ack)


@pytest.mark.parametrize("policy_overrides", [{"access": {"others_containers": "everyone"}}])
async def test_with_everyone_anyone_may_look_but_not_operate(harness: Harness) -> None:
    ct = await created(harness)
    status = await ask(harness, f"status {ct.vmid}", user=OTHER)
    assert f"web ({ct.vmid})" in shown(status)
    assert "lxc_power.stop" not in shown(status)  # looking is not operating
    assert "ssh root@10." in shown(await ask(harness, f"ip {ct.vmid}", user=OTHER))
    assert f"*{ct.vmid}* `web`" in shown(await ask(harness, "list all", user=OTHER))
    refused = await ask(harness, f"stop {ct.vmid}", user=OTHER)
    assert "or an approver may stop" in refused["text"]
    assert posts_to(harness, "POST", f"/lxc/{ct.vmid}/status/stop") == []


async def test_digest_from_a_random_channel_is_not_posted_publicly(harness: Harness) -> None:
    ct = await created(harness)
    refused = await ask(harness, "digest", user=OTHER)
    assert "only approvers may see it" in refused["text"]
    assert f"<#{DIGESTS}>" in shown(refused)
    assert str(ct.vmid) not in shown(refused)
    refused_owner = await ask(harness, "digest", user=REQUESTER)
    assert "only approvers may see it" in refused_owner["text"]

    # An approver gets it, but only for their own eyes.
    private = await ask(harness, "digest", user=APPROVER)
    assert "Cardinal digest" in shown(private)
    assert f"`web` ({ct.vmid})" in shown(private)

    assert digest_posts(harness, CHANNEL) == []
    assert [
        c
        for c in harness.slack.recorded
        if c.method == "chat.postMessage" and "digest" in shown(c.params).lower()
    ] == []


async def test_digest_in_a_digest_channel_is_posted_there(harness: Harness) -> None:
    await created(harness)
    status, _ = await harness.command("digest", user=OTHER, channel=DIGESTS)
    assert status == 200
    assert len(digest_posts(harness, DIGESTS)) == 1
    assert digest_posts(harness, CHANNEL) == []
