"""What a person may ask for: pydantic models for a container request, validated at the edge.

Every rule names the field and says what is allowed in plain words; :func:`field_errors` turns a
``ValidationError`` into ``{"nets.0.vlan": "nets.0.vlan: must be a VLAN ID from 1 to 4094 …"}`` for the
Slack modal. :meth:`ContainerSpec.to_create_params` produces the exact ``POST /nodes/{node}/lxc`` form;
every property string in it is built by :mod:`bot.proxmox.codec`, which refuses anything that could add a key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.errors import InputError
from bot.proxmox import codec

if TYPE_CHECKING:
    from bot.policy import Limits, Policy

# --- rules (plain words, shared by validators and tests) ------------------------------------------

HOSTNAME_RULE = (
    "each label must be 1–63 characters of a–z, 0–9 and '-', not starting or ending with '-'"
    " (labels separated by '.', at most 253 characters in total)"
)
TEMPLATE_RULE = (
    "must be a template volume like local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    " (storage id, ':vztmpl/', then a file name of A–Z, a–z, 0–9, '.', '_', '+', '-' ending in .tar.*)"
)
STORAGE_RULE = "must start with a–z and use only a–z, 0–9, '-', '_' and '.' (at most 64 characters)"
IFNAME_RULE = "must be 1–15 characters of A–Z, a–z, 0–9, '_', '.' and '-', starting with a letter"
TAG_RULE = (
    "each tag must be 1–64 characters of a–z, 0–9, '_', '-', '+' and '.', not starting with '-', '+' or '.'"
)
VLAN_RULE = "must be a VLAN ID from 1 to 4094 (0 and 4095 are reserved)"
DESCRIPTION_MAX_BYTES = 8192

_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_STORAGE_RE = re.compile(r"[a-z][a-z0-9\-_.]{0,63}")
_TEMPLATE_RE = re.compile(
    r"[a-z][a-z0-9\-_.]{0,63}:vztmpl/[A-Za-z0-9][A-Za-z0-9._+\-]*\.(?:tar\.(?:gz|xz|zst|bz2)|tgz|tar)"
)
_IFNAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,14}")
_TAG_RE = re.compile(r"[a-z0-9_][a-z0-9_\-+.]{0,63}")

SSH_KEY_TYPES: frozenset[str] = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
_SSH_KEY_MAX = 16384
_RSA_MIN_BITS = 2048


def _invalid(rule: str) -> PydanticCustomError:
    return PydanticCustomError("cardinal_rule", rule)


def _check_range(value: int, lo: int, hi: int, unit: str) -> int:
    if not lo <= value <= hi:
        raise _invalid(f"must be a whole number from {lo} to {hi}{unit}")
    return value


def _ranged(lo: int, hi: int, unit: str = "") -> AfterValidator:
    return AfterValidator(lambda v: _check_range(v, lo, hi, unit))


def _storage_id(value: str) -> str:
    if not _STORAGE_RE.fullmatch(value):
        raise _invalid(STORAGE_RULE)
    return value


def _ifname(value: str) -> str:
    if not _IFNAME_RE.fullmatch(value):
        raise _invalid(IFNAME_RULE)
    return value


StorageId = Annotated[str, AfterValidator(_storage_id)]
IfName = Annotated[str, AfterValidator(_ifname)]
SizeGiB = Annotated[int, _ranged(1, 10240, " GiB")]


def check_hostname(value: str) -> str:
    """Return ``value`` if it is an RFC 1123 host name in lowercase; raise ``ValueError`` otherwise."""
    if not value or len(value) > 253 or not all(_LABEL_RE.fullmatch(label) for label in value.split(".")):
        raise ValueError(HOSTNAME_RULE)
    return value


def check_tag(value: str) -> str:
    """Return ``value`` if it is a Proxmox tag Cardinal accepts; raise ``ValueError`` otherwise."""
    if not _TAG_RE.fullmatch(value):
        raise ValueError(TAG_RULE)
    return value


def check_description(value: str) -> str:
    """Return ``value`` if it fits Proxmox's description (≤ 8 KiB, no control characters but newline)."""
    if len(value.encode("utf-8")) > DESCRIPTION_MAX_BYTES:
        raise ValueError(f"must be at most {DESCRIPTION_MAX_BYTES} bytes (8 KiB)")
    for ch in value:
        if ch != "\n" and unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"must not contain control characters (found U+{ord(ch):04X}); only newlines are allowed"
            )
    return value


def _read_ssh_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated")
    length = int.from_bytes(blob[offset : offset + 4], "big")
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("truncated")
    return blob[offset + 4 : end], end


def _ssh_fields(blob: bytes) -> list[bytes]:
    fields: list[bytes] = []
    offset = 0
    while offset < len(blob):
        item, offset = _read_ssh_string(blob, offset)
        fields.append(item)
    return fields


