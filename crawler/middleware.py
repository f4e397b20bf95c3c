"""Downloader middlewares of the site crawl: the pre-connection guard and the capped decompressor."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import StopDownload
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.resolver import GuardedResolver


def host_slot(addresses: Sequence[str]) -> str:
    """The download slot of a request: the first address the guard checked for its host, the one the
    connection goes to (crawler/tunnel.py through a proxy; Twisted tries the pinned addresses in order)."""
    first = addresses[0]
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return first


class GuardMiddleware:
    """Resolve the target through the crawl's GuardedResolver before anything is sent.

    Raises BlockedAddress / ResolveError (they end as blocked_private / dns fetches). With a
    proxy the target name is still resolved and guarded here, then handed to the proxy.
    Also counts body bytes (``bytes_received``) and stops the download, keeping what arrived,
    once the body passes ``HYDRAWATCH_MAX_PAGE_BYTES``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.cap = crawler.settings.getint("HYDRAWATCH_MAX_PAGE_BYTES")
        self.delay = crawler.settings.getfloat("DOWNLOAD_DELAY")
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(self.left_downloader, signal=signals.request_left_downloader)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GuardMiddleware:
        return cls(crawler)

    @property
    def resolver(self) -> GuardedResolver:
        return self.crawler.spider.resolver  # type: ignore[union-attr]

    @property
    def recent(self) -> dict[str, float]:
        return getattr(self.crawler.spider, "recent", {})

    @property
    def paused(self) -> dict[str, float]:
        return getattr(self.crawler.spider, "paused", {})

    async def process_request(self, request: Request) -> None:
        # Fresh per attempt: retries copy meta.
        request.meta["hw_bytes"] = 0
        request.meta.pop("download_maxsize", None)
        host = urlparse_cached(request).hostname or ""
        addresses = await self.resolver.resolve(host, target=True)
        request.meta["hw_addresses"] = addresses
        # One download slot per address: Scrapy's per-slot delay and concurrency are then per host
        # ([crawler] host_delay, host_concurrency), whatever names share the address.
        slot = request.meta["download_slot"] = host_slot(addresses)
        while True:
            now = time.monotonic()
            # the first request of this crawl to an address an earlier crawl just asked, and any request to an
            # address that answered 429 (or 503) with a Retry-After not yet past (SiteSpider.rate_limited)
            wait = max(self.recent.get(slot, float("-inf")) + self.delay - now if self.delay > 0 else 0.0,
                       self.paused.get(slot, 0.0) - now)
            if wait <= 0:
                return
            await asyncio.sleep(wait)  # a pause set meanwhile (another of its requests) is waited for too

    def left_downloader(self, request: Request, spider: Any = None) -> None:
        """A request to an address is done (answered or failed): when, for the process's next crawl's pace
        (SiteSpider.asked, kept as ``recent`` when the crawl ends)."""
        slot = request.meta.get("download_slot")
        asked = getattr(self.crawler.spider, "asked", None)
        if slot and asked is not None:
            asked[slot] = time.monotonic()

    def bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        received = request.meta.get("hw_bytes", 0) + len(data)
        request.meta["hw_bytes"] = received
        if self.cap and received > self.cap:
            request.meta["hw_truncated"] = True
            raise StopDownload(fail=False)


class CappedCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompressor, capped at max_page_bytes of *decompressed* output.

    The download handler runs uncapped (DOWNLOAD_MAXSIZE = 0) so that an oversized body keeps
    the part received (GuardMiddleware stops it at the cap); the decompression cap is passed
    through the documented ``download_maxsize`` meta key only once the body is in, where Scrapy's
    middleware reads it. A bomb raises IgnoreRequest caused by _DecompressionMaxSizeExceeded.
    """

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        request.meta["download_maxsize"] = self.crawler_cap
        return super().process_response(request, response)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CappedCompressionMiddleware:
        mw = cls(crawler=crawler)
        mw.crawler_cap = crawler.settings.getint("HYDRAWATCH_MAX_PAGE_BYTES")
        return mw

    crawler_cap: int = 0
