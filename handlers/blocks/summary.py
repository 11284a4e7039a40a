"""How a container request (:class:`bot.events.RequestSummary`) reads: its names, title and fields.

Shared by the approval card and the request thread's root message, so both describe a request alike.
"""

from __future__ import annotations

from bot.events import RequestSummary
from bot.policy import format_duration
from handlers.blocks.create_modal import template_label
from handlers.blocks.kit import Block, clip, escape, fields, slack_date


def _size_text(req: RequestSummary) -> str:
    size = f"{req.cores} vCPU · {req.memory_mib} MiB RAM · {req.disk_gib} GiB disk"
    if req.swap_mib:
        size += f" · {req.swap_mib} MiB swap"
    return f"{escape(req.preset)} ({size})" if req.preset else f"custom ({size})"


def _network_text(req: RequestSummary) -> str:
    net = "DHCP" if req.ipv4 is None else f"{escape(req.ipv4)} via {escape(req.gateway or '?')}"
    net += f" on {escape(req.bridge)}"
    if req.vlan is not None:
        net += f", VLAN {req.vlan}"
    return net


def request_names(req: RequestSummary) -> str:
    """The hostnames: one, two, or ``N × `first` … `last```."""
    names = [f"`{escape(clip(h, 63))}`" for h in req.hostnames] or ["_no hostname_"]
    if len(names) <= 2:
        return ", ".join(names)
    return f"{len(names)} × {names[0]} … {names[-1]}"


def request_title(req: RequestSummary) -> str:
    """Plain-text name of a request for headers and fallback text."""
    first = req.hostnames[0] if req.hostnames else "?"
    return first if req.count <= 1 else f"{first} (+{req.count - 1})"


def _lifetime_text(req: RequestSummary) -> str:
    parts = [format_duration(req.lifetime)] if req.lifetime is not None else []
    if req.expires_at is not None:
        parts.append(f"until {slack_date(req.expires_at)}")
    return " ".join(parts) or "not set"


def request_fields(req: RequestSummary) -> Block:
    return fields(
        [
            ("Template", f"`{escape(template_label(req.template))}`" if req.template else "_none_"),
            ("Size", _size_text(req)),
            ("Network", _network_text(req)),
            ("Node", escape(req.node) if req.node else "automatic"),
            ("Lifetime", _lifetime_text(req)),
            ("Count", str(req.count)),
            *_extras(req),
        ]
    )


def _extras(req: RequestSummary) -> list[tuple[str, str]]:
    """The advanced choices, only when made: extra volumes and interfaces."""
    out: list[tuple[str, str]] = []
    if req.volumes:
        out.append(("Volumes", "\n".join(escape(v) for v in req.volumes)))
    if req.interfaces:
        out.append(("More interfaces", "\n".join(escape(n) for n in req.interfaces)))
    return out
