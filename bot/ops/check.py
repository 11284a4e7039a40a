"""``cardinal check``: verify the configuration end to end and say how to fix what is wrong.

Each check yields a :class:`CheckResult`. Gathering (network calls) and judging (pure ``evaluate_*``
functions over typed answers) are kept apart so the judgements can be tested on plain data. Order:
settings → Slack (``auth.test`` + scopes) → Proxmox transport (reachable, TLS, clock) → Proxmox API
(credentials, version ≥ 8.1, privileges from ``/access/permissions``, template storage, bridges,
the datacenter's tag options from ``/cluster/options``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import ssl
from collections.abc import Awaitable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bot.errors import ConfigError
from bot.ops.privileges import REQUIREMENTS, Requirement
from bot.ops.scopes import REQUIRED_BOT_SCOPES, needed_for
from bot.ownership import CARDINAL_TAG, OWNER_TAG_PREFIX
from bot.policy import Policy, load_policy
from bot.proxmox.errors import ProxmoxAuthError, ProxmoxError, ProxmoxPermissionError
from bot.proxmox.models import ClusterResource, NodeInfo, Permissions, StorageContent, Version
from bot.settings import Settings, load_settings
from bot.template_locations import TemplateLocations, locate_templates

if TYPE_CHECKING:
    from bot.proxmox.client import ProxmoxClient

if TYPE_CHECKING:
    from bot.proxmox.client import ProxmoxClient

MIN_PROXMOX = (8, 1)
MAX_CLOCK_SKEW = 30.0
SETUP_DOC = "manifests/proxmox-setup.md"
_API_CHECKS = (
    "Proxmox version",
    "Proxmox privileges",
    "Proxmox node",
    "Template storage",
    "Disk storage",
    "Bridges",
    "Proxmox tags",
)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of ``cardinal check``: ``ok`` or not, what was found, and how to fix it.

    ``skipped`` marks a check that could not run because an earlier one failed; it does not pass.
    ``warning`` marks a passing check whose finding is legal but probably unintended (shown with ``!``).
    """

    name: str
    ok: bool
    detail: str
    hint: str = ""
    skipped: bool = False
    warning: bool = False


@dataclass(frozen=True, slots=True)
class CheckTargets:
    """What the policy (``[placement]``) asks Cardinal to use on Proxmox."""

    template_storage: str = "local"
    rootfs_storages: tuple[str, ...] = ("local-lvm",)
    bridges: tuple[str, ...] = ("vmbr0",)
    pool: str | None = None
    slack_channels: tuple[tuple[str, str], ...] = ()
    """(role, channel id) of the Slack channels Cardinal must be a member of."""

    @classmethod
    def from_policy(cls, policy: Policy) -> CheckTargets:
        """The storages, bridges and pool of the policy's ``[placement]``, and the policy's channels."""
        p = policy.placement
        return cls(p.template_storage, tuple(p.storages), tuple(p.bridges), p.pool, policy_channels(policy))


def skipped(name: str, reason: str) -> CheckResult:
    """A check that did not run."""
    return CheckResult(name, ok=False, detail=f"not checked ({reason})", skipped=True)


# --- rendering ---------------------------------------------------------------------------------


def passed(results: Iterable[CheckResult]) -> bool:
    """True when every check ran and passed."""
    return all(r.ok and not r.skipped for r in results)


def render(results: Sequence[CheckResult]) -> str:
    """One line per check (``✓``/``✗``, or ``-`` when skipped), hints indented beneath with ``→``,
    then a summary line."""
    lines: list[str] = []
    for r in results:
        mark = "-" if r.skipped else ("!" if r.ok and r.warning else ("✓" if r.ok else "✗"))
        lines.append(f"{mark} {r.name}: {r.detail}")
        if r.hint and (not r.ok or r.warning):
            lines.extend(f"    → {h}" for h in r.hint.splitlines())
    failed = sum(1 for r in results if not r.ok and not r.skipped)
    not_run = sum(1 for r in results if r.skipped)
    if failed == 0 and not_run == 0:
        lines.append(f"All {len(results)} checks passed.")
    else:
        summary = f"{failed} of {len(results)} checks failed"
        if not_run:
            summary += f", {not_run} not checked"
        lines.append(summary + ".")
    return "\n".join(lines)


# --- settings ----------------------------------------------------------------------------------


SETTINGS_HINT = (
    "Set it in the environment or in {env_file}; the README's Configuration reference lists every setting."
)
POLICY_HINT = "Fix POLICY_FILE {path}; the README's section 'The policy file' describes every key."
SLACK_PLACEHOLDERS = {"slack_bot_token": "xoxb-placeholder", "slack_signing_secret": "placeholder"}
"""Stand-ins that let ``check`` run its other checks when only the Slack settings are missing or bad."""


