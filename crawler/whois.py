"""Port-43 WHOIS (RFC 3912) for TLDs whose registry runs no RDAP server (.so, .ru, .de, .io …).

The text is parsed by asyncwhois (its per-registry regular expressions, ``asyncwhois.parse_tld``) and its
table of registry WHOIS servers (IANA's root zone database) names the server; the socket I/O is ours, so
every query has a timeout, a size cap, the private-address guard (crawler/guard.py) and the request
budget of crawler/politeness.py; in cluster mode also a gate shared by every worker
(``WhoisClient.gate``, scheduler/server_gate.py): one caller per WHOIS server at a time and one pace per
server across the cluster, as for RDAP. A server named in ``[rdap] whois_servers`` is trusted configuration
like ``[rdap] servers`` (the sandbox serves it on loopback); one from the bundled table must resolve
to a public address unless ``[crawler] allow_private_addresses``.

The answer is an RdapRecord with ``source = "whois"``, so a registration date read from WHOIS is marked
as such wherever it becomes evidence ("(WHOIS, port 43)"). Every failure is a record with
``error_kind``; nothing raises.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crawler.guard import is_forbidden
from crawler.politeness import HostBudget
from crawler.rdap import Gate, ServerPaused, no_gate, status_name
from crawler.settings import RdapSettings, parse_whois_server
from crawler.sources import SourceError
from detect.model import ErrorKind, RdapRecord

logger = logging.getLogger(__name__)

WHOIS_PORT = 43
MAX_WHOIS_BYTES = 256 * 1024
LIMIT_PAUSE = 60.0  # seconds a server that says "query limit exceeded" is left alone (it gives no Retry-After)

_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_FORMATS = ("%d.%m.%Y", "%d.%m.%Y %H:%M:%S", "%d-%b-%Y", "%d-%B-%Y", "%Y.%m.%d", "%Y/%m/%d", "%Y%m%d",
            "%d/%m/%Y", "%Y.%m.%d %H:%M:%S", "%Y-%m-%d %H:%M:%S (%Z)")
# Registries' own words for "no such domain"; asyncwhois keeps its list in DomainParser as well.
_NOT_FOUND = ("no match", "not found", "no entries found", "no object found", "no data found",
              "domain name not known", "object does not exist", "available for registration", "status: free",
              "status:\tavailable")


def bundled_server(tld: str) -> str | None:
    """The registry's WHOIS server from asyncwhois' copy of IANA's root zone database, if it has one."""
    from asyncwhois.servers.domains import CountryCodeTLD, GenericTLD, SponsoredTLD

    attr = tld.upper().replace("-", "_")
    for table in (CountryCodeTLD, GenericTLD, SponsoredTLD):
        server = getattr(table, attr, None)
        if isinstance(server, str) and server:
            return server
    return None


def parse_date(text: str) -> datetime | None:
    """A WHOIS date as UTC: ISO 8601 forms first, then registries' day-first forms (05.09.2024 is
    5 September), then asyncwhois' parser; a date without a zone is taken as UTC. None if unreadable."""
    text = text.strip().rstrip(".")
    if not text:
        return None
    if _ISO_Z.match(text):
        cleaned = re.sub(r"\s*(Z|UTC|GMT)$", "+00:00", text, flags=re.IGNORECASE)
        try:
            return _utc(datetime.fromisoformat(cleaned))
        except ValueError:
            pass
    for fmt in _FORMATS:
        try:
            return _utc(datetime.strptime(text, fmt))
        except ValueError:
            continue
    from asyncwhois.parse import BaseParser

    value = BaseParser()._parse_date(text)
    return _utc(value) if isinstance(value, datetime) else None


def _utc(value: datetime) -> datetime:
    # dateutil gives tzlocal() for "Z" and "UTC"; a WHOIS date with no zone is UTC by convention
    if value.tzinfo is None or type(value.tzinfo).__name__ == "tzlocal":
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _first(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.strip() if isinstance(value, str) else ""


def _as_date(value: Any) -> datetime | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, datetime):
        return _utc(value)
    return parse_date(value) if isinstance(value, str) else None


