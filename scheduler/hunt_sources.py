"""Where a hunt's candidates come from: lookalikes, links and redirects, similar pages, CT, NRD feeds,
and names an earlier hunt deferred. Lookalikes are generated lazily (a stream, never a list); a source
that fails is recorded in the report and the hunt goes on with the others."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, datetime

from crawler import certstream, ctpolicy, nrd
from crawler.ctpolicy import CtPolicy
from crawler.sourcestate import SourceMemory
from detect import discovery, lookalike
from detect.model import Candidate, Indicator
from detect.names import InvalidDomain, host_of
from detect.scoring import SiteProfile
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from scheduler.name_screen import NameScreen, ScreenStats
from scheduler.source_state import StoreMemory

log = logging.getLogger(__name__)

SIMILAR_PER_SITE = 20


def lookalikes(parts: Components, seeds: Iterable[str], typo_tlds: Sequence[str]) -> Iterator[Candidate]:
    """Every configured fuzzer on each seed: tld-swap over ``[discovery] tlds``, the typo fuzzers on the
    seed's suffix and on each of ``typo_tlds`` (the network's suffixes)."""
    cfg = parts.config.discovery
    for seed in seeds:
        try:
            yield from lookalike.lookalikes(seed, fuzzers=cfg.fuzzers, tlds=cfg.tlds, typo_tlds=typo_tlds)
        except InvalidDomain as exc:  # a stored name outside the ICANN suffixes must not cost the hunt
            log.warning("no lookalikes of %s: %s", seed, exc)


def link_candidates(network: Sequence[SiteProfile], legit: set[str]) -> list[Candidate]:
    """New domains that live network sites link or redirect to. ``legit`` (the watched domains and [brands]
    legitimate) is reduced to registrable domains once, and skipped with the network's own: handed to
    each site's link reading as it is, it was walked once per site (10⁴ watched domains: 10⁸ look-ups a
    sweep, bench/coordinator.py)."""
    known = {p.domain for p in network} | {host_of(outlet) or outlet for outlet in legit}
    out: list[Candidate] = []
    for p in network:
        if p.status.lost:
            continue
        out.extend(discovery.outlink_candidates(p.domain, sorted(p.outlinks), known, ()))
        if p.redirects_to:
            out.extend(discovery.redirect_candidates(p.domain, p.redirects_to, known, ()))
    return out


def similar_candidates(parts: Components, network: Sequence[SiteProfile]) -> list[Candidate]:
    """Stored domains whose latest page is a near copy of a network site's (MinHash LSH lookup, not a
    scan): a name seen earlier through any source and rejected is looked at again as the network changes.

    Up to SIMILAR_PER_SITE pages per network site, among the pages of domains outside the network: the
    network's own pages are left out of the index's table once, before the lookups, so a network whose
    pages are near-copies of each other neither crowds the others out of each site's best matches nor
    makes each lookup rank the whole network (quadratic: 10⁵ sites, bench/RESULTS.md).

    One candidate a page: the first network site (in the network's order) that finds it names it, as the
    sweep's merge would keep of several (detect.hunt_order.better: the first of equals). A network of N
    near-copies finding M outside pages gives M names, not N×M."""
    names = {p.domain for p in network}
    asking = [(p.domain, p.minhash) for p in network if p.minhash is not None]
    found = parts.pages.query_each((minhash for _, minhash in asking), top=SIMILAR_PER_SITE, exclude=names)
    out: dict[str, Candidate] = {}
    for (domain, _), matches in zip(asking, found, strict=True):
        for key, jaccard in matches:
            if isinstance(key, str) and key not in out:
                out[key] = Candidate(key, "similar", f"{domain} (text Jaccard {jaccard:.2f})", domain)
    return list(out.values())


def ct_policy(parts: Components) -> CtPolicy:
    cfg = parts.config.discovery
    return CtPolicy(url_template=cfg.ct_search_url, min_keyword=cfg.ct_min_keyword, attempts=cfg.ct_attempts,
                    backoff=cfg.ct_backoff, min_interval=cfg.ct_min_interval, cache_hours=cfg.ct_cache_hours,
                    timeout=cfg.ct_timeout, recent_days=cfg.ct_recent_days, recent_max=cfg.ct_recent_max)


async def ct_candidates(parts: Components, network: Sequence[str], report: HuntReport, *,
                        now: datetime | None = None, memory: SourceMemory | None = None) -> list[Candidate]:
    """Names in certificates matching the network's keywords (crawler/ctpolicy.py: polite, cached, retried);
    a keyword whose query fails is reported and the others still count. ``memory``: where the answers are
    cached (default: the store, at once)."""
    if not parts.config.discovery.ct_search_url:
        return []
    when = now or datetime.now(UTC)
    policy = ct_policy(parts)
    sweep = await ctpolicy.search(policy, discovery.ct_keywords(network),
                                  memory if memory is not None else StoreMemory(parts.store), now=when,
                                  generic=discovery.ct_generic_keywords(network, policy.min_keyword))
    for failed in sweep.failures:
        kind = failed.error_kind.value if failed.error_kind else "error"
        report.source_errors.append(f"ct {failed.keyword}: {kind}: {failed.error}")
    report.source_notes.extend(sweep.notes())
    out: list[Candidate] = []
    for result in sweep.results:
        via = (f"{result.keyword} (a generic word: certificates of the last {policy.recent_days:g} days)"
               if result.recent else result.keyword)
        out.extend(discovery.ct_candidates(result.names, via))
    return out


async def nrd_candidates(parts: Components, labels: Sequence[str], infrastructure: frozenset[Indicator],
                         report: HuntReport, screen: NameScreen | None = None, *,
                         now: datetime | None = None, memory: SourceMemory | None = None) -> AsyncIterator[Candidate]:
    """Feed entries that pass the name screen (scheduler/name_screen.py): lexically close to a network
    label, or resolving onto the network's IPs/NS. The feeds are read as published (crawler/nrd.py):
    plain, gzip or zip, dated addresses for the days due, conditional GET; a broken file is reported in
    ``source_errors`` and what each feed did in ``source_notes``.

    Streamed: a feed is read line by line and its other names are checked against the infrastructure in
    batches, so a feed of 10⁶ names holds one batch in memory. At most ``discovery.max_candidates`` of
    those names per feed are checked; the rest is counted in ``report.truncated``. ``memory``: where the
    feeds' cursors are kept (default: the store, at once)."""
    screen = screen if screen is not None else NameScreen.for_hunt(parts, labels, infrastructure)
    limits = nrd_limits(parts)
    memory = memory if memory is not None else StoreMemory(parts.store)
    today = nrd.today_of(now or datetime.now(UTC))
    for source in parts.config.discovery.nrd_feeds:
        stats = ScreenStats()
        read = nrd.NrdRead(source)
        names = nrd.read(source, memory, today=today, limits=limits, stats=read)
        async for c in screen.screen(names, source="nrd", via=source, stats=stats):
            yield c
        for error in read.errors:
            report.source_errors.append(error)
            log.warning("NRD feed failed: %s", error)
        report.source_notes.append(read.note())
        report.truncated += stats.beyond


def nrd_limits(parts: Components) -> nrd.NrdLimits:
    cfg = parts.config.discovery
    return nrd.NrdLimits(max_days=cfg.nrd_max_days, max_bytes=cfg.nrd_max_bytes)


async def certstream_candidates(parts: Components, screen: NameScreen, report: HuntReport) -> AsyncIterator[Candidate]:
    """Names in the certificates a CertStream server streams while the sweep listens
    (``discovery.certstream_seconds``), through the same name screen as the NRD feeds."""
    cfg = parts.config.discovery
    if not cfg.certstream_url:
        return
    stats = certstream.StreamStats(cfg.certstream_url)
    screened = ScreenStats()
    names = certstream.listen(cfg.certstream_url, cfg.certstream_seconds, stats)
    async for c in screen.screen(names, source="ct", via=f"{cfg.certstream_url} (certstream)", stats=screened):
        yield c
    if stats.error_kind is not None:
        report.source_errors.append(f"certstream: {stats.error_kind.value}: {stats.error}")
        log.warning("CertStream %s failed: %s", cfg.certstream_url, stats.error)
    report.source_notes.append(stats.note())
    report.truncated += screened.beyond