def check_settings(env_file: Path | None = Path(".env")) -> tuple[Settings | None, list[CheckResult]]:
    """Load the settings; one ✗ per problem (naming the variable, never its value) when they are bad."""
    try:
        settings = load_settings(_env_file=env_file)
    except ConfigError as exc:
        hint = SETTINGS_HINT.format(env_file=env_file or ".env")
        return None, [CheckResult("Settings", False, problem, hint) for problem in exc.problems]
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    auth = f"token {settings.proxmox_token}" if settings.uses_token else f"user {settings.proxmox_username}"
    db = settings.database_url.split(":", 1)[0]
    return settings, [CheckResult("Settings", True, f"valid ({mode}, Proxmox {auth}, database {db})")]


def settings_without_slack(env_file: Path | None, problems: Sequence[str]) -> Settings | None:
    """The settings with stand-ins for the Slack ones, when only Slack settings are missing or invalid
    (e.g. the snippet ``cardinal sandbox`` prints): the database and Proxmox checks can still run."""
    if not problems or not all(p.startswith("SLACK_") for p in problems):
        return None
    try:
        return load_settings(_env_file=env_file, **SLACK_PLACEHOLDERS)
    except ConfigError:
        return None


def check_policy(settings: Settings) -> tuple[CheckTargets | None, list[CheckResult]]:
    """Load ``POLICY_FILE`` (or the built-in defaults); one ✗ per problem, naming the TOML key; then the
    policy's own warnings (:meth:`Policy.warnings`) — an empty ``approvers`` fails, the others warn."""
    try:
        policy = load_policy(settings.policy_file)
    except ConfigError as exc:
        hint = POLICY_HINT.format(path=settings.policy_file)
        return None, [CheckResult("Policy", False, problem, hint) for problem in exc.problems]
    source = str(settings.policy_file) if settings.policy_file else "built-in defaults"
    targets = CheckTargets.from_policy(policy)
    detail = (
        f"{source} (templates on {targets.template_storage}, disks on {', '.join(targets.rootfs_storages)}, "
        f"bridges {', '.join(targets.bridges)})"
    )
    results = [CheckResult("Policy", True, detail)]
    where = f"in {settings.policy_file}" if settings.policy_file else "in a policy file and set POLICY_FILE"
    for warning in policy.warnings():
        key = warning.split(" ", 1)[0]
        hint = f"Set {key} {where}; the README's section 'The policy file' describes it."
        if key == "approvers":  # nobody can approve: every request beyond auto_approve is stuck
            results.append(CheckResult("Policy approvers", False, warning, hint))
        else:
            results.append(CheckResult(f"Policy {key}", True, warning, hint, warning=True))
    return targets, results


# --- database ----------------------------------------------------------------------------------


def _sqlite_file_missing(database: str) -> CheckResult | None:
    """For a SQLite file that does not exist yet: whether ``cardinal run`` will be able to create it."""
    path = Path(database).expanduser()
    if path.exists():
        return None
    ancestor = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        return CheckResult(
            "Database",
            False,
            f"SQLite file {path} cannot be created ({ancestor} is not a writable directory)",
            "Point DATABASE_URL at a writable directory (the image mounts /data for it).",
        )
    return CheckResult("Database", True, f"SQLite file {path} will be created by `cardinal run`")


async def check_database(settings: Settings, *, limit: float) -> CheckResult:
    """``DATABASE_URL`` opens (without creating or migrating anything) and says how far it is migrated."""
    from sqlalchemy.engine import make_url

    from bot.db.engine import build_engine
    from bot.db.migrate import current_revision, head_revision

    name = "Database"
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return CheckResult(name, True, "SQLite in memory (nothing is kept across restarts)")
        missing = _sqlite_file_missing(database)
        if missing is not None:
            return missing
    engine = build_engine(settings.database_url, pooled=False)
    try:
        async with asyncio.timeout(limit):
            revision = await current_revision(engine)
    except Exception as exc:  # whatever the driver raises, the fix is in DATABASE_URL or the server
        from bot.ops.startup import database_error

        line = database_error(exc).problems[0].removeprefix("DATABASE_URL: ")
        what, _, fix = line.partition("; ")
        return CheckResult(name, False, what, fix[:1].upper() + fix[1:] + ".")
    finally:
        await engine.dispose()
    backend = url.get_backend_name()
    if revision == head_revision():
        return CheckResult(name, True, f"{backend} reachable, at the latest migration")
    state = "empty" if revision is None else f"at migration {revision}"
    return CheckResult(name, True, f"{backend} reachable, {state}; `cardinal run` migrates it at start")


