"""RDAP lookups (RFC 9083) with the bundled IANA bootstrap and ``[rdap] servers`` overrides.

Server choice (:meth:`RdapClient.route`): an explicit ``[rdap] servers`` entry for the TLD (longest
matching suffix), else the bundled bootstrap (config/rdap/dns.json), else port-43 WHOIS from
``[rdap] whois_servers`` (crawler/whois.py), else the ``"*"`` override, else WHOIS from the bundled
table of registry WHOIS servers, else error_kind ``other``.
Every failure is an RdapRecord with ``error_kind``; nothing raises. Requests are paced per server,
Retry-After is honoured and answers are cached (crawler/politeness.py, ``[rdap] max_per_minute``,
``max_wait``, ``cache_hours``).
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from crawler.politeness import AnswerCache, HostBudget
from crawler.settings import RdapSettings
from crawler.sources import SourceError, SourceResponse, get, retry_after_seconds
from detect.model import ErrorKind, RdapRecord

if TYPE_CHECKING:
    from crawler.whois import WhoisClient

logger = logging.getLogger(__name__)

MAX_RDAP_BYTES = 1_000_000


class Turn(Protocol):
    """A request's turn at a server, given by a :data:`Gate`."""

    def pause(self, seconds: float) -> None:
        """The server said Retry-After ``seconds``: tell whoever shares the gate."""


class ServerPaused(Exception):
    """A gate's refusal: the server may not be asked for ``seconds``, more than ``max_wait``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused for {seconds:.0f}s")
        self.seconds = seconds


class _AloneTurn:
    def pause(self, seconds: float) -> None:
        pass  # one process: its budget already knows (HostBudget.back_off)


# A server's host (host:port) → what to hold while a request to it is in flight. The default holds
# nothing (one process: its budget paces each server); cluster mode holds a lock shared by every worker
# (scheduler/server_gate.py), so each RDAP server has one caller at a time across the cluster, and one
# pace (max_per_minute, Retry-After) for all of them; it may refuse with ServerPaused. WhoisClient.gate
# is the same for port-43 servers.
Gate = Callable[[str], AbstractAsyncContextManager[Turn]]


def no_gate(host: str) -> AbstractAsyncContextManager[Turn]:
    return nullcontext(_AloneTurn())


def load_bootstrap() -> dict[str, str]:
    """TLD → base URL (https preferred) from the bundled config/rdap/dns.json."""
    text = importlib.resources.files("hydrawatch.resources").joinpath("rdap/dns.json").read_text("utf-8")
    table: dict[str, str] = {}
    for tlds, urls in json.loads(text)["services"]:
        url = next((u for u in urls if u.startswith("https://")), urls[0] if urls else "")
        for tld in tlds:
            table[tld.lower()] = url
    return table


def status_name(status: str) -> str:
    """RFC 8056 status names, lower case: "clientHold" and "client hold" both → "client hold"."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", status.strip())
    return " ".join(spaced.lower().replace("_", " ").split())


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        # the replace also takes a date with a Z ("2024-01-01Z"), which fromisoformat refuses
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))  # noqa: FURB162
    except ValueError:
        return None


def _vcard_fn(entity: Mapping[str, Any]) -> str:
    card = entity.get("vcardArray")
    if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
        for prop in card[1]:
            if isinstance(prop, list) and len(prop) >= 4 and prop[0] == "fn" and isinstance(prop[3], str):
                return prop[3].strip()
    return ""


def parse_domain(domain: str, data: Any, raw: str, status: int, now: datetime) -> RdapRecord:
    """An RdapRecord from a parsed RDAP domain object (pure)."""
    if not isinstance(data, dict):
        return RdapRecord(domain=domain, http_status=status, raw=raw, error_kind=ErrorKind.MALFORMED,
                          error="RDAP answer is not a JSON object", observed_at=now)
    registrar = ""
    for entity in data.get("entities") or []:
        if isinstance(entity, dict) and "registrar" in (entity.get("roles") or []):
            registrar = _vcard_fn(entity) or str(entity.get("handle") or "")
            break
    events = {e.get("eventAction"): _parse_time(e.get("eventDate"))
              for e in data.get("events") or [] if isinstance(e, dict)}
    statuses = tuple(status_name(s) for s in data.get("status") or [] if isinstance(s, str))
    nameservers = tuple(str(ns.get("ldhName", "")).lower().rstrip(".")
                        for ns in data.get("nameservers") or [] if isinstance(ns, dict) and ns.get("ldhName"))
    return RdapRecord(domain=domain, http_status=status, registrar=registrar,
                      registered=events.get("registration"), expires=events.get("expiration"),
                      changed=events.get("last changed"), statuses=statuses, nameservers=nameservers, raw=raw, observed_at=now)


