"""A small circuit breaker that stops Cardinal hammering a Proxmox host that is not answering.

``closed`` — calls go through; ``failure_threshold`` consecutive failures open it.
``open`` — calls fail fast with :class:`CircuitOpenError` until ``reset_timeout`` seconds have passed.
``half_open`` — one probe call goes through; success closes the circuit, failure opens it again.

Only failures that say "the host is unwell" count (unreachable, timeout, 5xx); a 4xx answer proves the host
is alive and counts as a success. The client decides which is which and calls :meth:`record_success` /
:meth:`record_failure`; the clock is injectable so tests need no sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import structlog

from bot.proxmox.errors import CircuitOpenError

BreakerState = Literal["closed", "open", "half_open"]

_log = structlog.get_logger(__name__)


class CircuitBreaker:
    """Consecutive-failure circuit breaker with a single half-open probe."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._open = False
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """``"closed"``, ``"open"`` or ``"half_open"`` (for metrics and ``/readyz``)."""
        if not self._open:
            return "closed"
        if self._probe_in_flight or self._clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return "open"

    @property
    def consecutive_failures(self) -> int:
        """Failures counted since the last success."""
        return self._failures

    def before_call(self) -> None:
        """Admit a call, or raise :class:`CircuitOpenError` while open (or while the probe is out)."""
        if not self._open:
            return
        remaining = self.reset_timeout - (self._clock() - self._opened_at)
        if self._probe_in_flight or remaining > 0:
            wait = max(remaining, 1.0)
            raise CircuitOpenError(
                f"Proxmox is not answering ({self._failures} failures in a row); "
                f"Cardinal pauses calls for about {wait:.0f} s"
            )
        self._probe_in_flight = True
        _log.info("proxmox_breaker_half_open")

    def record_success(self) -> None:
        """The call reached a healthy host: close the circuit."""
        if self._open:
            _log.info("proxmox_breaker_closed")
        self._failures = 0
        self._open = False
        self._probe_in_flight = False

    def record_failure(self) -> None:
        """The call failed in a way that blames the host; open the circuit at the threshold."""
        self._failures += 1
        if self._probe_in_flight or (not self._open and self._failures >= self.failure_threshold):
            if not self._probe_in_flight:
                _log.warning("proxmox_breaker_open", failures=self._failures)
            self._open = True
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def release(self) -> None:
        """The admitted call ended without a verdict (e.g. cancelled): let another probe through."""
        self._probe_in_flight = False