# --- Slack -------------------------------------------------------------------------------------


def evaluate_scopes(granted: set[str] | None) -> CheckResult:
    """Compare the token's scopes (``x-oauth-scopes``) with :data:`REQUIRED_BOT_SCOPES`."""
    name = "Slack scopes"
    if granted is None:
        return CheckResult(
            name,
            False,
            "Slack did not report the token's scopes (no x-oauth-scopes header)",
            "Make sure SLACK_BOT_TOKEN is a bot token (xoxb-) of an installed app.",
        )
    missing = [s for s in REQUIRED_BOT_SCOPES if s not in granted]
    if missing:
        uses = "; ".join(f"{s} for {', '.join(needed_for(s))}" for s in missing)
        return CheckResult(
            name,
            False,
            "missing " + ", ".join(missing),
            f"Cardinal needs {uses}. Add them under OAuth & Permissions → Bot Token Scopes (or re-create "
            "the app from manifests/slack-app-*.yaml), then reinstall the app to the workspace.",
        )
    return CheckResult(name, True, "all granted: " + ", ".join(REQUIRED_BOT_SCOPES))


async def check_slack(
    settings: Settings, *, limit: float = 10.0, channels: Sequence[tuple[str, str]] = ()
) -> list[CheckResult]:
    """``auth.test`` with the bot token (and ``apps.connections.open`` with the app token in Socket
    Mode), against ``SLACK_API_URL``; then whether the bot is in ``channels`` ((role, id) pairs)."""
    url = settings.slack_api_url
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=url, timeout=max(int(limit), 1)
    )
    try:
        async with asyncio.timeout(limit):
            resp = await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return [
            CheckResult(
                "Slack auth.test",
                False,
                f"Slack refused the bot token ({error})",
                "Copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page "
                "into SLACK_BOT_TOKEN; reinstall the app if it was revoked.",
            ),
            skipped("Slack scopes", "the token was refused"),
        ]
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        return [
            CheckResult(
                "Slack auth.test",
                False,
                f"cannot reach Slack at {url} ({_describe(exc)})",
                "Check outbound HTTPS to slack.com (proxy, firewall) or SLACK_API_URL.",
            ),
            skipped("Slack scopes", "Slack is unreachable"),
        ]
    headers = {str(k).lower(): str(v) for k, v in dict(resp.headers).items()}
    raw = headers.get("x-oauth-scopes")
    granted = {s.strip() for s in raw.split(",") if s.strip()} if raw is not None else None
    who = f"bot @{resp.get('user', '?')} in workspace {resp.get('team', '?')} ({resp.get('team_id', '?')})"
    results = [CheckResult("Slack auth.test", True, who), evaluate_scopes(granted)]
    if channels:
        bot_name = str(resp.get("user") or "Cardinal")
        results.append(await check_channel_membership(client, channels, bot_name=bot_name, limit=limit))
    if settings.slack_app_token is not None:
        results.append(await _check_socket_mode(client, settings, limit))
    return results


# --- Slack channel membership --------------------------------------------------------------------

CHANNELS_CHECK = "Slack channels"


def policy_channels(policy: Policy) -> tuple[tuple[str, str], ...]:
    """(role, id) of every channel the policy has Cardinal post in: approval, ops and digest channels."""
    out: list[tuple[str, str]] = []
    if policy.approval_channel:
        out.append(("approval channel", policy.approval_channel))
    if policy.ops_channel:
        out.append(("ops channel", policy.ops_channel))
    out += [("digest channel", d.channel) for d in policy.digest]
    first: dict[str, str] = {}
    for role, channel in out:
        first.setdefault(channel, role)
    return tuple((role, channel) for channel, role in first.items())


