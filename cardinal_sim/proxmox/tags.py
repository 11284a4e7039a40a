"""Guest tags as Proxmox stores and guards them, and the datacenter options that steer both.

* Storing: ``PVE::GuestHelpers::get_unique_tags`` — tags are lowercased unless ``tag-style`` has
  ``case-sensitive=1``, de-duplicated, and sorted (case-insensitively) unless ``tag-style`` has
  ``ordering=config``; joined with ``;``. pve-container applies it to ``tags`` on create and on
  ``PUT …/config`` (``PVE::LXC::Config::update_pct_config``).
* Guarding: ``PVE::GuestHelpers::assert_tag_permissions`` — a caller without ``Sys.Modify`` on ``/`` may
  only add or remove a tag that ``get_allowed_tags`` allows: with ``user-tag-access`` ``user-allow=free``
  (the default) any tag, with ``list`` those of ``user-allow-list``, with ``existing`` also the tags some
  guest the caller may audit already carries, with ``none`` none at all; a tag in ``registered-tags``
  never. Anything else is ``403 Permission check failed (/, Sys.Modify for modifying tag '<tag>')``.
  Tags present before and after (compared as raw strings, by count) are not checked.
* ``GET /cluster/options`` returns ``datacenter.cfg`` parsed (``PVE::DataCenterConfig``): ``tag-style``
  and ``user-tag-access`` as objects, ``registered-tags`` and ``user-allow-list`` as arrays.

Sources: docs/fidelity/nesting-and-tags.md.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from cardinal_sim.proxmox.errors import perm_error
from cardinal_sim.proxmox.formats import split_list
from cardinal_sim.proxmox.routes import Ctx, route
from cardinal_sim.proxmox.views import parse_prop_string


def _options(ctx: Ctx) -> dict[str, str]:
    options: dict[str, str] = ctx.sim.datacenter_options
    return options


def _tag_style(options: dict[str, str]) -> dict[str, str]:
    raw = options.get("tag-style")
    return parse_prop_string(raw) if raw else {}


def unique_tags(options: dict[str, str], tags: str | list[str] | None) -> str:
    """``get_unique_tags``: the ``tags`` value as Proxmox writes it into the guest config."""
    items = split_list(tags) if isinstance(tags, str) else list(tags or [])
    style = _tag_style(options)
    case_sensitive = style.get("case-sensitive", "0") in ("1", "on", "yes", "true")
    if style.get("ordering") != "config":
        items = sorted(items, key=(lambda t: t) if case_sensitive else str.lower)
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        tag = item if case_sensitive else item.lower()
        if tag not in seen:
            seen.add(tag)
            out.append(tag)
    return ";".join(out)


def _allowed_tags(ctx: Ctx, privileged: bool) -> tuple[set[str], set[str], bool]:
    """``get_allowed_tags``: (allowed, registered, free-form)."""
    options = _options(ctx)
    registered = set(options.get("registered-tags", "").split(";")) - {""}
    access = parse_prop_string(options["user-tag-access"]) if options.get("user-tag-access") else {}
    user_allow = access.get("user-allow", "free")
    allowed: set[str] = set()
    if user_allow != "none" or privileged:
        allowed |= set(access.get("user-allow-list", "").split(";")) - {""}
    if user_allow in ("free", "existing") or privileged:
        for vmid, ct in ctx.sim.containers.items():
            if privileged or ctx.has(f"/vms/{vmid}", "VM.Audit"):
                allowed |= set(split_list(str(ct.config.get("tags", ""))))
    if privileged:
        allowed |= registered
    else:
        allowed -= registered
    return allowed, registered, user_allow == "free"


def assert_tag_permissions(ctx: Ctx, old: str | None, new: str | None) -> None:
    """Raise the real 403 when the caller may not add or remove one of the changed tags."""
    if ctx.has("/", "Sys.Modify"):
        return
    before, after = Counter(split_list(old or "")), Counter(split_list(new or ""))
    changed = sorted(t for t in before.keys() | after.keys() if before[t] != after[t])
    if not changed:
        return
    allowed, registered, free = _allowed_tags(ctx, privileged=False)
    for tag in changed:
        if (tag not in allowed and not free) or tag in registered:
            raise perm_error(f"/, Sys.Modify for modifying tag '{tag}'")


@route("GET", "/cluster/options")
async def cluster_options(ctx: Ctx) -> dict[str, Any]:
    """``datacenter.cfg`` as ``PVE::DataCenterConfig`` parses it (needs ``Sys.Audit`` on ``/``)."""
    ctx.check("/", ["Sys.Audit"])
    out: dict[str, Any] = {}
    for key, raw in sorted(_options(ctx).items()):
        if key == "registered-tags":
            out[key] = [t for t in raw.split(";") if t]
        elif key in ("tag-style", "user-tag-access"):
            parsed: dict[str, Any] = dict(parse_prop_string(raw))
            if "user-allow-list" in parsed:
                parsed["user-allow-list"] = [t for t in str(parsed["user-allow-list"]).split(";") if t]
            if "case-sensitive" in parsed:
                parsed["case-sensitive"] = 1 if parsed["case-sensitive"] in ("1", "on", "yes", "true") else 0
            out[key] = parsed
        else:
            out[key] = raw
    return out
