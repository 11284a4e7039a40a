"""The transcript renderer: Cardinal's real Block Kit (and Slack's mrkdwn rules) read as terminal text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.db.enums import RequestState
from bot.events import (
    ApprovalCard,
    ContainerLine,
    ContainerReady,
    Digest,
    DigestContainer,
    FailedTaskLine,
    NodeCapacity,
    Notice,
    OwnerContainers,
    PreflightCheck,
    RequestSummary,
    TaskFailed,
)
from bot.policy import Policy
from cardinal_sim.demo.transcript import Directory, Renderer, Style, display_width, indent
from handlers.blocks.approval import approval_card
from handlers.blocks.create_modal import create_modal
from handlers.blocks.digest import digest_message
from handlers.blocks.events import notice
from handlers.blocks.progress import failure_result, ready_result, request_thread_root
from tests.conftest import SIM_TEMPLATE

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
APPROVAL_ID = "0f0e0d0c-0000-4000-8000-000000000001"
NAMES = Directory({"U0ALICE": "alice", "U0BOB": "bob"}, {"C0LAB00001": "lab"})
PLAIN = Renderer(NAMES, Style(color=False))
COLOR = Renderer(NAMES, Style(color=True))


def summary(state: RequestState = RequestState.PENDING_APPROVAL, **extra: object) -> RequestSummary:
    fields: dict[str, object] = {
        "request_id": "req-1",
        "requester": "U0ALICE",
        "state": state,
        "hostnames": ("web",),
        "template": SIM_TEMPLATE,
        "cores": 2,
        "memory_mib": 4096,
        "disk_gib": 32,
        "purpose": "staging for the <checkout> team & more",
        "expires_at": T0 + timedelta(days=7),
        "preset": "medium",
        "lifetime": timedelta(days=7),
        "requested_at": T0,
    }
    fields.update(extra)
    return RequestSummary(**fields)  # type: ignore[arg-type]


def text(lines: list[str]) -> str:
    return "\n".join(lines)


class TestMrkdwn:
    def test_bold_italic_and_code_read_as_plain_text(self) -> None:
        assert PLAIN.mrkdwn("*Ready*: _soon_ `web` ~gone~") == ["Ready: soon `web` ~gone~"]

    def test_emphasis_inside_words_and_code_is_left_alone(self) -> None:
        assert PLAIN.mrkdwn("snake_case_name 2*3*4 `*not bold*`") == ["snake_case_name 2*3*4 `*not bold*`"]

    def test_mentions_channels_links_and_dates_are_shown_by_name(self) -> None:
        line = (
            "<@U0ALICE> in <#C0LAB00001> <!here> <https://pve:8006/#v1|Open> <https://x.test> "
            "<!date^1773046800^{date_short_pretty}|2026-03-09 09:00 UTC> <@U0NOBODY>"
        )
        assert PLAIN.mrkdwn(line) == [
            "@alice in #lab @here Open (https://pve:8006/#v1) https://x.test 2026-03-09 09:00 UTC @U0NOBODY"
        ]

    def test_entities_are_unescaped_after_tokens_so_escaped_text_stays_text(self) -> None:
        assert PLAIN.mrkdwn("a &lt;@U0ALICE&gt; &amp; b") == ["a <@U0ALICE> & b"]

    def test_fenced_code_becomes_indented_lines(self) -> None:
        lines = PLAIN.mrkdwn(
            "*Last lines of the task log*\n```line one\nTASK ERROR: boom &amp; more```\nafter"
        )
        assert lines == [
            "Last lines of the task log",
            "    line one",
            "    TASK ERROR: boom & more",
            "after",
        ]

    def test_an_unmatched_fence_is_shown_literally(self) -> None:
        assert PLAIN.mrkdwn("three ``` ticks") == ["three ``` ticks"]

    def test_quotes_get_a_bar(self) -> None:
        assert PLAIN.mrkdwn("Denied by <@U0BOB>\n> too big") == ["Denied by @bob", "│ too big"]

    def test_colour_only_when_asked(self) -> None:
        assert "\x1b[" not in text(PLAIN.mrkdwn("*b* _i_ `c` <@U0BOB>"))
        coloured = COLOR.mrkdwn("*b* <@U0BOB>")[0]
        assert "\x1b[1mb\x1b[0m" in coloured
        assert "@bob" in coloured


class TestCardinalMessages:
    def test_pending_approval_card(self) -> None:
        card = ApprovalCard(
            APPROVAL_ID,
            summary(),
            (
                PreflightCheck("Template present", True, "debian-12"),
                PreflightCheck("Storage headroom", False, "32 GiB needed, 3 GiB free on local-lvm"),
            ),
        )
        lines = PLAIN.message(approval_card(card), author="Cardinal", when="09:00")
        assert lines[0] == "Cardinal  09:00"
        assert lines[1:3] == ["  Approval: web", "  " + "=" * len("Approval: web")]
        assert "  Size:     medium (2 vCPU · 4096 MiB RAM · 32 GiB disk)" in lines
        assert "  Lifetime: 7d until 2026-03-16 09:00 UTC" in lines
        assert "  Pre-flight" in lines
        assert "    ✓ Template present — debian-12" in lines
        assert "    ✗ Storage headroom — 32 GiB needed, 3 GiB free on local-lvm" in lines
        assert "    staging for the <checkout> team & more" in lines  # escaped by Cardinal, shown as typed
        assert "  [ Approve ]  [ Deny ]" in lines

    def test_decided_card_shows_who_and_no_buttons(self) -> None:
        card = ApprovalCard(
            APPROVAL_ID, summary(), (), decided_by="U0BOB", approved=False, decided_at=T0, reason="too big"
        )
        out = text(PLAIN.message(approval_card(card), author="Cardinal", edited=True))
        assert out.startswith("Cardinal  (edited)")
        assert "🚫 Denied by @bob 2026-03-09 09:00 UTC\n  │ too big" in out
        assert "[ Approve ]" not in out

    def test_buttons_are_coloured_by_style_on_a_terminal(self) -> None:
        card = ApprovalCard(APPROVAL_ID, summary(), ())
        out = text(COLOR.message(approval_card(card), author="Cardinal"))
        assert "\x1b[1;32m[ Approve ]\x1b[0m" in out
        assert "\x1b[1;31m[ Deny ]\x1b[0m" in out

    def test_ready_message_has_fields_the_ssh_line_and_the_link(self) -> None:
        event = ContainerReady(
            "req-1", "web", 20001, "pve2", ("10.20.0.100/24",), "https://127.0.0.1:8006/#v1:0:=lxc%2F20001"
        )
        lines = PLAIN.blocks(ready_result(event)["blocks"])
        assert lines[0] == "✅ web is ready."
        assert "Addresses: `10.20.0.100/24`" in lines
        assert "VMID:      20001" in lines
        assert "Proxmox:   Open in the Proxmox UI (https://127.0.0.1:8006/#v1:0:=lxc%2F20001)" in lines
        assert "    ssh root@10.20.0.100" in lines

    def test_failure_shows_the_error_and_the_task_log_as_code(self) -> None:
        event = TaskFailed(
            "req-3",
            "create",
            20002,
            "pve2",
            "unable to create CT 20002 - no space",
            ("Creating filesystem", "TASK ERROR: unable to create CT 20002 - no space"),
            upid="UPID:pve2:1",
        )
        lines = PLAIN.blocks(failure_result(event)["blocks"])
        assert lines[:2] == ["❌ create of 20002 failed on pve2", "unable to create CT 20002 - no space"]
        assert "Last lines of the task log" in lines
        assert "      TASK ERROR: unable to create CT 20002 - no space" in lines

    def test_thread_root_state_line(self) -> None:
        root = request_thread_root(
            summary(RequestState.CREATING, containers=(ContainerLine("web", 20001, "pve", "creating"),))
        )
        assert PLAIN.state_line(root) == (
            "🛠️ Creating: `web` for @alice — ✔ requested → ✔ approved → ⏳ creating → ○ starting → ○ ready"
        )

    def test_digest_sections_and_capacity_bars(self) -> None:
        digest = Digest(
            generated_at=T0,
            per_owner=(
                OwnerContainers(
                    "U0ALICE", (DigestContainer(20001, "web", "U0ALICE", "running", "pve", None),)
                ),
            ),
            expiring_soon=(),
            pending_approvals=(),
            failed_tasks=(FailedTaskLine("t1", "create", 20002, "pve2", "no space", T0),),
            capacity=(NodeCapacity("pve", "online", 3, 10, 3, 4),),
        )
        lines = PLAIN.message(digest_message(digest), author="Cardinal")
        assert lines[1:3] == ["  Cardinal digest", "  ==============="]
        assert "  Containers per owner" in lines
        assert "    @alice: 1 — `web` (20001)" in lines
        assert "    create of 20002 on pve2: no space" in lines
        assert "    pve (online)  mem `▓▓▓░░░░░░░` 30%  disk `▓▓▓▓▓▓▓▓░░` 75%" in lines

    def test_ephemeral_notice_is_marked(self) -> None:
        lines = PLAIN.message(notice(Notice("Posted the digest.")), author="Cardinal", only_for="bob")
        assert lines == ["Cardinal  🔒 only visible to bob", "  Posted the digest."]

    def test_a_message_without_blocks_shows_its_text(self) -> None:
        assert PLAIN.message({"text": "*hi* <@U0BOB>"}, author="Cardinal") == ["Cardinal", "  hi @bob"]


class TestOtherBlocks:
    def test_context_is_dimmed_and_dividers_are_rules(self) -> None:
        message: list[dict[str, Any]] = [
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "a"}, {"type": "plain_text", "text": "b"}],
            },
            {"type": "divider"},
        ]
        assert PLAIN.blocks(message) == ["a  b", "─" * 24]
        assert COLOR.blocks(message)[0] == "\x1b[2ma  b\x1b[0m"

    def test_accessory_selects_images_rich_text_and_unknown_blocks(self) -> None:
        message: list[dict[str, Any]] = [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Pick one"},
                "accessory": {
                    "type": "static_select",
                    "placeholder": {"type": "plain_text", "text": "Node"},
                    "options": [],
                },
            },
            {"type": "image", "image_url": "https://x.test/a.png", "alt_text": "a graph"},
            {
                "type": "rich_text",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "rich"}]}],
            },
            {"type": "video", "title": "ignored"},
        ]
        assert PLAIN.blocks(message) == ["Pick one  [ ▾ Node ]", "[image: a graph]", "rich", ""]


class TestModals:
    def test_create_modal_with_what_the_person_entered(self) -> None:
        view = create_modal(Policy(), templates=[SIM_TEMPLATE], nodes=["pve"])
        entered = {"hostname": "web", "template": SIM_TEMPLATE, "preset": "medium", "purpose": "staging"}
        lines = PLAIN.view(view, entered, note="only alice sees this")
        assert lines[0] == "┌─ New container  only alice sees this"
        assert "│ Hostname: web" in lines
        assert "│ Template: debian-12-standard_12.12-1_amd64" in lines
        assert "│ Size:     medium — 2 vCPU · 4096 MiB RAM · 32 GiB disk" in lines
        assert "│ Lifetime: 7d" in lines  # the initial choice stays when nothing else was picked
        assert not [line for line in lines if "custom" in line]  # optional and empty: left out
        assert lines[-1] == "└─ [ Cancel ]  [ Request ]"

    def test_loading_modal_shows_the_placeholder(self) -> None:
        lines = PLAIN.view(create_modal(Policy(), templates=None))
        assert "│ Template: ⏳ Loading templates…" in lines


@pytest.mark.parametrize(
    ("value", "width"), [("abc", 3), ("✅ ok", 5), ("🛠️", 2), ("\x1b[1mab\x1b[0m", 2), ("é", 1)]
)
def test_display_width_counts_terminal_columns(value: str, width: int) -> None:
    assert display_width(value) == width


def test_indent_keeps_blank_lines_clean() -> None:
    assert indent(["a", "", "b"], "↳ ") == ["↳ a", "", "  b"]
    assert indent(["a", ""], "│ ", "│ ") == ["│ a", "│"]
