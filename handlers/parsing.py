"""Parse the text of ``/lxc <subcommand> [args]`` into a typed :data:`Command` (pure, no I/O).

Everything a person types is checked here before it goes anywhere: VMIDs are ASCII digits within
100–999999999, hostnames are DNS names, snapshot names follow Proxmox's rule, user references must be
Slack mentions (``<@U123|name>``), control and invisible formatting characters are refused, and the
whole text is at most :data:`MAX_INPUT` characters. Problems raise :class:`UsageError` naming the
argument, with the usage line as the hint.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.containers.downloads import TEMPLATE_NAME_RE
from bot.errors import InputError
from bot.policy import parse_duration
from bot.proxmox import PowerAction

__all__ = [
    "COMMANDS",
    "MAX_INPUT",
    "Audit",
    "Command",
    "CommandSpec",
    "Create",
    "Destroy",
    "Digest",
    "Download",
    "Extend",
    "Help",
    "Ip",
    "List",
    "Power",
    "Resize",
    "Rollback",
    "Snapshot",
    "Status",
    "Tasks",
    "Templates",
    "UsageError",
    "parse_command",
    "usage",
]

MAX_INPUT = 500
VMID_MIN = 100
VMID_MAX = 999_999_999


@dataclass(frozen=True)
class Help:
    """``/lxc`` or ``/lxc help [subcommand]``."""

    topic: str | None = None


@dataclass(frozen=True)
class Create:
    """``/lxc create [preset]``: open the create modal, preselecting ``preset`` if given."""

    preset: str | None = None


@dataclass(frozen=True)
class List:
    """``/lxc list [mine|all]``."""

    scope: Literal["mine", "all"] = "mine"


@dataclass(frozen=True)
class Status:
    """``/lxc status <vmid|hostname>``: exactly one of ``vmid`` and ``hostname`` is set."""

    vmid: int | None = None
    hostname: str | None = None


@dataclass(frozen=True)
class Power:
    """``/lxc start|stop|shutdown|reboot <vmid>``."""

    action: PowerAction
    vmid: int


@dataclass(frozen=True)
class Destroy:
    """``/lxc destroy <vmid>``."""

    vmid: int


@dataclass(frozen=True)
class Extend:
    """``/lxc extend <vmid> <duration>``."""

    vmid: int
    duration: timedelta


@dataclass(frozen=True)
class Ip:
    """``/lxc ip <vmid>``."""

    vmid: int


@dataclass(frozen=True)
class Templates:
    """``/lxc templates``."""


@dataclass(frozen=True)
class Download:
    """``/lxc download <template>``: the template's file name as the appliance index lists it."""

    template: str


@dataclass(frozen=True)
class Tasks:
    """``/lxc tasks``."""


@dataclass(frozen=True)
class Audit:
    """``/lxc audit [vmid|@user]``: at most one of ``vmid`` and ``user_id`` is set."""

    vmid: int | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Digest:
    """``/lxc digest``."""


@dataclass(frozen=True)
class Snapshot:
    """``/lxc snapshot <vmid> [name]``."""

    vmid: int
    name: str | None = None


@dataclass(frozen=True)
class Rollback:
    """``/lxc rollback <vmid> <name>``."""

    vmid: int
    name: str


@dataclass(frozen=True)
class Resize:
    """``/lxc resize <vmid> cores=… memory=… disk=+…``; at least one of the sizes is set."""

    vmid: int
    cores: int | None = None
    memory_mib: int | None = None
    disk_add_gib: int | None = None


Command = (
    Help
    | Create
    | List
    | Status
    | Power
    | Destroy
    | Extend
    | Ip
    | Templates
    | Download
    | Tasks
    | Audit
    | Digest
    | Snapshot
    | Rollback
    | Resize
)


@dataclass(frozen=True)
class CommandSpec:
    """One subcommand as help shows it."""

    name: str
    args: str
    summary: str


