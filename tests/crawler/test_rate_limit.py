"""429 (and 503 with Retry-After) against the sandbox internet: the crawl backs off the whole host (its IP
address) for the Retry-After asked — seconds or an HTTP date, at most [crawler] retry_after_max — asks again at
most rate_limit_retries times, and records a page still refused as ``rate_limited`` with one line saying why.
The sites serve plain HTTP only (the https fetch is refused and never reaches a web front), so every request
the fronts read is one of the page's asks."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from crawler.fetch import SiteCrawl, SiteCrawler
from crawler.run import run
from detect.classify import classify
from detect.model import DnsResult, ErrorKind, Rcode, Status
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from sandbox.hostile import RETRY_AFTER
from sandbox.net import Sandbox
from tests.crawler.test_fetch import NOW

pytestmark = [pytest.mark.sandbox]

SHARED = "185.44.13.20"
SITES = {"ratenews.info": "http-429-once", "ratewire.info": "", "ratepress.info": "http-429",
         "ratedate.info": "http-503-date-once"}
TOLERANCE = 0.15  # the server reads a request a connection set-up after the crawl let it go


def _world() -> dict[str, Any]:
    def site(name: str, behaviour: str) -> dict[str, Any]:
        page = f"<!doctype html><html><head><title>{name}</title></head><body><p>{name} news</p></body></html>"
        return {"ns": ["ns1.ratehost.net", "ns2.ratehost.net"], "a": [SHARED],
                "web": {"pages": {"/": {"html": page}}, "https": False},
                **({"behaviours": [behaviour]} if behaviour else {})}

    return {"world": {"name": "rate-limits", "campaign": "rate", "seeds": sorted(SITES)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"}},
            "domains": {d: site(d, b) for d, b in SITES.items()}}


def _crawl(sb: Sandbox, names: list[str], **crawler: Any) -> list[SiteCrawl]:
    cfg = from_mapping({**sb.config_overrides(),
                        "crawler": {**sb.config_overrides()["crawler"], "retries": 0, **crawler}})
    return run(lambda: SiteCrawler.from_settings(cfg.crawler, cfg.dns).crawl(
        names, now=NOW, pins={name: [SHARED] for name in names}))


def _reads(sb: Sandbox, host: str | None = None, *, at_least: int = 0) -> list[float]:
    """When the web fronts read each request (for ``host``, or every one), in order. A front logs a request
    after its answer is sent, so the crawl can be done before the log is: ``at_least`` waits (up to 10 s)
    for that many."""
    deadline = time.monotonic() + 10
    while True:
        reads = [read for read, _sent, name in sb.site_request_times if host is None or name == host]
        if len(reads) >= at_least or time.monotonic() > deadline:
            return reads
        time.sleep(0.02)


@pytest.mark.timeout(120)
def test_a_429_once_is_waited_out_then_the_page_is_read_and_the_host_is_left_alone_meanwhile(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(_world(), "before")
    # one request at a time to the address: the 429's pause is set before the next request may start
    site, other = _crawl(sb, ["ratenews.info", "ratewire.info"], host_concurrency=1)
    assert site.home is not None and site.home.status == 200 and site.home.error_kind is None, site.fetches
    assert other.home is not None and other.home.status == 200
    mine = _reads(sb, "ratenews.info", at_least=4)
    # "/" refused then read, "/favicon.ico" refused then read: each again at least Retry-After later
    assert len(mine) == 4, mine
    refused = [sent for _read, sent, name in sb.site_request_times if name == "ratenews.info"][0::2]
    for when in refused:  # no request to the shared address, the other site's included, in the pause
        inside = [t for t in _reads(sb) if when + TOLERANCE < t < when + RETRY_AFTER - TOLERANCE]
        assert not inside, (when, _reads(sb))
    assert mine[1] - mine[0] >= RETRY_AFTER - TOLERANCE


@pytest.mark.timeout(120)
def test_a_host_that_always_answers_429_is_asked_a_bounded_number_of_times_and_recorded_as_rate_limited(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(_world(), "before")
    (site,) = _crawl(sb, ["ratepress.info"], rate_limit_retries=2)
    https, http = site.fetches
    assert site.home is None
    assert http.status == 429 and http.error_kind is ErrorKind.RATE_LIMITED
    assert "\n" not in http.error and "429" in http.error and "3 tries" in http.error, http.error
    asks = _reads(sb, "ratepress.info", at_least=3)
    assert len(asks) == 3, asks  # the first ask and two retries, never more
    assert min(b - a for a, b in itertools.pairwise(asks)) >= RETRY_AFTER - TOLERANCE, asks  # never hammered
    # recorded as failed, but the server answered: the site is as live as before the crawl retried (not dead)
    dns = DnsResult(name="ratepress.info", rcode=Rcode.NOERROR, records={"A": (SHARED,)}, observed_at=NOW)
    verdict = classify(dns=dns, fetches=[https, http], rdap=None, previous=Status.UNKNOWN, was_live=False,
                       signatures=load_signatures())
    assert verdict.status is Status.ACTIVE, verdict

    sb.reset("before")
    (never,) = _crawl(sb, ["ratepress.info"], rate_limit_retries=0)
    assert never.fetches[1].error_kind is ErrorKind.RATE_LIMITED, never.fetches[1]
    assert len(_reads(sb, "ratepress.info", at_least=1)) == 1, sb.site_request_times


@pytest.mark.timeout(120)
def test_a_retry_after_beyond_retry_after_max_is_not_waited_for(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(_world(), "before")
    (site,) = _crawl(sb, ["ratepress.info"], retry_after_max=RETRY_AFTER / 2)
    http = site.fetches[1]
    assert http.error_kind is ErrorKind.RATE_LIMITED and "retry_after_max" in http.error, http.error
    assert len(_reads(sb, "ratepress.info", at_least=1)) == 1  # asked once: the next round asks again


@pytest.mark.timeout(120)
def test_a_503_with_an_http_date_retry_after_is_waited_out(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(_world(), "before")
    (site,) = _crawl(sb, ["ratedate.info"])
    assert site.home is not None and site.home.status == 200, site.fetches
    asks = _reads(sb, "ratedate.info", at_least=2)
    # the date is RETRY_AFTER + 1 s ahead in whole seconds: at least RETRY_AFTER s after the 503
    assert asks[1] - asks[0] >= RETRY_AFTER - TOLERANCE, asks
