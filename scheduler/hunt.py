"""The hunt: generate candidates, resolve them, observe the live ones, score, record lineage and alerts.

Triggered by a takedown (lookalikes of each lost domain, at once) and by periodic sweeps (every
network label, outlinks and redirects of live network sites, CT search, NRD feeds). A failing
source is logged and reported in the cycle's stats; the hunt goes on with the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from crawler import ct, feeds
from crawler.sources import SourceError
from detect import discovery, lookalike
from detect.lexical import LabelIndex, nrd_lexical_match
from detect.model import Candidate, Indicator, Rcode
from detect.names import InvalidDomain
from detect.scoring import Discovery, ScoringPolicy, SiteProfile, StoreStats, Verdict, score_candidate
from scheduler.components import Components
from scheduler.deliver import new_message_id
from scheduler.observe import observe
from scheduler.progress import stage
from storage import candidates as candidate_store
from storage import lineage, outbox, profiles, watchlist

log = logging.getLogger(__name__)

# Order in which candidates are observed when there are more than a hunt may crawl.
SOURCE_PRIORITY = {"redirect": 0, "outlink": 1, "similar": 1, "lookalike-tld": 2, "ct": 3, "nrd": 4,
                   "lookalike": 5}
SIMILAR_PER_SITE = 20
MAX_OBSERVED_PER_HUNT = 400
YIELD_EVERY = 2000


@dataclass
class HuntReport:
    generated: int = 0
    resolved: int = 0
    observed: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    clones: list[Verdict] = field(default_factory=list)
    new_edges: int = 0
    source_errors: list[str] = field(default_factory=list)
    truncated: int = 0


def _lookalikes(parts: Components, seeds: Iterable[str], fuzzers: Sequence[str]) -> Iterable[Candidate]:
    for seed in seeds:
        try:
            yield from lookalike.lookalikes(seed, fuzzers=fuzzers, tlds=parts.config.discovery.tlds)
        except InvalidDomain as exc:  # a stored name outside the ICANN suffixes must not cost the hunt
            log.warning("no lookalikes of %s: %s", seed, exc)


async def _ct_candidates(parts: Components, network: Sequence[str], report: HuntReport) -> list[Candidate]:
    url = parts.config.discovery.ct_search_url
    if not url:
        return []
    out: list[Candidate] = []
    for keyword in discovery.ct_keywords(network):
        result = await ct.ct_search(url, keyword, timeout=parts.config.rdap.timeout)
        if result.error_kind is not None:
            report.source_errors.append(f"ct {keyword}: {result.error_kind.value}: {result.error}")
            log.warning("CT search for %r failed: %s", keyword, result.error)
            continue
        out.extend(discovery.ct_candidates(result.names, keyword))
    return out


async def _nrd_candidates(parts: Components, labels: Sequence[str], infrastructure: frozenset[Indicator],
                          report: HuntReport) -> list[Candidate]:
    """Feed entries lexically close to a network label, or resolving onto the network's IPs/NS."""
    out: list[Candidate] = []
    index = LabelIndex(labels)
    cap = parts.config.discovery.max_candidates
    for source in parts.config.discovery.nrd_feeds:
        unmatched: list[str] = []
        beyond = 0  # unmatched names past the cap: counted, never held in memory nor resolved
        try:
            async for name in feeds.read_feed(source):
                label = nrd_lexical_match(name, index)
                if label is not None:
                    out.append(Candidate(name, "nrd", f"{source} (lexical: {label})"))
                elif len(unmatched) < cap:
                    unmatched.append(name)
                else:
                    beyond += 1
        except SourceError as exc:
            report.source_errors.append(f"nrd {source}: {exc}")
            log.warning("NRD feed %s failed: %s", source, exc)
            continue
        if beyond:
            report.truncated += beyond
            log.warning("NRD feed %s: %d names over discovery.max_candidates not checked against the "
                        "network's infrastructure", source, beyond)
        if infrastructure and unmatched:
            ips = {i.value for i in infrastructure if i.kind == "ip"}
            nss = {i.value for i in infrastructure if i.kind == "ns"}
            async for res in parts.prober.probe(unmatched, types=("A", "NS")):
                shared = (set(res.get("A")) & ips) | (set(res.get("NS")) & nss)
                if res.rcode is Rcode.NOERROR and shared:
                    out.append(Candidate(res.name, "nrd", f"{source} (infrastructure: {min(shared)})"))
    return out


def _link_candidates(network: Sequence[SiteProfile], legit: set[str]) -> list[Candidate]:
    """New domains that live network sites link or redirect to."""
    known = {p.domain for p in network}
    out: list[Candidate] = []
    for p in network:
        if p.status.lost:
            continue
        out.extend(discovery.outlink_candidates(p.domain, sorted(p.outlinks), known, legit))
        if p.redirects_to:
            out.extend(discovery.redirect_candidates(p.domain, p.redirects_to, known, legit))
    return out


def _similar_candidates(parts: Components, network: Sequence[SiteProfile]) -> list[Candidate]:
    """Stored domains whose latest page is a near copy of a network site's (MinHash LSH lookup, not a
    scan): a name seen earlier through any source and rejected is looked at again as the network changes."""
    names = {p.domain for p in network}
    out: list[Candidate] = []
    for p in network:
        if p.minhash is None:
            continue
        for key, jaccard in parts.pages.query(p.minhash, top=SIMILAR_PER_SITE):
            if isinstance(key, str) and key not in names:
                out.append(Candidate(key, "similar", f"{p.domain} (text Jaccard {jaccard:.2f})", p.domain))
    return out


