"""Block Kit builders: key content, Slack's limits, and slack_sdk's own validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.containers.results import DestroyPlan
from bot.containers.views import ContainerDetail, ContainerView, TaskView, TemplateEntry, TemplateList
from bot.db.enums import RequestState
from bot.db.records import AuditEvent
from bot.events import (
    ActionApprovalCard,
    ActionDecided,
    ApprovalCard,
    ContainerLine,
    ContainerReady,
    PreflightCheck,
    RequestSummary,
    TaskFailed,
)
from bot.policy import Policy
from handlers.blocks.approval import approval_card, deny_reason_modal, destroy_approval_card, read_deny_reason
from handlers.blocks.catalog import audit_list, tasks_list, templates_list
from handlers.blocks.containers import (
    addresses_message,
    container_list,
    container_status,
    destroy_confirmation,
)
from handlers.blocks.create_modal import (
    CREATE_FIELDS,
    TEMPLATE_UNAVAILABLE_BLOCK,
    create_modal,
    read_create_submission,
    read_private_metadata,
)
from handlers.blocks.events import render_event
from handlers.blocks.help import error_message, help_message
from handlers.blocks.ids import (
    ACTION_APPROVE,
    ACTION_DENY,
    ACTION_DESTROY_APPROVE,
    ACTION_DESTROY_CONFIRM,
    ACTION_DESTROY_DENY,
    ACTION_EXTEND,
)
from handlers.blocks.kit import proxmox_ui_link
from handlers.blocks.progress import failure_result, ready_result, request_thread_root
from tests.fakes.signing import checked, number, plain, selected
from tests.handlers.helpers import (
    assert_valid_message,
    assert_valid_view,
    buttons,
    mrkdwn_of,
    text_of,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEBIAN = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def request(**changes: Any) -> RequestSummary:
    """A typical request for three containers, with changes."""
    base: dict[str, Any] = {
        "request_id": "req-7f3a",
        "requester": "U012AB3CD",
        "state": RequestState.PENDING_APPROVAL,
        "hostnames": ("web-1", "web-2", "web-3"),
        "template": DEBIAN,
        "cores": 1,
        "memory_mib": 1024,
        "disk_gib": 8,
        "purpose": "load test for the shop",
        "expires_at": None,
        "lifetime": timedelta(days=7),
        "preset": "small",
        "requested_at": NOW,
    }
    base.update(changes)
    return RequestSummary(**base)


def card(summary: RequestSummary | None = None, **changes: Any) -> ApprovalCard:
    """A pending approval card for :func:`request`, with changes."""
    base: dict[str, Any] = {"approval_id": "appr-42", "summary": summary or request(), "preflight": CHECKS}
    base.update(changes)
    return ApprovalCard(**base)


CHECKS = (
    PreflightCheck("template present", True, "debian-12-standard"),
    PreflightCheck("storage headroom", True, "local-lvm: 410 GiB free"),
    PreflightCheck("node headroom", True, "pve1: 48 GiB free"),
    PreflightCheck("hostname free", False, "web-1 already exists (10007)"),
    PreflightCheck("VMID available", True, "10042–10044"),
)


class TestHelpAndErrors:
    def test_help_lists_every_subcommand(self) -> None:
        """Help shows each subcommand with its arguments, escaped so <vmid> is not a link."""
        msg = help_message()
        assert_valid_message(msg)
        text = text_of(msg)
        for name in ("create", "list", "status", "reboot", "destroy", "extend", "resize", "rollback"):
            assert f"`/lxc {name}" in text
        assert "&lt;vmid&gt;" in text
        assert "<vmid>" not in text

    def test_error_message_has_what_hint_and_ref(self) -> None:
        """An error says what happened, what to do, and a reference id when there is one."""
        msg = error_message("Container 10042 is locked.", "Wait for the backup to finish.", "a1b2c3")
        assert_valid_message(msg)
        text = text_of(msg)
        assert "Container 10042 is locked." in text
        assert "Wait for the backup to finish." in text
        assert "`a1b2c3`" in text
        assert "a1b2c3" in msg["text"]

    def test_error_message_escapes_and_truncates(self) -> None:
        """Error text cannot ping the channel and never breaks the section limit."""
        msg = error_message("<!channel> " + "x" * 10_000)
        assert_valid_message(msg)
        assert "<!channel>" not in text_of(msg)
        assert "<!channel>" not in msg["text"]
        assert text_of(msg).endswith("…")


class TestCreateModal:
    def test_loading_variant(self) -> None:
        """The modal opens at once with a loading template field; it is valid for Slack."""
        view = create_modal(Policy(), templates=None, metadata={"channel": "C0123ABCD"})
        assert_valid_view(view)
        assert view["callback_id"] == "lxc_create"
        ids = [blk.get("block_id") for blk in view["blocks"]]
        assert TEMPLATE_UNAVAILABLE_BLOCK in ids
        assert "template" not in ids
        assert "Loading templates" in text_of(view)

    def test_full_variant_has_every_field(self) -> None:
        """With templates, the modal asks for everything SPEC §3 lists, under stable block ids."""
        view = create_modal(Policy(), templates=[DEBIAN], nodes=["pve1", "pve2"])
        assert_valid_view(view)
        ids = {blk.get("block_id") for blk in view["blocks"] if blk["type"] == "input"}
        assert ids == set(CREATE_FIELDS)
        assert all(blk["element"]["action_id"] == "value" for blk in view["blocks"] if blk["type"] == "input")

    def _element(self, view: dict[str, Any], block_id: str) -> dict[str, Any]:
        return next(blk["element"] for blk in view["blocks"] if blk.get("block_id") == block_id)

    def test_choices_follow_the_policy(self) -> None:
        """Count, presets, bridges, lifetimes and nodes come from the policy."""
        policy = Policy.model_validate(
            {
                "limits": {"max_count": 3, "default_lifetime": "2d", "max_lifetime": "14d"},
                "placement": {"bridges": ["vmbr1", "vmbr2"], "nodes": ["pve1"]},
            }
        )
        view = create_modal(policy, templates=[DEBIAN], nodes=["pve1", "pve2"], preset="medium")
        assert self._element(view, "count")["max_value"] == "3"
        presets = [o["value"] for o in self._element(view, "preset")["options"]]
        assert presets == ["small", "medium", "large", "custom"]
        assert self._element(view, "preset")["initial_option"]["value"] == "medium"
        assert [o["value"] for o in self._element(view, "bridge")["options"]] == ["vmbr1", "vmbr2"]
        lifetimes = [o["value"] for o in self._element(view, "lifetime")["options"]]
        assert lifetimes == ["1d", "2d", "3d", "7d", "14d"]
        assert self._element(view, "lifetime")["initial_option"]["value"] == "2d"
        assert [o["value"] for o in self._element(view, "node")["options"]] == ["auto", "pve1"]
        vlan = self._element(view, "vlan")
        assert (vlan["min_value"], vlan["max_value"]) == ("1", "4094")

    def test_many_templates_are_capped_at_100_options(self) -> None:
        """A storage with hundreds of templates still gives a valid select."""
        templates = [f"local:vztmpl/t{i}-{'x' * 90}.tar.zst" for i in range(250)]
        view = create_modal(Policy(), templates=templates)
        assert_valid_view(view)
        assert len(self._element(view, "template")["options"]) == 100

    def test_no_templates(self) -> None:
        """An empty template storage says so instead of offering an empty list."""
        view = create_modal(Policy(), templates=[])
        assert_valid_view(view)
        assert "No templates on storage local" in text_of(view)

    def test_private_metadata_stays_small(self) -> None:
        """Realistic metadata is compact JSON well under Slack's 3000 characters; too much is refused."""
        meta = {"channel": "C0123ABCD", "thread_ts": "1700000001.000001", "user": "U012AB3CD", "v": 1}
        view = create_modal(Policy(), templates=[DEBIAN], metadata=meta)
        assert len(view["private_metadata"]) < 3000
        assert read_private_metadata(view["private_metadata"]) == meta
        with pytest.raises(ValueError, match="3000"):
            create_modal(Policy(), metadata={"x": "y" * 3000})

    def test_read_submission(self) -> None:
        """The submission reader returns raw values per field, by block id."""
        values = {
            "hostname": {"value": plain(" web ")},
            "count": {"value": number("3")},
            "template": {"value": selected(DEBIAN)},
            "preset": {"value": selected("custom")},
            "cores": {"value": number("2")},
            "memory_mib": {"value": number("2048")},
            "swap_mib": {"value": number(None)},
            "disk_gib": {"value": number("20")},
            "net_mode": {"value": selected("static", "radio_buttons")},
            "ipv4": {"value": plain("192.0.2.10/24")},
            "gateway": {"value": plain("192.0.2.1")},
            "bridge": {"value": selected("vmbr0")},
            "vlan": {"value": number(None)},
            "ssh_key": {"value": plain("")},
            "password": {"value": checked("generate")},
            "lifetime": {"value": selected("7d")},
            "node": {"value": selected("auto")},
            "purpose": {"value": plain("testing")},
        }
        raw = read_create_submission(values)
        assert raw["hostname"] == "web"
        assert raw["count"] == "3"
        assert raw["template"] == DEBIAN
        assert raw["preset"] == "custom"
        assert (raw["cores"], raw["memory_mib"], raw["swap_mib"], raw["disk_gib"]) == (
            "2",
            "2048",
            None,
            "20",
        )
        assert (raw["net_mode"], raw["ipv4"], raw["gateway"]) == ("static", "192.0.2.10/24", "192.0.2.1")
        assert raw["vlan"] is None
        assert raw["ssh_key"] is None
        assert raw["password"] is True
        assert (raw["lifetime"], raw["node"], raw["purpose"]) == ("7d", "auto", "testing")

    def test_read_submission_while_loading(self) -> None:
        """Submitting before templates arrived yields no template, and missing fields are None."""
        raw = read_create_submission({TEMPLATE_UNAVAILABLE_BLOCK: {"value": selected("__unavailable__")}})
        assert raw["template"] is None
        assert raw["hostname"] is None
        assert raw["password"] is False
        assert set(raw) == set(CREATE_FIELDS)

    def test_private_metadata_garbage(self) -> None:
        """Unreadable private_metadata gives an empty dict, not an exception."""
        assert read_private_metadata("") == {}
        assert read_private_metadata("not json") == {}
        assert read_private_metadata("[1]") == {}


