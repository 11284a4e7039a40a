"""The result of one check and what the checks look at, how results are rendered, and the helpers every
check shares."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.policy import Policy
from bot.proxmox.errors import ProxmoxError

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


async def _bounded(aw: Awaitable[_T], limit: float) -> _T:
    async with asyncio.timeout(limit):
        return await aw


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    if isinstance(exc, ProxmoxError):
        return str(exc)
    text = getattr(exc, "strerror", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
