"""UPID parsing with pve-common's official vectors (test/upid-test.pl, docs/proxmox-api.md §4.5)."""

from __future__ import annotations

import pytest

from bot.proxmox import Upid, UpidError


def test_official_vector_with_empty_id() -> None:
    text = "UPID:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam:"
    upid = Upid.parse(text)
    assert (upid.node, upid.pid, upid.pstart, upid.starttime) == (
        "example-node",
        49990,
        375000292,
        1758930844,
    )
    assert (upid.type, upid.id, upid.user) == ("aptupdate", "", "root@pam")
    assert upid.vmid is None
    assert str(upid) == text


def test_official_vector_with_token_user() -> None:
    text = "UPID:example-node:000934AF:0D015579:68BF3A41:vzdump:100:91a1da29-8e3f@pam!some-token:"
    upid = Upid.parse(text)
    assert upid.user == "91a1da29-8e3f@pam!some-token"
    assert upid.vmid == 100
    assert upid.node == "example-node"
    assert str(upid) == text


def test_nine_digit_pstart_is_valid() -> None:
    upid = Upid.parse("UPID:pve:0000C346:FFFFFFFFF:68D7279C:vzstart:101:root@pam:")
    assert upid.pstart == 0xFFFFFFFFF
    assert upid.vmid == 101


@pytest.mark.parametrize(
    "text",
    [
        "UPID:example-node:0000C346:165A0CE4:68D7279C:apt update::root@pam:",  # space in the type
        "UPID:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam",  # no trailing colon
        "UPID:-bad:0000C346:165A0CE4:68D7279C:vzstart:101:root@pam:",  # node starts with '-'
        "not a upid",
    ],
)
def test_invalid_upids_are_refused(text: str) -> None:
    with pytest.raises(UpidError):
        Upid.parse(text)
