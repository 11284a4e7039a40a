"""Ownership and expiry written into the container itself, so they survive the loss of Cardinal's database.

Two places carry it (both are set at creation and refreshed by ``/lxc extend``):

* Proxmox ``tags``: ``cardinal`` and ``owner-<slack id lowercased>`` (visible in the Proxmox UI; tags
  allow only ``[a-z0-9_][a-z0-9_\\-+.]*``, hence the lowercase);
* one line of the ``description``: ``cardinal: owner=U123ABC expires=2026-12-01T10:00:00Z request=<id>``
  (``expires`` and ``request`` are left out when unknown). Other description lines are kept untouched.

Every value is validated before it is written, and again when it is read back: nothing a person typed
can add a key, a line or a tag. ``cardinal reconcile --adopt`` rebuilds the database from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bot.errors import InputError

__all__ = [
    "CARDINAL_TAG",
    "LINE_PREFIX",
    "OWNER_TAG_PREFIX",
    "Ownership",
    "format_expiry",
    "ownership_line",
    "ownership_tags",
    "parse_ownership",
    "parse_tags",
    "same_tags",
    "stored_tags",
    "valid_tag",
    "with_ownership_tags",
    "with_updated_description",
]

CARDINAL_TAG = "cardinal"
"""The tag every container Cardinal created carries."""

OWNER_TAG_PREFIX = "owner-"
LINE_PREFIX = "cardinal:"
"""The description line Cardinal owns starts with this."""

_USER_RE = re.compile(r"[UW][A-Z0-9]{2,31}")
_REQUEST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_EXPIRES_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TAG_RE = re.compile(r"[a-z0-9_][a-z0-9_\-+.]{0,63}")
_TAG_SPLIT_RE = re.compile(r"[;,\s]+")


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who owns a container and until when, as read back from Proxmox.

    ``source`` says where the owner came from: the description line (which also carries expiry and
    request) or only the tags (expiry and request unknown).
    """

    owner: str
    expires_at: datetime | None
    request_id: str | None
    source: Literal["description", "tags"]


def _check_owner(owner: str) -> str:
    if not isinstance(owner, str) or not _USER_RE.fullmatch(owner):
        raise InputError(
            f"owner: {owner!r:.40} is not a Slack user id (U… or W…, capital letters and digits)",
            field="owner",
        )
    return owner


def _check_request(request_id: str) -> str:
    if not isinstance(request_id, str) or not _REQUEST_RE.fullmatch(request_id):
        raise InputError(
            f"request: {request_id!r:.70} is not a request id (letters, digits, '-' and '_', at most 64)",
            field="request",
        )
    return request_id


def format_expiry(expires_at: datetime) -> str:
    """``2026-12-01T10:00:00Z``: UTC, whole seconds. Refuses a naive datetime."""
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise InputError("expires: the time has no time zone", field="expires")
    return expires_at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def ownership_tags(owner: str) -> list[str]:
    """``["cardinal", "owner-u123abc"]`` for owner ``U123ABC``; raises :class:`InputError` for a bad id."""
    return [CARDINAL_TAG, OWNER_TAG_PREFIX + _check_owner(owner).lower()]


def ownership_line(owner: str, expires_at: datetime | None, request_id: str | None) -> str:
    """The one description line Cardinal owns, e.g. ``cardinal: owner=U1 expires=…Z request=…``.

    Raises :class:`InputError` when a value is not a Slack user id, an aware time or a request id.
    """
    parts = [f"{LINE_PREFIX} owner={_check_owner(owner)}"]
    if expires_at is not None:
        parts.append(f"expires={format_expiry(expires_at)}")
    if request_id is not None:
        parts.append(f"request={_check_request(request_id)}")
    return " ".join(parts)


def parse_tags(tags: str | None) -> list[str]:
    """Proxmox's ``tags`` value (``a;b``; also tolerates ``,`` and spaces) as a list, order kept."""
    if not tags:
        return []
    return [t for t in _TAG_SPLIT_RE.split(tags) if t]


def stored_tags(tags: str | list[str] | None, *, case_sensitive: bool = False, ordering: str = "") -> str:
    """``tags`` as Proxmox writes them into the guest config (``PVE::GuestHelpers::get_unique_tags``):
    lowercased unless the datacenter's ``tag-style`` is ``case-sensitive``, sorted (case-insensitively)
    unless its ``ordering`` is ``config``, duplicates dropped, ``;``-joined."""
    items = parse_tags(tags) if not isinstance(tags, list) else list(tags)
    if ordering != "config":
        items = sorted(items, key=(lambda t: t) if case_sensitive else str.lower)
    out: list[str] = []
    for item in items:
        tag = item if case_sensitive else item.lower()
        if tag not in out:
            out.append(tag)
    return ";".join(out)


