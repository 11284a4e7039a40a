"""Fixtures for the operations tests: settings builders, free ports, a self-signed HTTPS server and a clean
environment for the CLI."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-1111-2222-supersecretvalue"
PROXMOX_SECRET = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


def make_settings(**overrides: Any) -> Settings:
    """Valid settings (token auth, HTTP mode) that ignore the environment's .env file."""
    values: dict[str, Any] = {
        "proxmox_host": "127.0.0.1",
        "proxmox_token": "cardinal@pve!bot",
        "proxmox_secret": PROXMOX_SECRET,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": "signing-secret",
        "proxmox_timeout_read": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass(frozen=True)
class Cert:
    """A self-signed certificate for 127.0.0.1 and its key, as files, with its SHA-256 fingerprint."""

    certfile: Path
    keyfile: Path
    fingerprint: str


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate like a fresh Proxmox node's (its own CA, valid for 127.0.0.1)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pve-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return Cert(certfile, keyfile, ":".join(digest[i : i + 2] for i in range(0, 64, 2)))


HttpsServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture
async def https_server(
    self_signed: Cert, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> HttpsServerFactory:
    """Serve an aiohttp app over HTTPS with the self-signed certificate on 127.0.0.1."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(self_signed.certfile, self_signed.keyfile)

    async def start(app: web.Application) -> TestServer:
        return await aiohttp_server(app, host="127.0.0.1", ssl=ctx)

    return start


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Cardinal variable in the environment and an empty working directory (no stray .env)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
