"""Task outcome classification and interface parsing, as PVE reports them."""

from __future__ import annotations

import pytest

from bot.proxmox import ProxmoxTaskStatus, TaskListItem, TaskOutcome, outcome_of
from bot.proxmox.models import parse_interfaces

UPID = "UPID:pve:00001000:00002000:68D7279C:vzcreate:101:root@pam:"


@pytest.mark.parametrize(
    ("status", "exitstatus", "expected", "succeeded"),
    [
        ("stopped", "OK", TaskOutcome.OK, True),
        ("stopped", "WARNINGS: 2", TaskOutcome.WARNINGS, True),
        ("stopped", "unable to create CT 101 - no space left", TaskOutcome.FAILED, False),
        ("stopped", "unexpected status", TaskOutcome.FAILED, False),
        ("stopped", "WARNINGS: many", TaskOutcome.FAILED, False),
        ("running", None, TaskOutcome.RUNNING, False),
    ],
)
def test_task_status_outcome(
    status: str, exitstatus: str | None, expected: TaskOutcome, succeeded: bool
) -> None:
    task = ProxmoxTaskStatus(upid=UPID, node="pve", type="vzcreate", status=status, exitstatus=exitstatus)
    assert task.outcome is expected
    assert task.succeeded is succeeded


def test_exitstatus_zero_is_not_success() -> None:
    assert outcome_of("stopped", "0") is TaskOutcome.FAILED


def test_task_list_items_running_and_finished() -> None:
    running = TaskListItem(upid=UPID, node="pve", type="vzcreate", status="RUNNING")
    unsaved = TaskListItem(upid=UPID, node="pve", type="vzcreate")  # /cluster/tasks running: no status
    done = TaskListItem(upid=UPID, node="pve", type="vzcreate", status="WARNINGS: 1", endtime=5)
    failed = TaskListItem(upid=UPID, node="pve", type="vzcreate", status="CT is locked (create)", endtime=5)
    assert running.outcome is TaskOutcome.RUNNING
    assert unsaved.outcome is TaskOutcome.RUNNING
    assert done.outcome is TaskOutcome.WARNINGS
    assert failed.outcome is TaskOutcome.FAILED


@pytest.mark.parametrize("data", [None, []])
def test_no_interfaces(data: object) -> None:
    assert parse_interfaces(data) == []


def test_pre_84_interfaces_split_cidrs_and_skip_lo() -> None:
    data = [
        {"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"},
        {
            "name": "eth0",
            "hwaddr": "bc:24:11:89:67:07",
            "inet": "192.168.3.95/22",
            "inet6": "fe80::be24:11ff:fe89:6707/64",
        },
        {"name": "eth1", "hwaddr": "bc:24:11:89:67:08", "inet": "10.0.0.5"},
    ]
    eth0, eth1 = parse_interfaces(data)
    assert eth0.name == "eth0"
    assert eth0.hwaddr == "bc:24:11:89:67:07"
    assert eth0.ipv4 == ["192.168.3.95"]
    assert eth0.addresses[0].cidr == "192.168.3.95/22"
    assert eth0.ipv6_global == []  # link-local only
    assert eth1.addresses[0].prefix == 32


def test_84_ip_addresses_win_and_qemu_style_families_are_understood() -> None:
    data = [
        {
            "name": "eth0",
            "hwaddr": "x",
            "hardware-address": "bc:24:11:89:67:07",
            "inet": "10.0.0.2/24",
            "ip-addresses": [
                {"ip-address-type": "inet", "ip-address": "10.0.0.1", "prefix": 24},
                {"ip-address-type": "ipv4", "ip-address": "10.0.0.2", "prefix": "24"},
                {"ip-address-type": "inet6", "ip-address": "2001:db8::5", "prefix": 64},
                {"ip-address-type": "weird", "ip-address": "x"},
            ],
        },
        {"name": "eth1", "ip-addresses": []},
    ]
    eth0, eth1 = parse_interfaces(data)
    assert eth0.hwaddr == "bc:24:11:89:67:07"
    assert eth0.ipv4 == ["10.0.0.1", "10.0.0.2"]
    assert eth0.ipv6_global == ["2001:db8::5"]
    assert eth1.addresses == ()
