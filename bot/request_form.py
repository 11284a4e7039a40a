"""The create form: its values, the choices the modal offers, and the rules a request must pass.

:class:`CreateFormRules` is the validating half of :class:`bot.requests.RequestService` (which inherits
it): it checks every field against its rule, the policy, the cluster and the requester's quota, and
raises :class:`FormErrors` naming each bad field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from pydantic import ValidationError

from bot.containers.advanced import AdvancedForm, advanced_field, advanced_spec_fields
from bot.containers.spec import ContainerSpec, check_limits, field_errors
from bot.db import Database
from bot.db.requests import QuotaUsage
from bot.errors import InputError
from bot.placement import allowed
from bot.policy import CUSTOM_PRESET, Policy, format_duration
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import NodeInfo
from bot.template_locations import locate_templates

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


class FormErrors(InputError):
    """The create form has problems; ``errors`` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()), hint="Correct the marked fields.")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class CreateForm:
    """The create modal's values, already read from Slack's view state (strings parsed, nothing checked)."""

    hostname: str
    template: str
    count: int = 1
    preset: str | None = None  # None or CUSTOM_PRESET: custom sizes below
    cores: int | None = None
    memory_mib: int | None = None
    swap_mib: int | None = None
    disk_gib: int | None = None
    network: Literal["dhcp", "static"] = "dhcp"
    ipv4_cidr: str | None = None
    gateway: str | None = None
    bridge: str | None = None
    vlan: int | None = None
    ssh_key: str | None = None
    generate_password: bool = False
    lifetime: timedelta | None = None
    node: str | None = None
    purpose: str = ""
    advanced: AdvancedForm | None = None  # the modal's "More options": volume, interface, nesting


@dataclass(frozen=True, slots=True)
class CreateChoices:
    """What the create modal offers: the allowed online nodes and the allowed templates held by at least
    one of them (both empty when Proxmox cannot be reached; the modal then says templates are
    unavailable). ``where`` maps each template to the nodes holding it: the template storage (``local``)
    is per node unless it is shared."""

    nodes: tuple[str, ...]
    templates: tuple[str, ...]
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def holders_label(self, volid: str) -> str | None:
        """``"pve, pve3"`` when only some of the offered nodes hold ``volid``; ``None`` when all do."""
        holders = self.where.get(volid)
        if holders is None or set(self.nodes) <= set(holders):
            return None
        return ", ".join(holders)


@dataclass(frozen=True, slots=True)
class ValidRequest:
    """A form that passed every rule; ready to be submitted."""

    form: CreateForm
    spec: ContainerSpec
    hostnames: tuple[str, ...]
    lifetime: timedelta
    needs_approval: bool


