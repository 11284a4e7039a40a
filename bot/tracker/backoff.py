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
        # base=0 would poll without pause, factor<1 would shrink the delay, jitter>1 could go negative.
        problems = []
        if not self.base > 0:
            problems.append(f"base must be > 0 seconds (got {self.base})")
        if not self.factor >= 1:
            problems.append(f"factor must be >= 1 (got {self.factor})")
        if not self.cap >= self.base:
            problems.append(f"cap must be >= base (got cap={self.cap}, base={self.base})")
        if not 0 <= self.jitter <= 1:
            problems.append(f"jitter must be from 0 to 1 (got {self.jitter})")
        if problems:
            raise ValueError("invalid backoff: " + "; ".join(problems))

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
