"""The config sections the crawler reads: [dns], [crawler], [rdap] (see detect/settings.py for how).

``[dns] nameservers`` is parsed here and only here (:func:`parse_nameserver`): the prober, the crawl's
resolver and the config check all take the same :class:`Nameserver` values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detect.settings import (
    SettingsError,
    Show,
    check_url,
    key,
    nonnegative,
    parse_section,
    plain,
    positive,
    url_map,
)


def proxy_url(name: str, value: str, show: Show) -> None:
    """crawler/tunnel.py speaks plain HTTP to the proxy: only http:// URLs."""
    if value:
        check_url(name, value, show, ("http",))

@dataclass(frozen=True)
class Nameserver:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 65536):
        raise ValueError(text)
    return int(text)


def parse_nameserver(text: str) -> Nameserver:
    """"host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address → Nameserver; ValueError else."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(text)
        ipaddress.IPv6Address(host)
        return Nameserver(host, _port(rest[1:]) if rest else 53)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if not host:
            raise ValueError(text)
        return Nameserver(host, _port(port))
    if ":" in text:
        ipaddress.IPv6Address(text)  # a bare IPv6 address, or ValueError
        return Nameserver(text, 53)
    if not text or any(c.isspace() for c in text):
        raise ValueError(text)
    return Nameserver(text, 53)


def nameservers(name: str, value: list[str], show: Show) -> None:
    for i, item in enumerate(value):
        try:
            parse_nameserver(item)
        except ValueError:
            raise SettingsError(f"{name}[{i}]: expected host or host:port, got {show(f'{name}[{i}]', item)}") from None


@dataclass(frozen=True)
class DnsSettings:
    nameservers: list[str] = field(default_factory=list, metadata=key(
        'resolvers as "host" or "host:port"; [] = the system resolvers', nameservers))
    timeout: float = field(default=3.0, metadata=key("seconds per query", positive))
    concurrency: int = field(default=512, metadata=key("queries in flight", positive))
    retries: int = field(default=2, metadata=key("extra tries after a timeout", nonnegative))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> DnsSettings:
        return parse_section(cls, "dns", data, show)

    @property
    def servers(self) -> tuple[Nameserver, ...]:
        """The resolvers to ask; () = the system's."""
        return tuple(parse_nameserver(text) for text in self.nameservers)


@dataclass(frozen=True)
class CrawlerSettings:
    allow_private_addresses: bool = field(default=False, metadata=key(
        "fetch hosts that resolve to loopback/private/link-local addresses (tests and sandbox only)"))
    user_agent: str = field(default="Mozilla/5.0 (X11; Linux x86_64) hydrawatch/0.1 (+research crawler)",
                            metadata=key("User-Agent header of every fetch"))
    proxy: str = field(default="", metadata=key(
        "http://host:port forward proxy; every fetch (http and https) is a CONNECT to the address the "
        "private-address guard checked, the name only in Host/SNI, so the proxy must allow CONNECT to ports "
        "80 and 443", proxy_url))
    max_page_bytes: int = field(default=5_000_000, metadata=key("body cap per response", positive))
    max_headers: int = field(default=200, metadata=key(
        "header lines per response (continuations count); more ends the fetch as too_large", positive))
    max_header_bytes: int = field(default=65_536, metadata=key(
        "bytes of status line and headers per response; more ends the fetch as too_large", positive))
    timeout: float = field(default=20.0, metadata=key("seconds per fetch (connect to last byte)", positive))
    max_redirects: int = field(default=10, metadata=key("redirect hops followed per fetch", nonnegative))
    retries: int = field(default=1, metadata=key("extra tries after a connection failure", nonnegative))
    concurrency: int = field(default=16, metadata=key("fetches in flight", positive))
    host_delay: float = field(default=0.0, metadata=key(
        "least seconds between the starts of two requests to one host (one IP address: the first address the "
        "private-address guard checked for the name, the one the connection goes to), never randomised; in "
        "cluster mode also between two batches of one oversized host; 0 = no delay", nonnegative))
    host_concurrency: int = field(default=0, metadata=key(
        "most requests in flight to one host (one IP address, as host_delay); 0 = up to concurrency",
        nonnegative))
    retry_after_max: float = field(default=60.0, metadata=key(
        "longest wait in seconds a crawl honours after a 429 (or a 503 with Retry-After) before asking that "
        "host again: the host's requests all wait its Retry-After (seconds or HTTP date; without one 5 s, "
        "doubled each time, at most this); a longer Retry-After ends the fetch as rate_limited at once, asked "
        "again next round", positive))
    rate_limit_retries: int = field(default=2, metadata=key(
        "times a page is asked again after a 429 (or a 503 with Retry-After); then the fetch is recorded as "
        "rate_limited with the status and the wait asked", nonnegative))
    extra_paths: list[str] = field(default_factory=list, metadata=key(
        'more pages fetched per domain besides "/", e.g. ["/about/"]'))
    page_workers: int = field(default=1, metadata=key(
        "worker processes that parse and fingerprint pages beside a big crawl (0: all in the crawl's process)",
        nonnegative))
    page_workers_min_sites: int = field(default=50, metadata=key(
        "fewest sites in one crawl for page_workers to start (a smaller crawl does its page work itself)",
        positive))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> CrawlerSettings:
        return parse_section(cls, "crawler", data, show)


