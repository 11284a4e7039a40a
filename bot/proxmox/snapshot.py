"""Short-lived shared copies of slowly changing Proxmox reads.

Interactive paths (create-form validation, ``/lxc list``, Home, ``/lxc create``'s modal, ``templates``)
must not cost more on a cluster of 10,000 guests than on one of 100. They read one shared snapshot of
``/cluster/resources?type=vm`` (with its indexes by VMID and name built once per snapshot), and short-lived
copies of ``/nodes``, storage contents and ``aplinfo``, instead of fetching and parsing per operation.

- A snapshot lives ``ttl`` seconds on the client's clock.
- Single flight: concurrent callers of an expired or missing entry share one request.
- Cardinal's own changes invalidate everything: every non-GET request the client sends (create, destroy,
  power, config, snapshot …) and every task the tracker sees finish (a destroy removes the guest when its
  task ends, not when it is accepted) call :meth:`SnapshotCache.invalidate`.
- A failed fetch is not cached; every waiter sees the error.

Paths that decide on the spot (placement, VMID reservation, ``locate`` before a destroy, reconcile) keep
reading live data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.proxmox.models import ClusterResource

T = TypeVar("T")

DEFAULT_TTL = 15.0


@dataclass(frozen=True, slots=True)
class GuestIndex:
    """One ``/cluster/resources?type=vm`` answer with its look-ups, built once per snapshot."""

    resources: tuple[ClusterResource, ...]
    by_vmid: dict[int, ClusterResource] = field(default_factory=dict)
    lxc: dict[int, ClusterResource] = field(default_factory=dict)
    names: frozenset[str] = frozenset()

    @classmethod
    def build(cls, resources: Sequence[ClusterResource]) -> GuestIndex:
        """Index ``resources`` by VMID (all guests and containers only) and by name."""
        by_vmid: dict[int, ClusterResource] = {}
        lxc: dict[int, ClusterResource] = {}
        names: set[str] = set()
        for r in resources:
            if r.vmid is not None:
                by_vmid[r.vmid] = r
                if r.type == "lxc":
                    lxc[r.vmid] = r
            if r.name:
                names.add(r.name)
        return cls(tuple(resources), by_vmid, lxc, frozenset(names))


@dataclass(slots=True)
class _Entry:
    value: Any
    expires: float


class SnapshotCache:
    """Values kept ``ttl`` seconds on ``clock``, fetched once for all concurrent callers."""

    def __init__(self, clock: Callable[[], float], ttl: float = DEFAULT_TTL) -> None:
        self._clock = clock
        self.ttl = ttl
        self._entries: dict[Hashable, _Entry] = {}
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self._generation = 0

    def invalidate(self) -> None:
        """Forget every value; fetches already under way are not stored when they land."""
        self._entries.clear()
        self._inflight.clear()
        self._generation += 1

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """The value under ``key``: the stored one while fresh, else the result of one ``fetch()``
        shared by everyone asking meanwhile."""
        if self.ttl <= 0:
            return await fetch()
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry.expires:
            value: T = entry.value
            return value
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                shared: T = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():  # the caller that fetched was cancelled, not this one
                    return await self.get(key, fetch)
                raise
            return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        generation = self._generation
        try:
            value = await fetch()
        except BaseException as exc:
            if self._inflight.get(key) is future:
                del self._inflight[key]
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # marked retrieved: nobody may be waiting
            else:
                future.cancel()
            raise
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if generation == self._generation:
            self._entries[key] = _Entry(value, self._clock() + self.ttl)
        future.set_result(value)
        return value
