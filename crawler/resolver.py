"""Name resolution for crawls: dnspython through ``[dns] nameservers``, with the private guard.

:class:`GuardedResolver` is both
- what the crawl's downloader middleware awaits before each request (so a blocked target becomes
  an ``HttpFetch`` with ``blocked_private`` and the address, and nothing is sent to it), and
- a Twisted ``IHostnameResolver`` that Scrapy installs on the reactor (``TWISTED_DNS_RESOLVER``,
  the setting's name in Scrapy >= 2.13; ``DNS_RESOLVER`` is its deprecated alias). Every TCP
  connection the crawl opens asks it for addresses, and it only ever answers with addresses that
  passed the guard — the same ones the middleware checked (they are pinned for the crawl), so a
  DNS answer that changes between check and connect (rebinding) cannot slip through.

A crawl may be handed answers already looked up (``pin``: the round's DNS probe asked A and AAAA of
every name a moment before); those are used instead of asking again, and guarded exactly like a fresh
answer, by the same check, before anything is sent or connected.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from zope.interface import implementer

from crawler.guard import is_forbidden
from crawler.settings import CrawlerSettings, DnsSettings, Nameserver, parse_nameserver

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class ResolveError(Exception):
    """The name has no usable address (NXDOMAIN, no A/AAAA, SERVFAIL, timeout)."""


class BlockedAddress(Exception):
    """The name resolves to an address the guard forbids; nothing was sent to it."""

    def __init__(self, host: str, ip: str, reason: str) -> None:
        super().__init__(f"{host} resolves to {ip} ({reason}): refused by the private-address guard")
        self.host, self.ip, self.reason = host, ip, reason


def _ip_of(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return socket.gethostbyname(host)  # a nameserver given by name: looked up once, at start


def make_dns_resolver(nameservers: Sequence[Nameserver], timeout: float) -> dns.asyncresolver.Resolver:
    """A dnspython async resolver for ``[dns] nameservers`` ([] = the system's resolv.conf)."""
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(_ip_of(ns.host), ns.port) for ns in nameservers]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:  # Twisted never cancels these in practice
        pass


