"""Page work beside the crawl: parsing and fingerprinting fetched pages in worker processes.

A crawl's own thread runs Scrapy, Twisted and TLS; parsing a page, hashing its text into a MinHash and
reading its trackers is as much CPU again, and on that thread it stretches the crawl. A crawl of at
least ``[crawler] page_workers_min_sites`` sites therefore hands that work to ``[crawler] page_workers``
worker processes (started from a fork server, so they never inherit the crawl's threads or sockets):

- ``look_at_home``: what the spider must know of a home page before it fetches more (the favicon link,
  and the pictures of an image-only page, a wordless seizure banner);
- ``fetch_print``: each fetch's indicators, sketch and parse, which the store and classification take, and
  each body packed as the store keeps it (SHA-256 and gzip, detect.bodies).

The pages of one body always go to the same worker (chosen by a hash of the body), whose parse memo
then serves both questions with one parse. Both functions are the ones a small crawl calls in process:
the results are the same either way (tests/crawler/test_pagework.py). If the workers die (a crash, the
OOM killer), the rest of the crawl's pages are handled in process, with a warning.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import multiprocessing
import resource
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from detect.bodies import PackedBody, pack_body
from detect.fingerprints import FetchPrint, fetch_print
from detect.model import HttpFetch
from detect.page_parse import ParsedPage, parse
from detect.page_signals import IMAGE_BANNER_CHARS, classification_view

logger = logging.getLogger(__name__)

# Allocations between two young-generation collections during a crawl, in its process and in the page
# workers (Python's default is 700). A crawl allocates a great deal (Twisted, Scrapy, every page's
# parse) and frees nearly all of it by reference counting, so the default has the cyclic collector walk
# the young objects hundreds of times a crawl, about 7 % of the crawl's CPU; at this threshold it is a
# few dozen times. The older generations keep their thresholds; cyclic garbage waits at most this many
# allocations longer to be freed.
CRAWL_GC_THRESHOLD = 20_000

BANNER_PICTURES = 3  # pictures fetched at most from an image-only page
DEFAULT_ICON = "/favicon.ico"

T = TypeVar("T")


def favicon_href(body: bytes, content_type: str) -> str:
    """The first non-empty ``<link rel~=icon href>`` of an HTML page, else /favicon.ico."""
    href = DEFAULT_ICON
    if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        from parsel import Selector

        try:
            sel = Selector(text=body.decode("utf-8", "replace"))
            links = sel.xpath("//link[contains(concat(' ', translate(@rel, 'ICON', 'icon'), ' '),"
                              " ' icon ')]/@href").getall()
            href = next((h.strip() for h in links if h.strip()), href)
        except Exception:  # noqa: BLE001 - malformed HTML: fall back to /favicon.ico
            logger.debug("favicon link not parsed")
    return href


def banner_pictures(body: bytes, content_type: str) -> tuple[str, ...]:
    """The pictures to fetch from an image-only home page (a wordless banner), as written; () otherwise."""
    if not body or (content_type and "html" not in content_type.lower()):
        return ()
    page = parse(body, content_type)
    if len(page.text) > IMAGE_BANNER_CHARS or not page.image_srcs:
        return ()
    return page.image_srcs[:BANNER_PICTURES]


def look_at_home(body: bytes, content_type: str) -> tuple[str, tuple[str, ...]]:
    """(favicon link, banner pictures) of a home page: what the spider fetches next."""
    return favicon_href(body, content_type), banner_pictures(body, content_type)


SitePrints = tuple[tuple[FetchPrint, ...], tuple[PackedBody | None, ...]]


def prints_of(fetches: Sequence[HttpFetch]) -> SitePrints:
    """Each fetch's fingerprint (with what classification reads of its parse: detect.page_signals.
    classification_view), and its body packed as the store keeps it (detect.bodies; None without a body):
    the store then neither hashes nor compresses in the crawl's process, and what crosses back to it is
    the store's rows and the classification's page, not the whole parse."""
    packed: dict[bytes, PackedBody] = {}  # the same bytes twice (HTTPS and HTTP home) packed once
    for fetch in fetches:
        if fetch.body and fetch.body not in packed:
            packed[fetch.body] = pack_body(fetch.body)
    # one view of one parse (HTTPS and HTTP home share it), so it is pickled once; the parse kept beside it
    views: dict[int, tuple[ParsedPage, ParsedPage]] = {}
    prints = []
    for fetch in fetches:
        found = fetch_print(fetch, with_parse=True)
        if found.parsed is not None:
            page = found.parsed
            _, view = views.setdefault(id(page), (page, classification_view(page)))
            found = dataclasses.replace(found, parsed=view)
        prints.append(found)
    return tuple(prints), tuple(packed[f.body] if f.body else None for f in fetches)


def roomy_gc_threshold() -> None:
    """The cyclic collector's young-generation threshold raised to CRAWL_GC_THRESHOLD (never lowered)."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], CRAWL_GC_THRESHOLD), *old[1:])


