"""[crawler] host_delay and host_concurrency against the sandbox internet: one host is one IP address,
whatever names share it. Several sites on one shared-hosting address are asked host_delay apart (as the
sandbox's web fronts saw the requests arrive), sites on other addresses are not held back by them, and a
second crawl of the same process keeps the gap after the first one's last request; host_concurrency caps
the requests in flight to one address. With the defaults (0) requests to the shared address come at once
and overlap, as before: the checks can fail."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from crawler.fetch import SiteCrawler
from crawler.run import run
from hydrawatch.config import from_mapping
from sandbox.net import Sandbox
from tests.crawler.test_fetch import NOW

pytestmark = [pytest.mark.sandbox]

SHARED = "185.44.12.20"
ON_SHARED = [f"quillnews{i}.info" for i in range(4)]
ALONE = {"quillpress.info": "185.44.12.31", "quillwire.info": "185.44.12.32"}
LATER = ["quillnews4.info", "quillnews5.info"]  # crawled in a second crawl, on the shared address too
DELAY = 0.5
# The delay is kept between the starts of two requests as Scrapy hands them over; the server reads each one
# a connection set-up and TLS handshake later, which varied by up to 0.07 s on this loaded 2-core machine.
TOLERANCE = 0.1


def _world(slow: bool = False) -> dict[str, Any]:
    def site(name: str, ip: str) -> dict[str, Any]:
        page = f"<!doctype html><html><head><title>{name}</title></head><body><p>{name} news</p></body></html>"
        return {"ns": ["ns1.quillhost.net", "ns2.quillhost.net"], "a": [ip],
                "web": {"pages": {"/": {"html": page}}}, **({"behaviours": ["slow-answer"]} if slow else {})}

    names = {**dict.fromkeys([*ON_SHARED, *LATER], SHARED), **ALONE}
    return {"world": {"name": "shared-host", "campaign": "quill", "seeds": sorted(names)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"}},
            "domains": {d: site(d, ip) for d, ip in names.items()}}


def _crawler(sb: Sandbox, **crawler: Any) -> SiteCrawler:
    cfg = from_mapping({**sb.config_overrides(), "crawler": {**sb.config_overrides()["crawler"], **crawler}})
    return SiteCrawler.from_settings(cfg.crawler, cfg.dns)


def _arrivals(sb: Sandbox) -> dict[str, list[float]]:
    """Address → the times its requests were read at the web fronts, in order."""
    address = {**dict.fromkeys([*ON_SHARED, *LATER], SHARED), **ALONE}
    out: dict[str, list[float]] = {}
    for read, _sent, host in sb.site_request_times:
        out.setdefault(address[host.removeprefix("www.")], []).append(read)
    return out


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(sorted(times))]


@pytest.mark.timeout(120)
def test_sites_on_one_address_are_asked_host_delay_apart_and_other_addresses_are_not_held_back(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(_world(), "before")
    # by default (host_delay 0) the sites of one address are asked at once, as before: the checks below can
    # fail. (This first crawl also makes the sandbox's server-side TLS contexts, which would otherwise hold
    # the first answer back and shorten the first gap as seen at the server.)
    run(lambda: _crawler(sb).crawl(sorted([*ON_SHARED, *ALONE]), now=NOW))
    assert min(_gaps(_arrivals(sb)[SHARED])) < DELAY / 3
    sb.reset("before")
    crawler = _crawler(sb, host_delay=DELAY)

    async def crawl(names: list[str]) -> None:
        sites = await crawler.crawl(names, now=NOW)
        assert all(s.home is not None for s in sites), [s.fetches for s in sites]

    run(lambda: crawl(sorted([*ON_SHARED, *ALONE])))
    first = _arrivals(sb)
    shared = first[SHARED]
    assert len(shared) >= 2 * len(ON_SHARED)  # https and http home at least, per site
    assert min(_gaps(shared)) >= DELAY - TOLERANCE, _gaps(shared)
    for ip in ALONE.values():
        mine = first[ip]
        assert min(_gaps(mine)) >= DELAY - TOLERANCE  # each address keeps its own pace …
        # … and is not queued behind the shared address's turns: its first request comes at once
        assert mine[0] < shared[0] + DELAY, (mine, shared)
    # the crawl took about (requests to the shared address - 1) × host_delay, not that plus the others'
    whole = max(t for times in first.values() for t in times) - min(t for times in first.values() for t in times)
    assert whole < (len(shared) - 1) * DELAY + 2.0

    # a second crawl of the same process: its first request to the address waits for the previous one's last
    run(lambda: crawl(LATER))
    second = sorted(t for t in _arrivals(sb)[SHARED] if t > shared[-1])
    assert second and second[0] - shared[-1] >= DELAY - TOLERANCE, (second[0] - shared[-1])
    assert min(_gaps(second)) >= DELAY - TOLERANCE


@pytest.mark.timeout(120)
def test_host_concurrency_caps_the_requests_in_flight_to_one_address(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(_world(slow=True), "before")  # every answer 0.3 s late: requests would overlap

    def peak() -> int:
        address = {**dict.fromkeys([*ON_SHARED, *LATER], SHARED), **ALONE}
        windows = [(read, sent) for read, sent, host in sb.site_request_times if address[host] == SHARED]
        return max(sum(1 for r, s in windows if r <= t < s) for t, _ in windows)

    crawler = _crawler(sb)
    run(lambda: crawler.crawl(ON_SHARED, now=NOW))
    assert peak() > 1
    sb.reset("before")
    crawler = _crawler(sb, host_concurrency=1)
    run(lambda: crawler.crawl(ON_SHARED, now=NOW))
    assert peak() == 1
