"""What the domain reports for monitoring. :class:`bot.ops.metrics.Metrics` implements it with
Prometheus; the default :class:`NoObserver` ignores everything (tests, the demo)."""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    """Events worth counting. Labels are low-cardinality by construction: no vmid, UPID or user."""

    def approval_decided(self, *, approved: bool, waited_seconds: float) -> None:
        """An approval card got its (first) decision after ``waited_seconds``."""

    def task_finished(self, *, kind: str, outcome: str) -> None:
        """A followed Proxmox task (or creation step) ended with ``outcome`` (succeeded, failed, …)."""

    def sweep_finished(self, *, seconds: float) -> None:
        """One tracker sweep took ``seconds``."""


class NoObserver:
    """Observes nothing."""

    def approval_decided(self, *, approved: bool, waited_seconds: float) -> None:
        return None

    def task_finished(self, *, kind: str, outcome: str) -> None:
        return None

    def sweep_finished(self, *, seconds: float) -> None:
        return None
