"""Proxmox VE notifications: parse the webhook body Cardinal documents, and route it to people.

Proxmox VE 8.3+ sends its notifications (backups, replication, fencing, package updates, system mail) to
webhook targets. ``manifests/proxmox-notifications.md`` configures one that posts :data:`BODY_TEMPLATE`
— a JSON object with ``title``, ``message``, ``severity``, ``timestamp`` and ``fields`` (the
notification's metadata fields: ``type``, ``hostname``, ``job-id``, …) — to ``POST /proxmox/notify``.

Routing: an event about containers Cardinal owns goes to each container's thread — a backup
(``type=vzdump``) whose text names the container's vmid, a replication job ``<vmid>-<n>``, fencing of the
node the container lives on. Everything else goes to the policy's ``ops_channel``, or only to the log
when that is unset. Posts go through the :class:`~bot.outbox.Outbox` under a key derived from a hash of
the body, so a notification delivered twice is posted once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.db import Clock, Container, ContainerState, Database
from bot.events import Notice
from bot.outbox import Outbox, OutboxBusy
from bot.policy import Policy

log = structlog.get_logger(__name__)

BODY_TEMPLATE = (
    '{"title": "{{ escape title }}", "message": "{{ escape message }}", '
    '"severity": "{{ severity }}", "timestamp": {{ timestamp }}, "fields": {{ json fields }}}'
)
"""The webhook body Cardinal expects (Proxmox's Handlebars syntax; ``escape`` makes a JSON string)."""

AUDIT_ACTOR = "proxmox"
"""The audit trail's actor for notifications Proxmox sent."""
AUDIT_ACTION = "proxmox.notification"
KEY_PREFIX = "pve-notify"
MAX_TITLE = 1_000
MAX_MESSAGE = 65_536
MAX_FIELDS = 64
MAX_FIELD_VALUE = 1_000
MAX_CANDIDATE_VMIDS = 200
"""At most this many distinct vmids are looked up for one backup notification."""
MAX_EXCERPT = 1_800
"""Characters of the Proxmox message quoted in one Slack post."""


class Severity(StrEnum):
    """Proxmox's notification severities; anything else becomes ``unknown``."""

    INFO = "info"
    NOTICE = "notice"
    WARNING = "warning"
    ERROR = "error"
    UNKNOWN = "unknown"


_SEVERITIES = frozenset(s.value for s in Severity)


class Topic(StrEnum):
    """What a notification is about, as far as routing cares (from the ``type`` metadata field)."""

    BACKUP = "backup"
    REPLICATION = "replication"
    FENCING = "fencing"
    OTHER = "other"


_TOPICS = {"vzdump": Topic.BACKUP, "replication": Topic.REPLICATION, "fencing": Topic.FENCING}
_ICONS = {Severity.ERROR: "🔴", Severity.WARNING: "⚠️", Severity.NOTICE: "🔔", Severity.INFO: "ℹ️"}
_WHAT = {Topic.BACKUP: "backup", Topic.REPLICATION: "replication", Topic.FENCING: "fencing"}


class UnknownShape(ValueError):
    """The body is JSON but not the documented notification; ``problems`` name fields, never values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems) or "not a notification")
        self.problems = problems


class ProxmoxNotification(BaseModel):
    """One notification as :data:`BODY_TEMPLATE` renders it. Unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    message: str = Field("", max_length=MAX_MESSAGE)
    severity: Severity = Severity.UNKNOWN
    timestamp: datetime | None = None
    fields: dict[str, str] = Field(default_factory=dict, max_length=MAX_FIELDS)

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> Severity:
        text = str(value).strip().lower() if value is not None else ""
        return Severity(text) if text in _SEVERITIES else Severity.UNKNOWN

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: object) -> datetime | None:
        # Proxmox renders Unix seconds; a missing or odd value is not worth refusing the notification.
        try:
            seconds = float(value) if isinstance(value, int | float | str) else None
        except ValueError:
            return None
        if seconds is None or not 0 < seconds < 32_503_680_000:  # before year 3000
            return None
        return datetime.fromtimestamp(seconds, UTC)

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, value: object) -> object:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            return value  # refused by the type check
        out: dict[str, str] = {}
        for key, item in value.items():
            if item is None or isinstance(item, Mapping | list):
                continue  # metadata fields are flat strings; skip what is not
            text = item if isinstance(item, str) else json.dumps(item)
            out[str(key)[:64]] = text[:MAX_FIELD_VALUE]
        return out

    @property
    def type(self) -> str | None:
        """The ``type`` metadata field (``vzdump``, ``replication``, ``fencing``, ``package-updates``…)."""
        return self.fields.get("type")

    @property
    def node(self) -> str | None:
        """The ``hostname`` metadata field: the node the notification is from (or, fencing: about)."""
        return self.fields.get("hostname")

    @property
    def topic(self) -> Topic:
        """What the notification is about, for routing."""
        return _TOPICS.get((self.type or "").strip().lower(), Topic.OTHER)


