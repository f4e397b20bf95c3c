"""Certificate-transparency search as a polite client of crt.sh (or a compatible server).

crt.sh is a free public service run on donated hardware: every query is a database search, heavy ones
time out (502/503) and a client that hammers it is rate-limited (429). So, per sweep:

- a query is one crt.sh can answer: ``%keyword%`` for a keyword of ``min_keyword`` characters or more;
  a shorter keyword (``bild``) matches far too many certificates, so it is asked as the label itself on
  any suffix (``bild.%``);
- consecutive queries are at least ``min_interval`` seconds apart;
- 429/502/503/504 and timeouts are retried ``attempts`` times with exponential back-off, honouring
  ``Retry-After``;
- an answer is kept per query (crawler/sourcestate.py) for ``cache_hours``: the next sweep within that
  time reads it from memory instead of asking again;
- a query that still fails is reported (:class:`CtSweep` ``failures``) and the others go on;
- a *generic* keyword (a news word such as ``sentinel``, which over all time matches millions of names)
  keeps only the names of certificates logged in the last ``recent_days``, at most ``recent_max`` of
  them, the newest first (:func:`crawler.ct.recent_names_from`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from urllib.parse import quote

from crawler.ct import CtResult, names_from, recent_names_from
from crawler.sources import Retry, SourceError, get
from crawler.sourcestate import SourceMemo, SourceMemory
from detect.model import ErrorKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CtPolicy:
    url_template: str                 # with {query}: "https://crt.sh/?q={query}&output=json"
    min_keyword: int = 6
    attempts: int = 3
    backoff: float = 5.0
    min_interval: float = 2.0
    cache_hours: float = 12.0
    timeout: float = 60.0
    max_bytes: int = 50_000_000
    recent_days: float = 0.0          # generic keywords: only certificates logged this many days back; 0 = off
    recent_max: int = 100             # … and at most this many names per generic keyword, the newest first


def like_pattern(keyword: str, min_keyword: int) -> str:
    """The LIKE pattern asked for ``keyword`` (pure): ``%kw%`` if long enough, else ``kw.%``."""
    word = keyword.strip().lower()
    return f"%{word}%" if len(word) >= min_keyword else f"{word}.%"


def query_url(url_template: str, pattern: str) -> str:
    """``url_template`` with ``{query}`` replaced by the URL-encoded pattern (``%`` → ``%25``)."""
    return url_template.replace("{query}", quote(pattern, safe=""))


@dataclass(frozen=True)
class CtSweep:
    results: tuple[CtResult, ...]     # one per keyword that was answered (fresh or from memory)
    failures: tuple[CtResult, ...]    # one per keyword whose query failed after its retries
    queried: int = 0                  # queries sent this sweep
    cached: int = 0                   # keywords answered from memory

    def notes(self) -> list[str]:
        """One line for the hunt's report: what was asked, read from memory, failed."""
        total = len(self.results) + len(self.failures)
        line = f"ct: {total} keywords, {self.queried} queried, {self.cached} from cache"
        return [line + (f", {len(self.failures)} failed" if self.failures else "")]


def cache_key(url_template: str, pattern: str) -> str:
    return f"ct {url_template} {pattern}"


def _fresh(memo: SourceMemo | None, now: datetime, hours: float) -> tuple[str, ...] | None:
    if memo is None or memo.updated_at is None or hours <= 0:
        return None
    if not timedelta(0) <= now - memo.updated_at < timedelta(hours=hours):
        return None
    names = memo.cache.get("names")
    if not isinstance(names, list):
        return None
    return tuple(n for n in names if isinstance(n, str))


async def fetch(policy: CtPolicy, keyword: str, pattern: str, since: datetime | None = None) -> CtResult:
    """One query with back-off; a failure is a typed CtResult, never an exception. ``since``: keep only
    certificates logged then or later (at most ``policy.recent_max`` names)."""
    url = query_url(policy.url_template, pattern)
    retry = Retry(attempts=policy.attempts, backoff=policy.backoff, max_wait=max(60.0, policy.backoff * 8))
    try:
        resp = await get(url, timeout=policy.timeout, max_bytes=policy.max_bytes, retry=retry)
    except SourceError as exc:
        return CtResult(keyword, error_kind=exc.kind, error=str(exc))
    if resp.status != 200:
        kind = ErrorKind.RATE_LIMITED if resp.status == 429 else ErrorKind.HTTP
        return CtResult(keyword, error_kind=kind, error=f"HTTP {resp.status} from {url}")
    try:
        rows = json.loads(resp.body.decode("utf-8", "replace") or "[]")
        names = names_from(rows) if since is None else recent_names_from(rows, since, policy.recent_max)
        return CtResult(keyword, names=names, recent=since is not None)
    except ValueError as exc:
        return CtResult(keyword, error_kind=ErrorKind.MALFORMED, error=f"{url}: {exc}"[:300])


async def search(policy: CtPolicy, keywords: Sequence[str], memory: SourceMemory, *, now: datetime,
                 generic: Sequence[str] = (),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> CtSweep:
    """Every keyword, from memory when fresh, else asked at the polite rate; answers are remembered.
    ``generic``: keywords asked for recent certificates only (``policy.recent_days``; none when 0)."""
    results: list[CtResult] = []
    failures: list[CtResult] = []
    queried = cached = 0
    last_query: float | None = None
    asks: list[tuple[str, datetime | None]] = [(k, None) for k in keywords]
    if policy.recent_days > 0:
        since = now - timedelta(days=policy.recent_days)
        asks += [(k, since) for k in generic if k not in keywords]
    for keyword, recent_since in asks:
        pattern = like_pattern(keyword, policy.min_keyword)
        key = cache_key(policy.url_template, pattern)
        if recent_since is not None:
            key += f" recent {policy.recent_days:g}d max {policy.recent_max}"
        names = _fresh(memory.recall(key), now, policy.cache_hours)
        if names is not None:
            results.append(CtResult(keyword, names=names, recent=recent_since is not None))
            cached += 1
            continue
        if last_query is not None:
            gap = policy.min_interval - (time.monotonic() - last_query)
            if gap > 0:
                await sleep(gap)
        last_query = time.monotonic()
        result = await fetch(policy, keyword, pattern, recent_since)
        queried += 1
        if result.error_kind is not None:
            failures.append(result)
            log.warning("CT search for %r failed: %s", keyword, result.error)
            continue
        results.append(result)
        if policy.cache_hours > 0:
            memory.remember(key, SourceMemo(cache=MappingProxyType({"names": list(result.names)}), updated_at=now))
    return CtSweep(tuple(results), tuple(failures), queried=queried, cached=cached)
