"""The private-address guard: which connection targets a crawl of hostile sites must never reach.

Pure: an address in, a reason out. Applied after DNS resolution to every connection target
(redirect targets included) unless ``[crawler] allow_private_addresses`` is true.
"""

from __future__ import annotations

import ipaddress

_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified/this-network"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)


def _networks() -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in _NETWORKS)


_TABLE = _networks()  # immutable data derived from the constant above, not state


def is_forbidden(ip: str) -> str | None:
    """Why ``ip`` must not be contacted (e.g. "loopback"), or None when it is a public address.

    IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::) forms are
    judged by the IPv4 address they carry. Anything that does not parse is forbidden.
    """
    try:
        addr = ipaddress.ip_address(ip.strip().split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {ip!r}"
    if isinstance(addr, ipaddress.IPv6Address):
        inner = addr.ipv4_mapped
        if inner is None and addr in ipaddress.ip_network("64:ff9b::/96"):
            inner = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if inner is None and addr.sixtofour is not None:
            inner = addr.sixtofour
        if inner is not None:
            why = is_forbidden(str(inner))
            return f"{why} (embedded in {addr})" if why else None
    for network, why in _TABLE:
        if addr.version == network.version and addr in network:
            return why
    if addr.is_private or addr.is_reserved or addr.is_multicast or addr.is_loopback or addr.is_link_local:
        return "reserved or private"
    return None