def _check_ssh_body(key_type: str, fields: list[bytes]) -> None:
    expected = {
        "ssh-ed25519": 2,
        "ssh-rsa": 3,
        "sk-ssh-ed25519@openssh.com": 3,
        "sk-ecdsa-sha2-nistp256@openssh.com": 4,
    }.get(key_type, 3)
    if len(fields) != expected:
        raise ValueError("body has the wrong structure")
    if key_type in ("ssh-ed25519", "sk-ssh-ed25519@openssh.com") and len(fields[1]) != 32:
        raise ValueError("Ed25519 public key must be 32 bytes")
    if key_type.startswith("ecdsa-sha2-") and fields[1].decode("ascii", "replace") != key_type[11:]:
        raise ValueError("curve does not match the key type")
    if key_type == "sk-ecdsa-sha2-nistp256@openssh.com" and fields[1] != b"nistp256":
        raise ValueError("curve does not match the key type")
    if key_type == "ssh-rsa" and int.from_bytes(fields[2], "big").bit_length() < _RSA_MIN_BITS:
        raise ValueError(f"RSA keys must have at least {_RSA_MIN_BITS} bits")


def check_ssh_public_key(value: str) -> str:
    """Return ``value`` if it is one OpenSSH public key line ``TYPE BASE64 [COMMENT]``; else ``ValueError``.

    The type must be one Cardinal accepts, the base64 body must decode and name the same type inside,
    and the comment must hold no control characters. Options (``command=…``) are refused.
    """
    if len(value) > _SSH_KEY_MAX:
        raise ValueError(f"must be at most {_SSH_KEY_MAX} characters")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                "must be one line: it contains a newline or control character; put each key on its own"
            )
    parts = value.split(" ", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError("must look like 'ssh-ed25519 AAAAC3Nza… comment' (type, base64 key, comment)")
    key_type, body = parts[0], parts[1]
    if key_type not in SSH_KEY_TYPES:
        raise ValueError(f"key type must be one of {', '.join(sorted(SSH_KEY_TYPES))}")
    try:
        blob = base64.b64decode(body, validate=True)
        fields = _ssh_fields(blob)
    except (binascii.Error, ValueError):
        raise ValueError("the key body is not valid base64 key data; copy the whole .pub line") from None
    if not fields or fields[0] != key_type.encode("ascii"):
        raise ValueError(f"the key body is not a {key_type} key (the type does not match the data)")
    try:
        _check_ssh_body(key_type, fields)
    except ValueError as exc:
        raise ValueError(f"the {key_type} key data is not valid: {exc}") from None
    return value


def _as_rule(check: Callable[[str], str]) -> AfterValidator:
    def run(value: str) -> str:
        try:
            result = check(value)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        return result

    return AfterValidator(run)


Hostname = Annotated[str, _as_rule(check_hostname)]
Tag = Annotated[str, _as_rule(check_tag)]
SshPublicKey = Annotated[str, _as_rule(check_ssh_public_key)]
Description = Annotated[str, _as_rule(check_description)]

# --- models ---------------------------------------------------------------------------------------


def _vlan(value: int) -> int:
    if not 1 <= value <= 4094:
        raise _invalid(VLAN_RULE)
    return value


class NetSpec(BaseModel):
    """One network interface: DHCP, or a static IPv4 address with an optional gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: IfName = "eth0"
    bridge: IfName = "vmbr0"
    mode: Literal["dhcp", "static"] = "dhcp"
    ipv4_cidr: str | None = Field(default=None, validate_default=True)
    gateway: str | None = None
    ipv6: str | None = None
    vlan: Annotated[int, AfterValidator(_vlan)] | None = None
    firewall: bool = True

    @field_validator("ipv4_cidr")
    @classmethod
    def _cidr(cls, value: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if value is None:
            if mode == "static":
                raise _invalid(
                    "is required for a static address: an IPv4 address with prefix, like 10.0.0.5/24"
                )
            return None
        if mode == "dhcp":
            raise _invalid("must be empty when the address comes from DHCP")
        rule = "must be an IPv4 address with prefix length, like 10.0.0.5/24"
        if "/" not in value:
            raise _invalid(rule)
        try:
            iface = ipaddress.IPv4Interface(value)
        except ValueError:
            raise _invalid(rule) from None
        net = iface.network
        if iface.ip.is_unspecified or iface.ip.is_loopback or iface.ip.is_multicast or iface.ip.is_reserved:
            raise _invalid("must be a usable unicast address (not 0.0.0.0, loopback, multicast or reserved)")
        if net.prefixlen <= 30 and iface.ip in (net.network_address, net.broadcast_address):
            raise _invalid(f"must not be the network or broadcast address of {net}")
        return str(iface)

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("mode") == "dhcp":
            raise _invalid("must be empty when the address comes from DHCP")
        try:
            gw = ipaddress.IPv4Address(value)
        except ValueError:
            raise _invalid("must be an IPv4 address like 10.0.0.1") from None
        cidr = info.data.get("ipv4_cidr")
        if cidr is None:
            return str(gw)  # the missing/invalid address is reported on ipv4_cidr
        iface = ipaddress.IPv4Interface(cidr)
        net = iface.network
        if gw not in net:
            raise _invalid(f"must lie inside the network {net} of the address")
        if net.prefixlen <= 30 and gw in (net.network_address, net.broadcast_address):
            raise _invalid(f"must not be the network or broadcast address of {net}")
        if gw == iface.ip:
            raise _invalid("must not be the container's own address")
        return str(gw)

    @field_validator("ipv6")
    @classmethod
    def _ipv6(cls, value: str | None) -> str | None:
        if value is None or value in ("auto", "dhcp"):
            return value
        rule = "must be 'auto', 'dhcp' or an IPv6 address with prefix length, like fd00::5/64"
        if "/" not in value:
            raise _invalid(rule)
        try:
            return str(ipaddress.IPv6Interface(value))
        except ValueError:
            raise _invalid(rule) from None

    def to_property(self, index: int) -> str:
        """This interface as a ``net{index}`` property string (through the codec)."""
        return codec.net_property(
            self.name,
            self.bridge,
            ip=self.ipv4_cidr if self.mode == "static" else "dhcp",
            gw=self.gateway,
            ip6=self.ipv6,
            tag=self.vlan,
            firewall=self.firewall,
            field=f"net{index}",
        )


class Features(BaseModel):
    """Container feature flags; only enabled ones are sent to Proxmox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nesting: bool = False
    keyctl: bool = False
    fuse: bool = False


class MountPoint(BaseModel):
    """An extra volume, allocated on ``storage`` and mounted at ``path`` inside the container."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage: StorageId
    size_gib: SizeGiB
    path: str
    backup: bool = True
    read_only: bool = False

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        try:
            codec.check_mount_path(value, field="path")
        except InputError as exc:
            raise _invalid(exc.what.removeprefix("path: path ")) from None
        return value

    def to_property(self, index: int) -> str:
        """This mount point as an ``mp{index}`` property string (through the codec)."""
        return codec.mountpoint_property(
            self.storage,
            self.size_gib,
            self.path,
            backup=self.backup,
            ro=self.read_only or None,
            field=f"mp{index}",
        )


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _invalid(f"each {what} must be different ({value!r} appears twice)")
        seen.add(value)


class ContainerSpec(BaseModel):
    """A container request as validated at the edge; nothing invalid gets past this model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hostname: Hostname
    template: str
    cores: Annotated[int, _ranged(1, 128)] = 1
    memory_mib: Annotated[int, _ranged(64, 1 << 20, " MiB")] = 512
    swap_mib: Annotated[int, _ranged(0, 1 << 20, " MiB")] = 512
    disk_gib: SizeGiB = 8
    storage: StorageId
    nets: list[NetSpec] = Field(default_factory=lambda: [NetSpec()])
    mountpoints: list[MountPoint] = Field(default_factory=list)
    unprivileged: bool = True
    features: Features = Field(default_factory=Features)
    ssh_public_keys: list[SshPublicKey] = Field(default_factory=list)
    generate_password: bool = False
    tags: list[Tag] = Field(default_factory=list)
    description: Description = ""

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        if len(value) > 255 or not _TEMPLATE_RE.fullmatch(value):
            raise _invalid(TEMPLATE_RULE)
        return value

    @field_validator("nets")
    @classmethod
    def _nets(cls, value: list[NetSpec]) -> list[NetSpec]:
        if not 1 <= len(value) <= 4:
            raise _invalid("must list 1 to 4 network interfaces")
        _unique([n.name for n in value], "interface name")
        return value

    @field_validator("mountpoints")
    @classmethod
    def _mountpoints(cls, value: list[MountPoint]) -> list[MountPoint]:
        if len(value) > 8:
            raise _invalid("must list at most 8 mount points")
        _unique([m.path for m in value], "mount point path")
        return value

    @field_validator("features")
    @classmethod
    def _features(cls, value: Features, info: ValidationInfo) -> Features:
        if value.keyctl and info.data.get("unprivileged") is False:
            raise _invalid("keyctl is only available for unprivileged containers")
        return value

    @field_validator("ssh_public_keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        if len(value) > 32:
            raise _invalid("must list at most 32 keys")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        if len(value) > 32:
            raise _invalid("must list at most 32 tags")
        _unique(value, "tag")
        return value

    @property
    def total_disk_gib(self) -> int:
        """Root disk plus all mount points, in GiB."""
        return self.disk_gib + sum(mp.size_gib for mp in self.mountpoints)

    def to_create_params(
        self,
        vmid: int,
        *,
        tags: list[str] | None = None,
        description: str | None = None,
        password: str | SecretStr | None = None,
        start: bool = False,
    ) -> dict[str, str | int]:
        """The exact form parameters of ``POST /nodes/{node}/lxc`` for this spec.

        ``tags`` are added after the spec's own (duplicates dropped), ``description`` replaces the spec's
        when given, ``password`` (≥ 5 characters) sets the root password. Raises :class:`InputError` for
        a bad vmid, tag, description or password. The result holds the password: never log it.
        """
        if isinstance(vmid, bool) or not 100 <= vmid <= 999_999_999:
            raise InputError("vmid: must be a whole number from 100 to 999999999", field="vmid")
        params: dict[str, str | int] = {
            "vmid": vmid,
            "ostemplate": self.template,
            "hostname": self.hostname,
            "cores": self.cores,
            "memory": self.memory_mib,
            "swap": self.swap_mib,
            "rootfs": codec.rootfs_property(self.storage, self.disk_gib),
        }
        for index, net in enumerate(self.nets):
            params[f"net{index}"] = net.to_property(index)
        for index, mp in enumerate(self.mountpoints):
            params[f"mp{index}"] = mp.to_property(index)
        features = codec.features_property(self.features.nesting, self.features.keyctl, self.features.fuse)
        if features:
            params["features"] = features
        if self.ssh_public_keys:
            params["ssh-public-keys"] = "\n".join(self.ssh_public_keys)
        params["unprivileged"] = 1 if self.unprivileged else 0
        all_tags = list(self.tags)
        for tag in tags or []:
            _edge_check(check_tag, tag, "tags")
            if tag not in all_tags:
                all_tags.append(tag)
        if all_tags:
            params["tags"] = ";".join(all_tags)
        text = (
            self.description
            if description is None
            else _edge_check(check_description, description, "description")
        )
        if text:
            params["description"] = text
        if password is not None:
            secret = password.get_secret_value() if isinstance(password, SecretStr) else password
            if len(secret) < 5 or any(unicodedata.category(ch) == "Cc" for ch in secret):
                raise InputError(
                    "password: must be at least 5 characters without control characters", field="password"
                )
            params["password"] = secret
        params["start"] = 1 if start else 0
        return params


def _edge_check(check: Callable[[str], str], value: str, field: str) -> str:
    try:
        result = check(value)
    except ValueError as exc:
        raise InputError(f"{field}: {exc}", field=field) from None
    return result


def default_features(policy: Policy, *, unprivileged: bool) -> Features:
    """The features a new container gets: ``nesting`` for unprivileged containers unless the policy's
    ``[features] nesting`` is off (privileged containers get none: only root@pam may set their
    features — pve-container ``check_ct_modify_config_perm``)."""
    return Features(nesting=unprivileged and policy.features.nesting)


def check_limits(spec: ContainerSpec, limits: Limits) -> list[InputError]:
    """Every way ``spec`` exceeds the policy's per-container ``limits``, one :class:`InputError` per
    field (empty when within)."""
    problems: list[InputError] = []

    def over(field: str, value: int, limit: int, unit: str) -> None:
        problems.append(
            InputError(
                f"{field}: {value}{unit} is more than the limit of {limit}{unit} per container",
                field=field,
                hint="Ask for less, or ask an approver for an exception.",
            )
        )

    if spec.cores > limits.max_cores:
        over("cores", spec.cores, limits.max_cores, "")
    if spec.memory_mib > limits.max_memory_mib:
        over("memory_mib", spec.memory_mib, limits.max_memory_mib, " MiB")
    if limits.max_swap_mib is not None and spec.swap_mib > limits.max_swap_mib:
        over("swap_mib", spec.swap_mib, limits.max_swap_mib, " MiB")
    if spec.total_disk_gib > limits.max_disk_gib:
        over("disk_gib", spec.total_disk_gib, limits.max_disk_gib, " GiB (root disk plus mount points)")
    return problems


# --- ValidationError → friendly messages ----------------------------------------------------------

_TYPE_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a field Cardinal knows",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "model_type": "must be a set of fields",
    "dict_type": "must be a set of fields",
    "frozen_instance": "cannot be changed",
}


def _message(err: ErrorDetails) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "cardinal_rule":
        return str(err.get("msg", "is not valid"))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the listed values')}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "value_error":
        return str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return _TYPE_MESSAGES.get(kind, str(err.get("msg", "is not valid")))


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Map each failing field path (``hostname``, ``nets.0.vlan``) to ``"<path>: <rule in plain words>"``.

    Only the first problem per path is kept; values are never echoed.
    """
    result: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in err.get("loc", ())]
        path = ".".join(loc) or "request"
        result.setdefault(path, f"{path}: {_message(err)}")
    return result
