"""Day-2 commands and buttons end to end: signed ``/lxc`` commands and clicks into the real app, the
Proxmox simulator behind it, the tracker reporting outcomes in the container's thread."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.db.records import Container
from handlers.blocks.ids import ACTION_DESTROY_APPROVE, ACTION_DESTROY_CONFIRM, ACTION_EXTEND
from tests.e2e.harness import APPROVER, CHANNEL, OTHER, REQUESTER, Harness, button_value
from tests.fakes.signing import block_action, interactive_body


async def created(h: Harness, hostname: str = "web") -> Container:
    """A container REQUESTER asked for, created and ready (with its thread in CHANNEL)."""
    await h.request(hostname)
    await h.settle(lambda: [t for t in h.texts() if f"{hostname} is ready" in t])
    return await record(h, hostname)


async def record(h: Harness, hostname: str) -> Container:
    async with h.cardinal.db.transaction(readonly=True) as tx:
        container = await tx.containers.get_by_hostname(hostname)
    assert container is not None
    return container


async def ask(h: Harness, text: str, *, user: str = REQUESTER) -> dict[str, Any]:
    """``/lxc <text>``: the ephemeral answer that came back through response_url."""
    status, _ = await h.command(text, user=user)
    assert status == 200
    [answer] = h.slack.hook_posts(f"cmd-{h.trigger_seq}")
    assert answer.get("response_type", "ephemeral") == "ephemeral"  # response_url's default
    return answer


async def click(
    h: Harness,
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str = CHANNEL,
    message_ts: str = "1700000001.000001",
    ephemeral: bool = False,
) -> list[dict[str, Any]]:
    """Click a button in a given message; returns what came back through the click's response_url."""
    h.trigger_seq += 1
    hook = f"act-{h.trigger_seq}"
    payload = block_action(
        action_id,
        value,
        user=user,
        channel=channel,
        message_ts=message_ts,
        trigger_id=f"trigger-{h.trigger_seq}",
        response_url=h.hook_url(hook),
    )
    payload["container"]["is_ephemeral"] = ephemeral
    status, _ = await h._post(interactive_body(payload), "application/x-www-form-urlencoded")
    assert status == 200
    await h.idle()
    return h.slack.hook_posts(hook)


def thread_texts(h: Harness, container: Container) -> list[str]:
    assert container.thread_channel is not None
    assert container.thread_ts is not None
    return [m["text"] for m in h.slack.thread(container.thread_channel, container.thread_ts)]


def posts_to(h: Harness, method: str, suffix: str) -> list[Any]:
    return [r for r in h.sim.request_log if r.method == method and r.path.endswith(suffix)]


def flag(value: Any) -> bool:
    return value in (1, "1", True, "true")


async def test_a_non_owners_stop_is_refused_before_proxmox(harness: Harness) -> None:
    ct = await created(harness)
    answer = await ask(harness, f"stop {ct.vmid}", user=OTHER)
    assert "Only the owner" in answer["text"]
    assert f"or an approver may stop web ({ct.vmid})" in answer["text"]
    assert posts_to(harness, "POST", f"/lxc/{ct.vmid}/status/stop") == []
    assert harness.sim.containers[ct.vmid].running


async def test_an_approvers_stop_is_reported_in_the_containers_thread(harness: Harness) -> None:
    ct = await created(harness)
    answer = await ask(harness, f"stop {ct.vmid}", user=APPROVER)
    assert answer["text"].startswith(f"⏳ Stopping CT {ct.vmid}")
    assert "I'll post the result in its thread" in answer["text"]
    done = await harness.settle(lambda: [t for t in thread_texts(harness, ct) if f"stop of {ct.vmid}" in t])
    assert "done" in done[0]
    assert not harness.sim.containers[ct.vmid].running
    assert len(posts_to(harness, "POST", f"/lxc/{ct.vmid}/status/stop")) == 1


async def test_the_owner_confirms_and_the_container_is_destroyed_with_its_disks(harness: Harness) -> None:
    ct = await created(harness)
    confirmation = await ask(harness, f"destroy {ct.vmid}")
    assert posts_to(harness, "DELETE", f"/lxc/{ct.vmid}") == []  # only a question so far
    value = button_value(confirmation, ACTION_DESTROY_CONFIRM)
    assert value == str(ct.vmid)
    said = await click(harness, ACTION_DESTROY_CONFIRM, value, user=REQUESTER, ephemeral=True)
    assert f"Destroying web ({ct.vmid})" in said[0]["text"]
    [delete] = posts_to(harness, "DELETE", f"/lxc/{ct.vmid}")
    assert flag(delete.params.get("purge"))
    assert flag(delete.params.get("destroy-unreferenced-disks"))
    await harness.settle(lambda: ct.vmid not in harness.sim.containers)
    await harness.settle(lambda: [t for t in thread_texts(harness, ct) if f"destroy of {ct.vmid}" in t])


