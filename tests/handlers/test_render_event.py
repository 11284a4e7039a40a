"""render_event: every domain event becomes a valid Slack message, within limits, with user text escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from bot.containers.results import DestroyPlan, ResizePlan
from bot.db.enums import RequestState
from bot.events import (
    ActionApprovalCard,
    ActionDecided,
    ApprovalCard,
    ContainerLine,
    ContainerReady,
    Digest,
    DigestContainer,
    DigestReady,
    Event,
    FailedTaskLine,
    NodeCapacity,
    Notice,
    OwnerContainers,
    PendingApprovalLine,
    PreflightCheck,
    RequestProgress,
    RequestSummary,
    TaskFailed,
    TaskSucceeded,
)
from handlers.blocks.approval import approval_card
from handlers.blocks.events import notice, render_event
from handlers.blocks.progress import failure_result, ready_result, request_thread_root, task_succeeded
from tests.handlers.helpers import assert_valid_message, mrkdwn_of, text_of

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HUGE = "<!channel> " + "x" * 20_000


def summary(*, huge: bool = False) -> RequestSummary:
    """A request; ``huge`` fills every text and collection far beyond Slack's limits."""
    if not huge:
        return RequestSummary(
            request_id="req-1",
            requester="U012AB3CD",
            state=RequestState.CREATING,
            hostnames=("web-1", "web-2"),
            template="debian-12-standard_12.7-1_amd64.tar.zst",
            cores=2,
            memory_mib=2048,
            disk_gib=16,
            purpose="demo",
            expires_at=NOW + timedelta(days=7),
            containers=(ContainerLine("web-1", 10042, "pve1", "creating"),),
        )
    return RequestSummary(
        request_id="r" * 255,
        requester=HUGE,
        state=RequestState.DENIED,
        hostnames=tuple(f"h{i}-" + "a" * 300 for i in range(2000)),
        template=HUGE,
        cores=8192,
        memory_mib=10**9,
        disk_gib=65536,
        purpose=HUGE,
        expires_at=NOW,
        decided_by=HUGE,
        decision_reason=HUGE,
        containers=tuple(
            ContainerLine(HUGE, 10**9, HUGE, HUGE, tuple(HUGE for _ in range(50))) for _ in range(500)
        ),
        preset=HUGE,
        ipv4=HUGE,
        gateway=HUGE,
        bridge=HUGE,
        vlan=4094,
        node=HUGE,
        lifetime=timedelta(days=3650),
        requested_at=NOW,
    )


def digest(*, huge: bool = False) -> Digest:
    """A digest; ``huge`` has far more owners, containers and failures than a message can hold."""
    text = HUGE if huge else "web-1"
    n = 400 if huge else 1
    line = DigestContainer(10042, text, "U012AB3CD", "running", "pve1", NOW + timedelta(hours=5))
    return Digest(
        generated_at=NOW,
        per_owner=tuple(OwnerContainers(f"U0{i:07d}", (line,) * (30 if huge else 1)) for i in range(n)),
        expiring_soon=(line,) * n,
        pending_approvals=(PendingApprovalLine("a-1", "r-1", "U0REQ", text, 2, timedelta(hours=26)),) * n,
        failed_tasks=(FailedTaskLine("t-1", "create", 10043, "pve2", text, NOW),) * n,
        capacity=(NodeCapacity("pve1", "online", 3, 4, 1, 10),) * n,
    )


def test_digest_reads_at_a_glance() -> None:
    """The digest has a header, one section per topic and a capacity bar per node."""
    msg = render_event(DigestReady(digest()))
    text = "\n".join(mrkdwn_of(msg["blocks"]))
    assert msg["blocks"][0]["type"] == "header"
    for title in (
        "Containers per owner",
        "Expiring in the next 48 h",
        "Pending approvals",
        "Failed tasks (24 h)",
    ):
        assert f"*{title}*" in text
    assert "`▓▓▓▓▓▓▓▓░░` 75%" in text  # pve1: 3 of 4 memory used
    assert "waiting 1d 2h" in text
    assert "<@U012AB3CD>" in text


