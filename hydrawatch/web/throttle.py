"""Failed token attempts per client address in a sliding window: past the limit the address is refused
(429) until its oldest failure leaves the window, so a token cannot be guessed at network speed."""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable


def client_key(host: str | None) -> str:
    """The unit that is limited: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class FailedAttempts:
    """At most ``limit`` failures per ``window`` seconds per client; ``max_clients`` bounds the memory."""

    def __init__(self, limit: int = 10, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again; 0 if it may now."""
        seen = self._failures.get(client)
        if seen is None:
            return 0
        now = self.clock()
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if not seen:
            del self._failures[client]
            return 0
        if len(seen) < self.limit:
            return 0
        return max(1, math.ceil(seen[0] + self.window - now))

    def record(self, client: str) -> None:
        now = self.clock()
        seen = self._failures.setdefault(client, deque(maxlen=self.limit))
        seen.append(now)
        if len(self._failures) > self.max_clients:
            self._forget(now)

    def _forget(self, now: float) -> None:
        """Drop clients whose failures have all left the window, then the longest-known ones."""
        for key in [k for k, seen in self._failures.items() if not seen or seen[-1] <= now - self.window]:
            del self._failures[key]
        while len(self._failures) > self.max_clients:
            del self._failures[next(iter(self._failures))]