def parse_notification(document: object) -> ProxmoxNotification:
    """Validate a decoded JSON body; raise :class:`UnknownShape` naming what is wrong (never values)."""
    if not isinstance(document, Mapping):
        raise UnknownShape([f"expected a JSON object, got {type(document).__name__}"])
    try:
        return ProxmoxNotification.model_validate(dict(document))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
            problems.append(f"{loc}: {err.get('msg', 'invalid')}")
        raise UnknownShape(problems) from None


def body_digest(document: object) -> str:
    """A stable hash of a decoded body (key order and whitespace do not matter)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- which containers a notification is about ------------------------------------------------------

_LINE_VMID = re.compile(r"^\s*(\d{2,9})(?=[\s:])", re.MULTILINE)
_NAMED_VMID = re.compile(r"\b(?:VM|CT|VMID|vmid|guest)\s+(\d{2,9})\b")
_ARCHIVE_VMID = re.compile(r"vzdump-(?:lxc|qemu|openvz)-(\d{2,9})-")
_JOB_VMID = re.compile(r"\b(\d{2,9})-\d+\b")


def backup_vmids(notification: ProxmoxNotification) -> list[int]:
    """Vmids a vzdump notification names: rows of its details table and log (``101  name  ok …``,
    ``101: … INFO: …``), ``VM 101`` / ``CT 101`` and archive names (``vzdump-lxc-101-…``)."""
    text = f"{notification.title}\n{notification.message}"
    found: dict[int, None] = {}
    for pattern in (_LINE_VMID, _NAMED_VMID, _ARCHIVE_VMID):
        for match in pattern.finditer(text):
            found.setdefault(int(match.group(1)), None)
            if len(found) >= MAX_CANDIDATE_VMIDS:
                return list(found)
    return list(found)


def replication_vmid(notification: ProxmoxNotification) -> int | None:
    """The guest of a replication job: its id is ``<vmid>-<n>`` (``job-id`` field, else the title)."""
    for text in (notification.fields.get("job-id", ""), notification.title):
        match = _JOB_VMID.search(text)
        if match:
            return int(match.group(1))
    return None


def vmid_excerpt(message: str, vmid: int, *, limit: int = MAX_EXCERPT) -> str:
    """The lines of ``message`` about ``vmid`` (its table row, its log lines with errors/warnings);
    the start of the message when none are."""
    token = re.compile(rf"^\s*{vmid}(?=[\s:])|\b(?:VM|CT)\s+{vmid}\b|vzdump-\w+-{vmid}-")
    lines = [line.rstrip() for line in message.splitlines() if token.search(line)]
    chosen = lines[:1] + [ln for ln in lines[1:] if re.search(r"ERROR|WARN|failed", ln, re.IGNORECASE)]
    text = "\n".join(chosen[:12]) if chosen else message.strip()
    return _clip(text, limit)


# --- what is posted ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One post a notification leads to: into a container's thread (``vmid`` set) or the ops channel."""

    key: str
    channel: str | None  # None: no ops channel configured, so only logged
    thread_ts: str | None
    vmid: int | None
    text: str

    @property
    def destination(self) -> str:
        """``thread:<vmid>``, ``ops`` (``ops:<vmid>`` for an owned container without a thread) or ``log``
        (no ops channel), for logs, the audit trail and the HTTP answer."""
        if self.channel is None:
            return "log" if self.vmid is None else f"log:{self.vmid}"
        if self.thread_ts is not None:
            return f"thread:{self.vmid}"
        return "ops" if self.vmid is None else f"ops:{self.vmid}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one received body."""

    status: Literal["routed", "ignored"]
    digest: str | None = None
    type: str | None = None
    posted: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The HTTP answer's body (no message text, nothing secret)."""
        return {
            "status": self.status,
            "digest": self.digest,
            "type": self.type,
            "posted": list(self.posted),
            "duplicates": list(self.duplicates),
            "pending": list(self.pending),
            "logged": list(self.logged),
            "failed": list(self.failed),
            "problems": list(self.problems),
        }


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _external(text: str) -> str:
    """Text from Proxmox, made inert for a Notice: no user mentions, no code-fence breakouts."""
    return text.replace("<@", "<\u200b@").replace("```", "'''")


def _headline(n: ProxmoxNotification) -> str:
    icon = _ICONS.get(n.severity, "📣")
    node = f" on `{_external(n.node)}`" if n.node else ""
    return f"{icon} *Proxmox {_WHAT.get(n.topic, 'notification')}* ({n.severity.value}){node}"


def container_text(n: ProxmoxNotification, container: Container) -> str:
    """The Notice posted into a container's thread."""
    if n.topic is Topic.BACKUP:
        excerpt = vmid_excerpt(n.message, container.vmid)
    else:
        excerpt = _clip(n.message, MAX_EXCERPT)
    parts = [
        f"{_headline(n)} for `{_external(container.hostname)}` ({container.vmid})",
        f"*{_external(_clip(n.title, 300))}*",
    ]
    if excerpt:
        parts.append(f"```{_external(excerpt)}```")
    return "\n".join(parts)


def ops_text(n: ProxmoxNotification, about: Container | None = None) -> str:
    """The Notice posted into the ops channel (``about``: an owned container without a thread)."""
    head = _headline(n)
    if about is not None:
        head += f" for `{_external(about.hostname)}` ({about.vmid}, owner <@{about.owner}>)"
    elif n.type:
        head += f" — type `{_external(n.type)}`"
    parts = [head, f"*{_external(_clip(n.title, 300))}*"]
    excerpt = _clip(n.message, MAX_EXCERPT)
    if excerpt:
        parts.append(f"```{_external(excerpt)}```")
    return "\n".join(parts)


# --- the router -------------------------------------------------------------------------------------


class NotificationRouter:
    """Turns a received body into posts: container threads, the ops channel, or the log."""

    def __init__(self, db: Database, outbox: Outbox, policy: Policy, clock: Clock) -> None:
        self.db = db
        self.outbox = outbox
        self.policy = policy
        self.clock = clock

    async def receive(self, document: object) -> Outcome:
        """Validate, route and deliver one decoded body. Never raises for a bad body (it is ignored
        and logged); delivery errors are logged and reported in :attr:`Outcome.failed`."""
        try:
            notification = parse_notification(document)
        except UnknownShape as exc:
            log.warning("proxmox.notify.unknown_shape", problems=exc.problems)
            return Outcome("ignored", problems=tuple(exc.problems))
        digest = body_digest(document)
        log.info(
            "proxmox.notify.received",
            digest=digest[:16],
            type=notification.type,
            severity=notification.severity.value,
            node=notification.node,
        )
        deliveries = await self.plan(notification, digest)
        posted: list[str] = []
        duplicates: list[str] = []
        pending: list[str] = []
        logged: list[str] = []
        failed: list[str] = []
        for delivery in deliveries:
            result = await self._deliver(notification, digest, delivery)
            buckets = {"posted": posted, "duplicate": duplicates, "pending": pending, "logged": logged}
            buckets.get(result, failed).append(delivery.destination)
        return Outcome(
            "routed",
            digest=digest,
            type=notification.type,
            posted=tuple(posted),
            duplicates=tuple(duplicates),
            pending=tuple(pending),
            logged=tuple(logged),
            failed=tuple(failed),
        )

    async def containers_about(self, n: ProxmoxNotification) -> list[Container]:
        """The live containers Cardinal owns that the notification is about (by vmid)."""
        async with self.db.transaction() as tx:
            if n.topic is Topic.BACKUP:
                found = [await tx.containers.get(vmid) for vmid in backup_vmids(n)]
                candidates = [c for c in found if c is not None]
            elif n.topic is Topic.REPLICATION:
                vmid = replication_vmid(n)
                one = await tx.containers.get(vmid) if vmid is not None else None
                candidates = [one] if one is not None else []
            elif n.topic is Topic.FENCING and n.node:
                candidates = [c for c in await tx.containers.list_all() if c.node == n.node]
            else:
                candidates = []
        live = {c.vmid: c for c in candidates if c.state is not ContainerState.DESTROYED}
        return [live[v] for v in sorted(live)]

    async def plan(self, n: ProxmoxNotification, digest: str) -> list[Delivery]:
        """The posts ``n`` leads to, each with its outbox key (``pve-notify:<hash>:<vmid|ops>``)."""
        base = f"{KEY_PREFIX}:{digest[:40]}"
        ops = self.policy.ops_channel
        out: list[Delivery] = []
        for c in await self.containers_about(n):
            if c.thread_channel and c.thread_ts:
                out.append(
                    Delivery(f"{base}:{c.vmid}", c.thread_channel, c.thread_ts, c.vmid, container_text(n, c))
                )
            else:
                out.append(Delivery(f"{base}:ops:{c.vmid}", ops, None, c.vmid, ops_text(n, c)))
        if not out:
            out.append(Delivery(f"{base}:ops", ops, None, None, ops_text(n)))
        return out

    async def _deliver(
        self, n: ProxmoxNotification, digest: str, d: Delivery
    ) -> Literal["posted", "duplicate", "pending", "logged", "failed"]:
        fields = {"key": d.key, "destination": d.destination, "vmid": d.vmid, "type": n.type}
        if d.channel is None:
            log.info("proxmox.notify.logged_only", title=_clip(n.title, 200), **fields)
            await self._audit(n, digest, d)
            return "logged"
        async with self.db.transaction() as tx:
            earlier = await tx.outbox.get(d.key)
        if earlier is not None and earlier.posted:
            log.info("proxmox.notify.duplicate", **fields)
            return "duplicate"
        try:
            await self.outbox.deliver(d.key, d.channel, d.thread_ts, Notice(text=d.text))
        except OutboxBusy:
            # Posted moments ago by a concurrent delivery, or a failed post still within the outbox's
            # grace period: either way not posted now; a later delivery will find or redo it.
            log.info("proxmox.notify.in_progress", **fields)
            return "pending"
        except Exception as exc:  # Slack down, channel gone…: report, never crash the endpoint
            log.error("proxmox.notify.post_failed", error=type(exc).__name__, detail=str(exc)[:200], **fields)
            return "failed"
        log.info("proxmox.notify.posted", **fields)
        await self._audit(n, digest, d)
        return "posted"

    async def _audit(self, n: ProxmoxNotification, digest: str, d: Delivery) -> None:
        detail = {
            "type": n.type,
            "severity": n.severity.value,
            "node": n.node,
            "title": _clip(n.title, 200),
            "digest": digest[:16],
            "destination": d.destination,
        }
        async with self.db.transaction() as tx:
            await tx.audit.append(AUDIT_ACTOR, AUDIT_ACTION, now=self.clock(), vmid=d.vmid, detail=detail)
