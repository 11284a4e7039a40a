"""Proxmox task ids (UPIDs), parsed with pve-common's rules (``src/PVE/UPID.pm``).

``UPID:<node>:<pid %08X>:<pstart %08X, 8 or 9 digits>:<starttime %08X>:<type>:<id>:<user>:`` — the node
is field 1, the string ends with ``:``, and ``id`` may be empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
)


class UpidError(ValueError):
    """The text is not a UPID."""


@dataclass(frozen=True, slots=True)
class Upid:
    """A decoded UPID. ``str(upid)`` gives back the exact text Proxmox uses."""

    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str

    @classmethod
    def parse(cls, text: str) -> Upid:
        """Decode ``text``; raise :class:`UpidError` when it does not match pve-common's pattern."""
        m = _UPID_RE.match(text)
        if m is None:
            raise UpidError(f"not a Proxmox task id: {text!r}")
        return cls(
            node=m.group(1),
            pid=int(m.group(3), 16),
            pstart=int(m.group(4), 16),
            starttime=int(m.group(5), 16),
            type=m.group(6),
            id=m.group(7),
            user=m.group(8),
        )

    def __str__(self) -> str:
        return (
            f"UPID:{self.node}:{self.pid:08X}:{self.pstart:08X}:{self.starttime:08X}:"
            f"{self.type}:{self.id}:{self.user}:"
        )

    @property
    def vmid(self) -> int | None:
        """The guest id for vz* tasks, else ``None``."""
        return int(self.id) if self.id.isdigit() else None
