"""Page work in worker processes (crawler/pagework.py) gives exactly what the crawl's own process gives:
the same favicon link and banner pictures, the same indicators, sketch and parse of every fetch; a
worker that dies leaves the rest of the crawl's pages to the crawl's process."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import itertools
import logging
import os
import pickle
import signal

import pytest

from crawler.fetch import SiteCrawler
from crawler.pagework import (
    DEFAULT_ICON,
    PagePool,
    PageWork,
    SitePrints,
    WorkerCpu,
    look_at_home,
    page_work,
    shared_bodies,
)
from crawler.run import run
from detect.fingerprints import FetchPrint, fetch_print
from detect.model import HttpFetch
from detect.page_signals import classification_view
from tests.crawler.servers import ICON, HostileSite, TinyDns
from tests.crawler.test_fetch import NOW, config
from tests.detect.golden_pages import corpus


def as_handed(fetch: HttpFetch) -> FetchPrint:
    """The fetch's print as the crawl's process makes it, with the parse as a worker hands it back (what
    classification reads of it: detect.page_signals.classification_view)."""
    found = fetch_print(fetch, with_parse=True)
    return dataclasses.replace(found, parsed=classification_view(found.parsed)) if found.parsed else found


PICTURES = "".join(f'<img src="/p{i}.png">' for i in range(5))


def test_look_at_home_finds_the_icon_link_and_an_image_only_pages_pictures() -> None:
    icon = b'<html><head><link rel="Shortcut ICON" href="  "><link rel="icon" href=" /i.png "></head></html>'
    assert look_at_home(icon, "text/html") == ("/i.png", ())
    assert look_at_home(b"<html><body>no icon link</body></html>", "") == (DEFAULT_ICON, ())
    banner = f"<html><body>{PICTURES}</body></html>".encode()
    assert look_at_home(banner, "text/html; charset=utf-8") == (DEFAULT_ICON, ("/p0.png", "/p1.png", "/p2.png"))
    wordy = f"<html><body><p>{'many words here ' * 200}</p>{PICTURES}</body></html>".encode()
    assert look_at_home(wordy, "text/html")[1] == ()  # a page with text is no banner
    assert look_at_home(banner, "image/png") == (DEFAULT_ICON, ())  # not a page at all
    assert look_at_home(b"", "text/html") == (DEFAULT_ICON, ())


def test_equal_bodies_cross_to_a_worker_once_and_nothing_else_changes() -> None:
    page = b"<html><title>same</title><body>same page on https and http</body></html>"
    https = HttpFetch(domain="s.test", url="https://s.test/", status=200, body=page)
    http = HttpFetch(domain="s.test", url="http://s.test/", status=200, body=bytes(bytearray(page)))
    other = HttpFetch(domain="s.test", url="https://s.test/about", status=200, body=b"<html>other</html>")
    empty = HttpFetch(domain="s.test", url="https://s.test/x", status=404)
    assert http.body is not https.body
    shared = shared_bodies((https, http, other, empty))
    assert shared == (https, http, other, empty)  # equal fetches, field by field
    assert shared[1].body is shared[0].body and shared[2] is other and shared[3] is empty
    assert len(pickle.dumps(shared)) < len(pickle.dumps((https, http, other, empty))) - len(page) + 100


def test_small_crawls_and_page_workers_0_stay_in_process() -> None:
    assert type(page_work(0, 1, 500)) is PageWork
    assert type(page_work(2, 50, 49)) is PageWork


def _pages(count: int) -> list[HttpFetch]:
    """Pages of every sort from the golden corpus (archived real pages, generated worlds, hostile bodies)."""
    every = list(corpus())
    step = max(1, len(every) // count)
    return [fetch for _key, fetch in itertools.islice(every, 0, None, step)][:count]


def test_workers_print_every_page_as_the_crawl_process_does_and_survive_a_killed_worker(
        caplog: pytest.LogCaptureFixture) -> None:
    fetches = _pages(40)
    expected = [as_handed(f) for f in fetches]
    homes = [look_at_home(f.body, f.header("content-type")) for f in fetches]
    pool = PagePool(2)
    cpu_before = WorkerCpu.seconds

    async def ask(batch: list[HttpFetch]) -> tuple[list[SitePrints | None], list[object]]:
        prints = await asyncio.gather(*(pool.prints((f,)) for f in batch))
        looks = await asyncio.gather(*(pool.home(f) for f in batch))
        return list(prints), list(looks)

    try:
        prints, looks = asyncio.run(ask(fetches))
        assert [p[0][0] if p else None for p in prints] == expected
        assert looks == homes
        # each body packed as the store keeps it (its SHA-256, and a gzip that gives it back)
        for fetch, answer in zip(fetches, prints):
            packed = answer[1][0] if answer else None
            if fetch.body:
                assert packed is not None and packed[0] == hashlib.sha256(fetch.body).hexdigest()
                assert gzip.decompress(packed[1]) == fetch.body
            else:
                assert packed is None
        # a worker killed (the OOM killer, a crash): the crawl goes on in process, with the same answers
        for executor in pool._pools:
            for process in list(executor._processes.values()):  # type: ignore[attr-defined]
                os.kill(process.pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="crawler.pagework"):
            prints, looks = asyncio.run(ask(fetches))
        assert [p[0][0] if p else None for p in prints] == expected
        assert looks == homes
        assert "page workers stopped" in caplog.text
    finally:
        pool.close()
    assert WorkerCpu.seconds == cpu_before  # dead workers report no CPU time (nothing made up)


def test_a_big_crawl_hands_its_pages_to_workers_with_the_same_results() -> None:
    names = [f"s{i}.test" for i in range(4)]

    async def main() -> tuple[list[object], list[object]]:
        async with TinyDns({n: ["127.0.0.1"] for n in names}) as dns, HostileSite() as site:
            sites = [f"{n}:{site.port}" for n in names]
            inline = await SiteCrawler.from_settings(*config(dns, page_workers=0)).crawl(sites, now=NOW)
            handed: list[object] = []
            pooled = await SiteCrawler.from_settings(*config(dns, page_workers=2, page_workers_min_sites=2)).crawl(
                sites, now=NOW, on_crawled=handed.append)
            return [inline, pooled], handed

    cpu_before = WorkerCpu.seconds
    (inline, pooled), handed = run(main)
    assert WorkerCpu.seconds > cpu_before  # the workers' CPU time is read back when the crawl closes them
    assert all(crawl.prints is None for crawl in inline)  # type: ignore[attr-defined]
    assert {c.domain for c in handed} == {c.domain for c in pooled}  # type: ignore[attr-defined]
    for a, b in zip(inline, pooled):  # type: ignore[call-overload]
        assert [f.favicon for f in a.fetches] == [f.favicon for f in b.fetches]
        assert any(f.favicon == ICON for f in b.fetches)  # the icon link was read by a worker
        assert [f.banner_sha256 for f in a.fetches] == [f.banner_sha256 for f in b.fetches]
        assert b.prints is not None and len(b.prints) == len(b.fetches)
        assert list(b.prints) == [as_handed(f) for f in b.fetches]
        assert a.packed is None and b.packed is not None and len(b.packed) == len(b.fetches)
        for fetch, packed in zip(b.fetches, b.packed):
            assert packed == (None if not fetch.body else (hashlib.sha256(fetch.body).hexdigest(), packed[1]))
            assert packed is None or gzip.decompress(packed[1]) == fetch.body
