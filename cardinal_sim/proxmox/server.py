"""Serve a simulator over HTTP or HTTPS (self-signed certificate generated at start)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cardinal_sim.proxmox.app import make_app
from cardinal_sim.proxmox.core import Simulator


@dataclass
class SelfSignedCert:
    """A PEM certificate/key pair and the certificate's SHA-256 fingerprint (``AA:BB:…``)."""

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str


def make_self_signed_cert(host: str = "127.0.0.1", node: str = "pve") -> SelfSignedCert:
    """A fresh RSA-2048 certificate for ``host`` (and ``localhost``), valid for two years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Node"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PVE Cardinal Simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{node}.local"),
        ]
    )
    alt: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(node)]
    for candidate in {host, "127.0.0.1"}:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(candidate)))
        except ValueError:
            alt.append(x509.DNSName(candidate))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=730))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return SelfSignedCert(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
    )


@dataclass
class Running:
    """A serving simulator. ``url`` is the base (``https://127.0.0.1:8006``); the API is under ``api_url``."""

    sim: Simulator
    host: str
    port: int
    tls: bool
    fingerprint: str | None
    cert_pem: bytes | None = None
    _runner: web.AppRunner | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api2/json"

    async def close(self) -> None:
        """Stop serving (open connections are closed)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _ssl_context(cert: SelfSignedCert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "pve-ssl.pem"), Path(tmp, "pve-ssl.key")
        cert_file.write_bytes(cert.cert_pem)
        key_file.write_bytes(cert.key_pem)
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


async def serve(sim: Simulator, host: str = "127.0.0.1", port: int = 0, tls: bool = False) -> Running:
    """Start serving ``sim``; ``port=0`` picks a free port. With ``tls`` a certificate is generated."""
    ssl_ctx: ssl.SSLContext | None = None
    cert: SelfSignedCert | None = None
    if tls:
        cert = make_self_signed_cert(host, next(iter(sim.nodes), "pve"))
        ssl_ctx = _ssl_context(cert)
        sim.fingerprint = cert.fingerprint
    runner = web.AppRunner(make_app(sim), access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_ctx)
    await site.start()
    bound = port
    server = site._server
    sockets = getattr(server, "sockets", None) if server is not None else None
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    return Running(
        sim=sim,
        host=host,
        port=bound,
        tls=tls,
        fingerprint=cert.fingerprint if cert else None,
        cert_pem=cert.cert_pem if cert else None,
        _runner=runner,
    )
