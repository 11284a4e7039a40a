"""``/lxc download <template>`` and the Download button of ``/lxc templates``: fetch a template from the
Proxmox appliance index (``POST /nodes/{node}/aplinfo``) onto the template storage.

The template storage is per node unless it is shared (:mod:`bot.template_locations`), so a download runs
on every allowed online node that lacks the template, or on one node when the storage is shared. Each
``download`` task is followed (:class:`~bot.db.enums.TaskKind` ``download``) and its outcome reported in
one thread that this module opens in the channel the download was asked from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import structlog

from bot.access import AccessDenied, Actor
from bot.containers.context import ContainerContext
from bot.db.enums import TaskKind
from bot.errors import CardinalError, InputError
from bot.events import Event, Notice
from bot.proxmox.upid import Upid
from bot.template_locations import locate_templates

__all__ = ["TEMPLATE_NAME_RE", "DownloadOps", "DownloadResult", "ThreadPoster", "template_name_of"]

log = structlog.get_logger(__name__)

TEMPLATE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}\.tar\.(?:gz|xz|zst|bz2)$")
"""What an appliance template's file name looks like (``debian-12-standard_12.7-1_amd64.tar.zst``)."""


def template_name_of(text: str) -> str:
    """``text`` if it is shaped like an appliance template's file name, else :class:`InputError`."""
    if not TEMPLATE_NAME_RE.fullmatch(text):
        raise InputError(
            f"`{text[:60]}` is not a template name.",
            hint="`/lxc templates` lists the downloadable templates.",
            field="template",
        )
    return text


class ThreadPoster(Protocol):
    """Posts an event at most once per ``key`` and returns its ``ts`` (:class:`bot.outbox.Outbox`)."""

    async def deliver(self, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        """Post ``event`` unless ``key`` was already posted; return the message's ``ts``."""
        ...


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """Downloads Proxmox accepted; each task is followed in ``thread_ts`` (when there is a thread)."""

    template: str
    storage: str
    nodes: tuple[str, ...]
    upids: tuple[str, ...]
    channel: str | None = None
    thread_ts: str | None = None

    @property
    def upid(self) -> str | None:
        """The first task's UPID (what a click records)."""
        return self.upids[0] if self.upids else None


class DownloadOps:
    """Template downloads (approvers only)."""

    def __init__(self, ctx: ContainerContext, poster: ThreadPoster | None) -> None:
        self.ctx = ctx
        self.poster = poster

    async def download_template(self, actor: Actor, template: str, *, channel: str | None) -> DownloadResult:
        """Download ``template`` onto the template storage of the allowed online nodes that lack it (one
        node for a shared storage), follow each task and report in a thread opened in ``channel``.

        Only approvers may; the template must be in the appliance index (``aplinfo``, type ``lxc``) and
        allowed by ``placement.templates``. Raises :class:`~bot.access.AccessDenied` (audited),
        :class:`~bot.errors.InputError` or :class:`~bot.errors.CardinalError` when every node has it.
        """
        template = template_name_of(template)
        if not actor.is_approver:
            exc = AccessDenied(
                "Only approvers may download templates.",
                hint="Ask an approver to download it, or pick a template `/lxc templates` lists as present.",
            )
            await self.ctx.audit(
                actor.user_id,
                "access.denied",
                vmid=None,
                detail={"action": "download", "template": template, "reason": exc.what},
            )
            raise exc
        placement = self.ctx.policy.placement
        storage = placement.template_storage
        nodes = await self._online_nodes()
        apl = await self.ctx.proxmox.aplinfo(nodes[0])
        if not any(a.template == template and a.type == "lxc" for a in apl) or not placement.template_allowed(
            template
        ):
            raise InputError(
                f"`{template}` is not a template Cardinal may download.",
                hint="`/lxc templates` lists the downloadable templates.",
                field="template",
            )
        where = await locate_templates(self.ctx.proxmox, storage, nodes)
        volid = f"{storage}:vztmpl/{template}"
        lacking = where.missing_on(volid, nodes)
        if where.shared:
            lacking = lacking[:1]
        if not lacking:
            raise CardinalError(
                f"`{template}` is already on {storage}.",
                hint="Pick it in the `/lxc create` form.",
            )
        upids: list[Upid] = []
        for node in lacking:
            upids.append(await self.ctx.proxmox.download_template(node, storage, template))
        thread_ts = await self._open_thread(actor, template, storage, lacking, upids, channel)
        for upid in upids:
            await self.ctx.follower.track(
                TaskKind.DOWNLOAD,
                upid,
                vmid=None,
                node=upid.node,
                actor=actor.user_id,
                channel=channel if thread_ts is not None else None,
                thread_ts=thread_ts,
            )
        await self.ctx.audit(
            actor.user_id,
            "template.download",
            vmid=None,
            upid=str(upids[0]),
            detail={"template": template, "storage": storage, "nodes": list(lacking)},
        )
        return DownloadResult(
            template=template,
            storage=storage,
            nodes=tuple(lacking),
            upids=tuple(str(u) for u in upids),
            channel=channel if thread_ts is not None else None,
            thread_ts=thread_ts,
        )

    async def _online_nodes(self) -> list[str]:
        """Allowed online nodes, the default node first."""
        nodes = await self.ctx.proxmox.nodes()
        placement = self.ctx.policy.placement
        online = [n.node for n in nodes if placement.node_allowed(n.node) and n.status == "online"]
        if not online:
            raise CardinalError(
                "No online Proxmox node that Cardinal may use is known.",
                hint="The operators should check the nodes and `placement.nodes` in the policy.",
            )
        default = self.ctx.default_node
        return sorted(online, key=lambda n: (n != default, n))

    async def _open_thread(
        self,
        actor: Actor,
        template: str,
        storage: str,
        nodes: tuple[str, ...],
        upids: list[Upid],
        channel: str | None,
    ) -> str | None:
        """Post the thread's first message; None without a poster or channel, or when Slack refused."""
        if self.poster is None or not channel:
            return None
        text = f"⬇️ <@{actor.user_id}> is downloading `{template}` to {storage} on {', '.join(nodes)}."
        try:
            return await self.poster.deliver(f"download:{upids[0]}", channel, None, Notice(text))
        except Exception as exc:  # the downloads run anyway; the clicker is told where to look
            log.warning("download.thread_failed", template=template, error=str(exc))
            return None