def destroy_plan(*, huge: bool = False) -> DestroyPlan:
    """A non-owner's destroy waiting for an approver; ``huge`` fills every text."""
    text = HUGE if huge else "web-1"
    return DestroyPlan(10042, text, HUGE if huge else "pve1", "U0OWNER1", "U0OTHER2", True, text)


def resize_plan(*, huge: bool = False) -> ResizePlan:
    """A resize beyond quota; ``huge`` fills every text."""
    return ResizePlan(
        10042,
        HUGE if huge else "web-1",
        HUGE if huge else "pve1",
        "U0OWNER1",
        "U0OWNER1",
        1,
        2,
        1024,
        8192,
        8,
        10,
        True,
        HUGE if huge else "total memory would be 9216 MiB; the quota is 4096 MiB",
    )


def typical_events() -> list[Event]:
    """One realistic event of each type (two approval-card variants)."""
    checks = (PreflightCheck("Hostname free", True, "web-1, web-2"),)
    return [
        RequestProgress(summary()),
        ApprovalCard("appr-1", summary(), checks),
        ApprovalCard("appr-1", summary(), (), decided_by="U0APPROVER", approved=False, reason="too big"),
        ContainerReady("req-1", "web-1", 10042, "pve1", ("10.0.0.5/24",), "https://pve:8006/#v1:0:=lxc%2F1"),
        TaskFailed("req-1", "create", 10042, "pve1", "storage full", ("TASK ERROR: full",), "UPID:x"),
        TaskSucceeded("reboot", 10042, "pve1", "U012AB3CD", "took 4s"),
        Notice("<@U012AB3CD> web-1 expires tomorrow.", (("extend_7d", "Extend 7d", "10042"),)),
        DigestReady(digest()),
        ActionApprovalCard("0b7c6f2e-4f1d-4c1e-9a53-2f4f0e7d9a10", destroy_plan()),
        ActionApprovalCard("0b7c6f2e-4f1d-4c1e-9a53-2f4f0e7d9a10", resize_plan(), "U0APPROVER", True),
        ActionDecided(resize_plan(), "U0APPROVER", approved=False),
    ]


def huge_events() -> list[Event]:
    """One event of each type with every field far beyond Slack's limits."""
    checks = tuple(PreflightCheck(HUGE, i % 2 == 0, HUGE) for i in range(300))
    return [
        RequestProgress(summary(huge=True)),
        ApprovalCard("a" * 255, summary(huge=True), checks),
        ApprovalCard("a" * 255, summary(huge=True), checks, HUGE, True, NOW, HUGE),
        ContainerReady(HUGE, HUGE, 10**9, HUGE, tuple(HUGE for _ in range(200)), HUGE, NOW, HUGE),
        TaskFailed(HUGE, HUGE, 10**9, HUGE, HUGE, tuple(HUGE for _ in range(5000)), HUGE, True),
        TaskSucceeded(HUGE, 10**9, HUGE, HUGE, HUGE),
        Notice(HUGE, tuple((f"act_{i}", HUGE, f"id-{i}") for i in range(100))),
        DigestReady(digest(huge=True)),
        ActionApprovalCard("a" * 36, destroy_plan(huge=True), "U0APPROVER", True, HUGE),
        ActionApprovalCard("a" * 36, resize_plan(huge=True)),
        ActionDecided(destroy_plan(huge=True), "U0APPROVER", approved=True),
    ]


def _name(event: Event) -> str:
    return type(event).__name__


@pytest.mark.parametrize("event", typical_events(), ids=_name)
def test_typical_event_renders_valid(event: Event) -> None:
    """A realistic event of each type gives a message slack_sdk accepts unchanged."""
    assert_valid_message(render_event(event))


