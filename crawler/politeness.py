"""Politeness towards the registries' servers (RDAP, port-43 WHOIS): a request budget per host,
``Retry-After`` honoured, answers cached.

RDAP and WHOIS servers rate-limit per client, and a hunt asks one registry about hundreds of names at
once. :class:`HostBudget` spaces the requests to each host (a token bucket in its GCRA form: a burst,
then one request per interval) and keeps a host closed for as long as its last ``Retry-After`` said; a
request that would have to wait longer than ``max_wait`` is not made (the caller reports it as
``rate_limited`` and the hunt goes on with the rest). :class:`AnswerCache` keeps each answer for
``cache_hours``, so a sweep does not ask again what the previous one learnt.

The decisions are pure (the clock is passed in or injected); only :meth:`HostBudget.acquire` sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_BLOCK = 86_400.0
"""A Retry-After beyond a day is treated as a day: a misconfigured server must not close a host forever."""


@dataclass
class TokenBucket:
    """``per_minute`` requests a minute after a burst of ``burst``; GCRA bookkeeping (one float)."""

    per_minute: float
    burst: int = 1
    tat: float = field(default=float("-inf"))  # theoretical arrival time of the next request

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute

    def reserve(self, now: float, *, not_before: float = 0.0, max_wait: float = float("inf")) -> float | None:
        """Take one request slot: seconds from ``now`` until it may be used (0.0 = at once), or None,
        taking nothing, when that is more than ``max_wait``. ``not_before``: the host is closed until then."""
        start = max(now, not_before)
        tat = max(self.tat, start)
        when = max(start, tat - (self.burst - 1) * self.interval)
        wait = when - now
        if wait > max_wait:
            return None
        self.tat = tat + self.interval
        return wait


class HostBudget:
    """A token bucket per host plus the time each host is closed until (its last Retry-After).

    ``clock`` is monotonic seconds (injected in tests); ``sleep`` the wait (asyncio.sleep)."""

    def __init__(self, per_minute: float, max_wait: float, *, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.per_minute = per_minute
        self.max_wait = max_wait
        # a sixth of a minute's budget at once, then the steady rate
        self.burst = burst if burst is not None else max(1, int(per_minute // 6))
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self._closed_until: dict[str, float] = {}

    def plan(self, host: str) -> float | None:
        """Reserve a slot for ``host``: seconds to wait first, or None when over ``max_wait`` (nothing taken)."""
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = self._buckets[host] = TokenBucket(self.per_minute, self.burst)
        return bucket.reserve(self.clock(), not_before=self._closed_until.get(host, 0.0), max_wait=self.max_wait)

    async def acquire(self, host: str) -> float | None:
        """Wait for ``host``'s next slot; the seconds waited, or None (not waited) when over ``max_wait``."""
        wait = self.plan(host)
        if wait is not None and wait > 0:
            await self.sleep(wait)
        return wait

    def back_off(self, host: str, seconds: float) -> None:
        """``host`` said Retry-After ``seconds``: no request to it before then (at most a day)."""
        until = self.clock() + min(max(0.0, seconds), MAX_BLOCK)
        self._closed_until[host] = max(self._closed_until.get(host, 0.0), until)

    def closed_for(self, host: str) -> float:
        """Seconds ``host`` stays closed by its Retry-After (0.0 = open)."""
        return max(0.0, self._closed_until.get(host, 0.0) - self.clock())


class AnswerCache(Generic[V]):
    """Answers kept for ``hours`` from the time they were fetched (the caller's ``now``), at most
    ``max_entries`` of them (the oldest go first)."""

    def __init__(self, hours: float, max_entries: int = 100_000) -> None:
        self.ttl = timedelta(hours=hours)
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[datetime, V]] = OrderedDict()

    def get(self, key: str, now: datetime) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        fetched, value = item
        if not fetched <= now < fetched + self.ttl:  # expired, or the clock went back (a replayed world)
            del self._items[key]
            return None
        return value

    def put(self, key: str, value: V, now: datetime) -> None:
        if self.ttl <= timedelta(0):
            return
        self._items.pop(key, None)
        self._items[key] = (now, value)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
