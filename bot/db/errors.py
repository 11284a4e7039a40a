"""Storage errors that callers may want to tell apart (all are :class:`bot.errors.CardinalError`)."""

from __future__ import annotations

from bot.errors import CardinalError


class StorageError(CardinalError):
    """The database refused or could not do something."""

    default_hint = "Try again in a moment; if it keeps happening, an operator should check the database."


class VmidRangeExhausted(StorageError):
    """Every VMID in the configured range is in use or reserved."""

    default_hint = "Ask an operator to widen the VMID range or destroy containers that are no longer needed."

    def __init__(self, lo: int, hi: int) -> None:
        super().__init__(f"No free container id (VMID) is left in the range {lo}–{hi}.")
        self.lo = lo
        self.hi = hi


class DuplicateUpid(StorageError):
    """A UPID was recorded for a second task; Proxmox task ids are unique, so this is a bug upstream."""

    def __init__(self, upid: str) -> None:
        super().__init__(f"The Proxmox task {upid} is already tracked.")
        self.upid = upid
