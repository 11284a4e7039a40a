"""TLS settings for the Proxmox connection: system CAs, a CA file, or a pinned certificate fingerprint.

Proxmox shows certificate fingerprints as SHA-256 in colon-separated upper-case hex
(``AA:BB:…``, 32 pairs). With a pin, CA verification is skipped (Proxmox's default certificate is
self-signed) but any certificate whose SHA-256 differs is refused.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from pathlib import Path

import aiohttp
import structlog

from bot.proxmox.errors import ProxmoxTLSError

_log = structlog.get_logger(__name__)

_HEX_RE = re.compile(r"^[0-9A-Fa-f]{64}$")

SslArg = ssl.SSLContext | aiohttp.Fingerprint | bool


def format_fingerprint(digest: bytes) -> str:
    """``AA:BB:…`` as Proxmox shows it, from the raw digest bytes."""
    return ":".join(f"{b:02X}" for b in digest)


def parse_fingerprint(text: str) -> bytes:
    """The SHA-256 digest bytes from ``AA:BB:…`` (colons optional, any case)."""
    hex_digits = text.strip().replace(":", "")
    if not _HEX_RE.match(hex_digits):
        raise ValueError("a SHA-256 fingerprint is 32 hex pairs, like AA:BB:…")
    return bytes.fromhex(hex_digits)


def certificate_fingerprint(der: bytes) -> str:
    """The Proxmox-style SHA-256 fingerprint of a DER certificate (for ``cardinal check``/sandbox)."""
    return format_fingerprint(hashlib.sha256(der).digest())


def build_ssl(
    *, verify_tls: bool = True, ca_file: Path | None = None, fingerprint: str | None = None
) -> SslArg:
    """The ``ssl=`` argument for aiohttp's connector.

    A pin wins over CA checks; ``verify_tls=False`` disables verification and logs a warning.
    """
    if fingerprint:
        return aiohttp.Fingerprint(parse_fingerprint(fingerprint))
    if not verify_tls:
        _log.warning(
            "proxmox_tls_verification_disabled",
            hint="PROXMOX_VERIFY_TLS=false: anyone on the path can impersonate Proxmox; "
            "pin PROXMOX_FINGERPRINT instead",
        )
        return False
    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ca_file))
    return True


def mismatch_error(exc: aiohttp.ServerFingerprintMismatch) -> ProxmoxTLSError:
    """A readable error for a certificate that does not match the pin."""
    return ProxmoxTLSError(
        f"The Proxmox certificate fingerprint did not match the pinned PROXMOX_FINGERPRINT: "
        f"{exc.host}:{exc.port} presented {format_fingerprint(exc.got)}, "
        f"expected {format_fingerprint(exc.expected)}"
    )


def verification_error(exc: aiohttp.ClientSSLError) -> ProxmoxTLSError:
    """A readable error for a certificate that failed CA verification (or any TLS handshake error)."""
    err: BaseException = exc.os_error
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        err = exc.certificate_error
    reason = getattr(err, "verify_message", None) or getattr(err, "reason", None) or str(err)
    return ProxmoxTLSError(f"The Proxmox TLS certificate was not trusted: {reason}")
