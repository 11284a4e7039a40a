"""Cardinal's Prometheus series, in one registry owned by :class:`Metrics`.

Labels are low-cardinality by design: never a vmid, UPID, Slack user or channel ("Do not use labels to
store dimensions with high cardinality", prometheus.io naming practices). Proxmox endpoints are counted by
their template (``/nodes/{node}/lxc/{vmid}/status/current``), never by the concrete path.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable
from importlib import metadata
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

BreakerState = Literal["closed", "half_open", "half-open", "open"]
_BREAKER_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}

_NUMERIC_SEGMENT = re.compile(r"^\d+$")
_SERIES_CACHE_LIMIT = 512
"""Distinct ``(method, endpoint, status)`` label sets remembered by :meth:`Metrics.observe_proxmox`."""

# Seconds from a few milliseconds (API calls) to minutes (sweeps); approvals wait for people: minutes to days.
_FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_APPROVAL_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0)


def endpoint_template(endpoint: str) -> str:
    """Guard against concrete paths sneaking into labels: numeric segments become ``{vmid}``, UPIDs
    ``{upid}``. Templates pass through unchanged; query strings are dropped."""
    path = endpoint.split("?", 1)[0]
    parts: list[str] = []
    for seg in path.split("/"):
        if _NUMERIC_SEGMENT.match(seg):
            parts.append("{vmid}")
        elif seg.startswith("UPID:") or seg.startswith("UPID%3A"):
            parts.append("{upid}")
        else:
            parts.append(seg)
    return "/".join(parts)


def _version() -> str:
    try:
        return metadata.version("cardinal")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """Owns a :class:`CollectorRegistry` and every ``cardinal_*`` series.

    Create one per process (tests create their own) and pass ``observe_proxmox`` to the Proxmox client's
    ``on_request`` hook.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "cardinal_commands", "Slash commands handled.", ["command", "outcome"], registry=r
        )
        self.actions = Counter(
            "cardinal_actions",
            "Container actions requested (create, start, destroy…).",
            ["action", "outcome"],
            registry=r,
        )
        self.approvals = Counter("cardinal_approvals", "Approval decisions.", ["decision"], registry=r)
        self.approval_decision_seconds = Histogram(
            "cardinal_approval_decision_seconds",
            "Time from an approval card being posted to its decision.",
            buckets=_APPROVAL_BUCKETS,
            registry=r,
        )
        self.tasks = Counter(
            "cardinal_tasks", "Proxmox tasks followed to their end.", ["kind", "outcome"], registry=r
        )
        self.sweep_duration_seconds = Histogram(
            "cardinal_sweep_duration_seconds",
            "Duration of one task-tracker sweep.",
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.proxmox_requests = Counter(
            "cardinal_proxmox_requests",
            "Proxmox API requests by endpoint template and HTTP status (error = no response).",
            ["method", "endpoint", "status"],
            registry=r,
        )
        self.proxmox_request_seconds = Histogram(
            "cardinal_proxmox_request_seconds",
            "Proxmox API request latency by endpoint template.",
            ["method", "endpoint"],
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.proxmox_breaker_state = Gauge(
            "cardinal_proxmox_breaker_state",
            "Proxmox circuit breaker: 0 closed, 1 half-open, 2 open.",
            registry=r,
        )
        self.slack_api_errors = Counter(
            "cardinal_slack_api_errors",
            "Slack Web API calls that failed, by Slack error code.",
            ["method", "error"],
            registry=r,
        )
        self.slack_retries = Counter(
            "cardinal_slack_retries",
            "Slack Web API retries (ratelimited, server_error, connection).",
            ["method", "reason"],
            registry=r,
        )
        self.build_info = Info("cardinal_build", "Cardinal build information.", registry=r)
        self.build_info.info({"version": _version(), "python": platform.python_version()})
        # The label children of each (method, endpoint, status) seen: the hook runs on every Proxmox
        # request, and resolving labels (templating the path, hashing the label tuple under the metric's
        # lock) costs more than counting. Bounded, in case callers pass concrete paths.
        self._proxmox_series: dict[tuple[str, str, int | None], tuple[Counter, Histogram]] = {}

    def observe_proxmox(self, method: str, endpoint: str, status: int | None, seconds: float) -> None:
        """The Proxmox client's ``on_request`` hook: one finished request (``status`` None = no answer)."""
        key = (method, endpoint, status)
        series = self._proxmox_series.get(key)
        if series is None:
            template = endpoint_template(endpoint)
            upper = method.upper()
            series = (
                self.proxmox_requests.labels(upper, template, "error" if status is None else str(status)),
                self.proxmox_request_seconds.labels(upper, template),
            )
            if len(self._proxmox_series) >= _SERIES_CACHE_LIMIT:
                self._proxmox_series.clear()
            self._proxmox_series[key] = series
        series[0].inc()
        series[1].observe(seconds if seconds > 0.0 else 0.0)

    # --- bot.observe.Observer --------------------------------------------------------------------------
    def approval_decided(self, *, approved: bool, waited_seconds: float) -> None:
        """Count a decision and how long the card waited for it."""
        self.approvals.labels("approved" if approved else "denied").inc()
        self.approval_decision_seconds.observe(max(waited_seconds, 0.0))

    def task_finished(self, *, kind: str, outcome: str) -> None:
        """Count a followed task by kind and outcome."""
        self.tasks.labels(kind, outcome).inc()

    def sweep_finished(self, *, seconds: float) -> None:
        """Record one tracker sweep's duration."""
        self.sweep_duration_seconds.observe(max(seconds, 0.0))

    # --- Slack edge ------------------------------------------------------------------------------------
    def command_handled(self, command: str, outcome: str) -> None:
        """Count a slash command (``command`` is the subcommand name) by outcome."""
        self.commands.labels(command, outcome).inc()

    def action_handled(self, action: str, outcome: str) -> None:
        """Count a button or modal action by outcome."""
        self.actions.labels(action, outcome).inc()

    def slack_retry(self, method: str, reason: str) -> None:
        """Count a Slack Web API retry (ratelimited, server_error, connection)."""
        self.slack_retries.labels(method, reason).inc()

    def slack_error(self, method: str, error: str) -> None:
        """Count a failed Slack Web API call by its error code."""
        self.slack_api_errors.labels(method, error).inc()

    def set_breaker_state(self, state: BreakerState) -> None:
        """Record the Proxmox circuit breaker's state."""
        self.proxmox_breaker_state.set(_BREAKER_VALUES[state])

    def watch_breaker(self, state: Callable[[], str]) -> None:
        """Read the breaker's state at every scrape, e.g. ``watch_breaker(lambda: client.breaker.state)``."""
        self.proxmox_breaker_state.set_function(lambda: float(_BREAKER_VALUES.get(state(), 0)))
