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


class StoredRowInvalid(StorageError):
    """A stored row does not fit the model Cardinal reads it into (edited by hand, or written by a
    newer or broken version). Names the table, the row and every field that is wrong."""

    default_hint = "An operator should check that row; Cardinal leaves it alone until it is fixed."

    def __init__(self, table: str, row_id: str, problems: list[str]) -> None:
        super().__init__(f"The {table} row {row_id} cannot be read: {'; '.join(problems)}.")
        self.table = table
        self.row_id = row_id
        self.problems = problems
