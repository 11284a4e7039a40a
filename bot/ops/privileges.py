"""The Proxmox privileges Cardinal's API token needs, and on which ACL paths.

Derived from the ``permissions`` entries of the official Proxmox VE API schema (pve-docs
``api-viewer/apidata.js``, PVE 9.1; the project keeps it as ``proxmox/apidata.json``) for every endpoint
Cardinal calls. :data:`SCHEMA_CHECKS` copies the schema's ``check`` lists verbatim (a test compares them
with the schema file when it is available); the rest come from the schema's ``description`` texts:

- ``POST /nodes/{node}/lxc``: "You need 'VM.Allocate' permission on /vms/{vmid} … You also need
  'Datastore.AllocateSpace' permissions on the storage". Creation also runs the config-modify check
  (pve-container ``check_ct_modify_config_perm``), so every ``VM.Config.*`` Cardinal sets at creation
  (cores, memory, rootfs, net0, tags/description) is needed, and ``net0``'s bridge needs ``SDN.Use`` on
  ``/sdn/zones/localnetwork/<bridge>`` (PVE 8+). The ``ostemplate`` volume needs ``Datastore.Audit`` (or
  AllocateSpace) on the template storage (pve-storage ``check_volume_access``).
- ``GET /nodes/{node}/tasks``, ``…/tasks/{upid}/status|log``: "all task the user has 'Sys.Audit'
  permissions on /nodes/<node>"; ``GET /nodes`` omits memory figures (used for placement) without it.
- ``GET /nodes/{node}/lxc``, ``/cluster/resources``: listed only with ``VM.Audit`` / ``Datastore.Audit``.

``manifests/proxmox-setup.md`` creates a role with exactly :data:`REQUIRED_PRIVILEGES`.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_CHECKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/nodes/{node}/lxc/{vmid}/config"): ("VM.Audit",),
    ("PUT", "/nodes/{node}/lxc/{vmid}/config"): (
        "VM.Config.Disk",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
    ),
    ("DELETE", "/nodes/{node}/lxc/{vmid}"): ("VM.Allocate",),
    ("GET", "/nodes/{node}/lxc/{vmid}/status/current"): ("VM.Audit",),
    ("POST", "/nodes/{node}/lxc/{vmid}/status/start"): ("VM.PowerMgmt",),
    ("POST", "/nodes/{node}/lxc/{vmid}/status/stop"): ("VM.PowerMgmt",),
    ("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown"): ("VM.PowerMgmt",),
    ("POST", "/nodes/{node}/lxc/{vmid}/status/reboot"): ("VM.PowerMgmt",),
    ("GET", "/nodes/{node}/lxc/{vmid}/interfaces"): ("VM.Audit",),
    ("POST", "/nodes/{node}/lxc/{vmid}/snapshot"): ("VM.Snapshot",),
    ("POST", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback"): (
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    ),
    ("PUT", "/nodes/{node}/lxc/{vmid}/resize"): ("VM.Config.Disk",),
    ("GET", "/nodes/{node}/storage/{storage}/content"): ("Datastore.Audit", "Datastore.AllocateSpace"),
    ("POST", "/nodes/{node}/aplinfo"): ("Datastore.AllocateTemplate",),
}
"""Endpoint → the privileges in the schema's ``permissions.check`` (``any`` lists need one of them)."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One privilege on one ACL path.

    ``path`` is the object the privilege is checked on, with placeholders ``{vmid}``, ``{node}``,
    ``{bridge}``, ``{template_storage}`` and ``{rootfs_storage}``; ``acl`` is where the operator grants it.
    """

    privilege: str
    path: str
    acl: str
    used_for: str


_VMS = "/vms/{vmid}"
REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("VM.Allocate", _VMS, "/vms", "create and destroy containers"),
    Requirement("VM.Audit", _VMS, "/vms", "read config, status and IP addresses"),
    Requirement("VM.PowerMgmt", _VMS, "/vms", "start, stop, shutdown, reboot"),
    Requirement("VM.Config.Disk", _VMS, "/vms", "rootfs at creation, resize"),
    Requirement("VM.Config.CPU", _VMS, "/vms", "cores at creation and resize"),
    Requirement("VM.Config.Memory", _VMS, "/vms", "memory/swap at creation and resize"),
    Requirement("VM.Config.Network", _VMS, "/vms", "net0 at creation"),
    Requirement("VM.Config.Options", _VMS, "/vms", "hostname, tags and description (ownership, expiry)"),
    Requirement("VM.Snapshot", _VMS, "/vms", "/lxc snapshot"),
    Requirement("VM.Snapshot.Rollback", _VMS, "/vms", "/lxc rollback"),
    Requirement(
        "Datastore.AllocateSpace", "/storage/{rootfs_storage}", "/storage/{rootfs_storage}", "root disks"
    ),
    Requirement(
        "Datastore.Audit", "/storage/{rootfs_storage}", "/storage/{rootfs_storage}", "storage headroom"
    ),
    Requirement(
        "Datastore.Audit",
        "/storage/{template_storage}",
        "/storage/{template_storage}",
        "list templates and use them",
    ),
    Requirement(
        "Datastore.AllocateTemplate",
        "/storage/{template_storage}",
        "/storage/{template_storage}",
        "download templates",
    ),
    Requirement("Sys.Audit", "/nodes/{node}", "/nodes", "task lists and logs, node memory for placement"),
    Requirement(
        "SDN.Use",
        "/sdn/zones/localnetwork/{bridge}",
        "/sdn/zones/localnetwork",
        "attach containers to bridges (PVE 8+)",
    ),
)
"""Everything ``cardinal check`` verifies against ``GET /access/permissions``."""

REQUIRED_PRIVILEGES: tuple[str, ...] = tuple(dict.fromkeys(r.privilege for r in REQUIREMENTS))
"""The distinct privileges, in a stable order: the contents of the ``CardinalRole`` role."""