def same_tags(a: str | None, b: str | None) -> bool:
    """Whether two ``tags`` values hold the same tags, compared as Proxmox does when it decides which
    tags a config change adds or removes (``assert_tag_permissions``: each tag by count, order ignored)."""
    return sorted(parse_tags(a)) == sorted(parse_tags(b))


def with_ownership_tags(tags: str | None, owner: str) -> str:
    """``tags`` with Cardinal's tags added (and any other ``owner-…`` tag replaced).

    When ``tags`` already carries exactly Cardinal's tags it is returned unchanged — byte for byte, so a
    caller comparing old and new sees no change and does not rewrite them (Proxmox stores tags sorted, so
    a re-ordered value would differ on every ``/lxc extend``). Otherwise the result is in the order
    Proxmox stores it.
    """
    ours = ownership_tags(owner)
    current = parse_tags(tags)
    kept = [t for t in current if t != CARDINAL_TAG and not t.startswith(OWNER_TAG_PREFIX)]
    wanted = [*kept, *ours]
    if tags is not None and sorted(current) == sorted(wanted):
        return tags
    return stored_tags(wanted)


def _is_our_line(line: str) -> bool:
    return line.strip().lower().startswith(LINE_PREFIX)


def _parse_line(line: str) -> Ownership | None:
    """One ``cardinal:`` line → :class:`Ownership`, or ``None`` when anything in it is invalid."""
    body = line.strip()[len(LINE_PREFIX) :].strip()
    values: dict[str, str] = {}
    for token in body.split():
        key, sep, value = token.partition("=")
        if not sep or key in values:
            return None
        values[key] = value
    owner = values.get("owner", "")
    if not _USER_RE.fullmatch(owner):
        return None
    expires_at: datetime | None = None
    if "expires" in values:
        if not _EXPIRES_RE.fullmatch(values["expires"]):
            return None
        try:
            expires_at = datetime.strptime(values["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
    request_id = values.get("request")
    if request_id is not None and not _REQUEST_RE.fullmatch(request_id):
        return None
    return Ownership(owner=owner, expires_at=expires_at, request_id=request_id, source="description")


def _owner_from_tags(tags: list[str]) -> str | None:
    owners = {t[len(OWNER_TAG_PREFIX) :].upper() for t in tags if t.startswith(OWNER_TAG_PREFIX)}
    if len(owners) != 1:
        return None
    owner = owners.pop()
    return owner if _USER_RE.fullmatch(owner) else None


def parse_ownership(config: Mapping[str, Any]) -> Ownership | None:
    """Ownership from a container config (``GET …/config``): its ``description`` line and ``tags``.

    The description line wins when exactly one valid ``cardinal:`` line is present (several differing
    lines are ambiguous and ignored). Otherwise the ``cardinal`` plus one ``owner-…`` tag give the owner
    alone. ``None`` when the container carries no valid ownership. Other text and tags are ignored.
    """
    description = config.get("description")
    parsed: set[Ownership] = set()
    if isinstance(description, str):
        for line in description.splitlines():
            if _is_our_line(line):
                found = _parse_line(line)
                if found is not None:
                    parsed.add(found)
    if len(parsed) == 1:
        return parsed.pop()
    raw_tags = config.get("tags")
    tags = parse_tags(raw_tags if isinstance(raw_tags, str) else None)
    if CARDINAL_TAG not in tags:
        return None
    owner = _owner_from_tags(tags)
    if owner is None:
        return None
    return Ownership(owner=owner, expires_at=None, request_id=None, source="tags")


def with_updated_description(existing: str | None, line: str) -> str:
    """``existing`` with every ``cardinal:`` line replaced by ``line`` (at the first one's place, or
    appended); all other lines are kept. ``line`` must be a single line that starts with ``cardinal:``.
    """
    if "\n" in line or "\r" in line or not _is_our_line(line) or _parse_line(line) is None:
        raise InputError("description: not a valid Cardinal ownership line", field="description")
    out: list[str] = []
    placed = False
    for old in (existing or "").splitlines():
        if _is_our_line(old):
            if not placed:
                out.append(line)
                placed = True
            continue
        out.append(old)
    while out and not out[-1].strip() and not placed:
        out.pop()
    if not placed:
        out.append(line)
    return "\n".join(out)


def valid_tag(tag: str) -> bool:
    """Whether ``tag`` uses Proxmox's tag charset (``[a-z0-9_][a-z0-9_\\-+.]*``, at most 64)."""
    return _TAG_RE.fullmatch(tag) is not None
