"""What a refused person reads: which action on which container, who may do it, and what to do now."""

from __future__ import annotations

import pytest

from bot.access import AccessDenied, Actor, require_approve, require_operate
from tests.day2.test_access import CT


@pytest.mark.parametrize("action", ["stop", "reboot", "extend", "snapshot"])
def test_operate_refusal_names_the_action_the_container_and_its_owner(action: str) -> None:
    with pytest.raises(AccessDenied) as info:
        require_operate(Actor("U0OTHER2"), CT, action)
    assert info.value.what == f"Only the owner <@U0OWNER1> or an approver may {action} web-1 (10001)."
    assert info.value.hint == f"Ask <@U0OWNER1> or an approver to {action} it."
    assert info.value.user_message == f"{info.value.what}\n{info.value.hint}"


def test_owner_and_approver_pass_the_operate_check() -> None:
    require_operate(Actor("U0OWNER1"), CT, "stop")
    require_operate(Actor("U0APPROV3", is_approver=True), CT, "stop")


def test_non_approver_is_told_an_approver_must_decide() -> None:
    with pytest.raises(AccessDenied) as info:
        require_approve(Actor("U0OTHER2"), "U0OWNER1")
    assert info.value.what == "Only approvers may decide this request."
    assert info.value.hint == "An approver listed in Cardinal's policy has to decide it."


def test_self_approval_is_refused_and_points_to_another_approver() -> None:
    with pytest.raises(AccessDenied) as info:
        require_approve(Actor("U0APPROV3", is_approver=True), "U0APPROV3")
    assert info.value.what == "You cannot approve your own request."
    assert info.value.hint == "Another approver has to decide it."


def test_a_refusal_without_its_own_hint_points_to_the_owner_or_an_approver() -> None:
    assert AccessDenied("nope").hint == "Ask the container's owner or an approver."
