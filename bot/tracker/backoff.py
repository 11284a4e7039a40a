"""How long to wait before polling a task again: exponential growth, a cap, and jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """``delay(n) = min(cap, base · factor**n)`` with "equal jitter": half fixed, half random.

    ``n`` counts earlier polls (or consecutive errors), starting at 0. Equal jitter keeps the delay
    growing with ``n`` on average while spreading replicas and tasks apart
    (AWS "Exponential Backoff and Jitter"). ``jitter=0`` makes it deterministic.
    """

    base: float = 2.0
    factor: float = 1.5
    cap: float = 15.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base or not 0 <= self.jitter <= 1:
            raise ValueError("backoff needs base > 0, factor >= 1, cap >= base and 0 <= jitter <= 1")

    def ceiling(self, n: int) -> float:
        """The delay before jitter for the ``n``-th retry."""
        n = max(n, 0)
        # factor**n overflows for large n; stop growing once past the cap.
        delay = self.base
        for _ in range(n):
            delay *= self.factor
            if delay >= self.cap:
                return self.cap
        return min(delay, self.cap)

    def delay(self, n: int) -> float:
        """Seconds to wait before the next poll after ``n`` earlier ones."""
        ceiling = self.ceiling(n)
        fixed = ceiling * (1 - self.jitter)
        return fixed + self.rng.uniform(0, ceiling - fixed)