def parse_whois(domain: str, text: str, now: datetime) -> RdapRecord:
    """An RdapRecord (``source = "whois"``) from a registry's WHOIS answer (pure)."""
    from asyncwhois.parse import TLDBaseKeys
    from asyncwhois.parse_tld import DomainParser

    tld = domain.rsplit(".", 1)[-1]
    low = text.lower()
    if not text.strip():
        return RdapRecord(domain=domain, source="whois", raw=text, error_kind=ErrorKind.MALFORMED,
                          error="empty WHOIS answer", observed_at=now)
    not_found = any(phrase in low for phrase in _NOT_FOUND)
    parser = DomainParser._init_parser(tld)
    # asyncwhois converts dates itself, with dateutil's month-first guesses: read the raw strings instead
    raw_dates = {k: parser.find_match(parser.reg_expressions[k], text) if parser.reg_expressions.get(k) else None
                 for k in (TLDBaseKeys.CREATED, TLDBaseKeys.EXPIRES, TLDBaseKeys.UPDATED)}
    try:
        parsed = parser.parse(text)
    except Exception as exc:  # noqa: BLE001 - a third-party parser on hostile text: any failure is "malformed"
        return RdapRecord(domain=domain, source="whois", raw=text, error_kind=ErrorKind.MALFORMED,
                          error=f"WHOIS answer not parsed: {type(exc).__name__}", observed_at=now)
    registered = _as_date(raw_dates[TLDBaseKeys.CREATED]) or _as_date(parsed.get(TLDBaseKeys.CREATED))
    expires = _as_date(raw_dates[TLDBaseKeys.EXPIRES]) or _as_date(parsed.get(TLDBaseKeys.EXPIRES))
    changed = _as_date(raw_dates[TLDBaseKeys.UPDATED]) or _as_date(parsed.get(TLDBaseKeys.UPDATED))
    # "clientHold https://icann.org/epp#clientHold" (ICANN) or "REGISTERED, DELEGATED" (.ru): the words
    statuses = tuple(status_name(part.split()[0]) for s in parsed.get(TLDBaseKeys.STATUS) or []
                     if isinstance(s, str) for part in s.split(",") if part.split())
    nameservers = tuple(dict.fromkeys(ns.split()[0].lower().rstrip(".")
                                      for ns in parsed.get(TLDBaseKeys.NAME_SERVERS) or []
                                      if isinstance(ns, str) and ns.split()))
    registrar = _first(parsed.get(TLDBaseKeys.REGISTRAR))[:200]
    if registered is None and not (registrar or nameservers or statuses):
        if not_found:  # a "not found" phrase counts only when the answer has no registration data at all
            return RdapRecord(domain=domain, source="whois", raw=text, error_kind=ErrorKind.OTHER,
                              error="not found", observed_at=now)
        return RdapRecord(domain=domain, source="whois", raw=text, error_kind=ErrorKind.MALFORMED,
                          error="no registration data in the WHOIS answer", observed_at=now)
    return RdapRecord(domain=domain, source="whois", registrar=registrar, registered=registered, expires=expires,
                      changed=changed, statuses=statuses, nameservers=nameservers, raw=text, observed_at=now)


