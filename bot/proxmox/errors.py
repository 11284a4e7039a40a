"""The Proxmox boundary's error tree.

The client turns every failed API call into exactly one of these, with a message a Slack user can act
on. The message comes from the JSON body's ``message`` when present (libpve-http-server >= 5.2.0) and
from the HTTP reason phrase otherwise; per-parameter messages from ``errors`` are kept in ``errors``.
"""

from __future__ import annotations

from bot.errors import CardinalError


class ProxmoxError(CardinalError):
    """Any failure talking to Proxmox VE; ``str()`` and ``user_message`` include per-parameter ``errors``."""

    default_hint = "Try again in a minute; if it keeps failing, ask the operators to run `cardinal check`."

    def __init__(
        self,
        what: str,
        *,
        status: int | None = None,
        errors: dict[str, str] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(what, hint=hint)
        self.status = status
        self.errors: dict[str, str] = dict(errors or {})

    def __str__(self) -> str:
        if not self.errors:
            return self.what
        detail = "; ".join(f"{k}: {v.strip()}" for k, v in sorted(self.errors.items()))
        return f"{self.what} ({detail})"

    @property
    def user_message(self) -> str:
        """Includes the per-parameter messages (e.g. ``upid: no such task``), which say what went wrong."""
        return f"{self}\n{self.hint}" if self.hint else str(self)


class ProxmoxAuthError(ProxmoxError):
    """401: the token, ticket or CSRF token was refused."""

    default_hint = "Cardinal's Proxmox credentials were refused; the operators should check the API token."


class ProxmoxPermissionError(ProxmoxError):
    """403: authenticated, but the token lacks a privilege on the path."""

    default_hint = (
        "Cardinal's Proxmox token lacks a privilege; the operators can run `cardinal check` to see which."
    )


class ProxmoxNotFoundError(ProxmoxError):
    """The container, task, node or path does not exist."""

    default_hint = "Check the VMID or name (`/lxc list` shows what exists)."


class ProxmoxExistsError(ProxmoxError):
    """The VMID (or another unique thing) is already taken."""

    default_hint = "Pick another VMID or name; Cardinal normally chooses a free one for you."


class ProxmoxLockedError(ProxmoxError):
    """The container is locked by another operation (create, backup, snapshot…)."""

    default_hint = "Another operation holds the container; wait for it to finish and try again."


class ProxmoxValidationError(ProxmoxError):
    """400 parameter verification failed; ``errors`` maps each parameter to its message."""

    default_hint = "Cardinal sent a value Proxmox refused; please report this to the operators."


class ProxmoxConflictError(ProxmoxError):
    """The container is in the wrong state for the action (already running, not running…)."""

    default_hint = "`/lxc status <vmid>` shows the container's current state."


class ProxmoxServerError(ProxmoxError):
    """5xx from Proxmox that is not one of the cases above."""


class ProxmoxUnreachableError(ProxmoxError):
    """No answer: connection refused or reset, DNS failure, or a 595/596 node-proxy failure."""

    default_hint = "Proxmox could not be reached; Cardinal will keep retrying what is pending."


class ProxmoxTimeoutError(ProxmoxUnreachableError):
    """The call did not complete within its timeout. The outcome of a write is unknown."""


class ProxmoxTLSError(ProxmoxUnreachableError):
    """TLS verification failed, or the certificate does not match the pinned fingerprint."""

    default_hint = (
        "The Proxmox certificate was not trusted; the operators should check PROXMOX_CA_FILE or "
        "PROXMOX_FINGERPRINT (`cardinal check` prints the fingerprint Proxmox presents)."
    )


class CircuitOpenError(ProxmoxUnreachableError):
    """The circuit breaker is open after repeated failures; calls fail fast until it probes again."""

    default_hint = "Proxmox has been failing; Cardinal pauses calls briefly and will retry by itself."
