"""The site spider: per domain, the home page over HTTPS and HTTP, extra paths, the favicon, and on
an image-only home page (a wordless banner) its pictures, to fingerprint the largest.

Each page is one coroutine (``fetch_page``) that follows redirects itself — Scrapy's
RedirectMiddleware is off — so the whole chain is recorded as Hops and every hop goes through
the downloader middlewares again (GuardMiddleware resolves and guards each new target).
Downloads use ``engine.download_async``: downloader middlewares, slots, retries and timeouts
apply; spider middlewares and the scheduler do not (we want every answer, whatever its status).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.http.request import NO_CALLBACK

from crawler.middleware import host_slot
from crawler.outcome import classify, headers_too_large, tls_cert
from crawler.pagework import PageWork, SitePrints
from detect.model import ErrorKind, Hop, HttpFetch

logger = logging.getLogger(__name__)

SITES_PER_HOST = 2
"""Sites of one address crawled at once with a host_delay and no host_concurrency: a site's fetches go one
after another, so two keep the address's queue busy unless its answers take longer than twice host_delay."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RATE_LIMIT_BACKOFF = 5.0
"""Seconds before asking a host again after a 429 without Retry-After, doubled each time (at most
[crawler] retry_after_max)."""
MIN_BANNER_BYTES = 2048  # smaller ones are pixels, spacers and icons, not a banner


@dataclasses.dataclass(frozen=True)
class CrawlPlan:
    """What to fetch per domain and the limits (from [crawler])."""

    extra_paths: tuple[str, ...] = ()
    max_redirects: int = 10
    max_page_bytes: int = 5_000_000
    proxy: str = ""
    concurrency: int = 16
    host_delay: float = 0.0
    host_concurrency: int = 0  # 0: no cap per address
    retry_after_max: float = 60.0
    rate_limit_retries: int = 2


def _host(domain: str) -> str:
    """The host name of a crawl's domain (which may carry a port: "site.test:8080")."""
    return urlsplit(f"//{domain}").hostname or domain


