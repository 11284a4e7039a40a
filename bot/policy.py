"""Cardinal's policy: what people may ask for, what needs an approver, and how containers age.

The operator writes it as a TOML file (``POLICY_FILE``); without one the built-in defaults apply. The file
is read and validated once at start: every problem becomes one line of :class:`bot.errors.ConfigError`
naming the TOML key (``quota.total_memory_mib``, ``auto_approve[0].presets``) and the rule. Unknown keys
are refused too, because a misspelt key silently falling back to a default is worse than a clear error.

Layout (``examples/policy.toml`` is a complete, commented file)::

    approvers = ["S0604QSJC", "U012AB3CD"]   # user groups (S…) and/or users (U…/W…)
    approval_channel = "C0123ABCD"
    ops_channel = "C0456EFGH"
    [presets.small]      cores, memory_mib, swap_mib, disk_gib
    [quota]              max_containers, total_memory_mib, total_disk_gib   (per user)
    [[auto_approve]]     presets, max_count, max_lifetime, within_quota
    [limits]             max_count, default_lifetime, max_lifetime,
                         max_cores, max_memory_mib, max_swap_mib, max_disk_gib,
                         max_volumes, max_interfaces   (per container)
    [placement]          bridges, storages, template_storage, templates, nodes, vmid_min, vmid_max, pool
    [expiry]             reminders, action, grace
    [[digest]]           channel, cron, timezone, quiet_when_unchanged
    [access]             others_containers
    [features]           nesting
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError, InputError
from bot.proxmox.codec import check_mount_path

__all__ = [
    "CUSTOM_PRESET",
    "AccessPolicy",
    "AutoApproveRule",
    "DigestSchedule",
    "ExpiryPolicy",
    "FeaturesPolicy",
    "Limits",
    "Placement",
    "Policy",
    "Preset",
    "Quota",
    "Visibility",
    "format_duration",
    "load_policy",
    "parse_duration",
]

#: The size choice that means "my own cores/memory/swap/disk"; no preset may take this name.
CUSTOM_PRESET = "custom"

#: The longest duration anyone may type (10 years); beyond it is certainly a typo.
MAX_DURATION = timedelta(days=3650)

_UNIT_SECONDS: dict[str, int] = {
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86400),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
}
_PART_RE = re.compile(r"([0-9]+) ?([a-z]+)")
_DURATION_RE = re.compile(r"(?:[0-9]{1,12} ?[a-z]{1,10} ?)+")
_DURATION_EXAMPLES = "use a number and a unit, e.g. 3d, 12h, 90m or 1w"


def parse_duration(text: str, *, field: str | None = None) -> timedelta:
    """Parse a human duration such as ``3d``, ``12h``, ``90m``, ``1w`` or ``1d12h`` into a timedelta.

    Units: w/week(s), d/day(s), h/hr(s)/hour(s), m/min(s)/minute(s). Raises :class:`InputError` (with
    ``field``) for anything else, for zero and negative values and for more than ten years.
    """
    raw = text.strip().lower()
    shown = _shorten(text)
    if raw.startswith("-"):
        raise InputError(f"`{shown}` is negative; a duration must be longer than zero.", field=field)
    if not raw or not _DURATION_RE.fullmatch(raw):
        raise InputError(f"`{shown}` is not a duration; {_DURATION_EXAMPLES}.", field=field)
    seconds = 0
    for number, unit in _PART_RE.findall(raw):
        if unit not in _UNIT_SECONDS:
            raise InputError(f"`{shown}` has an unknown unit `{unit}`; {_DURATION_EXAMPLES}.", field=field)
        seconds += int(number) * _UNIT_SECONDS[unit]
    if seconds > MAX_DURATION.total_seconds():
        raise InputError(f"`{shown}` is too long; the most is {MAX_DURATION.days} days.", field=field)
    if seconds <= 0:
        raise InputError(f"`{shown}` is zero; a duration must be longer than zero.", field=field)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The short form of a duration, the inverse of :func:`parse_duration` (``7d``, ``1d12h``, ``90m``)."""
    minutes = int(delta.total_seconds() // 60)
    if minutes <= 0:
        return "0m"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins else ""]
    return "".join(parts)


