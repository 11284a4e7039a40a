"""The simulator's clock: wall time, optionally accelerated (``speed``) or frozen (``speed=0``), plus
whatever tests add with :meth:`SimClock.advance`."""

from __future__ import annotations

import asyncio
import time


class SimClock:
    """Simulated epoch seconds. ``now() = start + (monotonic elapsed) * speed + advanced``."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self._start = float(int(time.time())) if start is None else float(start)
        self._mono0 = time.monotonic()
        self._advanced = 0.0
        self._moved = asyncio.Event()

    def now(self) -> float:
        """Current simulated time (epoch seconds, float)."""
        return self._start + (time.monotonic() - self._mono0) * self.speed + self._advanced

    def set_speed(self, speed: float) -> None:
        """Change the acceleration from now on (simulated time does not jump)."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        now = self.now()
        self._start, self._mono0, self._advanced, self.speed = now, time.monotonic(), 0.0, speed
        self._moved.set()

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward by ``seconds``; wakes anything waiting in :meth:`sleep`."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._advanced += seconds
        self._moved.set()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (real time divided by speed, or until advanced past it)."""
        target = self.now() + seconds
        while True:
            remaining = target - self.now()
            if remaining <= 0:
                return
            self._moved.clear()
            real = remaining / self.speed if self.speed > 0 else 3600.0
            try:
                await asyncio.wait_for(self._moved.wait(), timeout=min(real, 3600.0))
            except TimeoutError:
                continue