async def check_channel_membership(
    client: AsyncWebClient, channels: Sequence[tuple[str, str]], *, bot_name: str, limit: float
) -> CheckResult:
    """Whether the bot is a member of each channel, read with ``conversations.history`` (limit 1).

    With ``chat:write`` alone a bot posts only where it was invited. ``conversations.history`` (scopes
    ``channels:history`` / ``groups:history``, which Cardinal has anyway) answers ``not_in_channel`` for a
    public channel the bot is not in and ``channel_not_found`` for a private one it was not invited to (or
    a wrong id) — docs.slack.dev/reference/methods/conversations.history, "Errors".
    """
    missing: list[str] = []
    hints: list[str] = []
    for role, channel in channels:
        try:
            async with asyncio.timeout(limit):
                await client.conversations_history(channel=channel, limit=1)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error == "not_in_channel":
                missing.append(f"{role} {channel} (not a member)")
                hints.append(f"In the {role} ({channel}) type: /invite @{bot_name}")
            elif error == "channel_not_found":
                missing.append(f"{role} {channel} (not found: private and not invited, or a wrong id)")
                hints.append(
                    f"If the {role} ({channel}) is private, type /invite @{bot_name} in it; otherwise "
                    "correct the id in POLICY_FILE (channel details → the id at the bottom)."
                )
            else:
                missing.append(f"{role} {channel} ({error})")
                hints.append(f"Slack answered {error} for {channel}; check the id in POLICY_FILE.")
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return CheckResult(
                CHANNELS_CHECK, False, f"cannot reach Slack ({_describe(exc)})", "Check outbound HTTPS."
            )
    if missing:
        return CheckResult(
            CHANNELS_CHECK, False, "Cardinal cannot post in " + "; ".join(missing), "\n".join(hints)
        )
    names = ", ".join(f"{role} {channel}" for role, channel in channels)
    return CheckResult(CHANNELS_CHECK, True, f"@{bot_name} is a member of {names}")


async def _check_socket_mode(client: AsyncWebClient, settings: Settings, limit: float) -> CheckResult:
    name = "Slack Socket Mode"
    assert settings.slack_app_token is not None
    try:
        async with asyncio.timeout(limit):
            await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return CheckResult(
            name,
            False,
            f"Slack refused the app-level token ({error})",
            "Create an app-level token with the connections:write scope (Basic Information → App-Level "
            "Tokens) and enable Socket Mode; put it in SLACK_APP_TOKEN.",
        )
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        return CheckResult(name, False, f"cannot reach Slack ({_describe(exc)})", "Check outbound HTTPS.")
    return CheckResult(name, True, "app-level token accepted (connections:write)")


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


# --- Proxmox API: version, privileges, storage, bridges -----------------------------------------


def evaluate_version(version: Version) -> CheckResult:
    """Proxmox VE must be ≥ 8.1 (the LXC ``interfaces`` endpoint)."""
    mm = version.major_minor
    text = f"{version.release or version.version} ({version.version})"
    if mm < MIN_PROXMOX:
        return CheckResult(
            "Proxmox version",
            False,
            f"{text} is older than 8.1",
            "Upgrade Proxmox VE to 8.1 or newer (8.x and 9.x are supported).",
        )
    return CheckResult("Proxmox version", True, f"{text}, at least 8.1")


def _expand(req: Requirement, nodes: Sequence[str], targets: CheckTargets) -> list[tuple[str, str]]:
    """(path to test, path to show) pairs for one requirement."""
    values: dict[str, Sequence[str]] = {
        "template_storage": (targets.template_storage,),
        "rootfs_storage": targets.rootfs_storages,
        "node": nodes,
        "bridge": targets.bridges,
    }
    if "{vmid}" in req.path:
        if targets.pool is not None:
            # Containers are created into the pool: its ACL gives the roles on every member (and
            # VM.Allocate on the pool is what creation into it needs).
            return [(f"/pool/{targets.pool}", f"/pool/{targets.pool}")]
        # Containers get new VMIDs: the privilege must propagate to every child of the ACL path.
        return [(req.path.replace("{vmid}", "100"), req.acl)]
    for key, options in values.items():
        token = "{" + key + "}"
        if token in req.path:
            if not options:  # e.g. no node listed: the ACL path itself must carry the privilege
                return [(req.acl, req.acl)]
            paths = [req.path.replace(token, option) for option in options]
            return [(p, p) for p in paths]
    return [(req.path, req.path)]


def missing_privileges(
    perms: Permissions, nodes: Sequence[str], targets: CheckTargets
) -> dict[str, list[str]]:
    """Shown path → privileges missing there (empty when the token has everything)."""
    missing: dict[str, list[str]] = {}
    for req in REQUIREMENTS:
        for test_path, shown in _expand(req, nodes, targets):
            if not perms.has(test_path, req.privilege) and req.privilege not in missing.get(shown, []):
                missing.setdefault(shown, []).append(req.privilege)
    return missing


