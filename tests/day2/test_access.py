"""Authorization rules: owner or approver operate; only owners destroy directly; no self-approval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.access import (
    AccessDenied,
    Actor,
    may_approve,
    may_destroy_directly,
    may_operate,
    require_approve,
    require_operate,
)
from bot.db import Container, ContainerState

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CT = Container(
    vmid=10001,
    node="pve",
    hostname="web-1",
    request_id=None,
    owner="U0OWNER1",
    state=ContainerState.RUNNING,
    expires_at=None,
    ip_addresses=[],
    thread_channel=None,
    thread_ts=None,
    created_at=NOW,
    updated_at=NOW,
    last_seen_at=None,
    destroyed_at=None,
)


def test_owner_and_approver_may_operate_others_may_not() -> None:
    assert may_operate(Actor("U0OWNER1"), CT)
    assert may_operate(Actor("U0APPROV3", is_approver=True), CT)
    assert not may_operate(Actor("U0OTHER2"), CT)


def test_refusal_names_who_may() -> None:
    with pytest.raises(AccessDenied) as info:
        require_operate(Actor("U0OTHER2"), CT, "stop")
    assert "<@U0OWNER1>" in info.value.what
    assert "approver" in info.value.what


def test_only_the_owner_destroys_directly() -> None:
    assert may_destroy_directly(Actor("U0OWNER1"), CT)
    assert not may_destroy_directly(Actor("U0APPROV3", is_approver=True), CT)


def test_approval_needs_an_approver_who_is_not_the_requester() -> None:
    approver = Actor("U0APPROV3", is_approver=True)
    assert may_approve(approver, "U0OTHER2")
    assert not may_approve(approver, "U0APPROV3")
    assert not may_approve(Actor("U0OTHER2"), "U0OWNER1")
    with pytest.raises(AccessDenied, match="your own"):
        require_approve(approver, "U0APPROV3")
    with pytest.raises(AccessDenied, match="Only approvers"):
        require_approve(Actor("U0OTHER2"), "U0OWNER1")
    require_approve(approver, "U0OTHER2")
