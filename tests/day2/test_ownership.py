"""Ownership written into the container (tags + one description line) and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.errors import InputError
from bot.ownership import (
    Ownership,
    ownership_line,
    ownership_tags,
    parse_ownership,
    valid_tag,
    with_ownership_tags,
    with_updated_description,
)

EXPIRES = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_tags_are_valid_proxmox_tags() -> None:
    tags = ownership_tags("U123ABC")
    assert tags == ["cardinal", "owner-u123abc"]
    assert all(valid_tag(t) for t in tags)


def test_line_round_trips_through_a_config() -> None:
    line = ownership_line("U123ABC", EXPIRES, "3f2a9c1e-0d4b-4c55-9a61-1f2e3d4c5b6a")
    assert line == (
        "cardinal: owner=U123ABC expires=2026-12-01T10:00:00Z request=3f2a9c1e-0d4b-4c55-9a61-1f2e3d4c5b6a"
    )
    config = {
        "description": f"Team wiki test box\n{line}\nsee JIRA-12\n",
        "tags": "web;cardinal;owner-u123abc",
    }
    assert parse_ownership(config) == Ownership(
        owner="U123ABC",
        expires_at=EXPIRES,
        request_id="3f2a9c1e-0d4b-4c55-9a61-1f2e3d4c5b6a",
        source="description",
    )


def test_line_converts_other_time_zones_to_utc_and_omits_unknowns() -> None:
    berlin = EXPIRES.astimezone(timezone(timedelta(hours=1)))
    assert ownership_line("W0AB1", berlin, None) == "cardinal: owner=W0AB1 expires=2026-12-01T10:00:00Z"
    assert ownership_line("U0AB1", None, None) == "cardinal: owner=U0AB1"


@pytest.mark.parametrize(
    ("owner", "request_id"),
    [
        ("U123 expires=2099-01-01T00:00:00Z", None),
        ("U123\ncardinal: owner=UEVIL", None),
        ("u123abc", None),
        ("<@U123>", None),
        ("U123ABC", "abc def"),
        ("U123ABC", "abc\nowner=UEVIL"),
        ("U123ABC", "x" * 65),
    ],
)
def test_line_refuses_values_that_could_inject(owner: str, request_id: str | None) -> None:
    with pytest.raises(InputError):
        ownership_line(owner, EXPIRES, request_id)


def test_naive_expiry_is_refused() -> None:
    with pytest.raises(InputError):
        ownership_line("U123ABC", datetime(2026, 12, 1, 10, 0), None)


def test_tags_refuse_a_bad_owner() -> None:
    with pytest.raises(InputError):
        ownership_tags("U1;evil")


def test_owner_from_tags_alone() -> None:
    config = {"description": "made by hand", "tags": "cardinal;owner-u0abc9"}
    assert parse_ownership(config) == Ownership("U0ABC9", None, None, "tags")


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"description": "nothing of ours", "tags": "web"},
        {"tags": "owner-u0abc9"},  # no cardinal tag
        {"tags": "cardinal;owner-u0abc9;owner-u0def1"},  # two owners
        {"description": "cardinal: owner=U1 expires=tomorrow"},  # invalid line, no tags
        {"description": "cardinal: owner=UA1 owner=UB2"},  # duplicate key
    ],
)
def test_missing_or_invalid_ownership_is_none(config: dict[str, str]) -> None:
    assert parse_ownership(config) is None


def test_two_different_lines_are_ambiguous_and_fall_back_to_tags() -> None:
    good = ownership_line("U0REAL1", EXPIRES, None)
    forged = ownership_line("U0EVIL2", EXPIRES + timedelta(days=300), None)
    config = {"description": f"{good}\n{forged}", "tags": "cardinal;owner-u0real1"}
    assert parse_ownership(config) == Ownership("U0REAL1", None, None, "tags")


def test_updating_the_description_replaces_only_our_line() -> None:
    old = ownership_line("U123ABC", EXPIRES, None)
    new = ownership_line("U123ABC", EXPIRES + timedelta(days=3), None)
    existing = f"Purpose: demo\n{old}\nMore notes\n{old}"
    assert with_updated_description(existing, new) == f"Purpose: demo\n{new}\nMore notes"
    assert with_updated_description(None, new) == new
    assert with_updated_description("notes\n\n", new) == f"notes\n{new}"


@pytest.mark.parametrize(
    "line", ["owner=U1", "cardinal: owner=U123\nrm -rf", "cardinal: owner=bad", "cardinal: owner=U123 x"]
)
def test_updating_refuses_a_line_that_is_not_ours(line: str) -> None:
    with pytest.raises(InputError):
        with_updated_description("notes", line)


def test_ownership_tags_merge_keeps_other_tags_and_replaces_owner() -> None:
    assert with_ownership_tags("web;owner-u0old1;prod", "U0NEW2") == "cardinal;owner-u0new2;prod;web"
    assert with_ownership_tags(None, "U0NEW2") == "cardinal;owner-u0new2"
