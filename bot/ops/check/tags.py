"""Check of the datacenter's tag options (``/cluster/options``) against the tags Cardinal writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohttp

from bot.ops.check.result import CheckResult, _bounded, _describe
from bot.ownership import CARDINAL_TAG, OWNER_TAG_PREFIX
from bot.proxmox.errors import ProxmoxError, ProxmoxPermissionError
from bot.proxmox.models import Permissions

if TYPE_CHECKING:
    from bot.proxmox.client import ProxmoxClient


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