class TestApproval:
    def test_card_shows_who_what_why_and_checks(self) -> None:
        """The card names the requester, the request, the purpose and every pre-flight result."""
        msg = approval_card(card())
        assert_valid_message(msg)
        text = text_of(msg)
        assert "<@U012AB3CD>" in text
        assert "3 × `web-1` … `web-3`" in text
        assert "debian-12-standard_12.7-1_amd64" in text
        assert "small (1 vCPU · 1024 MiB RAM · 8 GiB disk)" in text
        assert "DHCP on vmbr0" in text
        assert "automatic" in text
        assert "7d" in text
        assert "load test for the shop" in text
        assert "✓ template present" in text
        assert "✗ hostname free — web-1 already exists (10007)" in text
        assert "req-7f3a" in text

    def test_static_network_swap_and_node(self) -> None:
        """A static address, VLAN, swap and a chosen node are shown as asked."""
        summary = request(
            ipv4="192.0.2.10/24", gateway="192.0.2.1", vlan=20, swap_mib=512, node="pve2", hostnames=("db",)
        )
        text = text_of(approval_card(card(summary)))
        assert "192.0.2.10/24 via 192.0.2.1 on vmbr0, VLAN 20" in text
        assert "512 MiB swap" in text
        assert "pve2" in text
        assert "`db`" in text

    def test_buttons_carry_only_the_approval_id(self) -> None:
        """Approve is primary, Deny is danger, and both values are just the approval id."""
        msg = approval_card(card())
        actions = next(blk for blk in msg["blocks"] if blk["type"] == "actions")
        buttons = {el["action_id"]: el for el in actions["elements"]}
        assert buttons[ACTION_APPROVE]["style"] == "primary"
        assert buttons[ACTION_DENY]["style"] == "danger"
        assert {el["value"] for el in buttons.values()} == {"appr-42"}

    @pytest.mark.parametrize("bad", ["", "a b", "x" * 256])
    def test_bad_approval_id(self, bad: str) -> None:
        """An approval id that could not round-trip through a button is refused."""
        with pytest.raises(ValueError, match="approval_id"):
            approval_card(card(approval_id=bad))

    def test_decided_variant_has_no_buttons(self) -> None:
        """Once decided the card shows who decided, when and why, and the buttons are gone."""
        denied = card(
            decided_by="U0APPROVER", approved=False, decided_at=NOW, reason="use the <staging> pool"
        )
        msg = approval_card(denied)
        assert_valid_message(msg)
        assert not [blk for blk in msg["blocks"] if blk["type"] == "actions"]
        text = text_of(msg)
        assert "🚫 Denied by <@U0APPROVER>" in text
        assert f"<!date^{int(NOW.timestamp())}^" in text
        assert "use the &lt;staging&gt; pool" in text
        assert msg["text"].startswith("Denied:")
        approved = approval_card(card(preflight=(), decided_by="U0APPROVER", approved=True, decided_at=NOW))
        assert_valid_message(approved)
        assert "✅ Approved by <@U0APPROVER>" in text_of(approved)
        assert "Pre-flight" not in text_of(approved)  # the decided card is rebuilt without checks

    def test_user_text_cannot_ping_or_link(self) -> None:
        """Hostnames, purpose and a forged requester id are escaped."""
        summary = request(
            hostnames=("<!channel>",), purpose="<https://evil.example|click>", requester="<!here>"
        )
        msg = approval_card(card(summary))
        text = "\n".join(mrkdwn_of(msg["blocks"])) + msg["text"]
        assert "&lt;!channel&gt;" in text
        for bad in ("<!channel>", "<!here>", "<https://evil"):
            assert bad not in text

    def test_huge_purpose_and_checks_stay_within_limits(self) -> None:
        """A 10k-character purpose, long hostnames and many checks still give a valid message."""
        checks = tuple(PreflightCheck(f"check {i}", i % 2 == 0, "d" * 200) for i in range(40))
        summary = request(purpose="p" * 10_000, hostnames=tuple("h" * 300 + str(i) for i in range(500)))
        msg = approval_card(card(summary, preflight=checks))
        assert_valid_message(msg)
        assert any(blk["type"] == "actions" for blk in msg["blocks"])
        assert "more check(s)" in text_of(msg)

    def test_deny_reason_modal(self) -> None:
        """The deny modal asks for a reason and carries the approval id in private_metadata."""
        view = deny_reason_modal("appr-42", "web")
        assert_valid_view(view)
        assert view["callback_id"] == "lxc_deny_reason"
        assert read_private_metadata(view["private_metadata"]) == {"approval_id": "appr-42"}
        assert read_deny_reason({"reason": {"value": plain("  too big  ")}}) == "too big"
        assert read_deny_reason({"reason": {"value": plain("   ")}}) is None


