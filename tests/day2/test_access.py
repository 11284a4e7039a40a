"""Authorization rules: owner or approver operate; only owners destroy directly; no self-approval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.access import (
    AccessDenied,
    Actor,
    digest_delivery,
    may_approve,
    may_destroy_directly,
    may_operate,
    require_approve,
    require_operate,
    require_view,
    require_view_all,
)
from bot.db import Container, ContainerState
from bot.policy import Policy

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


OWNER = Actor("U0OWNER1")
STRANGER = Actor("U0OTHER2")
APPROVER = Actor("U0APPROV3", is_approver=True)
DIGESTS = frozenset({"C0DIGEST1"})


def test_by_default_only_the_owner_and_approvers_see_a_container() -> None:
    default = Policy().access.others_containers
    assert default == "owner-and-approvers"
    require_view(OWNER, CT, 10001, default)
    require_view(APPROVER, CT, 10001, default)
    with pytest.raises(AccessDenied) as info:
        require_view(STRANGER, CT, 10001, default)
    assert info.value.what == "Cardinal has no container 10001 that you may see."
    assert "U0OWNER1" not in f"{info.value.what} {info.value.hint}"
    assert "web-1" not in f"{info.value.what} {info.value.hint}"


def test_a_missing_container_is_refused_like_someone_elses() -> None:
    with pytest.raises(AccessDenied) as missing:
        require_view(OWNER, None, 10001, "owner-and-approvers")
    with pytest.raises(AccessDenied) as theirs:
        require_view(STRANGER, CT, 10001, "owner-and-approvers")
    assert (missing.value.what, missing.value.hint) == (theirs.value.what, theirs.value.hint)
    require_view(APPROVER, None, 10001, "owner-and-approvers")  # approvers learn "not managed" instead


def test_everyone_may_see_but_not_operate() -> None:
    require_view(STRANGER, CT, 10001, "everyone")
    require_view_all(STRANGER, "everyone")
    assert not may_operate(STRANGER, CT)


def test_only_approvers_see_everyones_containers_by_default() -> None:
    require_view_all(APPROVER, "owner-and-approvers")
    with pytest.raises(AccessDenied, match="Only approvers"):
        require_view_all(OWNER, "owner-and-approvers")


def test_digest_is_posted_only_in_a_digest_channel() -> None:
    for who in (STRANGER, APPROVER):
        assert digest_delivery(
            who, "C0DIGEST1", digest_channels=DIGESTS, visibility="owner-and-approvers"
        ) == ("channel")
    assert digest_delivery(
        APPROVER, "C0RANDOM1", digest_channels=DIGESTS, visibility="owner-and-approvers"
    ) == ("asker")
    assert digest_delivery(STRANGER, "C0RANDOM1", digest_channels=DIGESTS, visibility="everyone") == "asker"
    with pytest.raises(AccessDenied) as info:
        digest_delivery(STRANGER, "C0RANDOM1", digest_channels=DIGESTS, visibility="owner-and-approvers")
    assert info.value.hint == "Read it in <#C0DIGEST1>."