def evaluate_privileges(
    perms: Permissions, nodes: Sequence[str], targets: CheckTargets, principal: str
) -> CheckResult:
    """Every privilege of :data:`bot.ops.privileges.REQUIREMENTS`, on its path."""
    missing = missing_privileges(perms, nodes, targets)
    if not missing:
        return CheckResult("Proxmox privileges", True, f"{principal} has every privilege Cardinal uses")
    detail = "missing " + "; ".join(f"{', '.join(privs)} on {path}" for path, privs in missing.items())
    flag = _principal_flag(principal)
    first = next(iter(missing))
    acl = "/nodes" if first.startswith("/nodes/") else first
    hint = (
        f"Grant the CardinalRole from {SETUP_DOC} on each path, e.g.\n"
        f"pveum acl modify {acl} {flag} '{principal}' --roles CardinalRole"
    )
    if "!" in principal:
        hint += "\n(with privilege separation, the token's user needs the same ACLs)"
    return CheckResult("Proxmox privileges", False, detail, hint)


def evaluate_node(wanted: str | None, nodes: Sequence[str]) -> CheckResult:
    """``PROXMOX_NODE``, when set, names a node of the cluster (as the token sees it)."""
    name = "Proxmox node"
    if wanted is None:
        return CheckResult(name, True, "PROXMOX_NODE unset: the allowed node with the most free memory")
    if wanted not in nodes:
        return CheckResult(
            name,
            False,
            f"PROXMOX_NODE={wanted} is not a node of this cluster "
            f"(nodes: {', '.join(nodes) or 'none visible'})",
            "Set PROXMOX_NODE to one of the nodes listed (Datacenter → nodes), or unset it; Proxmox hides "
            "nodes the token cannot audit (Sys.Audit on /nodes).",
        )
    return CheckResult(name, True, f"PROXMOX_NODE={wanted} is a node of this cluster")


def _principal_flag(principal: str) -> str:
    return "--tokens" if "!" in principal else "--users"


def evaluate_template_storage(
    storages: Sequence[ClusterResource], templates: Sequence[StorageContent] | None, targets: CheckTargets
) -> CheckResult:
    """The template storage exists (is visible) and holds container templates (``vztmpl`` content)."""
    name, store = "Template storage", targets.template_storage
    found = [s for s in storages if s.type == "storage" and s.storage == store]
    if not found:
        visible = sorted({s.storage for s in storages if s.storage})
        return CheckResult(
            name,
            False,
            f"storage '{store}' not found (visible: {', '.join(visible) or 'none'})",
            f"Create it, pick a visible one in the policy, or grant Datastore.Audit on /storage/{store} "
            "(Proxmox hides storages the token cannot audit).",
        )
    with_tmpl = sorted({s.node or "?" for s in found if "vztmpl" in (s.content or "").split(",")})
    if not with_tmpl:
        return CheckResult(
            name,
            False,
            f"storage '{store}' does not hold container templates (content: {found[0].content})",
            f"Enable the 'Container template' content type: pvesm set {store} --content vztmpl,<others>",
        )
    count = ""
    if templates is not None:
        count = f", {len(templates)} template(s)" if templates else ", no templates yet (/lxc templates)"
    return CheckResult(name, True, f"'{store}' holds templates on {', '.join(with_tmpl)}{count}")


async def check_template_nodes(
    px: ProxmoxClient,
    targets: CheckTargets,
    nodes: Sequence[str],
    storages: Sequence[ClusterResource],
    *,
    limit: float,
) -> list[CheckResult]:
    """ "Templates per node": a storage such as ``local`` is per node, so list it on every node."""
    name = "Templates per node"
    if not nodes:
        return []
    try:
        async with asyncio.timeout(limit * max(len(nodes), 1)):
            where = await locate_templates(px, targets.template_storage, nodes, storages)
    except (ProxmoxError, TimeoutError, OSError, aiohttp.ClientError) as exc:
        return [CheckResult(name, False, _describe(exc), "Check the template storage on every node.")]
    return [evaluate_template_nodes(where)]


def evaluate_template_nodes(where: TemplateLocations) -> CheckResult:
    """Which nodes hold templates. A non-shared storage (``local``) holds each node's own templates, so a
    node without any cannot take containers; that is reported (and fails when no node has one)."""
    name = "Templates per node"
    store = where.storage
    if where.shared:
        return CheckResult(
            name,
            bool(where.templates),
            f"'{store}' is shared: {len(where.templates)} template(s) on every node",
        )
    counts = {n: sum(1 for v in where.templates if n in where.nodes_with(v)) for n in where.nodes}
    detail = f"'{store}' is per node (not shared): " + ", ".join(f"{n} {c}" for n, c in counts.items())
    empty = [n for n, c in counts.items() if c == 0]
    if empty:
        detail += f"; no templates on {', '.join(empty)} (containers are only placed where their template is)"
    return CheckResult(
        name,
        any(counts.values()),
        detail,
        f"Download a template on each node that should take containers: "
        f"pveam download {store} <template> (run on that node), or use a shared template storage.",
    )