def shared_bodies(fetches: Sequence[HttpFetch]) -> tuple[HttpFetch, ...]:
    """``fetches`` with equal bodies as one bytes object (HTTPS and HTTP home usually serve the same page):
    pickling sends an object once however often it is referred to, so each body crosses to the worker
    once. Nothing else changes."""
    seen: dict[bytes, bytes] = {}
    out = []
    for fetch in fetches:
        if fetch.body:
            body = seen.setdefault(fetch.body, fetch.body)
            if body is not fetch.body:
                fetch = dataclasses.replace(fetch, body=body)
        out.append(fetch)
    return tuple(out)


def _cpu_seconds() -> float:
    """This worker's CPU time so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class WorkerCpu:
    """CPU seconds the page workers of this process's crawls have used, for logs and benchmarks (a
    worker's CPU counts in no ``getrusage`` of the crawl's process: it is the fork server's child)."""

    seconds = 0.0


class PageWork:
    """Page work in the crawl's own process (a small crawl, or ``page_workers = 0``)."""

    workers = 0

    async def home(self, fetch: HttpFetch) -> tuple[str, tuple[str, ...]]:
        return look_at_home(fetch.body, fetch.header("content-type"))

    async def prints(self, fetches: Sequence[HttpFetch]) -> SitePrints | None:
        """None: the caller fingerprints (and the store packs) as it records (in process, overlapping the
        crawl's waits)."""
        return None

    def close(self) -> None:
        pass


class PagePool(PageWork):
    """Page work in ``workers`` processes, one executor each, a body always on the same one."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("forkserver")
        # The fork server imports the page code once; every worker forks from it ready to work.
        context.set_forkserver_preload(["crawler.pagework"])
        self.workers = workers
        self._pools = [ProcessPoolExecutor(1, mp_context=context, initializer=roomy_gc_threshold)
                       for _ in range(workers)]
        self._broken = False
        for pool in self._pools:  # start them now, while the crawl connects
            pool.submit(int)

    async def _run(self, body: bytes, fn: Callable[..., T], *args: object) -> T:
        if not self._broken:
            pool = self._pools[zlib.crc32(body[:65536]) % len(self._pools)]
            try:
                return await asyncio.wrap_future(pool.submit(fn, *args))
            except BrokenProcessPool:
                if not self._broken:
                    logger.warning("page workers stopped; this crawl's remaining pages are handled in process")
                self._broken = True
        return fn(*args)

    async def home(self, fetch: HttpFetch) -> tuple[str, tuple[str, ...]]:
        return await self._run(fetch.body, look_at_home, fetch.body, fetch.header("content-type"))

    async def prints(self, fetches: Sequence[HttpFetch]) -> SitePrints | None:
        # routed by the home page's body: the worker that looked at it has its parse
        home = next((f for f in fetches[:2] if f.ok), None)
        body = home.body if home is not None and home.body else next((f.body for f in fetches if f.body), b"")
        if not body:
            return None  # nothing to parse: headers and certificates are cheap in process
        return await self._run(body, prints_of, shared_bodies(fetches))

    def close(self) -> None:
        for pool in self._pools:
            if not self._broken:
                try:
                    WorkerCpu.seconds += pool.submit(_cpu_seconds).result(timeout=5)
                except Exception:  # noqa: BLE001 - only a statistic
                    logger.debug("page worker's CPU time not read")
            pool.shutdown(wait=False, cancel_futures=True)


def page_work(workers: int, min_sites: int, sites: int) -> PageWork:
    """The page work for a crawl of ``sites`` sites."""
    if workers > 0 and sites >= min_sites:
        try:
            return PagePool(workers)
        except (OSError, ValueError) as exc:  # no fork server here (e.g. /dev/shm missing)
            logger.warning("page workers not started (%s); pages are handled in process", exc)
    return PageWork()
