"""API-token and ticket auth as Proxmox expects them: headers, CSRF on writes, renewal, one re-login."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from bot.proxmox import ProxmoxAuthError, ProxmoxClient
from bot.proxmox.transport import TICKET_LIFETIME
from tests.proxmox.conftest import Clock
from tests.proxmox.fake_pve import PASSWORD, TOKEN_ID, TOKEN_SECRET, USERNAME, FakePVE, Scripted

ClientFactory = Callable[..., ProxmoxClient]


async def test_token_header_on_every_request_and_no_csrf(client: ProxmoxClient, fake: FakePVE) -> None:
    await client.version()
    await client.power("pve", 102, "start")
    expected = f"PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"
    assert [r.headers.get("Authorization") for r in fake.requests] == [expected, expected]
    assert all("CSRFPreventionToken" not in r.headers for r in fake.requests)
    assert fake.logins == []


async def test_ticket_login_then_cookie_and_csrf_only_on_writes(
    make_client: ClientFactory, fake: FakePVE
) -> None:
    client = make_client(ticket=True)
    await client.version()
    await client.update_config("pve", 101, {"memory": 1024})
    await client.destroy_container("pve", 102)
    login, get, put, delete = fake.requests
    assert (login.method, login.path) == ("POST", "/access/ticket")
    assert login.form == {"username": USERNAME, "password": PASSWORD}
    assert "Authorization" not in get.headers
    ticket = next(iter(fake.tickets))
    for seen in (get, put, delete):
        assert f"PVEAuthCookie={ticket}" in seen.headers["Cookie"]
    assert "CSRFPreventionToken" not in get.headers
    assert put.headers["CSRFPreventionToken"] == fake.tickets[ticket]
    assert delete.headers["CSRFPreventionToken"] == fake.tickets[ticket]
    assert fake.logins == ["password"]


async def test_ticket_is_renewed_after_an_hour_with_the_ticket_as_password(
    make_client: ClientFactory, fake: FakePVE, clock: Clock
) -> None:
    client = make_client(ticket=True)
    await client.version()
    first_ticket = next(iter(fake.tickets))
    clock.advance(3599)
    await client.version()
    assert fake.logins == ["password"]
    clock.advance(2)
    await client.version()
    assert fake.logins == ["password", "ticket"]
    assert fake.last("POST", "/access/ticket").form["password"] == first_ticket
    second_ticket = list(fake.tickets)[-1]
    assert f"PVEAuthCookie={second_ticket}" in fake.last("GET", "/version").headers["Cookie"]


async def test_ticket_too_old_to_renew_logs_in_with_the_password(
    make_client: ClientFactory, fake: FakePVE, clock: Clock
) -> None:
    client = make_client(ticket=True)
    await client.version()
    clock.advance(TICKET_LIFETIME)
    await client.version()
    assert fake.logins == ["password", "password"]


async def test_refused_renewal_falls_back_to_the_password(
    make_client: ClientFactory, fake: FakePVE, clock: Clock
) -> None:
    client = make_client(ticket=True)
    await client.version()
    fake.forget_tickets()
    clock.advance(3700)
    await client.version()
    assert fake.logins == ["password", "password"]


async def test_one_relogin_on_401_then_the_request_is_retried_once(
    make_client: ClientFactory, fake: FakePVE
) -> None:
    client = make_client(ticket=True)
    await client.version()
    fake.forget_tickets()  # e.g. the cluster's auth key rotated
    upid = await client.power("pve", 102, "start")  # a POST: safe to resend, the 401 proves it did not run
    assert upid.type == "vzstart"
    assert fake.logins == ["password", "password"]
    assert fake.count("POST", "/nodes/pve/lxc/102/status/start") == 2


async def test_a_second_401_is_not_retried_again(make_client: ClientFactory, fake: FakePVE) -> None:
    client = make_client(ticket=True)
    fake.script(
        "GET",
        "/version",
        Scripted(status=401, message="Authentication failed!"),
        Scripted(status=401, message="Authentication failed!"),
    )
    with pytest.raises(ProxmoxAuthError, match="Authentication failed!"):
        await client.version()
    assert fake.count("GET", "/version") == 2
    assert fake.logins == ["password", "password"]


async def test_wrong_password_says_which_login_failed(make_client: ClientFactory, fake: FakePVE) -> None:
    client = make_client(ticket=True, password=SecretStr("nope-nope"))
    with pytest.raises(ProxmoxAuthError) as info:
        await client.version()
    assert info.value.what == f"Proxmox refused the login for {USERNAME} (authentication failure)"
    assert fake.count("GET", "/version") == 0


@pytest.mark.parametrize(
    "data",
    [
        {"username": USERNAME, "ticket": "PVE:x:1::tfa!", "NeedTFA": 1},
        {"username": USERNAME},
    ],
)
async def test_tfa_or_missing_ticket_is_an_auth_error(
    make_client: ClientFactory, fake: FakePVE, data: dict[str, object]
) -> None:
    client = make_client(ticket=True)
    fake.script("POST", "/access/ticket", Scripted(data=data))
    with pytest.raises(ProxmoxAuthError):
        await client.version()


async def test_secrets_never_reach_the_logs(make_client: ClientFactory, fake: FakePVE, clock: Clock) -> None:
    client = make_client(ticket=True)
    fake.script("GET", "/nodes", Scripted(status=503, message="Service Unavailable"))
    with capture_logs() as logs:
        await client.version()
        clock.advance(3601)
        await client.nodes()
    text = repr(logs)
    assert logs  # login, renewal and the retry are logged
    for secret in (PASSWORD, *fake.tickets, *fake.tickets.values()):
        assert secret not in text


def test_credentials_are_required() -> None:
    with pytest.raises(ValueError, match="token_id"):
        ProxmoxClient("https://pve:8006/api2/json", username=USERNAME)


async def test_concurrent_first_requests_log_in_once(make_client: ClientFactory, fake: FakePVE) -> None:
    import asyncio

    client = make_client(ticket=True)
    results = await asyncio.gather(*(client.version() for _ in range(5)))
    assert {r.release for r in results} == {"9.1"}
    assert fake.logins == ["password"]