def evaluate_default_node(node: str, nodes: Sequence[NodeInfo]) -> CheckResult:
    """``PROXMOX_NODE`` (the default node for creation and template lists) exists and is online."""
    name = "Default node"
    found = next((n for n in nodes if n.node == node), None)
    known = ", ".join(sorted(n.node for n in nodes)) or "none"
    if found is None:
        return CheckResult(
            name,
            False,
            f"PROXMOX_NODE={node} is not a node of this cluster (nodes: {known})",
            "Set PROXMOX_NODE to one of the cluster's node names, or leave it empty for automatic placement.",
        )
    if found.status != "online":
        return CheckResult(
            name,
            False,
            f"PROXMOX_NODE={node} is {found.status}",
            "Bring the node back, or point PROXMOX_NODE at an online node (or leave it empty).",
        )
    return CheckResult(name, True, f"PROXMOX_NODE={node} is online")


def evaluate_rootfs_storages(storages: Sequence[ClusterResource], targets: CheckTargets) -> CheckResult:
    """Each storage allowed for root disks exists (is visible) and accepts container disks (``rootdir``)."""
    name = "Disk storage"
    problems: list[str] = []
    for store in targets.rootfs_storages:
        found = [s for s in storages if s.type == "storage" and s.storage == store]
        if not found:
            problems.append(f"'{store}' not found")
        elif not any("rootdir" in (s.content or "").split(",") for s in found):
            problems.append(f"'{store}' does not accept container disks (content: {found[0].content})")
    if problems:
        return CheckResult(
            name,
            False,
            "; ".join(problems),
            "Fix [placement] storages in the policy, enable the 'Container' content type "
            "(pvesm set <storage> --content rootdir,<others>), or grant Datastore.Audit on "
            "/storage/<storage> (Proxmox hides storages the token cannot audit).",
        )
    return CheckResult(name, True, f"{', '.join(targets.rootfs_storages)} accept container disks")


def evaluate_bridges(
    perms: Permissions,
    sdn: Sequence[ClusterResource],
    targets: CheckTargets,
    principal: str = "<token>",
    node_bridges: Mapping[str, Collection[str]] | None = None,
) -> CheckResult:
    """Each allowed bridge is usable: ``SDN.Use`` on ``/sdn/zones/localnetwork/<bridge>`` (PVE 8+), it exists
    on every node in ``node_bridges`` (node → its bridges, when known), and the ``localnetwork`` zone is
    present on the nodes when Proxmox lists SDN zones."""
    name = "Bridges"
    denied = [b for b in targets.bridges if not perms.has(f"/sdn/zones/localnetwork/{b}", "SDN.Use")]
    if denied:
        return CheckResult(
            name,
            False,
            "SDN.Use missing for " + ", ".join(denied),
            f"pveum acl modify /sdn/zones/localnetwork {_principal_flag(principal)} '{principal}' "
            "--roles CardinalRole "
            f"(see {SETUP_DOC})",
        )
    absent = {
        b: sorted(n for n, have in (node_bridges or {}).items() if b not in have) for b in targets.bridges
    }
    absent = {b: nodes for b, nodes in absent.items() if nodes}
    if absent:
        return CheckResult(
            name,
            False,
            "; ".join(f"{b} does not exist on {', '.join(nodes)}" for b, nodes in absent.items()),
            "Create the bridge on those nodes (System → Network → Create → Linux Bridge), or remove it "
            "from [placement] bridges in the policy; containers on a missing bridge cannot start.",
        )
    zones = [r for r in sdn if r.type == "sdn" and r.id.rsplit("/", 1)[-1] == "localnetwork"]
    where = f"; localnetwork zone on {', '.join(sorted({z.node or '?' for z in zones}))}" if zones else ""
    present = f", present on {', '.join(sorted(node_bridges))}" if node_bridges else ""
    return CheckResult(name, True, f"{', '.join(targets.bridges)} usable (SDN.Use){present}{where}")


TAGS_CHECK = "Proxmox tags"
_TAG_FIX = (
    "Let Cardinal set its tags: in Datacenter → Options set 'User Tag Access' to free "
    "(pvesh set /cluster/options --user-tag-access user-allow=free)",
    "or keep cardinal and owner-… out of 'Registered Tags' (those need Sys.Modify on / to set)",
    "or grant the token Sys.Modify on / (broad: it may also change the datacenter configuration).",
)


