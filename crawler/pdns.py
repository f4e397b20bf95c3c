"""A passive-DNS client for the CIRCL-style REST/JSON format (the Passive DNS Common Output Format,
draft-dulaunoy-dnsop-passive-dns-cof): ``GET <pdns_url>/<value>`` with HTTP basic auth answers one JSON
object a line, ``{"rrname", "rrtype", "rdata", "time_first", "time_last", "count"}``.

Asked with an address it gives the names seen on that address; with a name server's name, the domains
delegated to it: the hunt's reverse-IP route (scheduler/hunt_pdns.py). Lines that are not such objects
are counted and skipped; an answer over ``max_bytes`` is TOO_LARGE (a value shared by that many names
says nothing about one operator). Every failure is typed; nothing raises from :meth:`PdnsClient.query`.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from crawler.sources import Retry, SourceError, get
from detect.model import ErrorKind

logger = logging.getLogger(__name__)

MAX_PDNS_BYTES = 20_000_000


@dataclass(frozen=True)
class PdnsRecord:
    rrname: str                   # lower case, no trailing dot
    rrtype: str                   # upper case: "A", "AAAA", "NS" …
    rdata: tuple[str, ...]        # one value or several (COF allows an array); names lower case, no dot
    time_first: datetime | None = None
    time_last: datetime | None = None
    count: int | None = None


@dataclass(frozen=True)
class PdnsAnswer:
    value: str
    records: tuple[PdnsRecord, ...] = ()
    malformed: int = 0            # lines that were not COF objects
    error_kind: ErrorKind | None = None
    error: str = ""


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))  # noqa: FURB162
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _name(value: str) -> str:
    return value.strip().lower().rstrip(".")


def parse_line(line: str) -> PdnsRecord | None:
    """One COF line as a record (pure); None when it is not a JSON object with rrname, rrtype and rdata."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    rrname, rrtype, rdata = obj.get("rrname"), obj.get("rrtype"), obj.get("rdata")
    if not (isinstance(rrname, str) and rrname.strip() and isinstance(rrtype, str) and rrtype.strip()):
        return None
    values = rdata if isinstance(rdata, list) else [rdata]
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        return None
    kind = rrtype.strip().upper()
    cleaned = tuple(_name(v) if kind in ("NS", "CNAME", "MX", "PTR") else v.strip().lower() for v in values)
    count = obj.get("count")
    return PdnsRecord(rrname=_name(rrname), rrtype=kind, rdata=cleaned, time_first=_time(obj.get("time_first")),
                      time_last=_time(obj.get("time_last")),
                      count=count if isinstance(count, int) and not isinstance(count, bool) else None)


def parse_answer(value: str, text: str) -> PdnsAnswer:
    """A whole answer: one record a line, blank lines ignored, the rest counted as malformed (pure)."""
    records: list[PdnsRecord] = []
    malformed = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        record = parse_line(line)
        if record is None:
            malformed += 1
        else:
            records.append(record)
    return PdnsAnswer(value=value, records=tuple(records), malformed=malformed)


def names_on(answer: PdnsAnswer, value: str) -> set[str]:
    """The owner names ``answer`` shows on ``value``: A/AAAA records pointing at an address, NS records
    naming a name server (pure)."""
    value = _name(value)
    return {r.rrname for r in answer.records
            if r.rrtype in ("A", "AAAA", "NS") and value in r.rdata and r.rrname != value}


class PdnsClient:
    """Asks one CIRCL-style passive-DNS server; build with the [discovery] pdns_* settings' values."""

    def __init__(self, url: str, *, user: str = "", password: str = "", timeout: float = 30.0,
                 max_bytes: int = MAX_PDNS_BYTES, retry: Retry | None = None) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.headers = {"Accept": "application/json"}
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retry = retry or Retry(attempts=3, backoff=2.0, max_wait=60.0)

    async def query(self, value: str) -> PdnsAnswer:
        url = self.url + quote(value.strip().lower(), safe="")
        try:
            resp = await get(url, timeout=self.timeout, max_bytes=self.max_bytes, retry=self.retry,
                             headers=self.headers)
        except SourceError as exc:
            return PdnsAnswer(value=value, error_kind=exc.kind, error=str(exc).replace(self.url, "<pdns_url>/"))
        if resp.status == 404:  # CIRCL: nothing seen
            return PdnsAnswer(value=value)
        if resp.status == 429:
            return PdnsAnswer(value=value, error_kind=ErrorKind.RATE_LIMITED, error=f"pDNS {value}: HTTP 429")
        if resp.status != 200:
            return PdnsAnswer(value=value, error_kind=ErrorKind.HTTP, error=f"pDNS {value}: HTTP {resp.status}")
        answer = parse_answer(value, resp.body.decode("utf-8", "replace"))
        if answer.malformed and not answer.records:
            return PdnsAnswer(value=value, malformed=answer.malformed, error_kind=ErrorKind.MALFORMED,
                              error=f"pDNS {value}: {answer.malformed} line(s), none a COF record")
        return answer