def parse_whois_server(text: str) -> tuple[str, int]:
    """"host" or "host:port" (port 43 by default) → (host, port); ValueError otherwise."""
    text = text.strip()
    host, port = text.rsplit(":", 1) if text.count(":") == 1 else (text, "43")
    if not host or any(c.isspace() or c in "/@[]" for c in host) or not (port.isascii() and port.isdigit()
                                                                          and 0 < int(port) < 65536):
        raise ValueError(text)
    return host.lower(), int(port)


def whois_server_map(name: str, value: Mapping[str, str], show: Show) -> None:
    for tld, server in value.items():
        try:
            parse_whois_server(server)
        except ValueError:
            raise SettingsError(f'{name}.{tld}: expected "host" or "host:port", '
                                f'got {show(f"{name}.{tld}", server)}') from None


@dataclass(frozen=True)
class RdapSettings:
    servers: dict[str, str] = field(default_factory=dict, metadata=key(
        'overrides of the bundled IANA bootstrap: {"ltd" = "http://…/", "*" = "http://…/"}', url_map))
    timeout: float = field(default=10.0, metadata=key("seconds per RDAP query", positive))
    max_per_minute: int = field(default=60, metadata=key(
        "requests a minute to each RDAP server (a burst of a sixth of it, then a steady pace; in cluster mode "
        "for all workers together, without the burst)", positive))
    max_wait: float = field(default=300.0, metadata=key(
        "longest wait in seconds for a server's budget or its Retry-After; a lookup that would wait longer "
        "is reported as rate_limited and retried next cycle", nonnegative))
    cache_hours: float = field(default=24.0, metadata=key(
        "hours an RDAP (or WHOIS) answer is reused instead of asking the server again; 0 = no cache",
        nonnegative))
    whois: bool = field(default=True, metadata=key(
        "ask the registry's port-43 WHOIS server for TLDs without an RDAP server (.so, .ru, .de, .io …); "
        "registration dates read there are marked \"(WHOIS, port 43)\" in the evidence"))
    whois_servers: dict[str, str] = field(default_factory=dict, metadata=key(
        'WHOIS servers by TLD, "host" or "host:port", over the bundled table (IANA\'s root zone database); '
        "trusted like rdap.servers, so they may be on loopback", whois_server_map))
    whois_max_per_minute: int = field(default=10, metadata=key(
        "queries a minute to each WHOIS server (registries' WHOIS limits are lower than RDAP's; in cluster mode "
        "for all workers together, without the burst)", positive))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> RdapSettings:
        return parse_section(cls, "rdap", data, show)
