"""The similarity index is refreshed from the store incrementally (issue 17): a refresh reads only the
pages stored since the last one (by any process), a domain's newer page replaces its older one, and
re-reading an overlap never puts an older page back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detect.model import HttpFetch
from scheduler.observe import http_indicators_of
from scheduler.page_index import PageIndex
from storage import observations, watchlist
from storage.store import Store

NOW = datetime(2024, 9, 3, 12, 0, tzinfo=UTC)
WORDS = {key: " ".join(f"{key}{i} word{i * 7 % 13}" for i in range(300)) for key in ("alpha", "beta", "gamma")}


def _page(text: str) -> bytes:
    return f"<html><head><title>t</title></head><body><p>{text}</p></body></html>".encode()


def _crawl(store: Store, domain: str, key: str, at: datetime) -> bytes:
    """``domain`` serving the ``key`` page, stored as another process's crawl would store it; its minhash."""
    fetch = HttpFetch(domain=domain, url=f"https://{domain}/", final_url=f"https://{domain}/", status=200,
                      body=_page(WORDS[key]))
    inds, sketch = http_indicators_of(fetch)
    assert sketch.minhash is not None
    with store.transaction() as session:
        watchlist.add_domains(session, [domain], campaign="t", origin="seed", now=NOW)
        observations.record_http(session, fetch, inds, sketch, now=at)
    return sketch.minhash


def _found(pages: PageIndex, minhash: bytes) -> set[object]:
    return {key for key, _score in pages.query(minhash)}


def test_a_refresh_adds_only_what_was_stored_since_and_newer_pages_replace_older(store: Store) -> None:
    alpha = _crawl(store, "a.test", "alpha", NOW)
    pages = PageIndex.from_store(store)
    assert _found(pages, alpha) == {"a.test"}
    assert pages.refresh(store) == 0  # nothing stored since: nothing added

    beta = _crawl(store, "b.test", "beta", NOW + timedelta(minutes=1))
    assert _found(pages, beta) == set()  # another process's crawl: not seen before a refresh
    assert pages.refresh(store) == 1
    assert _found(pages, beta) == {"b.test"}
    assert pages.refresh(store) == 0

    gamma = _crawl(store, "a.test", "gamma", NOW + timedelta(minutes=2))
    assert pages.refresh(store) == 1
    assert _found(pages, gamma) == {"a.test"} and _found(pages, alpha) == set()

    pages.watermark = 0  # the overlap re-read (a slow transaction committing a lower id) …
    assert pages.refresh(store) == 0  # … never puts a domain's older page back
    assert _found(pages, gamma) == {"a.test"} and _found(pages, alpha) == set() and len(pages) == 2


def test_a_refreshed_index_answers_as_one_read_from_scratch(store: Store) -> None:
    pages = PageIndex.from_store(store)
    sketches = {name: _crawl(store, name, key, NOW + timedelta(minutes=i))
                for i, (name, key) in enumerate([("a.test", "alpha"), ("b.test", "beta"), ("c.test", "gamma")])}
    pages.refresh(store)
    fresh = PageIndex.from_store(store)
    for minhash in sketches.values():
        assert pages.query(minhash) == fresh.query(minhash)


def _redirected(store: Store, domain: str, target: str, key: str, at: datetime) -> None:
    """``domain`` crawled through a redirect to ``target``, which serves the ``key`` page."""
    fetch = HttpFetch(domain=domain, url=f"https://{domain}/", final_url=f"https://www.{target}/", status=200,
                      body=_page(WORDS[key]))
    inds, sketch = http_indicators_of(fetch)
    with store.transaction() as session:
        watchlist.add_domains(session, [domain], campaign="t", origin="seed", now=NOW)
        observations.record_http_batch(session, [observations.HttpWrite(fetch, inds, sketch)], now=at)


def test_a_redirect_targets_page_never_stands_for_the_redirecting_domain(store: Store) -> None:
    """A domain that redirects to an outlet is no near-copy of the outlet: neither a process's start, a
    refresh, nor the crawl's own hand-over (site_sketch) puts the target's page in under its name."""
    from scheduler.observe import site_sketch

    own = _crawl(store, "own-news.com", "alpha", NOW)
    _redirected(store, "hop-news.net", "outlet-daily.com", "beta", NOW + timedelta(minutes=1))
    pages = PageIndex.from_store(store)
    assert {key for key, _ in pages.query(own)} == {"own-news.com"}
    _redirected(store, "late-news.org", "outlet-daily.com", "gamma", NOW + timedelta(minutes=2))
    assert pages.refresh(store) == 0 and len(pages) == 1
    beta = HttpFetch(domain="hop-news.net", url="https://hop-news.net/", final_url="https://www.outlet-daily.com/",
                     status=200, body=_page(WORDS["beta"]))
    inside = HttpFetch(domain="hop-news.net", url="https://hop-news.net/", final_url="https://www.hop-news.net/a",
                       status=200, body=_page(WORDS["beta"]))
    writes = [observations.HttpWrite(beta, *http_indicators_of(beta))]
    assert site_sketch(writes) is None
    assert site_sketch([*writes, observations.HttpWrite(inside, *http_indicators_of(inside))]) is not None
