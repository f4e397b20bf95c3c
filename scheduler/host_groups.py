"""Which sites of a crawl round are one host: those that share any address (issue 17).

Shared hosting puts many sites on one address, and a site often has several (A and AAAA, or a pool):
a site on {A, B} and one on {B, C} reach the same machine through B, so they are one host even though
their lowest addresses differ. :func:`host_keys` joins sites that share an address, transitively
(union-find over each site's last DNS answer), and names each group by its lowest address, so the same
answers always give the same keys, whatever the order the sites come in (a resumed cluster job re-plans
the same batches). Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping


def address_order(text: str) -> tuple[int, int, str]:
    """Sort key of a host key: IPv4 before IPv6, each in numeric order (10.0.0.9 before 10.0.0.10); any
    other token (a hunt's answer fingerprint) after them, by its text."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return (2, 0, text)
    return (0 if address.version == 4 else 1, int(address), text)


def host_keys(addresses: Mapping[str, Collection[str]]) -> dict[str, str]:
    """Domain → the key of its host: the lowest address (:func:`address_order`) of the group of domains
    that share an address with it, directly or through others; "" for a domain without any address (a
    host of its own). The tokens may be any strings (a hunt's answer fingerprint stands for a host)."""
    parent: dict[str, str] = {}

    def root(token: str) -> str:
        while parent[token] != token:
            parent[token] = parent[parent[token]]  # path halving
            token = parent[token]
        return token

    def union(a: str, b: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:  # the lower token becomes the root, so a group's root is its lowest token
            low, high = sorted((ra, rb), key=address_order)
            parent[high] = low

    for tokens in addresses.values():
        present = [t for t in tokens if t]
        for token in present:
            parent.setdefault(token, token)
        for token in present[1:]:
            union(present[0], token)
    return {name: root(next(t for t in tokens if t)) if any(tokens) else "" for name, tokens in addresses.items()}
