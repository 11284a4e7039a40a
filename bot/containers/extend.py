"""``/lxc extend``: a later expiry in the database, then in the container's own note and tags."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.access import Actor
from bot.containers.context import ContainerContext
from bot.containers.results import ExtendResult
from bot.db.records import Container
from bot.errors import InputError
from bot.ownership import (
    format_expiry,
    ownership_line,
    parse_tags,
    with_ownership_tags,
    with_updated_description,
)
from bot.policy import format_duration
from bot.proxmox.errors import ProxmoxConflictError, ProxmoxError

__all__ = ["ExtendOps"]


class ExtendOps:
    """Extending a container's life and writing its ownership note."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx

    async def extend(self, actor: Actor, vmid: int, duration: timedelta) -> ExtendResult:
        """Push the expiry by ``duration`` (from the current expiry, or from now if already past).

        The new expiry may be at most ``limits.max_lifetime`` from now. The database is updated first (it
        drives the expiry job); then the container's description line (and tags) are rewritten with
        ``PUT …/config`` guarded by the config ``digest``. If Proxmox cannot be updated the extension still
        holds and ``written_to_container`` is False.
        """
        if duration <= timedelta(0):
            raise InputError("The extension must be longer than zero.", field="duration")
        container = await self.ctx.operable(actor, vmid, "extend", locate=False)
        now = self.ctx.clock()
        base = max(container.expires_at or now, now)
        new_expiry = (base + duration).replace(microsecond=0)
        limit = now + self.ctx.policy.limits.max_lifetime
        if new_expiry > limit:
            room = limit - base
            hint = (
                f"You can extend it by at most {format_duration(room)} now."
                if room >= timedelta(minutes=1)
                else "It is already at the limit; extend it again later."
            )
            most = format_duration(self.ctx.policy.limits.max_lifetime)
            raise InputError(
                f"{container.hostname} ({vmid}) may live at most {most}"
                f" from now (until {format_expiry(limit)}); {format_duration(duration)} more would reach "
                f"{format_expiry(new_expiry)}.",
                field="duration",
                hint=hint,
            )
        async with self.ctx.db.transaction() as tx:
            await tx.containers.set_expiry(vmid, new_expiry, now=now)
            await tx.audit.append(
                actor.user_id,
                "container.extended",
                now=now,
                vmid=vmid,
                detail={
                    "from": container.expires_at.isoformat() if container.expires_at else None,
                    "to": new_expiry.isoformat(),
                    "by": format_duration(duration),
                },
            )
        note: str | None = None
        try:
            await self.write_ownership(container, new_expiry)
            written = True
        except (ProxmoxError, InputError) as exc:
            written = False
            note = f"The new expiry is saved, but Proxmox's note on the container was not updated: {exc.what}"
        return ExtendResult(
            vmid=vmid,
            previous=container.expires_at,
            expires_at=new_expiry,
            written_to_container=written,
            note=note,
        )

    async def write_ownership(self, container: Container, expires_at: datetime | None) -> None:
        """Rewrite the ``cardinal:`` description line and ownership tags in the container's config.

        Reads the config for its ``description``/``tags`` and ``digest``; a concurrent change (digest
        mismatch) is retried once with a fresh read. A container that moved is found on its new node.
        """
        line = ownership_line(container.owner, expires_at, container.request_id)
        vmid = container.vmid
        for attempt in range(2):
            container, config = await self.ctx.on_node(
                container, lambda node: self.ctx.proxmox.container_config(node, vmid)
            )
            description = config.get("description")
            tags = config.get("tags")
            params: dict[str, Any] = {
                "description": with_updated_description(
                    description if isinstance(description, str) else None, line
                )
            }
            new_tags = with_ownership_tags(tags if isinstance(tags, str) else None, container.owner)
            if parse_tags(tags if isinstance(tags, str) else None) != parse_tags(new_tags):
                params["tags"] = new_tags
            if isinstance(config.get("digest"), str):
                params["digest"] = config["digest"]
            try:
                await self.ctx.proxmox.update_config(container.node, container.vmid, params)
                return
            except ProxmoxConflictError:
                if attempt == 1:
                    raise