#: Every subcommand in help order (shared with the help message in :mod:`handlers.blocks.help`).
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("help", "[subcommand]", "show this help"),
    CommandSpec("create", "[preset]", "request a new container (opens a form)"),
    CommandSpec("list", "[mine|all]", "containers with status, node, IP, owner and expiry"),
    CommandSpec("status", "<vmid|hostname>", "one container in detail"),
    CommandSpec("start", "<vmid>", "start a container"),
    CommandSpec("stop", "<vmid>", "stop a container at once (like pulling the plug)"),
    CommandSpec("shutdown", "<vmid>", "shut a container down cleanly"),
    CommandSpec("reboot", "<vmid>", "reboot a container"),
    CommandSpec("destroy", "<vmid>", "destroy a container (asks for confirmation)"),
    CommandSpec("extend", "<vmid> <duration>", "push the expiry, e.g. `extend 10042 3d`"),
    CommandSpec("ip", "<vmid>", "re-discover and show a container's addresses"),
    CommandSpec("templates", "", "templates you can create containers from"),
    CommandSpec("download", "<template>", "download a template onto the nodes lacking it (approvers)"),
    CommandSpec("tasks", "", "pending and recent Proxmox tasks"),
    CommandSpec("audit", "[vmid|@user]", "recent audit events"),
    CommandSpec("digest", "", "post the digest now"),
    CommandSpec("snapshot", "<vmid> [name]", "snapshot one of your containers"),
    CommandSpec("rollback", "<vmid> <name>", "roll a container back to a snapshot"),
    CommandSpec("resize", "<vmid> [cores=N] [memory=MiB] [disk=+GiB]", "change a container's size"),
)
_SPECS = {spec.name: spec for spec in COMMANDS}

# Words people reach for that are not subcommands; suggested (never run) instead of a difflib guess.
_ALIASES = {
    "restart": "reboot",
    "delete": "destroy",
    "remove": "destroy",
    "rm": "destroy",
    "ls": "list",
    "new": "create",
    "info": "status",
    "show": "status",
    "poweroff": "shutdown",
    "halt": "shutdown",
    "snap": "snapshot",
    "ips": "ip",
    "renew": "extend",
}

_POWER: dict[str, PowerAction] = {
    "start": "start",
    "stop": "stop",
    "shutdown": "shutdown",
    "reboot": "reboot",
}
_WHITESPACE = {" ", "\t", "\n", "\r"}
_DIGITS_RE = re.compile(r"^[0-9]+$")
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_PRESET_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_SNAPNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,39}$")
# A user as Slack sends it with escaping on: ``<@U012AB3CD>`` or ``<@U012AB3CD|alice>`` (the ``|name``
# part is optional and may change; only the id counts). https://docs.slack.dev/messaging/formatting-message-text
_MENTION_RE = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^<>]{0,80})?>$")
_LINK_RE = re.compile(r"^<https?://([A-Za-z0-9.-]{1,253})/?(?:\|([A-Za-z0-9.-]{1,253}))?>$")
_SIZE_ARG_RE = re.compile(r"^([a-z]+)=(.*)$")
_MEMORY_RE = re.compile(r"^([0-9]{1,9})(m|mb|mib|g|gb|gib)?$")
_DISK_RE = re.compile(r"^\+([0-9]{1,9})(g|gb|gib)?$")


class UsageError(InputError):
    """The command text does not fit the syntax; ``hint`` carries the usage line."""

    def __init__(
        self, what: str, *, usage_line: str, field: str | None = None, suggestion: str | None = None
    ) -> None:
        super().__init__(what, field=field, hint=f"Usage: {usage_line}")
        self.usage_line = usage_line
        self.suggestion = suggestion


def usage(name: str, command_name: str = "/lxc") -> str:
    """The usage line of a subcommand, e.g. ``/lxc status <vmid|hostname>`` in backticks."""
    spec = _SPECS[name]
    return f"`{command_name} {spec.name}{' ' + spec.args if spec.args else ''}`"


def _shown(token: str, limit: int = 40) -> str:
    """A user token fit to quote in a code span: shortened, backticks replaced."""
    token = token.replace("`", "'")
    return token if len(token) <= limit else token[: limit - 1] + "…"