class RdapClient:
    """Looks domains up over RDAP; build with from_settings, call ``lookup`` on the shared loop.

    Polite (crawler/politeness.py): each server has a request budget, a 429/503 closes it for its
    Retry-After, and answers (a record or "not found") are reused for ``cache_hours``. A lookup that
    would wait more than ``max_wait`` is an RdapRecord with error_kind ``rate_limited``; nothing raises."""

    def __init__(self, servers: Mapping[str, str], bootstrap: Mapping[str, str], timeout: float, *,
                 max_per_minute: float = 60, max_wait: float = 300.0, cache_hours: float = 24.0,
                 budget: HostBudget | None = None, whois: WhoisClient | None = None, gate: Gate = no_gate) -> None:
        self.servers = {k.lower().strip("."): v for k, v in servers.items()}
        self.bootstrap = dict(bootstrap)
        self.timeout = timeout
        self.budget = budget or HostBudget(max_per_minute, max_wait)
        self.cache: AnswerCache[RdapRecord] = AnswerCache(cache_hours)
        self.whois = whois
        self.gate = gate  # held around each request to a server (cluster mode: one caller per server)
        self.counts: Counter[str] = Counter()  # "cached", "whois", "rate_limited" since take_counts()

    @classmethod
    def from_settings(cls, rdap: RdapSettings, whois: WhoisClient | None = None) -> RdapClient:
        """``whois``: crawler.whois.WhoisClient.from_settings, for the TLDs without RDAP (None: none)."""
        return cls(rdap.servers, load_bootstrap(), rdap.timeout, max_per_minute=rdap.max_per_minute,
                   max_wait=rdap.max_wait, cache_hours=rdap.cache_hours, whois=whois)

    def take_counts(self) -> dict[str, int]:
        """Lookups answered from the cache, sent to WHOIS, and rate-limited since the last call."""
        counts = dict(self.counts)
        self.counts.clear()
        return counts

    def server_for(self, domain: str, *, fallback: bool = True) -> str | None:
        """The RDAP base URL for ``domain``: ``[rdap] servers`` (longest suffix), the bootstrap, then
        (``fallback``) the ``"*"`` entry."""
        labels = domain.lower().rstrip(".").split(".")
        for i in range(1, len(labels)):
            if ".".join(labels[i:]) in self.servers:
                return self.servers[".".join(labels[i:])]
        if labels[-1] in self.bootstrap:
            return self.bootstrap[labels[-1]]
        return self.servers.get("*") if fallback else None

    def route(self, domain: str) -> tuple[str, str] | None:
        """("rdap", base URL) or ("whois", "") for ``domain``, or None. In order: ``[rdap] servers`` for its
        suffix, the RDAP bootstrap, ``[rdap] whois_servers``, the ``"*"`` RDAP fallback, the bundled
        WHOIS table."""
        base = self.server_for(domain, fallback=False)
        if base:
            return "rdap", base
        if self.whois is not None and self.whois.server_for(domain, bundled=False) is not None:
            return "whois", ""
        if "*" in self.servers:
            return "rdap", self.servers["*"]
        if self.whois is not None and self.whois.server_for(domain) is not None:
            return "whois", ""
        return None

    async def lookup(self, domain: str, *, now: datetime, fresh: bool = False) -> RdapRecord:
        """``fresh``: ask the server even when the cache holds an answer (the domain's DNS just changed: a
        seizure or a hold changes the registry's record too, and a cached one would hide it)."""
        domain = domain.lower().rstrip(".")
        cached = None if fresh else self.cache.get(domain, now)
        if cached is not None:
            self.counts["cached"] += 1
            return cached
        route = self.route(domain)
        if route is None:
            return RdapRecord(domain=domain, error_kind=ErrorKind.OTHER, observed_at=now,
                              error=f"no RDAP or WHOIS server known for .{domain.rsplit('.', 1)[-1]}")
        if route[0] == "whois" and self.whois is not None:
            self.counts["whois"] += 1
            record = await self.whois.lookup(domain, now=now)
        else:
            record = await self._ask(domain, route[1].rstrip("/") + "/domain/" + domain, now)
        if record.error_kind is ErrorKind.RATE_LIMITED:
            self.counts["rate_limited"] += 1
        if record.error_kind is None or record.http_status == 404 or record.error == "not found":  # an answer
            self.cache.put(domain, record, now)
        return record

    async def _ask(self, domain: str, url: str, now: datetime) -> RdapRecord:
        """One lookup within the server's budget; a 429/503 closes the server for its Retry-After and,
        when that is within ``max_wait``, the lookup is tried once more after it."""
        host = urlsplit(url).netloc
        for attempt in (1, 2):
            if await self.budget.acquire(host) is None:
                closed = self.budget.closed_for(host)
                why = f"Retry-After closes it for {closed:.0f}s" if closed else "its request budget is spent"
                return RdapRecord(domain=domain, error_kind=ErrorKind.RATE_LIMITED, observed_at=now,
                                  error=f"RDAP server {host} not asked: {why} (over rdap.max_wait)")
            pause: float | None = None
            said: float | None = None
            try:
                async with self.gate(host) as turn:
                    resp = await get(url, timeout=self.timeout, max_bytes=MAX_RDAP_BYTES, max_retry_after=0)
                    if resp.status in (429, 503):
                        said = retry_after_seconds(resp.header("retry-after"))
                        # no Retry-After on a 429: a minute's pause is the convention; a bare 503 is an outage
                        pause = said if said is not None else (60.0 if resp.status == 429 else None)
                        if pause is not None:
                            turn.pause(pause)  # cluster mode: every worker pauses (before the gate opens)
            except SourceError as exc:
                return RdapRecord(domain=domain, http_status=exc.status, error_kind=exc.kind, error=str(exc),
                                  observed_at=now)
            except ServerPaused as paused:
                return RdapRecord(domain=domain, error_kind=ErrorKind.RATE_LIMITED, observed_at=now,
                                  error=f"RDAP server {host} not asked: the cluster's pace for it (Retry-After "
                                        f"or budget) closes it for {paused.seconds:.0f}s (over rdap.max_wait)")
            if resp.status in (429, 503):
                if pause is not None:
                    self.budget.back_off(host, pause)
                    logger.info("RDAP %s answered %d; pausing it for %.0fs", host, resp.status, pause)
                if attempt == 1 and pause is not None and pause <= self.budget.max_wait:
                    continue
                if resp.status == 429:
                    return RdapRecord(domain=domain, http_status=429, raw=resp.body.decode("utf-8", "replace"),
                                      error_kind=ErrorKind.RATE_LIMITED, observed_at=now,
                                      error=f"HTTP 429 from {url}" + (f" (Retry-After {said:.0f}s)" if said else ""))
            return _record_of(domain, url, resp, now)
        raise AssertionError("unreachable")  # pragma: no cover


def _record_of(domain: str, url: str, resp: SourceResponse, now: datetime) -> RdapRecord:
    raw = resp.body.decode("utf-8", "replace")
    if resp.status == 404:
        return RdapRecord(domain=domain, http_status=404, raw=raw, error_kind=ErrorKind.HTTP,
                          error="not found", observed_at=now)
    if resp.status != 200:
        return RdapRecord(domain=domain, http_status=resp.status, raw=raw, error_kind=ErrorKind.HTTP,
                          error=f"HTTP {resp.status} from {url}", observed_at=now)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return RdapRecord(domain=domain, http_status=200, raw=raw, error_kind=ErrorKind.MALFORMED,
                          error=f"not JSON: {exc}", observed_at=now)
    return parse_domain(domain, data, raw, 200, now)
