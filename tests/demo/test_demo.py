"""``cardinal demo`` end to end: the real app, simulator and stand-in, the story as a reader sees it."""

from __future__ import annotations

import asyncio
import io
import re

import pytest

from cardinal_sim.demo.console import Console
from cardinal_sim.demo.story import run_demo, use_color

#: Generous: the demo takes a few seconds; this only stops a hung run from hanging the suite.
BOUND = 120.0


class Terminal(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def demo_run(restore_logging: None) -> tuple[int, str, str]:
    """Run the whole demo once for this module (output and log stream captured, no colour)."""
    out, err = io.StringIO(), io.StringIO()

    async def play() -> int:
        return await asyncio.wait_for(run_demo(out=out, err=err), BOUND)

    code = asyncio.run(play())
    return code, out.getvalue(), err.getvalue()


def after(text: str, start: int, needle: str) -> int:
    """Position of ``needle`` in ``text`` after ``start``; fails the test when it is not there."""
    at = text.find(needle, start)
    assert at >= 0, f"{needle!r} does not follow position {start}"
    return at


def test_the_demo_runs_to_the_end(demo_run: tuple[int, str, str]) -> None:
    code, out, _ = demo_run
    assert code == 0
    assert "That was the real Cardinal." in out


def test_the_story_reads_in_order(demo_run: tuple[int, str, str]) -> None:
    _, out, _ = demo_run
    at = after(out, 0, "#lab ")
    at = after(out, at, "alice: /lxc create")
    at = after(out, at, "┌─ New container")
    at = after(out, at, "#approvals ")
    at = after(out, at, "Approval: web")
    at = after(out, at, "bob clicks [ Approve ]")
    at = after(out, at, "✅ Approved by @bob")
    at = after(out, at, "✅ web is ready.")
    at = after(out, at, "carol: /lxc create")
    at = after(out, at, "bob clicks [ Deny ]")
    at = after(out, at, "@carol your request was denied")
    at = after(out, at, "dave: /lxc create")
    at = after(out, at, "❌ create of")
    at = after(out, at, "bob: /lxc digest")
    after(out, at, "Cardinal digest")


def test_the_approval_card_shows_the_preflight_checks_and_buttons(demo_run: tuple[int, str, str]) -> None:
    _, out, _ = demo_run
    card = out[out.index("Approval: web") : out.index("bob clicks [ Approve ]")]
    checks = [line.strip() for line in card.splitlines() if line.strip().startswith("✓")]
    assert [c.split(" — ")[0] for c in checks] == [
        "✓ Template present",
        "✓ Storage headroom",
        "✓ Node headroom",
        "✓ Hostname free",
        "✓ VMID available",
    ]
    assert "[ Approve ]  [ Deny ]" in card
    assert "staging for the checkout team" in card
    assert "20 GiB on local-lvm at /data" in card  # the medium preset's data volume


def test_the_thread_walks_through_the_states_to_ready(demo_run: tuple[int, str, str]) -> None:
    _, out, _ = demo_run
    story = out[out.index("bob clicks [ Approve ]") : out.index("carol: /lxc create")]
    at = after(story, 0, "↳ Cardinal")  # the outcome is told in Alice's thread
    at = after(story, at, "@alice your request was approved by @bob")
    at = after(story, at, "✎ edited: 🛠️ Creating: `web`")
    at = after(story, at, "⏳ waiting on Proxmox: vzcreate")
    at = after(story, at, "🚀 Starting: `web`")
    at = after(story, at, "✅ web is ready.")
    after(story, at, "✅ Ready: `web` for @alice")
    ready = story[story.index("✅ web is ready.") :]
    ip = re.search(r"Addresses: `(10\.\d+\.\d+\.\d+)", ready)
    assert ip is not None
    assert f"ssh root@{ip.group(1)}" in ready
    assert re.search(r"Node:\s+pve\d?\n", ready)
    assert re.search(r"VMID:\s+20\d{3}\n", ready)
    assert "Open in the Proxmox UI (https://127.0.0.1:" in ready


def test_waiting_is_one_line_now_and_then_not_a_stream(demo_run: tuple[int, str, str]) -> None:
    _, out, _ = demo_run
    waits = [line for line in out.splitlines() if "⏳ waiting" in line]
    assert waits
    assert len(waits) <= 12
    assert "\r" not in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_the_denial_reaches_the_requester_with_its_reason(demo_run: tuple[int, str, str]) -> None:
    _, out, _ = demo_run
    reason = "64 GiB is more than a load test needs; please use medium and a 3-day lifetime."
    assert f"Reason: {reason}" in out  # what Bob typed in the modal
    assert f"@carol your request was denied by @bob: {reason}" in out
    assert "🚫 Denied: `bigdb` for @carol" in out


def test_the_failure_shows_the_error_and_the_task_log(demo_run: tuple[int, str, str]) -> None:
    _, out, _ = demo_run
    failure = out[out.index("❌ create of") : out.index("bob: /lxc digest")]
    assert "insufficient free space" in failure
    assert "Last lines of the task log" in failure
    assert re.search(r"^ {10,}TASK ERROR: unable to create CT 20\d{3}", failure, re.MULTILINE)
    assert "❌ Failed: `ci-runner` for @dave" in failure


def test_the_digest_is_posted(demo_run: tuple[int, str, str]) -> None:
    _, out, _ = demo_run
    digest = out[out.index("bob: /lxc digest") :]
    for section in ("Containers per owner", "Pending approvals", "Failed tasks (24 h)", "Capacity"):
        assert f"\n    {section}\n" in digest
    assert "@alice: 1 — `web`" in digest
    assert re.search(r"pve \(online\)  mem `[▓░]{10}` \d+%", digest)
    assert "🔒 only visible to bob" in digest


def test_logs_stay_out_of_the_conversation(demo_run: tuple[int, str, str]) -> None:
    _, out, err = demo_run
    assert '"event"' not in out
    assert '"level": "info"' not in err


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert use_color(Terminal(), {}) is True
    assert use_color(Terminal(), {"NO_COLOR": "1"}) is False
    assert use_color(Terminal(), {"TERM": "dumb"}) is False
    assert use_color(io.StringIO(), {}) is False


def test_on_a_terminal_the_progress_line_is_rewritten_in_place() -> None:
    screen = Terminal()
    console = Console(screen, tty=True)
    console.progress("⏳ waiting on Proxmox: vzcreate 20001 on pve …", detail="3s")
    console.progress("⏳ waiting on Proxmox: vzcreate 20001 on pve …", detail="3s")  # unchanged: no write
    console.progress("⏳ waiting on Proxmox: vzcreate 20001 on pve …", detail="4s")
    console.line("✅ web is ready.")
    assert screen.getvalue() == (
        "\r\x1b[K  ⏳ waiting on Proxmox: vzcreate 20001 on pve … 3s"
        "\r\x1b[K  ⏳ waiting on Proxmox: vzcreate 20001 on pve … 4s"
        "\r\x1b[K✅ web is ready.\n"
    )


def test_elsewhere_the_progress_line_is_printed_when_it_changes() -> None:
    stream = io.StringIO()
    console = Console(stream, tty=False)
    for _ in range(3):
        console.progress("⏳ waiting on Proxmox: vzstart 20001 on pve …", detail="1s")
    console.progress(None)
    console.progress("⏳ waiting for CT 20001 on pve to get a DHCP lease …")
    assert stream.getvalue().splitlines() == [
        "  ⏳ waiting on Proxmox: vzstart 20001 on pve …",
        "  ⏳ waiting for CT 20001 on pve to get a DHCP lease …",
    ]