def ready(**changes: Any) -> ContainerReady:
    """A ready container with an IPv6 and an IPv4 address, with changes."""
    base: dict[str, Any] = {
        "request_id": "req-7f3a",
        "hostname": "web-1",
        "vmid": 10042,
        "node": "pve1",
        "ips": ("fd00::5/64", "10.0.0.5/24"),
        "ui_url": proxmox_ui_link("https://pve.example.com:8006/", 10042),
    }
    base.update(changes)
    return ContainerReady(**base)


def failed(**changes: Any) -> TaskFailed:
    """A failed creation, with changes."""
    base: dict[str, Any] = {
        "request_id": "req-7f3a",
        "action": "create",
        "vmid": 10042,
        "node": "pve1",
        "error": "Creating the container failed.",
    }
    base.update(changes)
    return TaskFailed(**base)


class TestThread:
    @pytest.mark.parametrize(
        ("state", "emoji", "progress"),
        [
            ("requested", "📝", "✔ requested → ○ approved"),
            ("pending_approval", "⏳", "⏳ *awaiting approval*"),
            ("approved", "👍", "✔ approved → ○ creating"),
            ("creating", "🛠️", "✔ approved → ⏳ *creating* → ○ starting"),
            ("starting", "🚀", "✔ creating → ⏳ *starting* → ○ ready"),
            ("ready", "✅", "✔ starting → ✔ ready"),
            ("failed", "❌", "❌ failed"),
            ("partially_failed", "⚠️", "⚠️ partially failed"),
            ("denied", "🚫", "🚫 denied"),
            ("cancelled", "🗑️", "🗑️ cancelled"),
        ],
    )
    def test_root_message_per_state(self, state: str, emoji: str, progress: str) -> None:
        """The thread root shows the state with its emoji and where the request is in its progress."""
        msg = request_thread_root(request(state=RequestState(state)))
        assert_valid_message(msg)
        assert msg["text"].startswith(emoji)
        assert progress in text_of(msg)

    def test_every_request_state_has_an_emoji_and_label(self) -> None:
        """No request state can make the thread root fail."""
        for state in RequestState:
            assert_valid_message(request_thread_root(request(state=state)))

    def test_root_lists_each_container(self) -> None:
        """Each container line shows hostname, vmid, node, state emoji and addresses."""
        lines = (
            ContainerLine("web-1", 10042, "pve1", "running", ("10.0.0.5/24",)),
            ContainerLine("web-2", None, None, "queued"),
            ContainerLine("web-3", 10044, "pve2", "failed"),
        )
        msg = request_thread_root(request(state=RequestState.PARTIALLY_FAILED, containers=lines))
        assert_valid_message(msg)
        text = text_of(msg)
        assert "🟢 `web-1` · *10042* · pve1 · running · `10.0.0.5/24`" in text
        assert "🕓 `web-2` · _no vmid yet_ · _node pending_ · queued · no IP" in text
        assert "❌ `web-3` · *10044* · pve2 · failed" in text

    def test_root_shows_the_denial(self) -> None:
        """A denied request says who denied it and why, escaped."""
        summary = request(state=RequestState.DENIED, decided_by="U0APPROVER", decision_reason="<!here> no")
        text = text_of(request_thread_root(summary))
        assert "Denied by <@U0APPROVER>" in text
        assert "&lt;!here&gt; no" in text

    def test_root_with_thousands_of_containers_fits(self) -> None:
        """A huge request is cut with a note, within every limit."""
        lines = tuple(
            ContainerLine(f"host-{i}-" + "a" * 50, 10000 + i, "pve1", "running", ("10.0.0.1/24",) * 9)
            for i in range(3000)
        )
        msg = request_thread_root(request(containers=lines, hostnames=tuple(c.hostname for c in lines)))
        assert_valid_message(msg)
        assert "more container(s) not shown" in text_of(msg)

    def test_ready_result(self) -> None:
        """The ready reply has the addresses, an ssh line for the IPv4, node, vmid and a UI link."""
        msg = ready_result(ready(expires_at=NOW))
        assert_valid_message(msg)
        text = text_of(msg)
        assert "```ssh root@10.0.0.5```" in text
        assert "`fd00::5/64`" in text
        assert "pve1" in text
        assert "10042" in text
        assert "<https://pve.example.com:8006/#v1:0:=lxc%2F10042|Open in the Proxmox UI>" in text
        assert "ssh root@10.0.0.5" in msg["text"]

    def test_ready_without_address(self) -> None:
        """Without an address yet the reply says how to look again instead of a broken ssh line."""
        msg = ready_result(ready(ips=()))
        assert_valid_message(msg)
        assert "ssh root@" not in text_of(msg)
        assert "`/lxc ip 10042`" in text_of(msg)

    def test_ready_note_is_shown(self) -> None:
        """The domain's note replaces the default hint."""
        msg = ready_result(ready(ips=(), note="no address yet — `/lxc ip 10042`"))
        assert "no address yet — `/lxc ip 10042`" in text_of(msg)
        assert "looks again" not in text_of(msg)

    def test_ready_with_a_bad_url_shows_no_link(self) -> None:
        """A UI URL that is not http(s) is shown as text, never as a link."""
        text = text_of(ready_result(ready(ui_url="javascript:<!channel>")))
        assert "<!channel>" not in text
        assert "|Open in the Proxmox UI>" not in text

    def test_failure_result_keeps_the_last_log_lines(self) -> None:
        """A failure shows the error and the end of the task log in a code block, within limits."""
        log = (*(f"line {i}: " + "x" * 250 for i in range(1000)), "TASK ERROR: storage 'local-lvm' is full")
        msg = failure_result(failed(log_tail=log, upid="UPID:pve1:0001:create"))
        assert_valid_message(msg)
        text = text_of(msg)
        assert "❌ *create of 10042* failed on pve1" in text
        assert "Creating the container failed." in text
        assert "TASK ERROR: storage 'local-lvm' is full" in text
        assert "line 0:" not in text
        assert "```…\n" in text
        assert "UPID:pve1:0001:create" in text

    def test_failure_without_log(self) -> None:
        """A failure with no task log still explains the error."""
        msg = failure_result(failed(error="Proxmox is unreachable.", vmid=None, node=None))
        assert_valid_message(msg)
        assert "```" not in text_of(msg)
        assert "Proxmox is unreachable." in text_of(msg)

    def test_timeout_says_timed_out(self) -> None:
        """A task that never finished is reported as timed out, not as failed."""
        msg = failure_result(failed(timed_out=True, error="No answer after 10 minutes."))
        assert_valid_message(msg)
        assert "timed out" in text_of(msg)
        assert "timed out" in msg["text"]
        assert "failed" not in text_of(msg)


