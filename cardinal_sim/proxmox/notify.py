"""Send notifications as a Proxmox VE webhook target does (PVE 8.3+), for tests and the demo.

Proxmox renders the target's body and header templates (Handlebars) with the notification's ``title``,
``message``, ``severity``, ``timestamp`` (Unix seconds), ``fields`` (metadata: ``type``, ``hostname``,
``job-id``, …) and ``secrets.<name>``, then sends the request. :func:`render_template` implements the
part of that syntax the documented configuration uses (``{{ x }}``, ``{{ escape x }}``, ``{{ json x }}``,
``{{ url-encode x }}``, dotted paths); :func:`emit_notification` renders and posts like Proxmox.
The helpers below write messages shaped like Proxmox's own (vzdump report, replication, fencing).
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.notifications import BODY_TEMPLATE
from bot.ops.webhooks import SECRET_HEADER

SECRET_NAME = "cardinal"  # noqa: S105 - the name of the secret, not its value
"""The secret's name in the documented target (``secret name=cardinal,…``)."""
HEADER_TEMPLATES: dict[str, str] = {
    "Content-Type": "application/json",
    SECRET_HEADER: "{{ secrets.cardinal }}",
}
"""The documented target's headers (templates, as configured)."""

_TAG = re.compile(r"\{\{\s*(?:(escape|json|url-encode)\s+)?([A-Za-z0-9_.-]+)\s*\}\}")


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Expand ``template`` like proxmox-notify's Handlebars (no HTML escaping; missing values are empty)."""

    def expand(match: re.Match[str]) -> str:
        helper, path = match.group(1), match.group(2)
        value = _lookup(context, path)
        if helper == "json":
            return json.dumps(value)
        text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
        if helper == "escape":
            return json.dumps(text)[1:-1]
        if helper == "url-encode":
            return urllib.parse.quote(text, safe="")
        return text

    return _TAG.sub(expand, template)


async def emit_notification(
    url: str,
    secret: str | None,
    *,
    type: str | None,  # Proxmox's field name
    severity: str = "info",
    title: str,
    message: str = "",
    fields: Mapping[str, str] | None = None,
    hostname: str = "pve1",
    timestamp: int | None = None,
    body_template: str = BODY_TEMPLATE,
    headers: Mapping[str, str] | None = None,
    session: aiohttp.ClientSession | None = None,
) -> tuple[int, Any]:
    """POST one notification to ``url`` as Proxmox would; return (HTTP status, decoded answer).

    ``secret`` is the target's ``cardinal`` secret (``None``: the header renders empty, as when the
    secret is missing). ``headers`` replaces the documented header templates (e.g. to send
    ``Authorization: Bearer {{ secrets.cardinal }}``).
    """
    metadata: dict[str, str] = {"hostname": hostname}
    if type is not None:
        metadata["type"] = type
    metadata.update(fields or {})
    context: dict[str, Any] = {
        "title": title,
        "message": message,
        "severity": severity,
        "timestamp": int(time.time()) if timestamp is None else timestamp,
        "fields": metadata,
        "secrets": {SECRET_NAME: secret} if secret is not None else {},
    }
    body = render_template(body_template, context).encode("utf-8")
    rendered = {
        name: render_template(value, context)
        for name, value in (HEADER_TEMPLATES if headers is None else headers).items()
    }
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.post(url, data=body, headers=rendered) as resp:
            text = await resp.text()
            try:
                answer: Any = json.loads(text)
            except ValueError:
                answer = text
            return resp.status, answer
    finally:
        if own:
            await client.close()


def vzdump_message(rows: Sequence[tuple[int, str, str]]) -> str:
    """A vzdump report like Proxmox's: ``rows`` are (vmid, name, status ``ok``/``err``)."""
    lines = ["Details", "=======", f"{'VMID':<8}{'Name':<18}{'Status':<10}{'Time':<9}{'Size':<15}Filename"]
    for vmid, name, status in rows:
        archive = (
            f"/var/lib/vz/dump/vzdump-lxc-{vmid}-2026_11_25-12_00_00.tar.zst" if status == "ok" else "null"
        )
        size = "512.3 MiB" if status == "ok" else "0 B"
        lines.append(f"{vmid:<8}{name:<18}{status:<10}{'12s':<9}{size:<15}{archive}")
    lines += ["", "Total running time: 36s", "", "Logs", "===="]
    lines.append("vzdump " + " ".join(str(v) for v, _, _ in rows) + " --mode snapshot --storage local")
    for vmid, _, status in rows:
        lines.append(f"{vmid}: 2026-11-25 12:00:00 INFO: Starting Backup of VM {vmid} (lxc)")
        if status != "ok":
            lines.append(f"{vmid}: 2026-11-25 12:00:01 ERROR: Backup of VM {vmid} failed - storage full")
    return "\n".join(lines)


def vzdump_title(rows: Sequence[tuple[int, str, str]], *, node: str = "pve1") -> str:
    """The title Proxmox gives a vzdump report."""
    ok = all(status == "ok" for _, _, status in rows)
    return f"vzdump backup status ({node}): {'backup successful' if ok else 'backup failed'}"
