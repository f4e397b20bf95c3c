"""The values that cross package seams: observations, statuses, indicators, evidence, candidates.

Everything here is a frozen dataclass or an enum. ORM rows, Scrapy responses and dicts-used-as-objects
never cross a seam; these do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Status(enum.StrEnum):
    """A domain's takedown state (CONTRACT.md, "Domain statuses")."""

    ACTIVE = "active"
    SEIZED = "seized"
    SUSPENDED = "suspended"
    PARKED = "parked"
    REDIRECTING = "redirecting"
    DEAD = "dead"
    UNKNOWN = "unknown"

    @property
    def lost(self) -> bool:
        """True when the site is gone from its operator: the trigger for a replacement hunt."""
        return self in (Status.SEIZED, Status.SUSPENDED, Status.DEAD)


class Rcode(enum.StrEnum):
    """Outcome of one DNS question; failures are kept distinct (never magic strings)."""

    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"
    NOANSWER = "NOANSWER"  # NOERROR but no record of any asked type
    SERVFAIL = "SERVFAIL"
    REFUSED = "REFUSED"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"  # garbage answer, network error, anything else

    @property
    def conclusive(self) -> bool:
        """An answer about the name (a resolver's NOERROR, NXDOMAIN, SERVFAIL, REFUSED …), not a failure to
        get one (no answer in time, garbage): a TIMEOUT or an ERROR says nothing about the name's DNS."""
        return self not in (Rcode.TIMEOUT, Rcode.ERROR)


class ErrorKind(enum.StrEnum):
    """Why a fetch failed. Stored on the observation; never a crash."""

    DNS = "dns"
    BLOCKED_PRIVATE = "blocked_private"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    TLS = "tls"
    TOO_LARGE = "too_large"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    DECODE = "decode"
    HTTP = "http"  # an HTTP status the source treats as failure (RDAP 404/5xx)
    RATE_LIMITED = "rate_limited"  # the source said 429 / Retry-After, or our budget for it is spent
    MALFORMED = "malformed"  # unparseable answer (RDAP/CT JSON, feed line)
    OTHER = "other"


class Relation(enum.StrEnum):
    REPLACEMENT = "replacement"
    MIRROR = "mirror"
    NETWORK = "network"


class Origin(enum.StrEnum):
    SEED = "seed"
    DISCOVERED = "discovered"


RECORD_TYPES: tuple[str, ...] = ("A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME")


@dataclass(frozen=True)
class DnsResult:
    """One name's DNS answers. ``records`` maps a record type to its values in presentation form
    (lower-case names without the trailing dot; MX as "pref host"; TXT joined and unquoted)."""

    name: str
    rcode: Rcode
    records: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str = ""
    observed_at: datetime | None = None

    def get(self, rtype: str) -> tuple[str, ...]:
        return self.records.get(rtype, ())

    @property
    def resolves(self) -> bool:
        return self.rcode is Rcode.NOERROR and bool(self.get("A") or self.get("AAAA") or self.get("CNAME"))


@dataclass(frozen=True)
class TlsCert:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: datetime | None
    not_after: datetime | None
    sha256: str
    self_signed: bool = False


@dataclass(frozen=True)
class Hop:
    """One step of a redirect chain: the URL asked for and the status it answered with."""

    url: str
    status: int
    location: str = ""


# Marks fetches made from archived copies. Not a valid HTTP field name (spaces, parentheses), so no
# crawled site can send it.
ARCHIVED_HEADER = "(hydrawatch) archived copy"


@dataclass(frozen=True)
class HttpFetch:
    """One page fetch as the crawler saw it. ``body`` is capped at max_page_bytes (``truncated``)."""

    domain: str
    url: str
    final_url: str = ""
    status: int | None = None
    redirects: tuple[Hop, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    truncated: bool = False
    ip: str = ""
    cert: TlsCert | None = None
    favicon: bytes | None = None
    banner_sha256: str = ""  # the largest picture of an image-only page (a wordless banner), when fetched
    error_kind: ErrorKind | None = None
    error: str = ""
    observed_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None and self.status is not None

    def header(self, name: str) -> str:
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return ""

    @property
    def archived(self) -> bool:
        """An archived copy imported with `hydrawatch archive import`: history, not what the site serves."""
        return self.header(ARCHIVED_HEADER) == "1"


WHOIS_MARK = "WHOIS, port 43"
"""How evidence names registration data read from port-43 WHOIS rather than RDAP."""


@dataclass(frozen=True)
class RdapRecord:
    domain: str
    http_status: int | None = None
    registrar: str = ""
    registered: datetime | None = None
    expires: datetime | None = None
    # the registry's "last changed" event (WHOIS "Updated Date"): a seizure or hold changes the record, so
    # for a domain just lost this dates the takedown itself (detect.evidence_rules.timing)
    changed: datetime | None = None
    statuses: tuple[str, ...] = ()  # RFC 8056 names, lower case: "client hold", "server hold" …
    nameservers: tuple[str, ...] = ()
    raw: str = ""
    error_kind: ErrorKind | None = None
    error: str = ""
    observed_at: datetime | None = None
    source: str = "rdap"  # "rdap", or "whois" (port 43, for a registry without RDAP): evidence says which

    @property
    def via(self) -> str:
        """"" for RDAP; WHOIS_MARK when the data came from port-43 WHOIS."""
        return WHOIS_MARK if self.source == "whois" else ""


@dataclass(frozen=True)
class Indicator:
    """One observable value: kind from detect.fingerprints.INDICATOR_KINDS (e.g. "ga", "favicon_mmh3",
    "ip", "ns", "cert_san", "dom_hash", "registrar")."""

    kind: str
    value: str


@dataclass(frozen=True)
class Classification:
    status: Status
    reason: str


@dataclass(frozen=True)
class Evidence:
    """One reason to believe (weight > 0) or doubt (weight < 0) that a candidate is the network's."""

    kind: str
    value: str
    weight: float
    detail: str = ""


@dataclass(frozen=True, slots=True)  # a hunt holds tens of thousands at once
class Candidate:
    """A name discovery would check. ``source`` is the generator ("lookalike", "outlink", "redirect",
    "ct", "nrd"); ``via`` how (fuzzer name, linking site, CT keyword, feed); ``seed`` the network
    domain it was derived from, if any."""

    domain: str
    source: str
    via: str = ""
    seed: str = ""
