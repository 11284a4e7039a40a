"""Start-up failures as one line each: which setting is wrong and what to do about it.

``cardinal run`` meets the outside world in a fixed order — database, listening ports, Slack, Proxmox —
and each of these can fail because of a setting. The functions here turn the exception of one such step
into a :class:`StartupError` whose lines name the setting (``DATABASE_URL``, ``INTERNAL_PORT``,
``SLACK_BOT_TOKEN`` …) and the fix; ``bot.cli`` prints them instead of a traceback. Exit codes follow the
README: 2 when the configuration is wrong (refused, does not exist, mismatched), 1 when something the
configuration points at is not there right now (a closed port, a busy port, an unreachable host).
"""

from __future__ import annotations

import errno
import ssl

from bot.errors import CardinalError
from bot.proxmox.errors import ProxmoxAuthError, ProxmoxError, ProxmoxTLSError

EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2


class StartupError(CardinalError):
    """``cardinal run`` cannot start; ``problems`` has one self-contained line per problem."""

    def __init__(self, problems: list[str], *, exit_code: int = EXIT_CONFIG) -> None:
        super().__init__("; ".join(problems), hint="")
        self.problems = problems
        self.exit_code = exit_code


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line and without a traceback."""
    text = exc.what if isinstance(exc, CardinalError) else (getattr(exc, "strerror", None) or str(exc))
    text = " ".join(text.split())
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _unreachable(exc: BaseException) -> bool:
    """A connection that could not be made (refused, DNS, timeout) rather than an answer saying no."""
    if isinstance(exc, ssl.SSLError):
        return False
    return isinstance(exc, (ConnectionError, TimeoutError, OSError)) and not isinstance(
        exc, (FileNotFoundError, PermissionError, IsADirectoryError)
    )


def _root(exc: BaseException) -> BaseException:
    """The innermost cause (SQLAlchemy and aiohttp wrap the OS error that says what happened)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def database_error(exc: BaseException) -> StartupError:
    """Opening or migrating ``DATABASE_URL`` failed (the URL itself is never printed: it may hold a
    password)."""
    root = _root(exc)
    if _unreachable(root):
        return StartupError(
            [
                f"DATABASE_URL: cannot connect to the database ({describe(root)}); start the database "
                "server or correct the host and port in DATABASE_URL"
            ],
            exit_code=EXIT_UNAVAILABLE,
        )
    return StartupError(
        [
            f"DATABASE_URL: the database refused to open ({describe(root)}); create the database "
            "(e.g. createdb), grant the user access, or correct DATABASE_URL"
        ]
    )


def port_error(exc: OSError, setting: str, port: int) -> StartupError:
    """Binding a listening port failed: ``setting`` names where the port number comes from."""
    if exc.errno == errno.EADDRINUSE:
        what = f"port {port} is already in use by another process"
    elif exc.errno == errno.EACCES:
        what = f"port {port} needs privileges this process does not have"
    else:
        what = f"cannot listen on port {port} ({describe(exc)})"
    return StartupError(
        [f"{setting}: {what}; stop the other process or choose another port"], exit_code=EXIT_UNAVAILABLE
    )


def slack_refused(error: str) -> StartupError:
    """``auth.test`` answered ``ok: false`` (``invalid_auth``, ``token_revoked``, ``account_inactive`` …)."""
    return StartupError(
        [
            f"SLACK_BOT_TOKEN: Slack refused the bot token ({error}); copy the Bot User OAuth Token "
            "(xoxb-…) from the app's OAuth & Permissions page, or reinstall the app if it was revoked"
        ]
    )


def slack_app_token_refused(error: str) -> StartupError:
    """``apps.connections.open`` refused the app-level token (``invalid_auth``, ``not_allowed_token_type``
    for a bot token, ``missing_scope`` without ``connections:write`` …): retrying cannot help."""
    return StartupError(
        [
            f"SLACK_APP_TOKEN: Slack refused the app-level token ({error}); create one with the "
            "connections:write scope (Basic Information → App-Level Tokens), enable Socket Mode, or unset "
            "SLACK_APP_TOKEN to serve HTTP"
        ]
    )


def slack_unreachable(exc: BaseException, api_url: str) -> StartupError:
    """``auth.test`` got no answer from ``SLACK_API_URL``."""
    return StartupError(
        [
            f"SLACK_API_URL: cannot reach Slack at {api_url} ({describe(_root(exc))}); check outbound "
            "HTTPS (proxy, firewall) or correct SLACK_API_URL"
        ],
        exit_code=EXIT_UNAVAILABLE,
    )


def proxmox_error(exc: ProxmoxError, *, uses_token: bool) -> StartupError | None:
    """A configuration error in Proxmox's answer at start (refused credentials, untrusted certificate),
    or ``None`` when Proxmox is merely unreachable (then Cardinal starts and keeps retrying)."""
    if isinstance(exc, ProxmoxAuthError):
        names = "PROXMOX_TOKEN/PROXMOX_SECRET" if uses_token else "PROXMOX_USERNAME/PROXMOX_PASSWORD"
        return StartupError(
            [
                f"{names}: Proxmox refused Cardinal's credentials ({exc.what}); check the token id and "
                "secret (Datacenter → Permissions → API Tokens), then run `cardinal check`"
            ]
        )
    if isinstance(exc, ProxmoxTLSError):
        return StartupError(
            [
                f"PROXMOX_FINGERPRINT/PROXMOX_CA_FILE: the Proxmox certificate is not trusted ({exc.what}); "
                "`cardinal check` prints the fingerprint the server presents, to pin or compare"
            ]
        )
    return None


def policy_problems(problems: list[str], path: object) -> list[str]:
    """Policy problems, each naming the file (``POLICY_FILE``) it was found in and where keys are
    described."""
    out: list[str] = []
    for problem in problems:
        if problem.startswith("POLICY_FILE"):
            out.append(problem)
        else:
            out.append(
                f"POLICY_FILE {path}: {problem} (the README's section 'The policy file' describes every key)"
            )
    return out