@implementer(IHostnameResolver)
class GuardedResolver:
    """Resolve with dnspython, refuse forbidden addresses, pin the answer for the crawl."""

    def __init__(self, dns_resolver: dns.asyncresolver.Resolver, *, allow_private: bool = False,
                 trusted_hosts: Iterable[str] = (), reactor: Any = None) -> None:
        self._dns = dns_resolver
        self.allow_private = allow_private
        self.trusted_hosts = {h.lower() for h in trusted_hosts if h}
        self._pins: dict[str, tuple[str, ...]] = {}
        self._reactor = reactor
        self._previous: Any = None

    @classmethod
    def from_settings(cls, crawler: CrawlerSettings, dns: DnsSettings, reactor: Any = None) -> GuardedResolver:
        from urllib.parse import urlsplit

        proxy_host = urlsplit(crawler.proxy).hostname if crawler.proxy else None
        return cls(make_dns_resolver(dns.servers, dns.timeout),
                   allow_private=crawler.allow_private_addresses,
                   trusted_hosts=[proxy_host] if proxy_host else [], reactor=reactor)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> GuardedResolver:
        """Scrapy's TWISTED_DNS_RESOLVER protocol (used when a CrawlerProcess sets up the reactor)."""
        settings = crawler.settings
        proxy = settings.get("HYDRAWATCH_PROXY") or ""
        from urllib.parse import urlsplit

        return cls(make_dns_resolver([parse_nameserver(ns) for ns in settings.getlist("HYDRAWATCH_NAMESERVERS")],
                                     settings.getfloat("HYDRAWATCH_DNS_TIMEOUT", 3.0)),
                   allow_private=settings.getbool("HYDRAWATCH_ALLOW_PRIVATE"),
                   trusted_hosts=[urlsplit(proxy).hostname or ""] if proxy else [], reactor=reactor)

    # -- the asyncio side ---------------------------------------------------------------------
    async def lookup(self, host: str) -> tuple[str, ...]:
        """All A then AAAA addresses of ``host`` (an IP literal is its own answer), unguarded."""
        host = host.strip("[]").rstrip(".").lower()
        try:
            return (str(ipaddress.ip_address(host)),)
        except ValueError:
            pass
        found: list[str] = []
        errors: list[str] = []
        for rtype in ("A", "AAAA"):
            try:
                answer = await self._dns.resolve(host, rtype, search=False)
                found.extend(r.to_text() for r in answer)
            except dns.resolver.NXDOMAIN:
                raise ResolveError(f"{host}: NXDOMAIN") from None
            except dns.resolver.NoAnswer:
                continue
            except dns.exception.Timeout:
                errors.append(f"{rtype} timeout")
            except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
                errors.append(f"{rtype} {type(exc).__name__}")
        if not found:
            raise ResolveError(f"{host}: no address ({', '.join(errors) or 'no A/AAAA records'})")
        return tuple(found)

    async def resolve(self, host: str, *, target: bool = False) -> tuple[str, ...]:
        """The guarded, pinned addresses of ``host``.

        Raises BlockedAddress if ANY address is forbidden (all or nothing, so a public address
        cannot smuggle a private sibling in) and ResolveError when there is no address.
        ``target=True`` (a URL the crawl was asked or redirected to) never trusts the proxy's host:
        only the connection to the proxy itself may reach it, not a request for
        ``http://127.0.0.1:port/`` handed to the proxy.
        """
        key = host.strip("[]").rstrip(".").lower()
        addresses = self._pins.get(key)
        if addresses is None:
            addresses = await self.lookup(key)
        if not self.allow_private and (target or key not in self.trusted_hosts):
            for ip in addresses:
                reason = is_forbidden(ip)
                if reason:
                    raise BlockedAddress(key, ip, reason)
        self._pins[key] = addresses
        return addresses

    def pin(self, host: str, addresses: Sequence[str]) -> None:
        """Use ``addresses`` (A then AAAA, an answer already looked up for this crawl) for ``host`` instead
        of asking DNS again. Not trusted: :meth:`resolve` guards them like a fresh answer (BlockedAddress
        for a forbidden one) before the crawl sends or connects anything, and the connection gets exactly
        these. A host already pinned keeps its pin (what was checked is what is used); an empty answer
        pins nothing."""
        key = host.strip("[]").rstrip(".").lower()
        if addresses and key not in self._pins:
            self._pins[key] = tuple(addresses)

    def forget(self) -> None:
        """Drop the pins (called between crawl rounds so DNS changes are seen)."""
        self._pins.clear()

    # -- the Twisted side ---------------------------------------------------------------------
    def install_on_reactor(self) -> None:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        self._previous = self._reactor.nameResolver
        self._reactor.installNameResolver(self)

    def uninstall(self) -> None:
        if self._reactor is not None and self._previous is not None:
            self._reactor.installNameResolver(self._previous)
            self._previous = None

    def resolveHostName(self, resolutionReceiver: Any, hostName: str, portNumber: int = 0,
                        addressTypes: Any = None, transportSemantics: str = "TCP") -> IHostResolution:
        from twisted.internet.defer import Deferred

        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        wanted = set(addressTypes) if addressTypes else {IPv4Address, IPv6Address}

        def deliver(addresses: tuple[str, ...]) -> None:
            for ip in addresses:
                cls = IPv6Address if ":" in ip else IPv4Address
                if cls in wanted:
                    resolutionReceiver.addressResolved(cls("TCP", ip, portNumber))

        def failed(failure: Any) -> None:
            logger.debug("connection to %s refused at resolution: %s", hostName, failure.value)

        task = asyncio.ensure_future(self.resolve(hostName))
        d = Deferred.fromFuture(task)
        d.addCallbacks(deliver, failed)
        d.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolution
