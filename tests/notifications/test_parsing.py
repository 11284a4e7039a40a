"""Parsing the documented webhook body: what Proxmox renders is understood; anything else is refused
with the reason, never with the values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.notifications import (
    BODY_TEMPLATE,
    Severity,
    Topic,
    UnknownShape,
    backup_vmids,
    body_digest,
    parse_notification,
    replication_vmid,
    vmid_excerpt,
)
from cardinal_sim.proxmox.notify import render_template, vzdump_message, vzdump_title


def rendered(**context: object) -> object:
    """The body Proxmox sends for ``context`` through the documented template, decoded."""
    base: dict[str, object] = {
        "title": "t",
        "message": "",
        "severity": "info",
        "timestamp": 1764072000,
        "fields": {"type": "vzdump", "hostname": "pve1"},
    }
    base.update(context)
    return json.loads(render_template(BODY_TEMPLATE, base))


def test_a_rendered_body_with_awkward_text_parses_back_to_the_same_text() -> None:
    message = 'line "one"\n\ttab \\ backslash — ünïcode 🚀\r\n<@U123> ``` fence'
    n = parse_notification(rendered(title='Backup "nightly" failed', message=message, severity="error"))
    assert n.title == 'Backup "nightly" failed'
    assert n.message == message
    assert n.severity is Severity.ERROR
    assert n.timestamp == datetime(2025, 11, 25, 12, 0, tzinfo=UTC)
    assert n.type == "vzdump"
    assert n.node == "pve1"
    assert n.topic is Topic.BACKUP


def test_unknown_keys_and_odd_values_are_tolerated() -> None:
    n = parse_notification(
        {
            "title": "Test notification",
            "severity": "CRITICAL",
            "timestamp": "not a number",
            "fields": {"hostname": "pve2", "job-id": 7, "nested": {"x": 1}, "gone": None},
            "extra": {"anything": True},
        }
    )
    assert n.severity is Severity.UNKNOWN
    assert n.timestamp is None
    assert n.fields == {"hostname": "pve2", "job-id": "7"}
    assert n.topic is Topic.OTHER
    assert n.type is None
    assert n.message == ""


@pytest.mark.parametrize(
    "document",
    [
        [1, 2, 3],
        "a string",
        None,
        {"message": "no title"},
        {"title": ""},
        {"title": "x", "fields": ["type", "vzdump"]},
        {"title": 42},
        {"title": "x" * 5000},
    ],
)
def test_unknown_shapes_are_refused_with_a_reason(document: object) -> None:
    with pytest.raises(UnknownShape) as err:
        parse_notification(document)
    assert err.value.problems


def test_problems_never_echo_the_values() -> None:
    with pytest.raises(UnknownShape) as err:
        parse_notification({"title": {"secret": "hunter2-do-not-log"}})
    assert "hunter2" not in str(err.value)
    assert "title" in str(err.value)


def test_digest_ignores_key_order_and_whitespace_but_not_content() -> None:
    a = {"title": "x", "fields": {"type": "vzdump", "hostname": "pve1"}}
    b = json.loads('{ "fields": {"hostname": "pve1", "type": "vzdump"},   "title": "x" }')
    assert body_digest(a) == body_digest(b)
    assert body_digest(a) != body_digest({**a, "title": "y"})


def test_backup_report_vmids_come_from_its_table_log_and_archive_names() -> None:
    rows = [(20001, "web-1", "ok"), (101, "db", "err")]
    n = parse_notification(rendered(title=vzdump_title(rows), message=vzdump_message(rows)))
    assert set(backup_vmids(n)) >= {20001, 101}
    # Sizes, times and dates in the report are not mistaken for guests.
    assert 512 not in backup_vmids(n)
    assert 2026 not in backup_vmids(n)


def test_the_excerpt_for_one_guest_is_its_row_and_its_errors() -> None:
    rows = [(20001, "web-1", "err"), (101, "db", "ok")]
    excerpt = vmid_excerpt(vzdump_message(rows), 20001)
    assert excerpt.splitlines()[0].startswith("20001   web-1")
    assert "ERROR: Backup of VM 20001 failed" in excerpt
    assert "101" not in excerpt


def test_replication_guest_comes_from_the_job_id_or_the_title() -> None:
    by_field = parse_notification(rendered(fields={"type": "replication", "job-id": "20001-0"}))
    assert replication_vmid(by_field) == 20001
    by_title = parse_notification(
        rendered(title="Replication Job: 20002-1 failed", fields={"type": "replication"})
    )
    assert replication_vmid(by_title) == 20002