def view(vmid: int = 10042, **changes: Any) -> ContainerView:
    """A running container with an address, an owner and an expiry in two hours, with changes."""
    base: dict[str, Any] = {
        "vmid": vmid,
        "hostname": "web-1",
        "status": "running",
        "node": "pve1",
        "ips": ("10.0.0.5/24",),
        "owner_id": "U012AB3CD",
        "expires_at": NOW + timedelta(hours=2),
    }
    base.update(changes)
    return ContainerView(**base)


def detail(**changes: Any) -> ContainerDetail:
    """A running container in detail, with changes."""
    base: dict[str, Any] = {
        "vmid": 10042,
        "hostname": "web-1",
        "status": "running",
        "node": "pve1",
        "ips": ("10.0.0.5",),
        "owner_id": "U012AB3CD",
        "expires_at": NOW + timedelta(days=3),
        "cores": 2,
        "memory_mib": 2048,
        "disk_gib": 16,
        "template": DEBIAN,
        "uptime": timedelta(hours=5),
        "purpose": "shop",
        "lock": None,
    }
    base.update(changes)
    return ContainerDetail(**base)


def plan(**changes: Any) -> DestroyPlan:
    """The owner's destroy plan for 10042, with changes."""
    base: dict[str, Any] = {
        "vmid": 10042,
        "hostname": "web-1",
        "node": "pve1",
        "owner": "U012AB3CD",
        "requested_by": "U012AB3CD",
        "needs_approval": False,
        "confirm_text": "Destroy web-1 (10042) on pve1? Its disks are deleted; this cannot be undone.",
    }
    base.update(changes)
    return DestroyPlan(**base)


