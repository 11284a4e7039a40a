"""Every failure becomes one typed error with a readable message — from both Proxmox error formats.

``message`` format: libpve-http-server >= 5.2.0 puts the text in the JSON body; ``reason`` format: older
servers only put it in the HTTP reason phrase (body ``{"data":null}``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from bot.proxmox import (
    ProxmoxAuthError,
    ProxmoxClient,
    ProxmoxConflictError,
    ProxmoxError,
    ProxmoxExistsError,
    ProxmoxLockedError,
    ProxmoxNotFoundError,
    ProxmoxPermissionError,
    ProxmoxServerError,
    ProxmoxTimeoutError,
    ProxmoxUnreachableError,
    ProxmoxValidationError,
    RetryPolicy,
    Timeouts,
    Upid,
)
from bot.proxmox.transport import error_from_response
from tests.proxmox.fake_pve import FakePVE, Scripted

ClientFactory = Callable[..., ProxmoxClient]
CT = "/nodes/pve/lxc/101/status/current"


@pytest.fixture(params=["message", "reason"])
def fake(request: pytest.FixtureRequest) -> FakePVE:
    return FakePVE(error_format=request.param)


@pytest.mark.parametrize(
    "case",
    [
        (
            403,
            "Permission check failed (/vms/101, VM.Audit)",
            None,
            ProxmoxPermissionError,
            "Proxmox refused: Permission check failed (/vms/101, VM.Audit)",
        ),
        (
            500,
            "Configuration file 'nodes/pve/lxc/101.conf' does not exist",
            None,
            ProxmoxNotFoundError,
            "Proxmox refused: Configuration file 'nodes/pve/lxc/101.conf' does not exist",
        ),
        (500, "CT is locked (backup)", None, ProxmoxLockedError, "Proxmox refused: CT is locked (backup)"),
        (
            500,
            "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout",
            None,
            ProxmoxLockedError,
            "Proxmox refused: can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout",
        ),
        (
            500,
            "CT 101 already running",
            None,
            ProxmoxConflictError,
            "Proxmox refused: CT 101 already running",
        ),
        (500, "CT 101 not running", None, ProxmoxConflictError, "Proxmox refused: CT 101 not running"),
        (
            500,
            "CT 101 already exists on node 'pve'",
            None,
            ProxmoxExistsError,
            "Proxmox refused: CT 101 already exists on node 'pve'",
        ),
        (
            400,
            "Parameter verification failed.",
            {"vmid": "invalid format - value does not look like a valid VM ID\n"},
            ProxmoxValidationError,
            "Proxmox refused: Parameter verification failed.",
        ),
        (
            400,
            "Parameter verification failed.",
            {"upid": "no such task"},
            ProxmoxNotFoundError,
            "Proxmox refused: Parameter verification failed.",
        ),
        (
            400,
            "value must have a minimum value of 100",
            None,
            ProxmoxValidationError,
            "Proxmox refused: value must have a minimum value of 100",
        ),
        (
            500,
            "cluster not ready - no quorum?",
            None,
            ProxmoxServerError,
            "Proxmox failed: cluster not ready - no quorum?",
        ),
        (
            501,
            "Method 'POST /nodes/pve/lxc/101/status/restart' not implemented",
            None,
            ProxmoxServerError,
            "Proxmox failed: Method 'POST /nodes/pve/lxc/101/status/restart' not implemented",
        ),
        (501, "no such uri", None, ProxmoxNotFoundError, "Proxmox refused: no such uri"),
        (
            595,
            "No route to host",
            None,
            ProxmoxUnreachableError,
            "Proxmox could not reach a cluster node "
            "(595 Errors during connection establishment, proxy handshake: No route to host)",
        ),
        (
            596,
            "Connection reset by peer",
            None,
            ProxmoxUnreachableError,
            "Proxmox could not reach a cluster node "
            "(596 Errors during TLS negotiation, request sending and header processing: "
            "Connection reset by peer)",
        ),
    ],
)
async def test_error_classes_from_both_formats(
    make_client: ClientFactory,
    fake: FakePVE,
    case: tuple[int, str, dict[str, str] | None, type[ProxmoxError], str],
) -> None:
    status, message, errors, cls, what = case
    client = make_client(retries=RetryPolicy(attempts=1))
    fake.script("GET", CT, Scripted(status=status, message=message, errors=errors))
    with pytest.raises(cls) as info:
        await client.container_status("pve", 101)
    assert type(info.value) is cls
    assert info.value.what == what
    assert str(info.value).startswith(what)
    assert info.value.status == status
    assert {k: v.strip() for k, v in info.value.errors.items()} == {
        k: v.strip() for k, v in (errors or {}).items()
    }


async def test_validation_error_lists_each_parameter(client: ProxmoxClient) -> None:
    with pytest.raises(ProxmoxValidationError) as info:
        await client.update_config("pve", 101, {"onboot": "yes"})
    assert str(info.value) == (
        "Proxmox refused: Parameter verification failed. (onboot: type check ('boolean') failed - got 'yes')"
    )


async def test_used_vmid_on_nextid_is_exists(client: ProxmoxClient) -> None:
    with pytest.raises(ProxmoxExistsError) as info:
        await client.next_vmid(101)
    assert info.value.errors == {"vmid": "VM 101 already exists"}


async def test_unknown_task_is_not_found(client: ProxmoxClient) -> None:
    with pytest.raises(ProxmoxNotFoundError):
        await client.task_status(Upid.parse("UPID:pve:00000001:00000002:68D7279C:vzstart:101:root@pam:"))


async def test_bad_token_is_an_auth_error_with_the_reason(make_client: ClientFactory, fake: FakePVE) -> None:
    from pydantic import SecretStr

    client = make_client(token_secret=SecretStr("wrong"))
    with pytest.raises(ProxmoxAuthError) as info:
        await client.version()
    assert info.value.what == "Proxmox refused Cardinal's credentials (Authentication failed!)"
    assert "wrong" not in info.value.user_message
    assert fake.count("GET", "/version") == 1  # auth failures are not retried


def test_empty_reason_and_body_still_give_a_message() -> None:
    err = error_from_response(502, "", b"not json")
    assert isinstance(err, ProxmoxServerError)
    assert err.what == "Proxmox failed: HTTP 502"
    assert error_from_response(404, None, b"[]").__class__ is ProxmoxNotFoundError
    assert error_from_response(409, "Conflict", b"").__class__ is ProxmoxError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connection_refused_is_unreachable(make_client: ClientFactory) -> None:
    port = _closed_port()
    client = make_client(url=f"http://127.0.0.1:{port}/api2/json")
    with pytest.raises(ProxmoxUnreachableError) as info:
        await client.version()
    assert info.value.what.startswith(f"Proxmox at 127.0.0.1:{port} could not be reached")


async def test_dns_failure_is_unreachable(make_client: ClientFactory) -> None:
    client = make_client(url="http://no-such-host.invalid:8006/api2/json", retries=RetryPolicy(attempts=1))
    with pytest.raises(ProxmoxUnreachableError, match=r"no-such-host\.invalid"):
        await client.version()


async def test_connection_reset_is_unreachable(make_client: ClientFactory, fake: FakePVE) -> None:
    client = make_client(retries=RetryPolicy(attempts=1))
    fake.script("POST", "/nodes/pve/lxc/101/status/stop", Scripted(reset=True))
    with pytest.raises(ProxmoxUnreachableError) as info:
        await client.power("pve", 101, "stop")
    assert "broke during POST /nodes/{node}/lxc/{vmid}/status/stop" in info.value.what
    assert "unknown" in info.value.hint  # a write whose outcome is unclear says so


async def test_timeout_is_a_timeout_error(make_client: ClientFactory, fake: FakePVE) -> None:
    client = make_client(timeouts=Timeouts(read=0.02, write=0.02), retries=RetryPolicy(attempts=1))
    fake.script("GET", "/version", Scripted(delay=1.0))
    with pytest.raises(ProxmoxTimeoutError) as info:
        await client.version()
    assert info.value.what == "Proxmox did not answer GET /version within 0.02 s"


async def test_non_json_success_is_a_server_error(make_client: ClientFactory, fake: FakePVE) -> None:
    client = make_client(retries=RetryPolicy(attempts=1))
    fake.script("GET", "/version", Scripted(raw=b"<html>proxy page</html>"), Scripted(raw=b"[1]"))
    with pytest.raises(ProxmoxServerError, match="not JSON"):
        await client.version()
    with pytest.raises(ProxmoxServerError, match="without a data envelope"):
        await client.version()