class CreateFormRules:
    """Validation of the create form against the policy, the cluster and the quota."""

    db: Database
    proxmox: ProxmoxClient
    policy: Policy
    default_node: str | None

    async def _allowed_online(self) -> list[NodeInfo]:
        """Online nodes the policy allows, the default node first, then by name."""
        place = self.policy.placement
        listed = await self.proxmox.cached_nodes()
        nodes = [n for n in listed if n.status == "online" and place.node_allowed(n.node)]
        return sorted(nodes, key=lambda n: (n.node != self.default_node, n.node))

    async def create_choices(self) -> CreateChoices:
        """Nodes and templates to offer in the create modal: every allowed template that at least one
        allowed online node holds, with the nodes holding it."""
        place = self.policy.placement
        try:
            nodes = [n.node for n in await self._allowed_online()]
            where = (
                await locate_templates(self.proxmox, place.template_storage, nodes, cached=True)
                if nodes
                else None
            )
        except ProxmoxError as exc:
            log.warning("create_modal.templates_unavailable", error=exc.what)
            return CreateChoices((), ())
        if where is None:
            return CreateChoices((), ())
        templates = tuple(v for v in where.templates if place.template_allowed(v))
        return CreateChoices(tuple(nodes), templates, {v: where.nodes_with(v) for v in templates})

    # ----------------------------------------------------------------------------- validation
    async def validate(self, form: CreateForm, requester: str) -> ValidRequest:
        """Check every field against its rule, the policy and the requester's quota.

        Raises :class:`FormErrors` naming each bad field; nothing invalid goes further.
        """
        errors: dict[str, str] = {}
        p = self.policy
        if not 1 <= form.count <= p.limits.max_count:
            errors["count"] = f"count: must be between 1 and {p.limits.max_count}"
        lifetime = form.lifetime or p.limits.default_lifetime
        if lifetime <= timedelta(0) or lifetime > p.limits.max_lifetime:
            errors["lifetime"] = f"lifetime: at most {format_duration(p.limits.max_lifetime)}"
        bridge = form.bridge or p.placement.bridges[0]
        if bridge not in p.placement.bridges:
            errors["bridge"] = f"bridge: must be one of {', '.join(p.placement.bridges)}"
        if form.node and not allowed(form.node, p.placement.nodes):
            errors["node"] = "node: not allowed by policy; choose “auto” or another node"
        template_name = form.template.split("/", 1)[-1]
        if not form.template.startswith(f"{p.placement.template_storage}:vztmpl/") or not allowed(
            template_name, p.placement.templates
        ):
            errors["template"] = "template: choose a template from the list"
        if form.network == "static" and form.count > 1:
            errors["ipv4"] = "IPv4 address: a static address works for one container; use DHCP"
        sizes = self._sizes(form, errors)
        hostnames = _hostnames(form.hostname, form.count)
        spec = self._spec(form, sizes, bridge, errors)
        if spec is not None:
            for problem in check_limits(spec, p.limits):
                errors.setdefault(_FIELD_OF.get(problem.field or "", "preset"), problem.what)
        if not errors and spec is not None:
            stored = await self._stored_facts(hostnames, requester)
            await self._check_hostnames_free(hostnames, stored, errors)
            await self._check_cluster(form, errors)
            self._check_quota(stored, {**sizes, "disk_gib": spec.total_disk_gib}, form.count, errors)
        if errors or spec is None:
            raise FormErrors(errors)
        preset = None if form.preset in (None, CUSTOM_PRESET) else form.preset
        needs_approval = p.needs_approval(
            preset=preset, count=form.count, lifetime=lifetime, within_quota=True
        )
        return ValidRequest(form, spec, hostnames, lifetime, needs_approval)

    def _sizes(self, form: CreateForm, errors: dict[str, str]) -> dict[str, int]:
        if form.preset and form.preset != CUSTOM_PRESET:
            preset = self.policy.preset(form.preset)
            if preset is None:
                errors["preset"] = f"size: unknown preset {form.preset!r}"
                return {"cores": 1, "memory_mib": 512, "swap_mib": 512, "disk_gib": 8}
            return {
                "cores": preset.cores,
                "memory_mib": preset.memory_mib,
                "swap_mib": preset.swap_mib,
                "disk_gib": preset.disk_gib,
            }
        missing = [
            name
            for name, value in (
                ("cores", form.cores),
                ("memory_mib", form.memory_mib),
                ("disk_gib", form.disk_gib),
            )
            if value is None
        ]
        for name in missing:
            errors[name] = f"{_LABELS[name]}: required for a custom size"
        # ``is None``, not ``or``: a typed 0 must reach the rules and be refused, not become a default.
        return {
            "cores": form.cores if form.cores is not None else 1,
            "memory_mib": form.memory_mib if form.memory_mib is not None else 512,
            "swap_mib": form.swap_mib if form.swap_mib is not None else 512,
            "disk_gib": form.disk_gib if form.disk_gib is not None else 8,
        }

    def _spec(
        self, form: CreateForm, sizes: dict[str, int], bridge: str, errors: dict[str, str]
    ) -> ContainerSpec | None:
        net: dict[str, Any] = {"name": "eth0", "bridge": bridge, "mode": form.network, "vlan": form.vlan}
        if form.network == "static":
            net["ipv4_cidr"] = form.ipv4_cidr
            net["gateway"] = form.gateway
        extra = advanced_spec_fields(form.advanced, self.policy, errors)
        preset = self.policy.preset(form.preset) if form.preset not in (None, CUSTOM_PRESET) else None
        if preset is not None and preset.data_volume_gib is not None:
            data = {
                "storage": self.policy.placement.storages[0],
                "size_gib": preset.data_volume_gib,
                "path": preset.data_volume_path,
            }
            extra["mountpoints"].insert(0, data)
        try:
            return ContainerSpec(
                hostname=_hostnames(form.hostname, form.count)[-1],
                template=form.template,
                storage=self.policy.placement.storages[0],
                nets=[net, *extra["extra_nets"]],
                mountpoints=extra["mountpoints"],
                ssh_public_keys=[form.ssh_key.strip()] if form.ssh_key and form.ssh_key.strip() else [],
                generate_password=form.generate_password,
                features=extra["features"],
                **sizes,
            )
        except ValidationError as exc:
            for path, message in field_errors(exc).items():
                errors.setdefault(advanced_field(path) or _form_field(path), message)
            return None

    async def _stored_facts(self, hostnames: tuple[str, ...], requester: str) -> _StoredFacts:
        """What the rules need from the database, read in one transaction."""
        async with self.db.transaction(readonly=True) as tx:
            in_use = await tx.containers.hostnames_in_use(hostnames)
            usage = await tx.requests.quota_usage(requester)
        taken = next(((h, in_use[h]) for h in hostnames if h in in_use), None)
        return _StoredFacts(taken, usage)

    async def _check_hostnames_free(
        self, hostnames: tuple[str, ...], stored: _StoredFacts, errors: dict[str, str]
    ) -> None:
        if stored.hostname_taken is not None:
            h, vmid = stored.hostname_taken
            errors["hostname"] = f"hostname: {h} is already used by CT {vmid}"
            return
        try:
            names = (await self.proxmox.guest_index()).names
        except ProxmoxError:
            return  # the approval card's pre-flight shows it; creation would fail with a clear message
        clash = [h for h in hostnames if h in names]
        if clash:
            errors["hostname"] = f"hostname: {clash[0]} is already used on the cluster"

    async def _check_cluster(self, form: CreateForm, errors: dict[str, str]) -> None:
        """The chosen node must exist, and the template must be on its template storage (on some
        node, for automatic placement). Skipped when Proxmox is down: the approval card's pre-flight
        and the create itself then report it."""
        storage = self.policy.placement.template_storage
        try:
            nodes = [n.node for n in await self._allowed_online()]
            if form.node and form.node not in nodes:
                errors["node"] = f"node: {form.node!r} is not an online node of this cluster"
                return
            # This runs before the modal is answered (3 s): stop at the first node that holds it.
            for node in [form.node] if form.node else nodes:
                content = await self.proxmox.cached_storage_content(node, storage, "vztmpl")
                if form.template in {c.volid for c in content}:
                    return
        except ProxmoxError:
            return
        if form.node:
            others = await self._holders_elsewhere(form.template, storage, nodes)
            also = f" (it is on {', '.join(others)})" if others else ""
            errors["node"] = f"node: {form.node} does not hold this template{also}; choose “auto”"
            return
        errors["template"] = f"template: not found on storage {storage} on any node; choose one from the list"

    async def _holders_elsewhere(self, template: str, storage: str, nodes: list[str]) -> tuple[str, ...]:
        try:
            return (await locate_templates(self.proxmox, storage, nodes, cached=True)).nodes_with(template)
        except ProxmoxError:
            return ()

    def _check_quota(
        self, stored: _StoredFacts, sizes: dict[str, int], count: int, errors: dict[str, str]
    ) -> None:
        q = self.policy.quota
        held = stored.usage
        n, mem, disk = held.containers + count, held.memory_mib, held.disk_gib
        if n > q.max_containers:
            errors["count"] = (
                f"quota: you would have {n} containers; your quota is {q.max_containers}. "
                "Destroy one you no longer need or ask an approver."
            )
        elif mem + sizes["memory_mib"] * count > q.total_memory_mib:
            errors["memory_mib"] = f"quota: total memory would exceed your {q.total_memory_mib} MiB"
        elif disk + sizes["disk_gib"] * count > q.total_disk_gib:
            errors["disk_gib"] = f"quota: total disk would exceed your {q.total_disk_gib} GiB"