class TestLists:
    def test_container_list_row(self) -> None:
        """Each row shows status, vmid, hostname, node, IP, owner and expiry."""
        msg = container_list([view()], now=NOW)
        assert_valid_message(msg)
        assert "🟢 *10042* `web-1` · pve1 · `10.0.0.5` · <@U012AB3CD> · ⚠️ expires" in text_of(msg)

    def test_expired_and_stopped(self) -> None:
        """Stopped containers and past expiries are marked."""
        row = view(status="stopped", ips=(), owner_id=None, expires_at=NOW - timedelta(days=1))
        text = text_of(container_list([row], scope="all", now=NOW))
        assert "🔴" in text
        assert "⚠️ expired" in text
        assert "no IP" in text
        assert "unowned" in text

    def test_last_known_state_is_flagged(self) -> None:
        """When Proxmox could not be asked the list says it shows the last known state."""
        text = text_of(container_list([view(live=False, status="running")], now=NOW))
        assert "last known state" in text
        assert "last known state" not in text_of(container_list([view()], now=NOW))

    def test_empty_list_tells_how_to_start(self) -> None:
        """An empty personal list points to /lxc create."""
        msg = container_list([])
        assert_valid_message(msg)
        assert "`/lxc create`" in text_of(msg)

    def test_thousands_of_containers_fit(self) -> None:
        """A huge list is cut with a note of how many were left out, within every limit."""
        rows = [view(10000 + i, hostname=f"host-{i}-" + "a" * 50) for i in range(5000)]
        msg = container_list(rows, scope="all", now=NOW)
        assert_valid_message(msg)
        assert "more not shown" in text_of(msg)
        assert "(5000)" in text_of(msg)

    def test_hostile_hostname_is_escaped(self) -> None:
        """A hostname from Proxmox cannot mention @channel or form a link."""
        assert "<!channel>" not in text_of(container_list([view(hostname="<!channel>")]))
        assert "<!channel>" not in "".join(mrkdwn_of(container_status(detail(hostname="<!channel>"))))

    def test_status_detail(self) -> None:
        """The detail shows state, node, IPs, owner, expiry, size, template, uptime, lock and a UI link."""
        msg = container_status(detail(lock="backup"), ui_base_url="https://pve.example:8006/", now=NOW)
        assert_valid_message(msg)
        text = text_of(msg)
        for part in (
            "web-1 (10042)",
            "🟢 running",
            "pve1",
            "`10.0.0.5`",
            "<@U012AB3CD>",
            "expires <!date^",
            "2 vCPU · 2048 MiB · 16 GiB",
            "`debian-12-standard_12.7-1_amd64`",
            "5h",
            "🔒 backup",
            "<https://pve.example:8006/#v1:0:=lxc%2F10042|Open in the Proxmox UI>",
            "shop",
        ):
            assert part in text
        assert buttons(msg) == []  # no quick actions unless asked for

    def test_status_without_ui_url_has_no_link(self) -> None:
        """No base URL, no link (never a relative or empty one)."""
        assert "Proxmox UI" not in text_of(container_status(detail()))

    def test_quick_actions_of_a_running_container(self) -> None:
        """Stop, reboot, extend and destroy (behind a confirmation); the buttons carry only ids."""
        msg = container_status(detail(), show_actions=True)
        assert_valid_message(msg)
        found = {btn["action_id"]: btn for btn in buttons(msg)}
        assert set(found) == {
            "lxc_power.stop",
            "lxc_power.reboot",
            ACTION_EXTEND,
            ACTION_DESTROY_CONFIRM,
        }
        assert found["lxc_power.stop"]["value"] == "10042:stop"
        assert found[ACTION_EXTEND]["value"] == "10042:3d"
        destroy = found[ACTION_DESTROY_CONFIRM]
        assert destroy["value"] == "10042"
        assert destroy["style"] == "danger"
        assert "cannot be undone" in destroy["confirm"]["text"]["text"]

    def test_stopped_container_offers_start(self) -> None:
        """A stopped container gets Start instead of Stop/Reboot."""
        ids = [
            btn["action_id"] for btn in buttons(container_status(detail(status="stopped"), show_actions=True))
        ]
        assert "lxc_power.start" in ids
        assert "lxc_power.stop" not in ids

    def test_templates_list(self) -> None:
        """Templates on storage and downloadable ones are listed separately."""
        templates = TemplateList(
            storage="local",
            node="pve1",
            available=(TemplateEntry("debian", DEBIAN, 126 * 1024**2),),
            downloadable=(
                TemplateEntry("alpine-3.20-default_20240908_amd64.tar.xz", description="Alpine Linux"),
            ),
        )
        msg = templates_list(templates)
        assert_valid_message(msg)
        text = text_of(msg)
        assert "Templates on local" in text
        assert "`debian-12-standard_12.7-1_amd64` · 126 MiB" in text
        assert "*Downloadable*" in text
        assert "Alpine Linux" in text

    def test_templates_held_by_some_nodes_say_where(self) -> None:
        """The template storage is per node: a template only some nodes hold names them."""
        templates = TemplateList(
            storage="local",
            node="pve1",
            available=(TemplateEntry("debian", DEBIAN, 126 * 1024**2, nodes=("pve1", "pve3")),),
            downloadable=(),
        )
        text = text_of(templates_list(templates))
        assert "`debian-12-standard_12.7-1_amd64` · 126 MiB · on pve1, pve3" in text

    def test_modal_names_the_nodes_holding_a_template(self) -> None:
        view = create_modal(
            Policy(), templates=[DEBIAN], nodes=["pve1", "pve2"], template_nodes={DEBIAN: "pve2"}
        )
        [block] = [x for x in view["blocks"] if x.get("block_id") == "template"]
        assert block["element"]["options"][0]["text"]["text"] == "debian-12-standard_12.7-1_amd64 (pve2)"

    def test_many_templates_fit(self) -> None:
        """Hundreds of templates are cut within limits."""
        many = tuple(TemplateEntry(f"t{i}", f"local:vztmpl/t{i}-{'x' * 100}.tar.zst") for i in range(600))
        msg = templates_list(TemplateList("local", "pve1", many, many))
        assert_valid_message(msg)
        assert "more on local" in text_of(msg)

    def test_tasks_list(self) -> None:
        """Tasks show their state, kind, vmid, node and, for failures, the exit status."""
        tasks = [
            TaskView("UPID:a", "vzcreate", "pve1", "running", NOW, vmid=10042, user_id="U012AB3CD"),
            TaskView(
                None, "vzstart", "pve2", "failed", NOW, vmid=10043, exitstatus="startup for container failed"
            ),
        ]
        msg = tasks_list(tasks)
        assert_valid_message(msg)
        text = text_of(msg)
        assert "⏳ *vzcreate 10042* on pve1" in text
        assert "❌ *vzstart 10043* on pve2" in text
        assert "startup for container failed" in text
        assert msg["text"] == "Tasks: 1 running, 1 finished"
        assert_valid_message(tasks_list([]))

    def test_audit_list(self) -> None:
        """Audit events show when, who (a mention, or the system as text), what and which container."""
        events = [
            AuditEvent(2, NOW, "U012AB3CD", "container.stop", 10042, None, "UPID:x", {"node": "pve1"}),
            AuditEvent(
                1, NOW, "cardinal", "container.expiry_reminder", 10042, None, None, {"note": "<!here>"}
            ),
        ]
        msg = audit_list(events)
        assert_valid_message(msg)
        text = text_of(msg)
        assert "<@U012AB3CD> · `container.stop` · CT 10042 · node=pve1" in text
        assert "cardinal · `container.expiry_reminder`" in text
        assert "<!here>" not in text
        assert "No audit events." in text_of(audit_list([]))

    def test_long_audit_fits(self) -> None:
        """Many long events stay within the message limits."""
        events = [
            AuditEvent(i, NOW, "U012AB3CD", "container.extended", 10042, None, None, {"x": "y" * 500})
            for i in range(500)
        ]
        assert_valid_message(audit_list(events))

    def test_addresses(self) -> None:
        """Addresses are listed with an ssh line; none found says what to do."""
        text = text_of(addresses_message(10042, ["10.0.0.5", "2001:db8::5"]))
        assert "`10.0.0.5`, `2001:db8::5`" in text
        assert "ssh root@10.0.0.5" in text
        assert "/lxc ip 10042" in text_of(addresses_message(10042, []))

    def test_metadata_json_is_compact(self) -> None:
        """private_metadata uses compact JSON so more fits."""
        view = create_modal(Policy(), metadata={"a": 1, "b": "c"})
        assert view["private_metadata"] == json.dumps({"a": 1, "b": "c"}, separators=(",", ":"))


