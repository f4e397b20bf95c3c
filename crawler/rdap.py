"""RDAP lookups (RFC 9083) with the bundled IANA bootstrap and ``[rdap] servers`` overrides.

Server choice: an explicit ``[rdap] servers`` entry for the TLD (longest matching suffix), else the
bundled bootstrap (config/rdap/dns.json), else the ``"*"`` override, else error_kind ``other``.
Every failure is an RdapRecord with ``error_kind``; nothing raises.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crawler.settings import RdapSettings
from crawler.sources import SourceError, get
from detect.model import ErrorKind, RdapRecord

logger = logging.getLogger(__name__)

MAX_RDAP_BYTES = 1_000_000


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
                      statuses=statuses, nameservers=nameservers, raw=raw, observed_at=now)


class RdapClient:
    """Looks domains up over RDAP; build with from_settings, call ``lookup`` on the shared loop."""

    def __init__(self, servers: Mapping[str, str], bootstrap: Mapping[str, str], timeout: float,
                 max_retry_after: float = 10.0) -> None:
        self.servers = {k.lower().strip("."): v for k, v in servers.items()}
        self.bootstrap = dict(bootstrap)
        self.timeout = timeout
        self.max_retry_after = max_retry_after

    @classmethod
    def from_settings(cls, rdap: RdapSettings) -> RdapClient:
        return cls(rdap.servers, load_bootstrap(), rdap.timeout)

    def server_for(self, domain: str) -> str | None:
        labels = domain.lower().rstrip(".").split(".")
        for i in range(1, len(labels)):
            if ".".join(labels[i:]) in self.servers:
                return self.servers[".".join(labels[i:])]
        if labels[-1] in self.bootstrap:
            return self.bootstrap[labels[-1]]
        return self.servers.get("*")

    async def lookup(self, domain: str, *, now: datetime) -> RdapRecord:
        domain = domain.lower().rstrip(".")
        base = self.server_for(domain)
        if not base:
            return RdapRecord(domain=domain, error_kind=ErrorKind.OTHER,
                              error=f"no RDAP server known for .{domain.rsplit('.', 1)[-1]}", observed_at=now)
        url = base.rstrip("/") + "/domain/" + domain
        try:
            resp = await get(url, timeout=self.timeout, max_bytes=MAX_RDAP_BYTES,
                             max_retry_after=self.max_retry_after)
        except SourceError as exc:
            return RdapRecord(domain=domain, http_status=exc.status, error_kind=exc.kind, error=str(exc),
                              observed_at=now)
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