def _our_tag(tag: str) -> bool:
    return tag.lower() == CARDINAL_TAG or tag.lower().startswith(OWNER_TAG_PREFIX)


def evaluate_tag_options(
    options: Mapping[str, object] | None, perms: Permissions, principal: str, *, unreadable: str = ""
) -> CheckResult:
    """Whether Proxmox will let Cardinal's token set its ``cardinal`` and ``owner-<user>`` tags.

    Proxmox (``PVE::GuestHelpers::assert_tag_permissions``) refuses a new tag with ``403 Permission check
    failed (/, Sys.Modify for modifying tag '…')`` unless the caller has ``Sys.Modify`` on ``/``, or the
    datacenter's ``user-tag-access`` is ``free`` (the default) — with ``list`` only listed tags, with
    ``existing`` also tags some guest already has (a new person's ``owner-…`` tag never is), with ``none``
    nothing — and the tag is not in ``registered-tags``. ``options`` is ``GET /cluster/options`` (``None``
    when it could not be read; ``unreadable`` says why).
    """
    if perms.has("/", "Sys.Modify"):
        return CheckResult(TAGS_CHECK, True, f"{principal} has Sys.Modify on /: Proxmox accepts any tag")
    if options is None:
        return CheckResult(
            TAGS_CHECK,
            True,
            f"could not read the datacenter tag options ({unreadable or 'no answer'})",
            "If Datacenter → Options → 'User Tag Access' is not free, or 'Registered Tags' lists cardinal "
            "or owner-…, every create fails with 403. Check there, or grant the token Sys.Audit on / so "
            "cardinal check can read it.",
            warning=True,
        )
    registered = [str(t) for t in _as_list(options.get("registered-tags"))]
    access = options.get("user-tag-access")
    access = access if isinstance(access, Mapping) else {}
    user_allow = str(access.get("user-allow") or "free")
    allow_list = [str(t).lower() for t in _as_list(access.get("user-allow-list"))]
    problems: list[str] = []
    ours = [t for t in registered if _our_tag(t)]
    if ours:
        problems.append(f"registered-tags lists {', '.join(ours)}")
    if user_allow == "none":
        problems.append("user-tag-access is user-allow=none (no tag may be set)")
    elif user_allow in ("list", "existing"):
        listed = CARDINAL_TAG in allow_list or user_allow == "existing"  # existing: once on some guest
        missing = "" if listed else f"{CARDINAL_TAG} and "
        problems.append(
            f"user-tag-access is user-allow={user_allow}: {missing}each person's new owner-<user> tag "
            "would be refused"
        )
    if problems:
        detail = "; ".join(problems) + f", and {principal} lacks Sys.Modify on /: creates would fail with 403"
        return CheckResult(TAGS_CHECK, False, detail, "\n".join(_TAG_FIX))
    return CheckResult(TAGS_CHECK, True, "user-tag-access lets Cardinal set cardinal and owner-… tags")


def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [t for t in value.replace(",", ";").split(";") if t]
    return []


async def check_tag_options(
    px: ProxmoxClient, perms: Permissions, principal: str, *, limit: float
) -> CheckResult:
    """Read ``/cluster/options`` and judge it with :func:`evaluate_tag_options`."""
    if perms.has("/", "Sys.Modify"):
        return evaluate_tag_options(None, perms, principal)
    try:
        options = await _bounded(px.cluster_options(), limit)
    except ProxmoxPermissionError:
        return evaluate_tag_options(
            None, perms, principal, unreadable="GET /cluster/options needs Sys.Audit on /"
        )
    except (ProxmoxError, TimeoutError, OSError, aiohttp.ClientError) as exc:
        return evaluate_tag_options(None, perms, principal, unreadable=_describe(exc))
    return evaluate_tag_options(options, perms, principal)