class _Parser:
    def __init__(self, name: str, args: list[str], command_name: str) -> None:
        self.name = name
        self.args = args
        self.command_name = command_name

    def fail(self, what: str, field: str | None = None) -> UsageError:
        return UsageError(what, field=field, usage_line=usage(self.name, self.command_name))

    def arity(self, low: int, high: int) -> None:
        if len(self.args) > high:
            extra = " ".join(self.args[high:])
            raise self.fail(f"`{self.name}` got an unexpected argument `{_shown(extra)}`.")
        if len(self.args) < low:
            missing = _SPECS[self.name].args.split()[len(self.args)]
            raise self.fail(f"`{self.name}` needs {missing}.", field=missing.strip("<>[]").split("|")[0])

    def vmid(self, token: str) -> int:
        if not _DIGITS_RE.match(token):
            raise self.fail(f"`{_shown(token)}` is not a VMID; a VMID is a number like 10042.", field="vmid")
        value = int(token)
        if not VMID_MIN <= value <= VMID_MAX:
            raise self.fail(f"VMID {_shown(token)} is out of range; VMIDs are 100–999999999.", field="vmid")
        return value

    def hostname(self, token: str) -> str:
        # With escaping on (manifest ``should_escape: true``) Slack may send a name that looks like a
        # domain as a link, ``<http://web.example.com|web.example.com>``: take the name back out.
        link = _LINK_RE.match(token)
        if link is not None and link.group(2) in (None, link.group(1)):
            token = link.group(1)
        if not _HOSTNAME_RE.match(token.lower()):
            raise self.fail(
                f"`{_shown(token)}` is neither a VMID nor a host name "
                "(letters, digits and '-', dot-separated, at most 253 characters).",
                field="hostname",
            )
        return token.lower()

    def snapname(self, token: str) -> str:
        if not _SNAPNAME_RE.match(token) or token.lower() in ("current", "vzdump"):
            raise self.fail(
                f"`{_shown(token)}` is not a valid snapshot name: start with a letter, then 1–39 letters, "
                "digits, '_' or '-' (and not `current` or `vzdump`).",
                field="name",
            )
        return token

    def user(self, token: str) -> str:
        match = _MENTION_RE.match(token)
        if match is None:
            if token.startswith("@"):
                # Slack sends a typed @name as plain text when the command does not escape mentions (an
                # app created from an old manifest with ``should_escape: false``): no user id to go by.
                raise self.fail(
                    f"`{_shown(token)}` arrived as plain text, so Cardinal cannot tell who it is. Pick the "
                    "person from Slack's @-autocomplete; if it still arrives as text, ask the operators to "
                    'turn on "Escape channels, users, and links" for the /lxc command '
                    "(`should_escape: true` in the app manifest).",
                    field="user",
                )
            raise self.fail(f"`{_shown(token)}` is neither a VMID nor an @mention.", field="user")
        return match.group(1)


def _check_text(text: str, command_name: str) -> str:
    if len(text) > MAX_INPUT:
        raise UsageError(
            f"The command is too long ({len(text)} characters; at most {MAX_INPUT}).",
            usage_line=f"`{command_name} help`",
        )
    for ch in text:
        if ch in _WHITESPACE:
            continue
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
            raise UsageError(
                f"The command contains a control or invisible character (U+{ord(ch):04X}); "
                "type it again without pasting formatting.",
                usage_line=f"`{command_name} help`",
            )
    return text


def parse_command(text: str, *, command_name: str = "/lxc") -> Command:
    """Parse the text after the slash command into a :data:`Command`.

    ``command_name`` is only used in usage lines (the manifest may name the command differently).
    Raises :class:`UsageError` for unknown subcommands (with a "did you mean" suggestion), bad or
    missing arguments, control characters and text longer than :data:`MAX_INPUT`.
    """
    tokens = _check_text(text, command_name).split()
    if not tokens:
        return Help()
    name, args = tokens[0].lower(), tokens[1:]
    p = _Parser(name, args, command_name)
    match name:
        case "help":
            p.arity(0, 1)
            topic = args[0].lower() if args else None
            if topic is not None and topic not in _SPECS:
                raise _unknown(topic, command_name)
            return Help(topic)
        case "create":
            p.arity(0, 1)
            if args and not _PRESET_RE.match(args[0].lower()):
                raise p.fail(f"`{_shown(args[0])}` is not a preset name.", field="preset")
            return Create(args[0].lower() if args else None)
        case "list":
            p.arity(0, 1)
            scope = args[0].lower() if args else "mine"
            if scope == "mine":
                return List("mine")
            if scope == "all":
                return List("all")
            raise p.fail(f"`{_shown(args[0])}` is not a list scope; use `mine` or `all`.", field="scope")
        case "status":
            p.arity(1, 1)
            if _DIGITS_RE.match(args[0]):
                return Status(vmid=p.vmid(args[0]))
            return Status(hostname=p.hostname(args[0]))
        case "start" | "stop" | "shutdown" | "reboot":
            p.arity(1, 1)
            return Power(_POWER[name], p.vmid(args[0]))
        case "destroy":
            p.arity(1, 1)
            return Destroy(p.vmid(args[0]))
        case "extend":
            p.arity(2, 2)
            vmid = p.vmid(args[0])
            try:
                duration = parse_duration(args[1], field="duration")
            except InputError as exc:
                raise p.fail(exc.what, field="duration") from None
            return Extend(vmid, duration)
        case "ip":
            p.arity(1, 1)
            return Ip(p.vmid(args[0]))
        case "templates":
            p.arity(0, 0)
            return Templates()
        case "download":
            p.arity(1, 1)
            if not TEMPLATE_NAME_RE.fullmatch(args[0]):
                raise p.fail(f"`{_shown(args[0])}` is not a template name.", field="template")
            return Download(args[0])
        case "tasks":
            p.arity(0, 0)
            return Tasks()
        case "digest":
            p.arity(0, 0)
            return Digest()
        case "audit":
            if len(args) > 1 and args[0].startswith("<@") and _MENTION_RE.match(" ".join(args)):
                args = p.args = [" ".join(args)]  # <@U…|first last>: a display name with a space
            p.arity(0, 1)
            if not args:
                return Audit()
            if _DIGITS_RE.match(args[0]):
                return Audit(vmid=p.vmid(args[0]))
            return Audit(user_id=p.user(args[0]))
        case "snapshot":
            p.arity(1, 2)
            return Snapshot(p.vmid(args[0]), p.snapname(args[1]) if len(args) > 1 else None)
        case "rollback":
            p.arity(2, 2)
            return Rollback(p.vmid(args[0]), p.snapname(args[1]))
        case "resize":
            return _resize(p)
        case _:  # every subcommand has its own case above; anything else is unknown
            raise _unknown(name, command_name)


