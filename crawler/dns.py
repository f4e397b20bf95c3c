"""The DNS prober: A, AAAA, NS, MX, SOA, TXT, CNAME for many names, fast, with typed outcomes.

``Prober.probe`` streams results inside an already-running asyncio loop (the daemon's loop is driven
by Twisted's AsyncioSelectorReactor); ``Prober.probe_all`` is the synchronous bulk path for scripts and big
sweeps (crawler/dnsfast.py in one process, or asyncio worker processes when asked, crawler/dnspool.py);
``Prober.probe_text`` is the same sweep rendered straight into the command line's output.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from crawler import dnsfast
from crawler.dnstypes import ProberError, check_types
from crawler.settings import DnsSettings, Nameserver, parse_nameserver
from detect.model import RECORD_TYPES, DnsResult, Rcode

if TYPE_CHECKING:
    import asyncio

    from crawler.dnsengine import Engine
    from crawler.dnssweep import Sweep

log = logging.getLogger(__name__)

__all__ = ["RECORD_TYPES", "Prober", "ProberError", "check_types", "parse_nameserver", "system_nameservers"]


def system_nameservers() -> list[Nameserver]:
    """The system resolvers from /etc/resolv.conf (via dnspython); ProberError when there are none."""
    import dns.resolver  # only here: the bulk sweep itself never needs the resolver machinery

    try:
        resolver = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration as exc:
        raise ProberError(f"no system resolvers: {exc}") from None
    out = []
    for ns in resolver.nameservers:
        address = str(ns)
        try:
            ipaddress.ip_address(address)
        except ValueError:
            continue  # DoH/DoT URLs are not for us
        out.append(Nameserver(address, resolver.port))
    if not out:
        raise ProberError("no usable system resolvers in /etc/resolv.conf")
    return out


class Prober:
    """Bulk DNS prober over the resolvers of ``[dns]``. One instance may serve many sweeps."""

    def __init__(self, nameservers: list[Nameserver] | None = None, *, timeout: float = 3.0,
                 retries: int = 2, concurrency: int = 512) -> None:
        self._nameservers = list(nameservers) if nameservers else None  # None: system, on first use
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self._engine: Engine | None = None

    @classmethod
    def from_settings(cls, dns: DnsSettings) -> Prober:
        return cls(list(dns.servers) or None, timeout=dns.timeout, retries=dns.retries,
                   concurrency=dns.concurrency)

    def limit(self, concurrency: int) -> None:
        """At most ``concurrency`` questions in flight from now on: the open engine's window is held under it
        at once, and every engine or bulk sweep made later starts with it (cluster mode: this worker's share
        of [cluster] dns_budget)."""
        self.concurrency = max(1, concurrency)
        if self._engine is not None:
            self._engine.limit(self.concurrency)

    @property
    def nameservers(self) -> list[Nameserver]:
        if self._nameservers is None:
            self._nameservers = system_nameservers()
        return self._nameservers

    def new_engine(self, concurrency: int | None = None) -> Engine:
        from crawler.dnsengine import Engine  # the asyncio path's; the bulk sweep starts without it

        return Engine(self.nameservers, timeout=self.timeout, retries=self.retries,
                      concurrency=concurrency or self.concurrency)

    async def _open(self) -> Engine:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._engine is not None and self._engine.loop is not loop:
            self._engine.close()  # a new loop (tests, asyncio.run twice): sockets belong to the old one
            self._engine = None
        if self._engine is None:
            engine = self.new_engine()
            await engine.open()
            self._engine = engine
        return self._engine

    async def probe(self, names: Iterable[str] | AsyncIterable[str], types: Sequence[str] = RECORD_TYPES,
                    *, observed_at: datetime | None = None,
                    on_addresses: Callable[[str, tuple[str, ...]], None] | None = None) -> AsyncIterator[DnsResult]:
        """One DnsResult per name, in completion order, at most ``concurrency`` queries in flight.

        Input is pulled as capacity frees up (an endless iterator is fine); results the caller has
        not consumed yet hold back new names, so memory stays bounded. ``on_addresses(name, addresses)``
        is called (on the loop, it must not raise) as soon as a name's A and AAAA answers are in, for a
        name with at least one address: its A then AAAA records, exactly as its DnsResult will hold them
        (crawler.dnssweep).
        """
        import asyncio

        from crawler.dnssweep import Sweep

        kinds = check_types(types)
        engine = await self._open()
        loop = asyncio.get_running_loop()
        ready: deque[DnsResult] = deque()
        limit = max(64, engine.concurrency)
        waiter: list[asyncio.Future[None] | None] = [None]

        def wake() -> None:
            fut = waiter[0]
            if fut is not None and not fut.done():
                fut.set_result(None)

        def on_result(result: DnsResult) -> None:
            ready.append(result)
            wake()

        sweep = Sweep(engine, kinds, on_result, observed_at=observed_at, paused=lambda: len(ready) >= limit,
                      on_addresses=on_addresses)
        sweep.on_finished = wake
        feeder: asyncio.Task[None] | None = None
        if isinstance(names, AsyncIterable):
            feeder = asyncio.ensure_future(self._feed(names, sweep, limit))
        else:
            sweep.source = iter(names)
        engine.owners.add(sweep)
        try:
            sweep.pump()
            while True:
                while ready:
                    yield ready.popleft()
                    if len(ready) < limit // 2:
                        sweep.pump()
                if sweep.error is not None:
                    raise sweep.error
                if sweep.finished:
                    break
                waiter[0] = loop.create_future()
                await waiter[0]
                waiter[0] = None
        finally:
            if feeder is not None:
                feeder.cancel()
            sweep.cancel()

    @staticmethod
    async def _feed(names: AsyncIterable[str], sweep: Sweep, limit: int) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        space: list[asyncio.Future[None] | None] = [None]

        def on_space() -> None:
            fut = space[0]
            if fut is not None and not fut.done() and len(sweep.buffer) < limit // 2:
                fut.set_result(None)

        sweep.on_buffer_space = on_space
        try:
            async for name in names:
                sweep.buffer.append(name)
                sweep.pump()
                if len(sweep.buffer) >= limit:
                    space[0] = loop.create_future()
                    await space[0]
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the caller's iterator failed: surface it from probe()
            sweep.error = exc
        sweep.input_done = True
        sweep.pump()
        if sweep.on_finished is not None:
            sweep.on_finished()

    def probe_all(self, names: Iterable[str], types: Sequence[str] = RECORD_TYPES, *,
                  workers: int | None = None, progress: Callable[[int], None] | None = None,
                  observed_at: datetime | None = None) -> Iterator[DnsResult]:
        """Synchronous bulk probe, in completion order: the synchronous engine in this process, or
        ``workers`` > 1 asyncio worker processes; must not be called from a running loop."""
        from crawler import dnspool

        check_types(types)
        return dnspool.probe_all(self, names, types, workers=workers, progress=progress,
                                 observed_at=observed_at)

    def probe_text(self, names: Iterable[str], types: Sequence[str], render: Callable[[str, Rcode, dict[str, tuple[str, ...]], str], str], *,
                   progress: Callable[[int], None] | None = None) -> Iterator[str]:
        """The bulk sweep rendered for output: ``render(name, rcode, records, error)`` gives a name's
        text (its line and newline), and each batch of finished names comes back as one string, in
        completion order. The command line's path: no result object per name, one process, no loop."""
        kinds = check_types(types)
        done = 0
        for rows in dnsfast.sweep(self.nameservers, kinds, iter(names), timeout=self.timeout,
                                  retries=self.retries, concurrency=self.concurrency):
            yield "".join([render(name, rcode, records, error) for name, rcode, records, error in rows])
            done += len(rows)
            if progress is not None:
                progress(done)

    async def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