async def query(host: str, port: int, domain: str, *, timeout: float, max_bytes: int = MAX_WHOIS_BYTES,
                allow_private: bool = True) -> str:
    """Ask ``host``:``port`` about ``domain`` (one line out, the text until the server closes back).

    ``allow_private`` False: every address ``host`` resolves to must be public (the guard). Raises
    SourceError(DNS | BLOCKED_PRIVATE | CONNECTION | TIMEOUT | TOO_LARGE)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError) as exc:
        raise SourceError(ErrorKind.DNS, f"WHOIS server {host}: cannot resolve: {exc or 'timeout'}") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            why = is_forbidden(address)
            if why:
                raise SourceError(ErrorKind.BLOCKED_PRIVATE, f"WHOIS server {host} resolves to {address} ({why})")
    if not addresses:
        raise SourceError(ErrorKind.DNS, f"WHOIS server {host}: no address")
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(addresses[0], port),
                                                max(0.01, deadline - loop.time()))
        writer.write(domain.encode("idna") + b"\r\n")
        await writer.drain()
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - loop.time()))
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise SourceError(ErrorKind.TOO_LARGE, f"WHOIS answer of {host} over {max_bytes} bytes")
            chunks.append(chunk)
    except TimeoutError:
        raise SourceError(ErrorKind.TIMEOUT, f"WHOIS server {host}:{port}: no complete answer within {timeout:g}s") from None
    except (OSError, UnicodeError) as exc:
        raise SourceError(ErrorKind.CONNECTION, f"WHOIS server {host}:{port}: {exc}") from None
    finally:
        if writer is not None:
            writer.close()
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # registries older than UTF-8 (.ru, .jp) answer in a legacy charset


class WhoisClient:
    """Registration data over port 43, paced per server like RDAP (``[rdap] whois_max_per_minute``).

    ``gate`` (crawler.rdap.Gate) is held around each query, keyed "host:port": nothing by default (one
    process: its budget paces each server); in cluster mode a lock and a pace shared by every worker, which
    may refuse with ServerPaused (→ ``rate_limited``, not asked)."""

    def __init__(self, servers: Mapping[str, str], *, timeout: float, max_per_minute: float, max_wait: float,
                 allow_private: bool = False) -> None:
        self.servers = {k.lower().strip("."): parse_whois_server(v) for k, v in servers.items()}
        self.timeout = timeout
        self.allow_private = allow_private
        self.budget = HostBudget(max_per_minute, max_wait)
        self.gate: Gate = no_gate

    @classmethod
    def from_settings(cls, rdap: RdapSettings, *, allow_private: bool = False) -> WhoisClient | None:
        """None when ``[rdap] whois`` is off. ``allow_private``: ``[crawler] allow_private_addresses``."""
        if not rdap.whois:
            return None
        return cls(rdap.whois_servers, timeout=rdap.timeout, max_per_minute=rdap.whois_max_per_minute,
                   max_wait=rdap.max_wait, allow_private=allow_private)

    def server_for(self, domain: str, *, bundled: bool = True) -> tuple[str, int, bool] | None:
        """(host, port, trusted) for ``domain``: a configured server (longest suffix; trusted) or
        (``bundled``) the registry's from the bundled table (guarded), else None."""
        labels = domain.lower().rstrip(".").split(".")
        for i in range(1, len(labels)):
            if ".".join(labels[i:]) in self.servers:
                return (*self.servers[".".join(labels[i:])], True)
        registry = bundled_server(labels[-1]) if bundled else None
        return (registry, WHOIS_PORT, False) if registry else None

    async def lookup(self, domain: str, *, now: datetime) -> RdapRecord:
        domain = domain.lower().rstrip(".")
        server = self.server_for(domain)
        if server is None:
            return RdapRecord(domain=domain, source="whois", error_kind=ErrorKind.OTHER, observed_at=now,
                              error=f"no RDAP or WHOIS server known for .{domain.rsplit('.', 1)[-1]}")
        host, port, trusted = server
        if await self.budget.acquire(host) is None:
            return RdapRecord(domain=domain, source="whois", error_kind=ErrorKind.RATE_LIMITED, observed_at=now,
                              error=f"WHOIS server {host} not asked: its request budget is spent "
                                    "(over rdap.max_wait)")
        try:
            async with self.gate(f"{host}:{port}") as turn:
                text = await query(host, port, domain, timeout=self.timeout,
                                   allow_private=trusted or self.allow_private)
                record = parse_whois(domain, text, now)
                # only an answer without data: a registry's terms of use may speak of query rates too
                limited = record.error_kind is ErrorKind.MALFORMED and _looks_rate_limited(text)
                if limited:
                    turn.pause(LIMIT_PAUSE)  # cluster mode: every worker leaves it alone (before the gate opens)
        except SourceError as exc:
            return RdapRecord(domain=domain, source="whois", error_kind=exc.kind, error=str(exc), observed_at=now)
        except ServerPaused as paused:
            return RdapRecord(domain=domain, source="whois", error_kind=ErrorKind.RATE_LIMITED, observed_at=now,
                              error=f"WHOIS server {host} not asked: the cluster's pace for it (budget or a query "
                                    f"limit it reported) closes it for {paused.seconds:.0f}s (over rdap.max_wait)")
        if limited:
            self.budget.back_off(host, LIMIT_PAUSE)
            return RdapRecord(domain=domain, source="whois", raw=text, error_kind=ErrorKind.RATE_LIMITED,
                              error=f"WHOIS server {host} says the query limit is exceeded", observed_at=now)
        return record


def _looks_rate_limited(text: str) -> bool:
    low = text.lower()
    return any(p in low for p in ("limit exceeded", "query rate", "too many queries", "quota exceeded",
                                  "try again later"))