@dataclass(frozen=True, slots=True)
class _StoredFacts:
    """The database's part of validation: a container already using one of the hostnames (name, VMID),
    and what the requester holds of their quota."""

    hostname_taken: tuple[str, int] | None
    usage: QuotaUsage


_LABELS = {"cores": "cores", "memory_mib": "memory (MiB)", "disk_gib": "disk (GiB)", "swap_mib": "swap (MiB)"}

_FIELD_OF = {
    "hostname": "hostname",
    "template": "template",
    "cores": "cores",
    "memory_mib": "memory_mib",
    "swap_mib": "swap_mib",
    "disk_gib": "disk_gib",
    "ipv4_cidr": "ipv4",
    "gateway": "gateway",
    "vlan": "vlan",
    "bridge": "bridge",
    "ssh_public_keys": "ssh_key",
    "storage": "template",
    "nets": "bridge",
    "name": "bridge",
    "mode": "net_mode",
    "ipv6": "ipv4",
    "generate_password": "password",
}


def _form_field(path: str) -> str:
    """The form field a spec validation path (``nets.0.vlan``, ``ssh_public_keys.0``) belongs to."""
    for part in reversed(path.split(".")):
        if part in _FIELD_OF:
            return _FIELD_OF[part]
    return "hostname"


def _hostnames(base: str, count: int) -> tuple[str, ...]:
    """``web`` ×3 → ``web-1``, ``web-2``, ``web-3``; a single container keeps its name."""
    if count <= 1:
        return (base,)
    return tuple(f"{base}-{i}" for i in range(1, count + 1))