async def test_a_non_owners_destroy_needs_an_approver(harness: Harness) -> None:
    ct = await created(harness)
    confirmation = await ask(harness, f"destroy {ct.vmid}", user=OTHER)
    value = button_value(confirmation, ACTION_DESTROY_CONFIRM)
    await click(harness, ACTION_DESTROY_CONFIRM, value, user=OTHER, ephemeral=True)
    approvals = harness.cardinal.policy.approval_channel
    assert approvals is not None
    [card] = [m for m in harness.slack.messages(approvals) if "Destroy approval" in m["text"]]
    approve = button_value(card, ACTION_DESTROY_APPROVE)
    assert re.fullmatch(r"[0-9a-f-]{36}", approve)  # only the approval record's id travels in the button
    forged = await click(
        harness,
        ACTION_DESTROY_APPROVE,
        f"{ct.vmid}:{OTHER}",  # the old "<vmid>:<requester>" value, forged without a card
        user=APPROVER,
        channel=approvals,
        message_ts=card["ts"],
    )
    assert "does not match an open approval" in forged[0]["text"]
    assert posts_to(harness, "DELETE", f"/lxc/{ct.vmid}") == []
    await click(
        harness,
        ACTION_DESTROY_APPROVE,
        approve,
        user=APPROVER,
        channel=approvals,
        message_ts=card["ts"],
    )
    await click(
        harness,
        ACTION_DESTROY_APPROVE,
        approve,
        user=APPROVER,
        channel=approvals,
        message_ts=card["ts"],
    )
    assert len(posts_to(harness, "DELETE", f"/lxc/{ct.vmid}")) == 1
    await harness.settle(lambda: ct.vmid not in harness.sim.containers)


async def test_list_status_ip_templates_tasks_and_audit_answer(harness: Harness) -> None:
    ct = await created(harness)
    listing = await ask(harness, "list")
    assert f"*{ct.vmid}* `web`" in str(listing["blocks"])
    everything = await ask(harness, "list all", user=APPROVER)
    assert f"*{ct.vmid}* `web`" in str(everything["blocks"])

    status = await ask(harness, "status web")
    assert f"web ({ct.vmid})" in str(status["blocks"])
    assert f"#v1:0:=lxc%2F{ct.vmid}|Open in the Proxmox UI>" in str(status["blocks"])
    assert button_value(status, "lxc_power.stop") == f"{ct.vmid}:stop"

    addresses = await ask(harness, f"ip {ct.vmid}")
    assert "ssh root@10." in str(addresses["blocks"])

    templates = await ask(harness, "templates")
    assert "debian-12-standard_12.12-1_amd64" in str(templates["blocks"])

    tasks = await ask(harness, "tasks")
    assert f"✅ *create {ct.vmid}* on pve" in str(tasks["blocks"])

    await ask(harness, f"stop {ct.vmid}", user=OTHER)  # refused, and audited
    audit = await ask(harness, f"audit {ct.vmid}")
    assert f"<@{OTHER}> · `access.denied`" in str(audit["blocks"])
    refused = await ask(harness, f"audit {ct.vmid}", user=OTHER)
    assert "Only the owner or an approver" in refused["text"]


async def test_extend_within_and_beyond_policy(harness: Harness) -> None:
    ct = await created(harness)
    assert ct.expires_at is not None
    answer = await ask(harness, f"extend {ct.vmid} 3d")
    assert f"Extended CT {ct.vmid} by 3d" in answer["text"]
    after = await record(harness, "web")
    assert after.expires_at == ct.expires_at + timedelta(days=3)
    refused = await ask(harness, f"extend {ct.vmid} 60d")
    assert "may live at most 30d" in refused["text"]
    assert (await record(harness, "web")).expires_at == after.expires_at
    config = harness.sim.containers[ct.vmid].config
    assert after.expires_at.strftime("%Y-%m-%d") in str(config.get("description"))


async def test_the_extend_button_on_a_reminder(harness: Harness) -> None:
    ct = await created(harness)
    assert ct.expires_at is not None
    harness.clock.now = ct.expires_at - timedelta(hours=23)
    await harness.cardinal.expiry.tick()
    reminder = await harness.settle(
        lambda: [m for m in harness.slack.thread(CHANNEL, str(ct.thread_ts)) if "expires in" in m["text"]]
    )
    value = button_value(reminder[0], ACTION_EXTEND)
    assert value == f"{ct.vmid}:3d"
    await click(harness, ACTION_EXTEND, value, user=REQUESTER, message_ts=reminder[0]["ts"])
    again = await click(harness, ACTION_EXTEND, value, user=REQUESTER, message_ts=reminder[0]["ts"])
    assert "already extended" in again[0]["text"]
    assert (await record(harness, "web")).expires_at == ct.expires_at + timedelta(days=3)
    [updated] = [m for m in harness.slack.thread(CHANNEL, str(ct.thread_ts)) if m["ts"] == reminder[0]["ts"]]
    assert f"extended CT {ct.vmid} by 3d" in updated["text"]
    assert "lxc_extend" not in str(updated["blocks"])