def _priority(c: Candidate) -> int:
    key = "lookalike-tld" if c.source == "lookalike" and c.via == "tld-swap" else c.source
    return SOURCE_PRIORITY.get(key, 9)


async def _resolving(parts: Components, cands: dict[str, Candidate]) -> list[str]:
    names = []
    with stage(parts.progress, "candidates: resolve", len(cands)) as step:
        async for res in parts.prober.probe(list(cands), types=("A", "AAAA", "CNAME")):
            step.advance()
            if res.resolves:
                names.append(res.name)
    return names


async def hunt(parts: Components, *, lost: Sequence[str], sweep: bool, now: datetime,
               cycle_id: int | None) -> HuntReport:
    report = HuntReport()
    store, cfg = parts.store, parts.config
    with store.transaction() as session:
        network = profiles.network_profiles(session)
    names = [p.domain for p in network]
    labels = sorted({p.label for p in network})
    legit = set(cfg.brands.legitimate)

    found: dict[str, Candidate] = {}

    async def add(cands: Iterable[Candidate]) -> None:
        for i, c in enumerate(cands):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                # Generating lookalikes over every TLD is seconds of CPU: let the loop breathe
                # (signals, the alert job, Scrapy) and let a stopping daemon cancel the hunt here.
                await asyncio.sleep(0)
            if c.domain in legit:
                continue
            if c.domain not in found or _priority(c) < _priority(found[c.domain]):
                found[c.domain] = c
            report.generated += 1

    await add(_lookalikes(parts, lost, cfg.discovery.fuzzers))
    if sweep:
        await add(_lookalikes(parts, [n for n in names if n not in lost], cfg.discovery.fuzzers))
        await add(_link_candidates(network, legit))
        await add(_similar_candidates(parts, network))
        await add(await _ct_candidates(parts, names, report))
        with store.transaction() as session:
            infra = profiles.network_infrastructure(session, network)
        await add(await _nrd_candidates(parts, labels, infra, report))

    with store.transaction() as session:
        watched = set(watchlist.watched_names(session))
    for name in list(found):
        if name in watched:
            del found[name]
    if len(found) > cfg.discovery.max_candidates:
        keep = sorted(found.values(), key=_priority)[: cfg.discovery.max_candidates]
        report.truncated = len(found) - len(keep)
        log.warning("hunt: %d candidates over discovery.max_candidates dropped", report.truncated)
        found = {c.domain: c for c in keep}

    resolving = await _resolving(parts, found)
    report.resolved = len(resolving)
    resolving.sort(key=lambda n: (_priority(found[n]), n))
    if len(resolving) > MAX_OBSERVED_PER_HUNT:
        log.warning("hunt: observing %d of %d resolving candidates this time", MAX_OBSERVED_PER_HUNT,
                    len(resolving))
        resolving = resolving[:MAX_OBSERVED_PER_HUNT]
    if not resolving:
        return report

    with store.transaction() as session:
        watchlist.add_domains(session, resolving, campaign="", origin="candidate", now=now, watched=False)
        for name in resolving:
            c = found[name]
            candidate_store.upsert(session, name, source=c.source, via=c.via, seed=c.seed, now=now)
    await observe(parts, resolving, now=now, cycle_id=cycle_id, crawl=True, rdap="auto", what="candidates")
    report.observed = len(resolving)

    policy = ScoringPolicy.from_config(parts.config)
    with store.transaction() as session:
        network = profiles.network_profiles(session)
        cand_profiles = {n: profiles.site_profile(session, n, in_network=False) for n in resolving}
        stats = profiles.store_stats(session, [*network, *cand_profiles.values()])
    campaigns: dict[str, str] = {}
    with store.transaction() as session:
        for p in network:
            info = watchlist.get_domain(session, p.domain)
            campaigns[p.domain] = info.campaign if info else ""
    with stage(parts.progress, "candidates: score", len(resolving)) as step:
        for name in resolving:
            _score_one(parts, found[name], cand_profiles[name], network, stats, policy, campaigns, now, report)
            step.advance()
    return report


def _score_one(parts: Components, c: Candidate, profile: SiteProfile, network: Sequence[SiteProfile],
               stats: StoreStats, policy: ScoringPolicy, campaigns: dict[str, str], now: datetime,
               report: HuntReport) -> None:
    """Score one candidate; a clone gets its lineage edge and its alert in one transaction."""
    name = c.domain
    verdict = score_candidate(profile, network, stats, Discovery(c.source, c.via, c.seed), policy, now=now)
    report.verdicts.append(verdict)
    with parts.store.transaction() as session:
        candidate_store.decide(session, name, score=verdict.confidence,
                               decision="clone" if verdict.is_clone else "rejected",
                               evidence=verdict.evidence, now=now)
        if not verdict.is_clone or verdict.predecessor is None or verdict.relation is None:
            return
        report.clones.append(verdict)
        watchlist.promote(session, name, campaign=campaigns.get(verdict.predecessor, ""), now=now)
        edge_id, created = lineage.add_edge(session, from_domain=verdict.predecessor, to_domain=name,
                                            relation=verdict.relation, confidence=verdict.confidence,
                                            evidence=verdict.evidence, now=now)
        if created:
            outbox.enqueue(session, edge_id, now=now, message_id=new_message_id())
            report.new_edges += 1
            log.info("clone: %s → %s (%s, %.2f)", verdict.predecessor, name, verdict.relation.value,
                     verdict.confidence)