async def check_proxmox_api(settings: Settings, targets: CheckTargets, *, limit: float) -> list[CheckResult]:
    """Credentials, version, privileges, template storage and bridges through the Proxmox client."""
    from bot.proxmox.client import ProxmoxClient

    names = _API_CHECKS
    principal = settings.proxmox_token or settings.proxmox_username or "?"
    results: list[CheckResult] = []
    async with ProxmoxClient.from_settings(settings) as px:
        try:
            version = await _bounded(px.version(), limit)
        except ProxmoxError as exc:
            auth = isinstance(exc, ProxmoxAuthError)
            hint = (
                f"Check PROXMOX_TOKEN and PROXMOX_SECRET (or PROXMOX_USERNAME/PASSWORD); {SETUP_DOC} "
                "shows how to create the token."
                if auth
                else exc.hint
            )
            results.append(CheckResult("Proxmox credentials", False, _describe(exc), hint))
            return results + [skipped(n, "the Proxmox login failed") for n in names]
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            results.append(CheckResult("Proxmox credentials", False, _describe(exc), "Try again."))
            return results + [skipped(n, "Proxmox did not answer") for n in names]
        results.append(CheckResult("Proxmox credentials", True, f"{principal} accepted"))
        results.append(evaluate_version(version))

        try:
            perms = await _bounded(px.permissions(), limit)
            nodes = [n.node for n in await _bounded(px.nodes(), limit)]
            storages = await _bounded(px.cluster_resources("storage"), limit)
            sdn = await _bounded(px.cluster_resources("sdn"), limit)
        except (ProxmoxError, TimeoutError, OSError, aiohttp.ClientError) as exc:
            hint = exc.hint if isinstance(exc, ProxmoxError) else "Try again."
            results.append(CheckResult("Proxmox privileges", False, _describe(exc), hint))
            return results + [skipped(n, "reading Proxmox failed") for n in names[2:]]
        results.append(evaluate_privileges(perms, nodes, targets, principal))
        results.append(evaluate_node(settings.proxmox_node, nodes))

        templates: list[StorageContent] | None = None
        node = next((s.node for s in storages if s.storage == targets.template_storage and s.node), None)
        if node is not None:
            try:
                templates = await _bounded(px.storage_content(node, targets.template_storage), limit)
            except (ProxmoxError, TimeoutError, OSError, aiohttp.ClientError):
                templates = None
        results.append(evaluate_template_storage(storages, templates, targets))
        results.append(evaluate_rootfs_storages(storages, targets))
        node_bridges: dict[str, set[str]] = {}
        for node_name in nodes:  # a node that does not answer is left out, not reported twice
            with contextlib.suppress(ProxmoxError, TimeoutError, OSError, aiohttp.ClientError):
                ifaces = await _bounded(px.networks(node_name, "any_bridge"), limit)
                node_bridges[node_name] = {str(i.get("iface")) for i in ifaces}
        results.append(evaluate_bridges(perms, sdn, targets, principal, node_bridges))
        results.extend(await check_template_nodes(px, targets, nodes, storages, limit=limit))
        if settings.proxmox_node:
            results.append(evaluate_default_node(settings.proxmox_node, await _bounded(px.nodes(), limit)))
        results.append(await check_tag_options(px, perms, principal, limit=limit))
    return results


async def _bounded(aw: Awaitable[_T], limit: float) -> _T:
    async with asyncio.timeout(limit):
        return await aw


# --- orchestration -----------------------------------------------------------------------------


async def check_proxmox(settings: Settings, targets: CheckTargets, *, limit: float) -> list[CheckResult]:
    """Transport first; the API checks run only when Proxmox answered."""
    probe = await probe_proxmox(settings, limit=limit)
    results = evaluate_probe(settings, probe)
    api_names = ("Proxmox credentials", *_API_CHECKS)
    if not probe.reachable:
        return results + [skipped(n, "Proxmox is unreachable") for n in api_names]
    if probe.fingerprint is None or (not probe.tls_ok and settings.proxmox_verify_tls):
        return results + [skipped(n, "TLS is not trusted") for n in api_names]
    return results + await check_proxmox_api(settings, targets, limit=limit)


async def run_checks(
    settings: Settings,
    targets: CheckTargets | None = None,
    *,
    limit: float | None = None,
    slack_skipped: str | None = None,
) -> list[CheckResult]:
    """Every check after the settings — database, Slack and Proxmox concurrently — in a stable order.
    ``slack_skipped`` gives the reason when the Slack settings are unusable (the Slack checks are then
    listed as not checked)."""
    targets = targets or CheckTargets()
    limit = limit if limit is not None else settings.proxmox_timeout_read

    async def slack_checks() -> list[CheckResult]:
        if slack_skipped is not None:
            return [skipped("Slack auth.test", slack_skipped), skipped("Slack scopes", slack_skipped)]
        return await check_slack(settings, limit=max(limit, 5.0), channels=targets.slack_channels)

    database, slack, proxmox = await asyncio.gather(
        check_database(settings, limit=max(limit, 5.0)),
        slack_checks(),
        check_proxmox(settings, targets, limit=limit),
    )
    return [database, *slack, *proxmox]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    if isinstance(exc, ProxmoxError):
        return str(exc)
    text = getattr(exc, "strerror", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
