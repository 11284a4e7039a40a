"""TLS over a real local HTTPS fake with a self-signed certificate: pinning, CA file, verification."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from structlog.testing import capture_logs

from bot.proxmox import ProxmoxClient, ProxmoxTLSError, certificate_fingerprint
from tests.proxmox.conftest import ServerFactory
from tests.proxmox.fake_pve import FakePVE

ClientFactory = Callable[..., ProxmoxClient]


def _self_signed(directory: Path, name: str) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file, cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture
async def https(aiohttp_server: ServerFactory, fake: FakePVE, tmp_path: Path) -> tuple[str, Path, str]:
    """(base URL, certificate file, the certificate's fingerprint) of the fake served over HTTPS."""
    cert_file, key_file, der = _self_signed(tmp_path, "pve")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = await aiohttp_server(fake.app(), ssl=context)
    return str(server.make_url("/api2/json")), cert_file, certificate_fingerprint(der)


async def test_pinned_fingerprint_is_accepted(
    make_client: ClientFactory, https: tuple[str, Path, str]
) -> None:
    url, _, fingerprint = https
    assert url.startswith("https://")
    client = make_client(url=url, fingerprint=fingerprint.lower())  # case does not matter
    assert (await client.version()).release == "9.1"


async def test_other_certificate_is_refused_and_shown(
    make_client: ClientFactory, https: tuple[str, Path, str], tmp_path: Path, fake: FakePVE
) -> None:
    url, _, presented = https
    *_, other_der = _self_signed(tmp_path, "other")
    pinned = certificate_fingerprint(other_der)
    client = make_client(url=url, fingerprint=pinned)
    with pytest.raises(ProxmoxTLSError) as info:
        await client.version()
    assert "fingerprint did not match" in info.value.what
    assert f"presented {presented}" in info.value.what
    assert f"expected {pinned}" in info.value.what
    assert "PROXMOX_FINGERPRINT" in info.value.hint
    assert fake.requests == []  # nothing was sent to the impostor
    assert client.breaker.consecutive_failures == 1  # not retried


async def test_untrusted_certificate_is_refused_by_default(
    make_client: ClientFactory, https: tuple[str, Path, str]
) -> None:
    url, _, _ = https
    client = make_client(url=url)
    with pytest.raises(ProxmoxTLSError, match="not trusted"):
        await client.version()


async def test_ca_file_makes_the_certificate_trusted(
    make_client: ClientFactory, https: tuple[str, Path, str]
) -> None:
    url, cert_file, _ = https
    client = make_client(url=url, ca_file=cert_file)
    assert (await client.version()).release == "9.1"


async def test_verification_off_only_when_asked_and_warned(
    make_client: ClientFactory, https: tuple[str, Path, str]
) -> None:
    url, _, _ = https
    with capture_logs() as logs:
        client = make_client(url=url, verify_tls=False)
    assert [e["log_level"] for e in logs if e["event"] == "proxmox_tls_verification_disabled"] == ["warning"]
    assert (await client.version()).release == "9.1"


def test_bad_fingerprint_text_is_refused() -> None:
    with pytest.raises(ValueError, match="32 hex pairs"):
        ProxmoxClient(
            "https://pve:8006/api2/json", token_id="a@pve!b", token_secret=SecretStr("x"), fingerprint="AA:BB"
        )


@pytest.mark.parametrize("ticket", [False, True])
async def test_from_settings_pins_and_authenticates(
    https: tuple[str, Path, str], fake: FakePVE, ticket: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yarl import URL

    from bot.settings import Settings
    from tests.proxmox.fake_pve import PASSWORD, TOKEN_ID, TOKEN_SECRET, USERNAME

    monkeypatch.chdir(Path(__file__).parent)  # no stray .env
    url, _, fingerprint = https
    auth = (
        {"proxmox_username": USERNAME, "proxmox_password": PASSWORD}
        if ticket
        else {"proxmox_token": TOKEN_ID, "proxmox_secret": TOKEN_SECRET}
    )
    settings = Settings(
        proxmox_host="127.0.0.1",
        proxmox_port=URL(url).port,
        proxmox_fingerprint=fingerprint,
        proxmox_timeout_read=3.0,
        slack_bot_token="xoxb-test",
        slack_signing_secret="s",
        **auth,  # type: ignore[arg-type]
    )
    async with ProxmoxClient.from_settings(settings) as client:
        assert client.base_url == url
        assert (await client.version()).release == "9.1"
    assert fake.logins == (["password"] if ticket else [])
