"""Crawl sites with Scrapy on the shared reactor loop: the public API the cycle calls.

    crawler = SiteCrawler.from_settings(settings.crawler, settings.dns)
    crawls = await crawler.crawl(["example.org"], now=now)   # inside crawler.run.run(...)

One Scrapy crawl per call (AsyncCrawlerRunner on the already-running AsyncioSelectorReactor), so
the daemon crawls again and again in one process. See docs/crawler.md for what is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crawler.pagework import SitePrints, page_work, roomy_gc_threshold
from crawler.run import ensure_reactor
from crawler.settings import CrawlerSettings, DnsSettings
from detect.bodies import PackedBody
from detect.fingerprints import FetchPrint
from detect.model import ErrorKind, HttpFetch

if TYPE_CHECKING:
    from crawler.resolver import GuardedResolver

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def roomy_gc() -> Iterator[None]:
    """The cyclic collector's young-generation threshold raised to CRAWL_GC_THRESHOLD (never lowered)
    inside (see crawler.pagework), restored after."""
    old = gc.get_threshold()
    roomy_gc_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*old)


@dataclass(frozen=True)
class SiteCrawl:
    """Everything fetched for one domain, in order: https home, http home, extra paths."""

    domain: str
    fetches: tuple[HttpFetch, ...]
    # each fetch's fingerprint, when page workers made them (a big crawl); None: the recorder makes them
    prints: tuple[FetchPrint, ...] | None = None
    # each fetch's body packed as the store keeps it (detect.bodies), by the same page workers; None: the
    # store packs them
    packed: tuple[PackedBody | None, ...] | None = None

    @property
    def home(self) -> HttpFetch | None:
        """The home fetch that worked (HTTPS preferred), or None."""
        return next((f for f in self.fetches[:2] if f.ok), None)


def scrapy_settings(c: CrawlerSettings, dns: DnsSettings) -> dict[str, Any]:
    """The Scrapy settings of a site crawl, all derived from [crawler] and [dns]."""
    return {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TWISTED_DNS_RESOLVER": "crawler.resolver.GuardedResolver",  # for CrawlerProcess users
        "HYDRAWATCH_NAMESERVERS": list(dns.nameservers),
        "HYDRAWATCH_DNS_TIMEOUT": dns.timeout,
        "HYDRAWATCH_ALLOW_PRIVATE": c.allow_private_addresses,
        "HYDRAWATCH_PROXY": c.proxy,
        "HYDRAWATCH_MAX_PAGE_BYTES": c.max_page_bytes,
        "HYDRAWATCH_MAX_HEADERS": c.max_headers,
        "HYDRAWATCH_MAX_HEADER_BYTES": c.max_header_bytes,
        "USER_AGENT": c.user_agent,
        "ROBOTSTXT_OBEY": False,  # research crawler: we must see what the site serves (docs/crawler.md)
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "STATS_DUMP": False,
        "LOGSTATS_INTERVAL": 0,
        "LOG_ENABLED": False,
        "MEMUSAGE_ENABLED": False,
        "REDIRECT_ENABLED": False,  # we follow redirects ourselves (spiders/site.py)
        "METAREFRESH_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
        "HTTPPROXY_ENABLED": False,  # the proxy comes from [crawler] proxy only, never from env
        "DOWNLOAD_TIMEOUT": c.timeout,
        "DNS_TIMEOUT": dns.timeout,
        "RETRY_ENABLED": c.retries > 0,
        "RETRY_TIMES": c.retries,
        "RETRY_HTTP_CODES": [],  # retries are for connection failures only
        "CONCURRENT_REQUESTS": c.concurrency,
        # Politeness per host = per IP address: GuardMiddleware puts every request in the download slot of
        # the address it will connect to (crawler.middleware.host_slot), so Scrapy's per-slot concurrency
        # and delay apply per address, not per name (hundreds of names share one shared-hosting address).
        # Not CONCURRENT_REQUESTS_PER_IP: Scrapy keys that by its own DNS cache, which our resolver does not
        # fill, so it would fall back to the name.
        # (host_concurrency is also held by the spider itself: crawler.spiders.site.SiteSpider.host_turn)
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.host_concurrency or c.concurrency,
        "DOWNLOAD_DELAY": c.host_delay,
        # Scrapy's default jitter (±50 %, what RANDOMIZE_DOWNLOAD_DELAY used to switch on) would make half
        # the gaps shorter than host_delay: the delay is a floor here, never randomised.
        "DOWNLOAD_DELAY_JITTER": 0.0,
        # The handler runs uncapped so an oversized body keeps its first max_page_bytes
        # (GuardMiddleware stops it there); CappedCompressionMiddleware caps decompression.
        "DOWNLOAD_MAXSIZE": 0,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": True,
        "COMPRESSION_ENABLED": True,
        # http/https through the handler with capped response heads (crawler/headcap.py); every other
        # scheme Scrapy knows (file, data, ftp, s3) is switched off, so no redirect or link can read
        # a local file or reach a bucket (the spider also refuses them before any request).
        "DOWNLOAD_HANDLERS": {
            "http": "crawler.headcap.CappedHTTP11DownloadHandler",
            "https": "crawler.headcap.CappedHTTP11DownloadHandler",
            "file": None, "data": None, "ftp": None, "s3": None,
        },
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middleware.GuardMiddleware": 50,
            "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
            "crawler.middleware.CappedCompressionMiddleware": 590,
            # Not needed by the site crawl (every request is dont_filter and no spider has
            # allowed_domains or HTTP credentials); a crawl runs leaner without them.
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
        },
        # Nobody reads Scrapy's stats: DownloaderStats re-serialises every request and response (body
        # included) to count bytes, and every stats call is a no-op with the dummy collector.
        "DOWNLOADER_STATS": False,
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "EXTENSIONS": {name: None for name in (
            "scrapy.extensions.logstats.LogStats", "scrapy.extensions.corestats.CoreStats",
            "scrapy.extensions.telnet.TelnetConsole", "scrapy.extensions.logcount.LogCount",
            "scrapy.extensions.memusage.MemoryUsage", "scrapy.extensions.memdebug.MemoryDebugger",
            "scrapy.extensions.closespider.CloseSpider", "scrapy.extensions.feedexport.FeedExporter",
            "scrapy.extensions.spiderstate.SpiderState", "scrapy.extensions.throttle.AutoThrottle",
            "scrapy.extensions.remote_control.RemoteControl")},
    }


def _crawl_lock(reactor: Any) -> asyncio.Lock:
    """One crawl at a time per process: the guarded resolver is installed on the one reactor."""
    lock = getattr(reactor, "_hydrawatch_crawl_lock", None)
    if lock is None:
        lock = asyncio.Lock()
        reactor._hydrawatch_crawl_lock = lock
    return lock


# Builds the crawl's resolver on the reactor it is installed on.
ResolverFactory = Callable[[Any], "GuardedResolver"]


class SiteCrawler:
    """Crawls batches of domains; build once from [crawler] and [dns], call ``crawl`` as often as needed."""

    def __init__(self, crawler: CrawlerSettings, dns: DnsSettings, *,
                 resolver: ResolverFactory | None = None) -> None:
        """``resolver``: how each crawl's GuardedResolver is made (default: from the same sections)."""
        self.crawler = crawler
        self.dns = dns
        self.settings = scrapy_settings(crawler, dns)
        self._resolver = resolver
        # address → time.monotonic() of the last request this process's crawls sent to it: a crawl's first
        # request to an address waits until host_delay after the previous crawl's last one
        self.recent: dict[str, float] = {}
        # address → time.monotonic() before which no request goes to it (its last 429's Retry-After)
        self.paused: dict[str, float] = {}

    @classmethod
    def from_settings(cls, crawler: CrawlerSettings, dns: DnsSettings) -> SiteCrawler:
        return cls(crawler, dns)

    def new_resolver(self, reactor: Any) -> GuardedResolver:
        from crawler.resolver import GuardedResolver

        if self._resolver is not None:
            return self._resolver(reactor)
        return GuardedResolver.from_settings(self.crawler, self.dns, reactor=reactor)

    async def crawl(self, domains: Sequence[str] | AsyncIterable[str], *, now: datetime,
                    on_site: Callable[[], None] | None = None,
                    on_crawled: Callable[[SiteCrawl], None] | None = None,
                    pins: Mapping[str, Sequence[str]] | None = None, expected: int | None = None) -> list[SiteCrawl]:
        """One SiteCrawl per domain, in input order; ``on_site()`` as each domain is done (progress).
        ``on_crawled(site)`` as each domain's crawl ends, on the loop, while the others go on (what it
        does overlaps their network waits; it must not raise). Must run on the shared loop (crawler.run).

        ``domains`` may be an async iterable: each site is started as it arrives (the round's DNS probe
        hands over each name once its addresses are in), and the crawl ends when it is exhausted;
        ``expected`` is then how many sites it may bring (it decides the page workers, as the number of
        domains does otherwise). ``pins``: addresses already looked up for a domain (A then AAAA), read
        when its crawl starts; the guard checks them like a fresh answer and the crawl connects to them
        (GuardedResolver.pin) instead of asking DNS again."""
        from scrapy.crawler import AsyncCrawlerRunner

        from crawler.spiders.site import CrawlPlan, SiteSpider

        source: list[str] | AsyncIterable[str]
        if isinstance(domains, AsyncIterable):
            source, count = _normalised(domains), expected or 0
        else:
            source = [d.strip().rstrip(".").lower() for d in domains]
            if not source:
                return []
            count = len(source)
        ensure_reactor()
        from twisted.internet import reactor

        c = self.crawler
        plan = CrawlPlan(extra_paths=tuple(c.extra_paths), max_redirects=c.max_redirects,
                         max_page_bytes=c.max_page_bytes, proxy=c.proxy, concurrency=c.concurrency,
                         host_delay=c.host_delay, host_concurrency=c.host_concurrency,
                         retry_after_max=c.retry_after_max, rate_limit_retries=c.rate_limit_retries)
        _quiet_scrapy()
        async with _crawl_lock(reactor):
            resolver = self.new_resolver(reactor)
            resolver.install_on_reactor()
            pages = page_work(c.page_workers, c.page_workers_min_sites, count)
            try:
                with roomy_gc():
                    runner = AsyncCrawlerRunner(self.settings)
                    crawler = runner.create_crawler(SiteSpider)
                    # the sites in the order started (a list: all of it, from the start)
                    spider_domains: list[str] = list(source) if isinstance(source, list) else []
                    on_result = ((lambda i, fetches, found: on_crawled(_site(spider_domains[i], fetches, found)))
                                 if on_crawled is not None else None)
                    await runner.crawl(crawler, domains=source, plan=plan, resolver=resolver, now=now,
                                       on_site=on_site, on_result=on_result, pages=pages, pins=pins,
                                       started=spider_domains, recent=self.recent,
                                       paused=self.paused)
                results: dict[int, tuple[HttpFetch, ...]] = crawler.spider.results
                prints: dict[int, SitePrints] = crawler.spider.prints
            finally:
                pages.close()
                resolver.uninstall()
        out = []
        for i, domain in enumerate(spider_domains):
            fetches = results.get(i) or (HttpFetch(domain=domain, url=f"https://{domain}/",
                                                   error_kind=ErrorKind.OTHER, error="crawl ended early",
                                                   observed_at=now),)
            out.append(_site(domain, fetches, prints.get(i)))
        return out


async def _normalised(domains: AsyncIterable[str]) -> AsyncIterator[str]:
    async for domain in domains:
        yield domain.strip().rstrip(".").lower()


def _site(domain: str, fetches: tuple[HttpFetch, ...], found: SitePrints | None) -> SiteCrawl:
    return SiteCrawl(domain, fetches, *(found or (None, None)))


def _quiet_scrapy() -> None:
    """Scrapy logs every request at DEBUG and its settings at INFO; we keep its warnings only."""
    for name in ("scrapy", "scrapy.core", "scrapy.crawler", "scrapy.middleware", "scrapy.addons",
                 "scrapy.extensions", "scrapy.utils.log"):
        log = logging.getLogger(name)
        if log.level == logging.NOTSET:
            log.setLevel(logging.WARNING)
