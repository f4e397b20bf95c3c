"""What one phase of a world shows: frozen values built by sandbox.world and read by the servers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from types import MappingProxyType

WEB_BEHAVIOURS = frozenset({
    "huge-body", "gzip-bomb", "brotli-bomb", "redirect-loop", "redirect-chain", "slow-drip", "reset", "garbage",
    "tls-garbage", "wrong-content-type", "non-utf8", "header-endless", "header-flood",
    "slow-answer",  # every answer 0.3 s late, then the page as usual (crawl windows that would overlap)
    # rate limits: every request 429 with Retry-After: 1; each page's first request 429 Retry-After: 1 (then as
    # usual); each page's first request 503 with Retry-After as an HTTP date 2 s ahead (then as usual)
    "http-429", "http-429-once", "http-503-date-once",
})
DNS_BEHAVIOURS = frozenset({
    "dns-timeout", "dns-servfail", "dns-refused", "dns-garbage", "dns-truncated", "dns-cname-loop",
    "dns-huge-txt",
})
RDAP_BEHAVIOURS = frozenset({"rdap-malformed", "rdap-429", "rdap-500", "rdap-header-flood"})
BEHAVIOURS = WEB_BEHAVIOURS | DNS_BEHAVIOURS | RDAP_BEHAVIOURS
SERVICE_BEHAVIOURS: Mapping[str, frozenset[str]] = MappingProxyType({
    "ct": frozenset({"ct-garbage", "ct-500", "ct-429"}),
    "nrd": frozenset({"nrd-500", "nrd-garbage", "nrd-huge"}),
    # rdap-429-date: each name's first request is a 429 whose Retry-After is an HTTP date 2 s ahead
    # rdap-slow: every answer 0.3 s late (concurrent requests overlap: RegistryServices.rdap_peak counts them)
    "rdap": frozenset({"rdap-malformed", "rdap-429", "rdap-429-date", "rdap-500", "rdap-header-flood", "rdap-slow"}),
    # whois-slow: every answer 0.3 s late (concurrent queries overlap: WhoisServer.peak counts them)
    "whois": frozenset({"whois-silent", "whois-huge", "whois-garbage", "whois-limit", "whois-slow"}),
    "pdns": frozenset({"pdns-429", "pdns-garbage", "pdns-500"}),
})


def behaviour_category(name: str) -> str:
    """"dns", "rdap" or "web": the server a behaviour belongs to (a domain may have one of each)."""
    if name in DNS_BEHAVIOURS:
        return "dns"
    if name in RDAP_BEHAVIOURS:
        return "rdap"
    return "web"


@dataclass(frozen=True)
class Page:
    """One HTTP answer: a body or a redirect, with status and headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    location: str = ""


@dataclass(frozen=True)
class TlsSpec:
    """The certificate a site presents. Validity is relative to the real clock (clients check it)."""

    names: tuple[str, ...]
    expired: bool = False
    self_signed: bool = False


@dataclass(frozen=True)
class Site:
    pages: Mapping[str, Page]
    catch_all: Page | None = None
    favicon: bytes | None = None
    favicon_paths: tuple[str, ...] = ("/favicon.ico",)
    tls: TlsSpec | None = None            # None: no HTTPS (the TLS handshake is refused)
    http: bool = True                      # False: plain HTTP port closed for this site
    redirect_to_https: bool = False


@dataclass(frozen=True)
class Registration:
    """RDAP data of a registered domain (RFC 9083 vocabulary: statuses such as "client hold")."""

    registrar: str
    registered: datetime
    expires: datetime
    updated: datetime
    statuses: tuple[str, ...] = ("active",)
    nameservers: tuple[str, ...] = ()
    registrar_iana_id: str = ""
    registrant_country: str = ""


@dataclass(frozen=True)
class CertEntry:
    """A certificate as a CT search shows it (simulated dates, world time)."""

    id: int
    names: tuple[str, ...]
    issuer_name: str
    issuer_ca_id: int
    not_before: datetime
    not_after: datetime
    entry_timestamp: datetime
    serial_number: str


@dataclass(frozen=True)
class DomainState:
    name: str
    resolves: bool = True                  # False: NXDOMAIN (suspended / removed from the zone)
    a: tuple[str, ...] = ()
    aaaa: tuple[str, ...] = ()
    ns: tuple[str, ...] = ()
    mx: tuple[tuple[int, str], ...] = ()
    txt: tuple[str, ...] = ()
    cname: str = ""
    www: bool = True
    rdap: Registration | None = None
    site: Site | None = None
    behaviours: frozenset[str] = frozenset()
    nrd: bool = True


@dataclass(frozen=True)
class PhaseView:
    """Everything the network shows during one phase; swapped atomically by Sandbox.set_phase."""

    name: str
    clock: datetime
    domains: Mapping[str, DomainState]
    hosts: Mapping[str, str]               # host name (apex, www.) -> domain name
    certificates: tuple[CertEntry, ...]
    nrd: tuple[str, ...]
    extra_ips: frozenset[str] = field(default_factory=frozenset)
    wildcard_tlds: frozenset[str] = field(default_factory=frozenset)
    wildcard: DomainState | None = None    # the parking answer of every undeclared name under wildcard_tlds

    @cached_property
    def _by_address(self) -> dict[str, tuple[DomainState, ...]]:
        by: dict[str, list[DomainState]] = {}
        for d in self.domains.values():
            if d.resolves:
                for ip in dict.fromkeys(d.a):
                    by.setdefault(ip, []).append(d)
        return {ip: tuple(ds) for ip, ds in by.items()}

    def resolving_on(self, address: str) -> tuple[DomainState, ...]:
        """The resolving domains whose A records name ``address``, in the world's order (indexed once a
        phase: the proxy asks it for every tunnel to an address, and a scan was O(world) a connection)."""
        return self._by_address.get(address, ())

    def domain_of_host(self, host: str) -> DomainState | None:
        host = host.lower().rstrip(".")
        name = self.hosts.get(host)
        return self.domains.get(name) if name else self.wildcard_owner(host)

    def wildcard_owner(self, name: str) -> DomainState | None:
        """A parking state named ``name`` when it falls under a wildcard TLD (and nothing declared owns it)."""
        if self.wildcard is None or not any(name.endswith(f".{tld}") for tld in self.wildcard_tlds):
            return None
        return replace(self.wildcard, name=name)