def _shorten(text: str, limit: int = 40) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_duration(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except InputError as exc:
            raise ValueError(exc.what) from None
    if isinstance(value, timedelta):
        return value
    raise ValueError(f"must be a duration string ({_DURATION_EXAMPLES})")


Duration = Annotated[timedelta, BeforeValidator(_to_duration)]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_PVE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_GLOB_RE = re.compile(r"^[A-Za-z0-9_.*?\[\]:/+-]{1,255}$")
#: ``pve-poolid`` (pve-access-control ``verify_poolname``): up to three ``/``-separated levels.
_POOL_RE = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+){0,2}$")
_CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_APPROVER_RE = re.compile(r"^[SUW][A-Z0-9]{2,}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Preset(_Model):
    """A named size: what one container of this preset gets."""

    cores: int = Field(ge=1, le=8192)
    memory_mib: int = Field(ge=16, le=4 * 1024 * 1024)
    swap_mib: int = Field(0, ge=0, le=4 * 1024 * 1024)
    disk_gib: int = Field(ge=1, le=65536)
    #: An extra data volume every container of this preset gets (on the first allowed storage).
    data_volume_gib: int | None = Field(None, ge=1, le=10240)
    data_volume_path: str = "/data"

    @field_validator("data_volume_path")
    @classmethod
    def _data_path(cls, value: str) -> str:
        try:
            check_mount_path(value, field="data_volume_path")
        except InputError as exc:
            raise ValueError(exc.what.removeprefix("data_volume_path: ")) from None
        return value

    def describe(self) -> str:
        """``2 vCPU · 2048 MiB RAM · 16 GiB disk`` (``+ 20 GiB /data`` with a data volume)."""
        text = f"{self.cores} vCPU · {self.memory_mib} MiB RAM · {self.disk_gib} GiB disk"
        if self.data_volume_gib is not None:
            text += f" + {self.data_volume_gib} GiB {self.data_volume_path}"
        return text


def _default_presets() -> dict[str, Preset]:
    return {
        "small": Preset(cores=1, memory_mib=1024, swap_mib=512, disk_gib=8),
        "medium": Preset(cores=2, memory_mib=4096, swap_mib=1024, disk_gib=32),
        "large": Preset(cores=4, memory_mib=8192, swap_mib=2048, disk_gib=64),
    }


class Quota(_Model):
    """What one person may hold at once, summed over all their containers."""

    max_containers: int = Field(5, ge=0, le=10000)
    total_memory_mib: int = Field(16384, ge=0)
    total_disk_gib: int = Field(200, ge=0)


class AutoApproveRule(_Model):
    """A request matching every condition of one rule is created without an approver."""

    presets: list[str] = Field(default_factory=lambda: ["small"])
    max_count: int = Field(1, ge=1, le=100)
    max_lifetime: Duration = timedelta(days=7)
    within_quota: bool = True

    def matches(self, *, preset: str | None, count: int, lifetime: timedelta, within_quota: bool) -> bool:
        """Whether a request with these properties is covered by this rule."""
        return (
            preset is not None
            and preset in self.presets
            and count <= self.max_count
            and lifetime <= self.max_lifetime
            and (within_quota or not self.within_quota)
        )


class Limits(_Model):
    """Per-request limits, and per-container ceilings (``max_disk_gib`` covers the root disk plus
    mount points; ``max_swap_mib`` unset means no ceiling on swap)."""

    max_count: int = Field(5, ge=1, le=100)
    default_lifetime: Duration = timedelta(days=7)
    max_lifetime: Duration = timedelta(days=30)
    max_cores: int = Field(8, ge=1)
    max_memory_mib: int = Field(16384, ge=64)
    max_swap_mib: int | None = Field(None, ge=0)
    max_disk_gib: int = Field(200, ge=1)
    #: Extra volumes (``mpN``) a container may ask for in the create modal (0 hides the choice).
    max_volumes: int = Field(1, ge=0, le=8)
    #: Network interfaces per container, ``eth0`` included (1 hides the second interface).
    max_interfaces: int = Field(2, ge=1, le=4)

    @model_validator(mode="after")
    def _lifetimes(self) -> Self:
        if self.default_lifetime > self.max_lifetime:
            raise ValueError("default_lifetime: must not be longer than max_lifetime")
        return self


class Placement(_Model):
    """Where containers may go: bridges, storages, templates, nodes, the VMID range and the pool."""

    bridges: list[str] = Field(default_factory=lambda: ["vmbr0"], min_length=1)
    storages: list[str] = Field(default_factory=lambda: ["local-lvm"], min_length=1)
    template_storage: str = "local"
    templates: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    nodes: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    vmid_min: int = Field(10000, ge=100, le=999_999_999)
    vmid_max: int = Field(19999, ge=100, le=999_999_999)
    #: Resource pool containers are created into; lists and reconcile then only consider its members.
    pool: str | None = Field(None, max_length=255)

    @field_validator("pool")
    @classmethod
    def _pool(cls, value: str | None) -> str | None:
        if not value:
            return None  # "" in the file: no pool
        if not _POOL_RE.match(value):
            raise ValueError(
                f"{value!r} is not a Proxmox pool id (letters, digits, '.', '-', '_'; at most 3 levels "
                "joined by '/')"
            )
        return value

    def in_pool(self, pool: str | None) -> bool:
        """Whether a guest in ``pool`` (``/cluster/resources`` ``pool``) is Cardinal's to see: always
        when no pool is configured, else only members of that pool."""
        return self.pool is None or pool == self.pool

    @field_validator("bridges", "storages")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _PVE_ID_RE.match(value):
                raise ValueError(
                    f"{value!r} is not a Proxmox id (a letter, then letters, digits, '-', '_' or '.')"
                )
        if len(set(values)) != len(values):
            raise ValueError("must not list the same name twice")
        return values

    @field_validator("template_storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not _PVE_ID_RE.match(value):
            raise ValueError(f"{value!r} is not a Proxmox storage id")
        return value

    @field_validator("templates", "nodes")
    @classmethod
    def _globs(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _GLOB_RE.match(value):
                raise ValueError(f"{value!r} is not a name or glob (letters, digits, '.-_:/+' and '*?[]')")
        return values

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.vmid_min > self.vmid_max:
            raise ValueError("vmid_min: must not be greater than vmid_max")
        return self

    def template_allowed(self, volid: str) -> bool:
        """Whether a template (``local:vztmpl/debian-12-….tar.zst`` or its file name) is allowed."""
        name = volid.rsplit("/", 1)[-1]
        return any(fnmatchcase(volid, g) or fnmatchcase(name, g) for g in self.templates)

    def node_allowed(self, node: str) -> bool:
        """Whether containers may be placed on this node."""
        return any(fnmatchcase(node, g) for g in self.nodes)


class ExpiryPolicy(_Model):
    """What happens as a container's lifetime ends."""

    reminders: list[Duration] = Field(default_factory=lambda: [timedelta(hours=24), timedelta(hours=1)])
    action: Literal["stop_then_destroy", "stop"] = "stop_then_destroy"
    grace: Duration = timedelta(days=3)

    @field_validator("reminders")
    @classmethod
    def _sorted(cls, values: list[timedelta]) -> list[timedelta]:
        if len(set(values)) != len(values):
            raise ValueError("must not list the same offset twice")
        return sorted(values, reverse=True)


class RetentionPolicy(_Model):
    """How long finished records are kept: audit events, finished tasks and requests, posted messages
    and job runs older than ``horizon`` are pruned (open and pending ones never are)."""

    horizon: Duration = timedelta(days=30)

    @field_validator("horizon")
    @classmethod
    def _at_least_a_day(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1):
            raise ValueError("must be at least 1d (finished records are kept for at least a day)")
        return value


class DigestSchedule(_Model):
    """One scheduled digest: where, when (5-field cron) and in which time zone."""

    channel: str
    cron: str
    timezone: str = "UTC"
    quiet_when_unchanged: bool = True

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL_RE.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (C…, G… or D…; not a #name)")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
        return value

    @model_validator(mode="after")
    def _cron(self) -> Self:
        from apscheduler.triggers.cron import CronTrigger

        if len(self.cron.split()) != 5:
            raise ValueError("cron: must have 5 fields (minute hour day month weekday), e.g. '0 9 * * 1-5'")
        try:
            CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))
        except ValueError as exc:
            raise ValueError(f"cron: {self.cron!r} is invalid: {exc}") from None
        return self


Visibility = Literal["owner-and-approvers", "everyone"]
"""Who may see a container's details: only its owner and the approvers, or everyone in the workspace."""


class AccessPolicy(_Model):
    """Who may see what (``bot.access`` applies it).

    ``others_containers`` decides who sees the details of a container (``/lxc status``, ``/lxc ip``),
    everyone's containers (``/lxc list all``) and the digest outside its configured channels. The safe
    default, ``"owner-and-approvers"``, shows a container only to its owner and the approvers;
    ``"everyone"`` lets anyone in the workspace look (operating it still needs the owner or an approver).
    """

    others_containers: Visibility = "owner-and-approvers"


class FeaturesPolicy(_Model):
    """Container features Cardinal asks Proxmox for at creation.

    ``nesting`` (default on) sends ``features=nesting=1`` for unprivileged containers, as the Proxmox
    GUI's create wizard does: without it pve-container warns "Systemd N detected. You may need to enable
    nesting." for every template with systemd newer than 241 (Debian 11 and later), and logins can hang
    for 25 s. Privileged containers never get it (only root@pam may set their features).
    """

    nesting: bool = True


class Policy(_Model):
    """The whole policy. Build it with :func:`load_policy`; ``Policy()`` is the built-in default."""

    approvers: list[str] = Field(default_factory=list)
    approval_channel: str | None = None
    ops_channel: str | None = None
    presets: dict[str, Preset] = Field(default_factory=_default_presets, min_length=1)
    quota: Quota = Field(default_factory=Quota)
    auto_approve: list[AutoApproveRule] = Field(default_factory=lambda: [AutoApproveRule()])
    limits: Limits = Field(default_factory=Limits)
    placement: Placement = Field(default_factory=Placement)
    expiry: ExpiryPolicy = Field(default_factory=ExpiryPolicy)
    digest: list[DigestSchedule] = Field(default_factory=list)
    access: AccessPolicy = Field(default_factory=AccessPolicy)
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    features: FeaturesPolicy = Field(default_factory=FeaturesPolicy)

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _APPROVER_RE.match(value):
                raise ValueError(
                    f"{value!r} is not a Slack user group id (S…) or user id (U…/W…); "
                    "use ids, not @handles, which can be renamed"
                )
        return values

    @field_validator("approval_channel", "ops_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL_RE.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (C…, G… or D…; not a #name)")
        return value

    @field_validator("presets")
    @classmethod
    def _preset_names(cls, values: dict[str, Preset]) -> dict[str, Preset]:
        for name in values:
            if name == CUSTOM_PRESET:
                raise ValueError(f"{CUSTOM_PRESET!r} is reserved for custom sizes; pick another preset name")
            if not _NAME_RE.match(name):
                raise ValueError(f"{name!r} is not a preset name (a-z, 0-9, '-' and '_', at most 32)")
        return values

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        problems: list[str] = []
        for i, rule in enumerate(self.auto_approve):
            unknown = [p for p in rule.presets if p not in self.presets]
            if unknown:
                problems.append(
                    f"auto_approve[{i}].presets: unknown preset(s) {', '.join(map(repr, unknown))}"
                )
        for offset in self.expiry.reminders:
            if offset >= self.limits.max_lifetime:
                problems.append(
                    f"expiry.reminders: {format_duration(offset)} is not shorter than limits.max_lifetime"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def approver_groups(self) -> list[str]:
        """Approver Slack user-group ids (``S…``)."""
        return [a for a in self.approvers if a.startswith("S")]

    @property
    def approver_users(self) -> list[str]:
        """Approver Slack user ids (``U…``/``W…``)."""
        return [a for a in self.approvers if not a.startswith("S")]

    @property
    def digest_channels(self) -> frozenset[str]:
        """The channels a digest is scheduled for: ``/lxc digest`` posts there publicly."""
        return frozenset(d.channel for d in self.digest)

    def preset(self, name: str) -> Preset | None:
        """The preset called ``name``, or ``None``."""
        return self.presets.get(name)

    def needs_approval(
        self, *, preset: str | None, count: int, lifetime: timedelta, within_quota: bool
    ) -> bool:
        """True unless some auto-approve rule covers the request (``preset=None`` means custom sizes)."""
        return not any(
            rule.matches(preset=preset, count=count, lifetime=lifetime, within_quota=within_quota)
            for rule in self.auto_approve
        )

    def lifetime_choices(self) -> list[timedelta]:
        """Lifetimes to offer in the create modal: common ones within ``max_lifetime``, plus the limits."""
        common = [timedelta(days=d) for d in (1, 3, 7, 14, 30, 60, 90, 180, 365)]
        chosen = {c for c in common if c <= self.limits.max_lifetime}
        chosen |= {self.limits.default_lifetime, self.limits.max_lifetime}
        return sorted(chosen)

    def warnings(self) -> list[str]:
        """Legal but probably unintended settings, for ``cardinal check`` to show."""
        out: list[str] = []
        if not self.approvers:
            out.append("approvers is empty: requests beyond auto_approve cannot be approved by anyone")
        if self.approval_channel is None:
            out.append("approval_channel is unset: approval cards go to the requesting channel")
        if self.ops_channel is None:
            out.append("ops_channel is unset: Proxmox notifications for unknown containers are only logged")
        return out


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


_KEYED_RE = re.compile(r"^[a-z_]+(\[[0-9]+\])?(\.[a-z_]+(\[[0-9]+\])?)*: ")


def _format_errors(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = _loc([p for p in err.get("loc", ()) if p != "__root__"])
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (check its spelling; see examples/policy.toml)"
        for line in msg.splitlines():
            # Model-level checks name the key they are about ("vmid_min: …"); prefix the section to it.
            named = _KEYED_RE.match(line) is not None
            if not loc:
                problems.append(line)
            else:
                problems.append(f"{loc}.{line}" if named else f"{loc}: {line}")
    return problems


def load_policy(path: Path | None) -> Policy:
    """Read and validate the policy file; ``None`` gives the built-in defaults.

    Raises :class:`ConfigError` with one line per problem, each naming the TOML key and the rule.
    """
    if path is None:
        return Policy()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"POLICY_FILE: {path} does not exist"]) from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise ConfigError([f"POLICY_FILE: cannot read {path}: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"POLICY_FILE: {path} is not valid TOML: {exc}"]) from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