@pytest.mark.parametrize("event", huge_events(), ids=_name)
def test_huge_event_stays_within_limits(event: Event) -> None:
    """Enormous texts and collections are cut to fit Slack's limits, and nothing can ping the channel."""
    msg = render_event(event)
    assert_valid_message(msg)
    assert "<!channel>" not in "\n".join(mrkdwn_of(msg["blocks"]))
    assert "<!channel>" not in msg["text"]


@pytest.mark.parametrize("events", [typical_events(), huge_events()], ids=["typical", "huge"])
def test_every_event_type_is_covered(events: list[Event]) -> None:
    """The cases above include every member of bot.events.Event (a new event type needs a case)."""
    assert {type(e) for e in events} == set(get_args(Event))


def test_dispatch_matches_the_builders() -> None:
    """render_event gives the same message as the builder for that event type."""
    progress, pending, _, ready, failed, succeeded, note, _digest, *_day2 = typical_events()
    assert isinstance(progress, RequestProgress)
    assert render_event(progress) == request_thread_root(progress.summary)
    assert isinstance(pending, ApprovalCard)
    assert render_event(pending) == approval_card(pending)
    assert isinstance(ready, ContainerReady)
    assert render_event(ready) == ready_result(ready)
    assert isinstance(failed, TaskFailed)
    assert render_event(failed) == failure_result(failed)
    assert isinstance(succeeded, TaskSucceeded)
    assert render_event(succeeded) == task_succeeded(succeeded)
    assert isinstance(note, Notice)
    assert render_event(note) == notice(note)


def test_task_succeeded_says_what_where_and_who() -> None:
    """A finished day-2 task names the action, vmid, node, the person and the detail."""
    msg = task_succeeded(TaskSucceeded("reboot", 10042, "pve1", "U012AB3CD", "took 4s"))
    text = text_of(msg)
    assert "✅ *reboot of 10042* done on pve1 (by <@U012AB3CD>)" in text
    assert "took 4s" in text


def test_notice_keeps_mentions_but_not_broadcasts_or_links() -> None:
    """A notice's user mentions still notify; @channel and links from embedded user text do not."""
    msg = notice(Notice("<@U012AB3CD> your request was denied: <!channel> see <https://x.example|here>"))
    text = text_of(msg)
    assert "<@U012AB3CD>" in text
    assert "&lt;!channel&gt;" in text
    assert "<https://" not in text
    assert not [blk for blk in msg["blocks"] if blk["type"] == "actions"]


def test_notice_buttons_carry_the_given_ids() -> None:
    """Each action becomes a button with its action_id, label and id value."""
    msg = notice(
        Notice("Expires soon.", (("extend_7d", "Extend 7d", "10042"), ("destroy", "Destroy", "10042")))
    )
    assert_valid_message(msg)
    actions = next(blk for blk in msg["blocks"] if blk["type"] == "actions")
    got = [(el["action_id"], el["text"]["text"], el["value"]) for el in actions["elements"]]
    assert got == [("extend_7d", "Extend 7d", "10042"), ("destroy", "Destroy", "10042")]


@pytest.mark.parametrize(
    "action", [("ok", "Label", "not an id"), ("bad id", "Label", "10042"), ("ok", "L", "")]
)
def test_notice_refuses_values_that_are_not_ids(action: tuple[str, str, str]) -> None:
    """Button action ids and values must be bare ids, so no user data rides on a button."""
    with pytest.raises(ValueError, match=r"action_id|button value"):
        notice(Notice("x", (action,)))


def test_failure_names_the_container_by_hostname_when_known() -> None:
    """A failed create says which container it was, not only its VMID."""
    event = TaskFailed("req-1", "create", 20002, "pve2", "storage full", (), None, False, "ci-runner")
    assert render_event(event)["text"].startswith("❌ create of ci-runner (20002) failed")
