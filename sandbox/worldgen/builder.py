"""The mutable state one generation run fills: declared domains, takedown-phase overrides, the answer
key's lists, used names and subnets. Every other module adds to a `Builder`; `generate` freezes it.

Dates: phase `before` = now - 3 days, phase `takedown` = now. A domain registered after the
`before` clock appears only in `takedown` (it did not exist yet).
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.worldgen.templates import SiteDoc, article_page, render


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Host:
    """Where a site lives: addresses, name servers and the registrar that sold the name."""

    ips: list[str]
    ns: list[str]
    registrar: tuple[str, str]
    label: str = ""

    def ip(self, rng: random.Random) -> str:
        return rng.choice(self.ips)


@dataclass
class Builder:
    rng: random.Random
    now: datetime
    T: datetime
    campaign: str
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    takedown: dict[str, dict[str, Any]] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    subnets: set[str] = field(default_factory=set)
    seeds: list[str] = field(default_factory=list)
    docs: dict[str, SiteDoc] = field(default_factory=dict)
    replacements: list[dict[str, Any]] = field(default_factory=list)
    decoys: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    nrd_extra: list[str] = field(default_factory=list)

    @property
    def before(self) -> datetime:
        return self.now - timedelta(days=3)

    def free(self, name: str) -> bool:
        return name not in self.taken

    def claim(self, name: str) -> bool:
        """Reserve a name; False when something in the world already uses it."""
        if name in self.taken:
            return False
        self.taken.add(name)
        return True

    def add(self, name: str, host: Host, registered: datetime, web: dict[str, Any] | bool, *,
            nrd: bool = True, ct: bool | list[Any] = True, ip: str | None = None,
            rdap_extra: dict[str, Any] | None = None, mx: bool = True) -> dict[str, Any]:
        """Declare a domain (registered at `registered`, hosted on `host`) serving `web`."""
        self.taken.add(name)
        spec: dict[str, Any] = {
            "a": [ip or host.ip(self.rng)], "ns": list(host.ns),
            "mx": [f"10 mail.{name}"] if mx else [], "txt": ["v=spf1 mx -all"] if mx else [],
            "nrd": nrd, "ct": ct, "web": web,
            "rdap": {"registrar": host.registrar[0], "registrar_iana_id": host.registrar[1],
                     "registered": iso(registered), "status": ["client transfer prohibited"],
                     **(rdap_extra or {})},
        }
        if registered > self.before:
            spec["appears"] = "takedown"
        self.domains[name] = spec
        return spec

    def site(self, doc: SiteDoc, favicon: bytes | None = None, article: bool = True) -> dict[str, Any]:
        """A `web` table for a news-like site: its home page and its first article's page."""
        pages: dict[str, Any] = {"/": {"html": render(doc)}}
        if article and doc.articles:
            first = doc.articles[0]
            pages[f"/{first.slug}/"] = {"html": article_page(doc, first)}
        web: dict[str, Any] = {"pages": pages}
        if favicon:
            web["favicon_b64"] = base64.b64encode(favicon).decode()
        return web

    def override(self, name: str, **changes: Any) -> None:
        self.takedown.setdefault(name, {}).update(changes)

    def between(self, start: datetime, end: datetime) -> datetime:
        """A uniformly drawn moment in [start, end], to the second."""
        span = int((end - start).total_seconds())
        return start + timedelta(seconds=self.rng.randint(0, max(span, 0)))

    def old(self, first_year: int, last_year: int) -> datetime:
        start = datetime(first_year, 1, 1, tzinfo=self.now.tzinfo)
        end = min(datetime(last_year, 12, 31, tzinfo=self.now.tzinfo), self.now - timedelta(days=200))
        return self.between(start, end)


def favicon_png(rng: random.Random) -> bytes:
    """A tiny 4x4 PNG in two drawn colours: a favicon whose hash ties a site to its copies."""
    c1 = bytes(rng.randrange(256) for _ in range(3))
    c2 = bytes(rng.randrange(256) for _ in range(3))
    rows = b"".join(b"\x00" + b"".join(c1 if (x + y) % 2 else c2 for x in range(4)) for y in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