class SiteSpider(scrapy.Spider):
    name = "hydrawatch-site"

    def __init__(self, domains: Sequence[str] | AsyncIterable[str], plan: CrawlPlan, resolver: Any, now: datetime,
                 on_site: Callable[[], None] | None = None,
                 on_result: Callable[[int, tuple[HttpFetch, ...], SitePrints | None], None] | None = None,
                 pages: PageWork | None = None, pins: Mapping[str, Sequence[str]] | None = None,
                 started: list[str] | None = None, recent: dict[str, float] | None = None,
                 paused: dict[str, float] | None = None, **kwargs: Any) -> None:
        """``domains``: a list, or an async iterable whose sites start as they arrive; ``started`` (filled
        here, for an iterable) is then the sites in the order they started, which indexes ``results``.
        ``pins``: addresses already looked up per domain, handed to the resolver when its site starts.
        ``recent``: address → time.monotonic() of the last request an earlier crawl sent to it (read by
        GuardMiddleware, brought up to date as this crawl ends from :attr:`asked`). ``paused``: address → time.monotonic() before
        which no request goes to it (a 429's Retry-After: :meth:`rate_limited`), kept across crawls too."""
        super().__init__(**kwargs)
        self.recent: dict[str, float] = recent if recent is not None else {}
        self.paused: dict[str, float] = paused if paused is not None else {}
        # address → time.monotonic() when this crawl's latest request to it left the downloader (answered or
        # failed): noted by GuardMiddleware on Scrapy's request_left_downloader signal
        self.asked: dict[str, float] = {}
        self._turns: dict[str, asyncio.Semaphore] = {}  # address → its host_concurrency places (requests)
        self._sites: dict[str, asyncio.Semaphore] = {}  # address → its places for sites crawled at once
        self.pages = pages or PageWork()
        self.source: AsyncIterable[str] | None = domains if isinstance(domains, AsyncIterable) else None
        self.domains: list[str] = (started if started is not None else []) if self.source is not None else list(domains)
        self.pins = pins or {}
        self.on_site = on_site
        self.on_result = on_result
        self.plan = plan
        self.resolver = resolver
        self.now = now
        self.results: dict[int, tuple[HttpFetch, ...]] = {}
        self.prints: dict[int, SitePrints] = {}  # by page workers (a big crawl)

    async def start(self) -> AsyncIterator[Any]:
        limit = asyncio.Semaphore(self.plan.concurrency)
        # sites crawled and waiting for the page workers: bounds the bodies queued for them
        queued = asyncio.Semaphore(4 * self.plan.concurrency)

        async def one(index: int, domain: str) -> None:
            pinned = self.pins.get(domain)
            if pinned:
                self.resolver.pin(_host(domain), pinned)
            async with self.site_turn(host_slot(pinned) if pinned else domain), queued:
                async with limit:
                    try:
                        self.results[index] = await self.crawl_site(domain)
                    except Exception as exc:  # a failing site never breaks the batch
                        logger.exception("crawl of %s failed unexpectedly", domain)
                        kind, msg = classify(exc)
                        self.results[index] = (HttpFetch(domain=domain, url=f"https://{domain}/", error_kind=kind,
                                                         error=msg, observed_at=self.now),)
                found = await self.fingerprint(domain, self.results[index])
                if found is not None:
                    self.prints[index] = found
                if self.on_result is not None:
                    self.on_result(index, self.results[index], found)
                if self.on_site is not None:
                    self.on_site()

        if self.source is None:
            try:
                await asyncio.gather(*(one(i, d) for i, d in enumerate(self.domains)))
            finally:
                self._remember_slots()
            return
        sites: list[asyncio.Future[None]] = []
        try:
            async for domain in self.source:
                self.domains.append(domain)
                sites.append(asyncio.ensure_future(one(len(self.domains) - 1, domain)))
        except BaseException:
            for site in sites:
                site.cancel()
            await asyncio.gather(*sites, return_exceptions=True)
            raise
        try:
            await asyncio.gather(*sites)
        finally:
            self._remember_slots()
        return
        yield  # an async generator that yields no requests: all work happens above

    def _remember_slots(self) -> None:
        """Keep when this crawl last asked each address (its download slots: one per address), for the next
        crawl of this process; addresses last asked more than host_delay ago are dropped. The time a request
        left the downloader, answered or failed, is no earlier than when it was sent: the next crawl's first
        request to the address waits at least host_delay after this crawl's last one was sent."""
        delay = self.plan.host_delay
        if delay <= 0:
            return
        now = time.monotonic()
        for key, seen in self.asked.items():
            self.recent[key] = max(self.recent.get(key, 0.0), seen)
        for key in [k for k, seen in self.recent.items() if seen + delay < now]:
            del self.recent[key]

    def site_turn(self, host: str) -> contextlib.AbstractAsyncContextManager[Any]:
        """With a host delay or a host concurrency, one of the places for sites of ``host`` (its pinned
        address) crawled at once: host_concurrency, or SITES_PER_HOST. A batch's sites come grouped by host;
        without this one host's sites would take every place in flight, each waiting for its address's
        turn, while the sites of other addresses waited for a place."""
        places = self.plan.host_concurrency or (SITES_PER_HOST if self.plan.host_delay > 0 else 0)
        if places <= 0:
            return contextlib.nullcontext()
        turn = self._sites.get(host)
        if turn is None:
            turn = self._sites[host] = asyncio.Semaphore(places)
        return turn

    @contextlib.asynccontextmanager
    async def host_turn(self, url: str) -> AsyncIterator[None]:
        """One of [crawler] host_concurrency places of the address ``url``'s host connects to (the guarded,
        pinned answer GuardMiddleware reads next; a blocked or unresolvable host raises here as it would
        there). Enforced here, not by Scrapy's slot concurrency: on the asyncio reactor Scrapy 2.19 starts
        the downloads of a slot's queued requests as tasks and counts them as transferring only once they
        run, so requests queued together all go at once (seen: 3 in flight to a slot of concurrency 1)."""
        if self.plan.host_concurrency <= 0:
            yield
            return
        addresses = await self.resolver.resolve(urlsplit(url).hostname or "", target=True)
        key = host_slot(addresses)
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = asyncio.Semaphore(self.plan.host_concurrency)
        async with turn:
            yield

    async def fingerprint(self, domain: str, fetches: tuple[HttpFetch, ...]) -> SitePrints | None:
        """The fetches' fingerprints and packed bodies from the page workers, or None (the recorder makes
        them)."""
        try:
            return await self.pages.prints(fetches)
        except Exception:
            logger.exception("page worker failed on %s; fingerprinted in process", domain)
            return None

    async def crawl_site(self, domain: str) -> tuple[HttpFetch, ...]:
        https = await self.fetch_page(domain, f"https://{domain}/")
        http = await self.fetch_page(domain, f"http://{domain}/")
        home = https if https.ok else http if http.ok else None
        fetches = [https, http]
        if home is not None:
            icon_href, pictures = await self.pages.home(home)
            icon = await self.fetch_favicon(domain, home, icon_href)
            banner = await self.fetch_banner(domain, home, pictures)
            fetches[fetches.index(home)] = dataclasses.replace(home, favicon=icon, banner_sha256=banner)
            scheme = "https" if home is https else "http"
            for path in self.plan.extra_paths:
                fetches.append(await self.fetch_page(domain, f"{scheme}://{domain}/{path.lstrip('/')}"))
        return tuple(fetches)

    async def fetch_favicon(self, domain: str, home: HttpFetch, href: str) -> bytes | None:
        """The favicon ``href`` (the page's icon link, else /favicon.ico) points at, if it is one."""
        url = urljoin(home.final_url or home.url, href)
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        icon = await self.fetch_page(domain, url)
        return icon.body if icon.ok and icon.status == 200 and icon.body and not icon.truncated else None

    async def fetch_banner(self, domain: str, home: HttpFetch, pictures: Sequence[str]) -> str:
        """sha256 of the largest of ``pictures`` (those of an image-only home page), else ""."""
        best = b""
        for src in pictures:
            try:
                url = urljoin(home.final_url or home.url, src)
                if urlsplit(url).scheme not in ("http", "https"):
                    continue
            except ValueError:  # a hostile src ("http://[::1") is no picture
                continue
            picture = await self.fetch_page(domain, url)
            whole = picture.ok and picture.status == 200 and not picture.truncated
            if whole and len(picture.body) > len(best):
                best = picture.body
        return hashlib.sha256(best).hexdigest() if len(best) >= MIN_BANNER_BYTES else ""

    async def fetch_page(self, domain: str, url: str) -> HttpFetch:
        """One page with its whole redirect chain; failures end as an HttpFetch with error_kind."""
        hops: list[Hop] = []
        seen = {url}
        current = url
        asked = 0  # rate-limited answers (429, 503 with Retry-After) so far
        base = HttpFetch(domain=domain, url=url, observed_at=self.now)
        while True:
            meta: dict[str, Any] = {"dont_redirect": True}
            if self.plan.proxy:
                meta["proxy"] = self.plan.proxy
            try:
                request = scrapy.Request(current, meta=meta, dont_filter=True, callback=NO_CALLBACK)
                async with self.host_turn(current):
                    response = await self.crawler.engine.download_async(request)
            except Exception as exc:  # noqa: BLE001 - every download failure is classified as evidence
                kind, msg = classify(exc)
                head = headers_too_large(exc)  # keep the bounded part of an oversized head as evidence
                return dataclasses.replace(base, final_url=current, redirects=tuple(hops),
                                           status=head.status if head else None,
                                           headers=head.headers if head else (), error_kind=kind, error=msg)
            location = response.headers.get(b"Location")
            if response.status in REDIRECT_STATUSES and location:
                loc = location.decode("latin-1").strip()
                hops.append(Hop(url=current, status=response.status, location=loc))
                try:
                    nxt = urljoin(current, loc)
                    scheme = urlsplit(nxt).scheme
                except ValueError as exc:
                    return dataclasses.replace(base, final_url=current, redirects=tuple(hops),
                                               error_kind=ErrorKind.OTHER, error=f"bad Location {loc!r}: {exc}")
                if scheme not in ("http", "https"):
                    return dataclasses.replace(base, final_url=current, redirects=tuple(hops),
                                               error_kind=ErrorKind.OTHER,
                                               error=f"redirect to unsupported scheme: {nxt[:200]}")
                if nxt in seen:
                    return dataclasses.replace(base, final_url=nxt, redirects=tuple(hops),
                                               error_kind=ErrorKind.REDIRECT_LOOP,
                                               error=f"redirect loop back to {nxt[:200]}")
                if len(hops) > self.plan.max_redirects:
                    return dataclasses.replace(base, final_url=nxt, redirects=tuple(hops),
                                               error_kind=ErrorKind.TOO_MANY_REDIRECTS,
                                               error=f"more than {self.plan.max_redirects} redirects")
                seen.add(nxt)
                current = nxt
                continue
            retry = self.rate_limited(response, asked)
            if retry is not None:
                asked += 1
                if not retry:  # asked often enough, or told to wait longer than retry_after_max
                    return dataclasses.replace(self._fetch_from(base, response, hops),
                                               error_kind=ErrorKind.RATE_LIMITED,
                                               error=self._rate_limit_reason(response, asked))
                continue  # the same URL again, once the host's pause is over (GuardMiddleware waits)
            return self._fetch_from(base, response, hops)

    def _retry_after(self, response: Any) -> tuple[str, float | None]:
        """The Retry-After header as sent (at most 40 characters) and in seconds (None: absent or unreadable)."""
        from crawler.sources import retry_after_seconds

        header = response.headers.get(b"Retry-After")
        text = header.decode("latin-1")[:40] if header else ""
        return text, retry_after_seconds(header.decode("latin-1")) if header else None

    def rate_limited(self, response: Any, asked: int) -> bool | None:
        """None: ``response`` is no rate limit. Else pause its host (every request to the address waits, in
        GuardMiddleware) for its Retry-After — seconds or an HTTP date; a 429 without one: RATE_LIMIT_BACKOFF
        doubled per earlier ask, at most retry_after_max — and say whether to ask again: not after
        rate_limit_retries retries, nor when the server asks for more than retry_after_max (the fetch is then
        recorded as rate_limited; the next round asks again). A 503 counts only with a Retry-After."""
        _, told = self._retry_after(response)
        if response.status != 429 and not (response.status == 503 and told is not None):
            return None
        cap = self.plan.retry_after_max
        if told is not None and told > cap:
            return False
        wait = told if told is not None else min(cap, RATE_LIMIT_BACKOFF * 2 ** asked)
        slot = response.request.meta.get("download_slot") or urlsplit(response.url).hostname or ""
        self.paused[slot] = max(self.paused.get(slot, 0.0), time.monotonic() + wait)
        return asked < self.plan.rate_limit_retries

    def _rate_limit_reason(self, response: Any, asked: int) -> str:
        """One line: the status, how often it was asked, the last wait asked for."""
        text, told = self._retry_after(response)
        said = f"Retry-After {text!r}" if text else "no Retry-After"
        cap = self.plan.retry_after_max
        if told is not None and told > cap:
            return (f"HTTP {response.status} rate limited ({said}: over retry_after_max {cap:g} s, not asked "
                    "again); asked again next round")
        return f"HTTP {response.status} rate limited on all {asked} tries ({said}); asked again next round"

    def _fetch_from(self, base: HttpFetch, response: Any, hops: list[Hop]) -> HttpFetch:
        cap = self.plan.max_page_bytes
        body: bytes = response.body
        truncated = bool(response.request.meta.get("hw_truncated")) or len(body) > cap
        headers = tuple((k.decode("latin-1"), v.decode("latin-1"))
                        for k, values in response.headers.items() for v in values)
        fetch = dataclasses.replace(
            base, final_url=response.url, status=response.status, redirects=tuple(hops),
            headers=headers, body=body[:cap], truncated=truncated,
            # through the proxy, the checked address the fetch was tunnelled to, not the proxy's
            ip=response.request.meta.get("hw_tunnel") or (str(response.ip_address) if response.ip_address else ""),
            cert=tls_cert(response.certificate) if response.url.startswith("https:") else None)
        if truncated:
            fetch = dataclasses.replace(fetch, error_kind=ErrorKind.TOO_LARGE,
                                        error=f"body over max_page_bytes ({cap} B); first {cap} B kept")
        return fetch