class TestDestroy:
    def test_owner_confirmation(self) -> None:
        """One danger button "Destroy <hostname>" behind a Slack confirm dialog, carrying only the vmid."""
        msg = destroy_confirmation(plan())
        assert_valid_message(msg)
        [button] = buttons(msg)
        assert button["action_id"] == ACTION_DESTROY_CONFIRM
        assert button["text"]["text"] == "Destroy web-1"
        assert button["value"] == "10042"
        assert button["style"] == "danger"
        assert button["confirm"]["confirm"]["text"] == "Destroy"
        assert "cannot be undone" in text_of(msg)

    def test_non_owner_asks_an_approver(self) -> None:
        """For someone else's container the button asks an approver instead; the owner's mention stays."""
        text = "web-1 (10042) belongs to <@U0OWNER1>. Destroying it needs an approver's decision; ask for it?"
        msg = destroy_confirmation(plan(needs_approval=True, requested_by="U0OTHER2", confirm_text=text))
        assert_valid_message(msg)
        [button] = buttons(msg)
        assert button["text"]["text"] == "Ask an approver to destroy"
        assert button["value"] == "10042"
        assert "<@U0OWNER1>" in text_of(msg)

    def test_hostile_hostname_in_confirmation(self) -> None:
        """A hostname cannot ping the channel from the confirmation text."""
        msg = destroy_confirmation(plan(hostname="<!channel>", confirm_text="Destroy <!channel> (10042)?"))
        assert_valid_message(msg)
        assert "<!channel>" not in "".join(mrkdwn_of(msg))

    def test_approval_card_pending_and_decided(self) -> None:
        """Pending: Approve destroy / Deny valued only by the approval id; decided: who decided, no
        buttons."""
        p = plan(needs_approval=True, requested_by="U0OTHER2", owner="U0OWNER1")
        approval = "0b7c6f2e-4f1d-4c1e-9a53-2f4f0e7d9a10"
        pending = destroy_approval_card(p, approval)
        assert_valid_message(pending)
        assert [(x["action_id"], x["value"]) for x in buttons(pending)] == [
            (ACTION_DESTROY_APPROVE, approval),
            (ACTION_DESTROY_DENY, approval),
        ]
        assert "<@U0OTHER2> asks to destroy `web-1` (10042)" in text_of(pending)
        assert "<@U0OWNER1>" in text_of(pending)
        decided = destroy_approval_card(p, approval, decided_by="U0APPROV3", approved=False)
        assert_valid_message(decided)
        assert buttons(decided) == []
        assert "Denied by <@U0APPROV3>" in text_of(decided)

    def test_approval_card_event_renders_the_same_card(self) -> None:
        """The domain's ActionApprovalCard (posted and revised through the outbox) is this card."""
        p = plan(needs_approval=True, requested_by="U0OTHER2", owner="U0OWNER1")
        event = ActionApprovalCard("0b7c6f2e-4f1d-4c1e-9a53-2f4f0e7d9a10", p, decided_by="U0APPROV3")
        assert render_event(event) == destroy_approval_card(p, event.approval_id, decided_by="U0APPROV3")
        told = render_event(ActionDecided(p, "U0APPROV3", approved=True))
        assert "<@U0APPROV3> approved destroying web-1 (10042)" in told["text"]

    def test_long_hostname_fits_button_limits(self) -> None:
        """The button label stays within Slack's 75 characters."""
        msg = destroy_confirmation(plan(hostname="h" * 63))
        assert_valid_message(msg)
        assert len(buttons(msg)[0]["text"]["text"]) <= 75
