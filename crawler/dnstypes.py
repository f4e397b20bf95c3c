"""The record types a probe asks, checked once, and the prober's one-line error.

Its own module so that crawler/dns.py (the prober) and crawler/dnspool.py (its worker processes) both
use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from crawler.dnswire import WireError, rdtype_of
from detect.errors import HydrawatchError


class ProberError(HydrawatchError):
    """The prober cannot work (no resolvers, bad record type); one line, names the cause."""


def check_types(types: Sequence[str]) -> list[tuple[str, int]]:
    if isinstance(types, str):
        types = [types]
    out: list[tuple[str, int]] = []
    for text in types:
        try:
            rdtype = rdtype_of(text)
        except WireError as exc:
            raise ProberError(str(exc)) from None
        if (text.upper(), rdtype) not in out:
            out.append((text.strip().upper(), rdtype))
    if not out:
        raise ProberError("no record types asked")
    return out
