"""The rollback button values are read strictly, resize cards carry only their approval id, and the
builders produce valid messages."""

from __future__ import annotations

import pytest

from bot.containers.results import ResizePlan, ResizeResult
from bot.errors import InputError
from handlers.blocks.approval import resize_approval_card
from handlers.blocks.day2 import resize_result, rollback_value
from handlers.blocks.ids import ACTION_RESIZE_APPROVE
from handlers.container_actions import rollback_value_of
from tests.handlers.helpers import assert_valid_message, text_of

APPROVAL = "0b7c6f2e-4f1d-4c1e-9a53-2f4f0e7d9a10"


def _plan(**overrides: object) -> ResizePlan:
    values: dict[str, object] = {
        "vmid": 10042,
        "hostname": "web",
        "node": "pve",
        "owner": "U0OWNER1",
        "requested_by": "U0OWNER1",
        "cores_before": 1,
        "cores_after": 1,
        "memory_before_mib": 1024,
        "memory_after_mib": 8192,
        "disk_before_gib": 8,
        "disk_add_gib": 10,
        "needs_approval": True,
        "reason": "total memory would be 9216 MiB; the quota is 4096 MiB",
    }
    values.update(overrides)
    return ResizePlan(**values)  # type: ignore[arg-type]


def test_rollback_value_round_trips_and_forgeries_are_refused() -> None:
    assert rollback_value_of(rollback_value(10042, "s20261125-1412")) == (10042, "s20261125-1412")
    for forged in ("10042", "10042:", "10042:1abc", "10042:current", "99:abc", "10042:a b", "10042:../x"):
        with pytest.raises(InputError):
            rollback_value_of(forged)


def test_resize_card_buttons_carry_only_the_approval_id() -> None:
    card = resize_approval_card(_plan(), APPROVAL)
    values = {e["value"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert values == {APPROVAL}


def test_resize_card_shows_before_and_after_and_loses_its_buttons_once_decided() -> None:
    plan = _plan()
    card = resize_approval_card(plan, APPROVAL)
    assert_valid_message(card)
    shown = text_of(card)
    assert "memory 1024 → 8192 MiB" in shown
    assert "disk 8 → 18 GiB" in shown
    assert "cores" not in shown.split("quota")[0].split("asks to resize")[1]
    assert ACTION_RESIZE_APPROVE in str(card["blocks"])
    decided = resize_approval_card(plan, APPROVAL, decided_by="U0APPROV3", approved=True)
    assert_valid_message(decided)
    assert ACTION_RESIZE_APPROVE not in str(decided["blocks"])
    assert "Approved by <@U0APPROV3>" in text_of(decided)


def test_resize_result_mentions_the_disk_task() -> None:
    message = resize_result(ResizeResult(plan=_plan(needs_approval=False), applied=True, upid="UPID:x"))
    assert_valid_message(message)
    assert "The disk is growing" in text_of(message)