def _unknown(name: str, command_name: str) -> UsageError:
    guess = _ALIASES.get(name)
    if guess is None:
        close = difflib.get_close_matches(name, list(_SPECS), n=1, cutoff=0.6)
        guess = close[0] if close else None
    what = f"`{_shown(name)}` is not a {command_name} command."
    if guess is not None:
        what += f" Did you mean `{guess}`?"
        line = usage(guess, command_name)
    else:
        line = f"`{command_name} help` lists every command"
    return UsageError(what, field="subcommand", usage_line=line, suggestion=guess)


def _resize(p: _Parser) -> Resize:
    if not p.args:
        p.arity(1, 4)
    vmid = p.vmid(p.args[0])
    sizes: dict[str, int] = {}
    for token in p.args[1:]:
        match = _SIZE_ARG_RE.match(token.lower())
        if match is None:
            raise p.fail(f"`{_shown(token)}` is not a size; write `cores=2`, `memory=2048` or `disk=+10`.")
        key, value = match.groups()
        key = "memory" if key == "mem" else key
        if key in sizes:
            raise p.fail(f"`{key}` is given twice.", field=key)
        if key == "cores":
            if not _DIGITS_RE.match(value) or not 1 <= int(value) <= 8192:
                raise p.fail(
                    f"cores must be a whole number from 1 to 8192, not `{_shown(value)}`.", field=key
                )
            sizes[key] = int(value)
        elif key == "memory":
            mem = _MEMORY_RE.match(value)
            mib = int(mem.group(1)) * (1024 if (mem.group(2) or "m").startswith("g") else 1) if mem else 0
            if mem is None or not 16 <= mib <= 4 * 1024 * 1024:
                raise p.fail(
                    f"memory must be 16 MiB to 4 TiB, e.g. `memory=2048` or `memory=4G`, "
                    f"not `{_shown(value)}`.",
                    field="memory",
                )
            sizes["memory"] = mib
        elif key == "disk":
            disk = _DISK_RE.match(value)
            if disk is None:
                hint = (
                    " Disks can only grow: write `disk=+10` to add 10 GiB." if _DIGITS_RE.match(value) else ""
                )
                raise p.fail(
                    f"disk must be `+<GiB>` to add, e.g. `disk=+10`, not `{_shown(value)}`.{hint}", field=key
                )
            gib = int(disk.group(1))
            if not 1 <= gib <= 65536:
                raise p.fail(f"disk can grow by 1 to 65536 GiB at a time, not {gib}.", field=key)
            sizes[key] = gib
        else:
            raise p.fail(f"`{_shown(key)}` is not a size; use cores, memory or disk.", field=key)
    if not sizes:
        raise p.fail("`resize` needs at least one of `cores=`, `memory=` or `disk=+`.")
    return Resize(
        vmid, cores=sizes.get("cores"), memory_mib=sizes.get("memory"), disk_add_gib=sizes.get("disk")
    )
