"""Checks of the way to Proxmox: reachability, TLS (fingerprint or CA) and clock skew."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from yarl import URL

from bot.ops.check.result import MAX_CLOCK_SKEW, CheckResult, _describe, skipped
from bot.settings import Settings

# --- Proxmox transport: reachability, TLS, clock -------------------------------------------------


@dataclass(slots=True)
class ProxmoxProbe:
    """What one unauthenticated HTTPS request to Proxmox showed."""

    reachable: bool
    error: str = ""
    fingerprint: str | None = None
    tls_ok: bool = False
    tls_detail: str = ""
    server_date: datetime | None = None
    local_date: datetime | None = None


def format_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as Proxmox shows it: ``AA:BB:…`` (upper case)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


async def fetch_fingerprint(host: str, port: int, *, limit: float) -> str:
    """Connect without verifying, only to read the certificate the server presents; return its SHA-256."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # reading the certificate is all this connection is for
    async with asyncio.timeout(limit):
        _, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            raise ssl.SSLError("the server presented no certificate")
        return format_fingerprint(der)
    finally:
        writer.close()
        try:
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass


def tls_parameter(settings: Settings) -> ssl.SSLContext | aiohttp.Fingerprint | bool:
    """The aiohttp ``ssl=`` value the settings ask for: pinned fingerprint, CA file, system CA, or off."""
    if settings.proxmox_fingerprint:
        return aiohttp.Fingerprint(bytes.fromhex(settings.proxmox_fingerprint.replace(":", "")))
    if not settings.proxmox_verify_tls:
        return False
    if settings.proxmox_ca_file is not None:
        return ssl.create_default_context(cafile=str(settings.proxmox_ca_file))
    return True


def _tls_mode(settings: Settings) -> str:
    if settings.proxmox_fingerprint:
        return "pinned (PROXMOX_FINGERPRINT)"
    if settings.proxmox_ca_file is not None:
        return f"verified against PROXMOX_CA_FILE {settings.proxmox_ca_file}"
    return "verified against the system CA store"


async def _server_date(
    url: URL, param: ssl.SSLContext | aiohttp.Fingerprint | bool, limit: float
) -> tuple[datetime | None, datetime]:
    """GET ``url`` (no credentials) and return (server ``Date``, local time at the answer)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session,
        session.get(url, ssl=param, allow_redirects=False) as resp,
    ):
        local = datetime.now(UTC)
        try:
            return parsedate_to_datetime(resp.headers.get("Date", "")), local
        except (TypeError, ValueError):
            return None, local


async def probe_proxmox(settings: Settings, *, limit: float) -> ProxmoxProbe:
    """Reach ``https://HOST:PORT/`` the way the settings say (no credentials sent) and record the
    certificate's fingerprint, whether it verified, and the server's ``Date``."""
    host, port = settings.proxmox_host, settings.proxmox_port
    try:
        fingerprint = await fetch_fingerprint(host, port, limit=limit)
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, ssl.SSLError):
            return ProxmoxProbe(reachable=True, error=f"TLS handshake failed: {_describe(exc)}")
        return ProxmoxProbe(reachable=False, error=_describe(exc))
    probe = ProxmoxProbe(reachable=True, fingerprint=fingerprint)
    param: ssl.SSLContext | aiohttp.Fingerprint | bool
    try:
        param = tls_parameter(settings)
    except OSError as exc:
        probe.tls_detail = f"PROXMOX_CA_FILE cannot be read ({_describe(exc)})"
        param = False
    url = URL.build(scheme="https", host=host, port=port, path="/")
    try:
        probe.server_date, probe.local_date = await _server_date(url, param, limit)
    except aiohttp.ServerFingerprintMismatch:
        probe.tls_detail = "the certificate does not match PROXMOX_FINGERPRINT"
    except aiohttp.ClientSSLError as exc:
        probe.tls_detail = f"the certificate is not trusted ({_describe(exc)})"
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        probe.reachable = False
        probe.error = _describe(exc)
        return probe
    else:
        if not probe.tls_detail:
            probe.tls_ok = param is not False
            probe.tls_detail = (
                _tls_mode(settings) if probe.tls_ok else "not verified (PROXMOX_VERIFY_TLS=false)"
            )
        return probe
    # Untrusted certificate: still read the clock, over a connection that sends nothing secret.
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        probe.server_date, probe.local_date = await _server_date(url, False, limit)
    return probe


def evaluate_probe(settings: Settings, probe: ProxmoxProbe) -> list[CheckResult]:
    """Reachability, TLS and clock skew from a :class:`ProxmoxProbe`."""
    where = f"{settings.proxmox_host}:{settings.proxmox_port}"
    if not probe.reachable:
        return [
            CheckResult(
                "Proxmox reachable",
                False,
                f"cannot connect to {where} ({probe.error})",
                f"Check PROXMOX_HOST ({settings.proxmox_host}) and PROXMOX_PORT ({settings.proxmox_port}; "
                "Proxmox listens on 8006), that pveproxy runs, and that no firewall blocks this host.",
            ),
            skipped("Proxmox TLS", "Proxmox is unreachable"),
            skipped("Clock skew", "Proxmox is unreachable"),
        ]
    results = [CheckResult("Proxmox reachable", True, f"{where} answers")]
    pin = f"PROXMOX_FINGERPRINT={probe.fingerprint}" if probe.fingerprint else ""
    if probe.tls_ok:
        results.append(CheckResult("Proxmox TLS", True, probe.tls_detail))
    else:
        detail = probe.tls_detail or probe.error or "TLS failed"
        if pin:
            detail += f"; the server presents SHA-256 {probe.fingerprint}"
            hint = (
                "If this is your Proxmox host's certificate (compare with the node's Certificates panel "
                f"or `pvenode cert info`), pin it:\n{pin}\nor set PROXMOX_CA_FILE to the CA that signed it."
            )
        else:
            hint = "Proxmox must serve HTTPS on this port; check PROXMOX_PORT."
        results.append(CheckResult("Proxmox TLS", False, detail, hint))
    results.append(evaluate_clock(probe.server_date, probe.local_date))
    return results


def evaluate_clock(server: datetime | None, local: datetime | None) -> CheckResult:
    """Clock skew between this host and Proxmox (its HTTP ``Date``) must stay under 30 s."""
    name = "Clock skew"
    if server is None or local is None:
        return skipped(name, "Proxmox sent no Date header")
    skew = abs((local - server).total_seconds())
    if skew >= MAX_CLOCK_SKEW:
        return CheckResult(
            name,
            False,
            f"{skew:.0f} s between this host and Proxmox (limit {MAX_CLOCK_SKEW:.0f} s)",
            "Run NTP (chrony or systemd-timesyncd) on both this host and the Proxmox nodes; expiry "
            "times and task ages depend on it.",
        )
    return CheckResult(name, True, f"{skew:.0f} s (limit {MAX_CLOCK_SKEW:.0f} s)")
