"""The hunt: generate candidates, resolve them, observe the live ones, score, record lineage and alerts.

Two parts, in this order:

1. **Lost** (a takedown just seen): every lookalike of each lost domain — tld-swap over ``[discovery]
   tlds``, the typo fuzzers on its own suffix and on every suffix the network uses — is resolved, and
   every one that resolves is observed before anything else. No cap applies. The lookalikes are
   generated and resolved in parts by label group (scheduler/sweep_parts.py, as a sweep's: cluster
   workers share them) and merged as one resolve would have found them.
2. **Sweep** (periodic): names deferred by an earlier hunt, redirect and outlink targets of live network
   sites, similar pages, lookalikes of every network label, CT search, NRD feeds, zone-file differences,
   CertStream, passive DNS. Resolved in bounded batches (scheduler/hunt_resolve.py); the names read from the
   store in slices, the lookalikes in parts and the network-bound sources each on its own
   (scheduler/sweep_sources.py, scheduler/sweep_parts.py: cluster workers share them),
   merged in one order whatever ran them; observed in the order of detect/hunt_order.py up to
   MAX_OBSERVED_PER_HUNT (redirect/outlink targets always); the rest is deferred to the next sweep.

The candidates each part chose are observed as a round (scheduler/rounds.py: in batches of [cluster]
observe_batch, which cluster workers share, then one banner re-check over them all). Scoring comes last,
once everything the hunt observes is stored: the strangers a sweep meets (the NRD feed's sites on the
network's hosting, the CT search's namesakes) are what tells shared hosting from the operator's own, so a
lost domain's lookalike is weighed against them, not before them. The embedded process scores in the
hunt's own job; cluster mode in batches of [cluster] score_batch, as ``score`` jobs the workers share
(scheduler/score_jobs.py), every batch against the same view of the store.

A rejected candidate whose DNS answer is unchanged is not crawled again for
``discovery.recheck_rejected_hours``. A failing source is reported in ``source_errors``; the hunt goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detect.hunt_order import plan_observation
from detect.lookalike import network_suffixes
from detect.model import Candidate
from detect.scoring import SiteProfile
from scheduler import hunt_sources as sources
from scheduler import score_jobs
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from scheduler.hunt_resolve import Resolved, Wildcards
from scheduler.rounds import LOST, SWEEP, observe_round
from scheduler.score_jobs import plan_scoring
from scheduler.sweep_parts import SweepPart, consume, merge_parts, plan_lost_parts, plan_parts, run_parts
from scheduler.sweep_sources import SourcePlan, ask_sources, merge_sources, plan_sources, unasked
from storage import candidates as candidate_store
from storage import profiles, watchlist

__all__ = ["MAX_OBSERVED_PER_HUNT", "HuntReport", "hunt"]

log = logging.getLogger(__name__)

MAX_OBSERVED_PER_HUNT = 400
"""Candidates one hunt crawls, besides lost domains' lookalikes and redirect/outlink targets."""
NEVER_SKIPPED = frozenset({"similar"})
"""Sources looked at again even when rejected on the same answer: they come back because the network changed."""


@dataclass
class _Context:
    """What both parts of one hunt share."""

    network: list[SiteProfile]
    typo_tlds: tuple[str, ...]
    ignore: set[str]          # watched domains and [brands] legitimate: never candidates
    done: set[str]            # observed by this hunt already
    wildcards: Wildcards
    recheck_since: datetime
    part_wildcards: set[str] = field(default_factory=set)  # wildcard suffixes the sweep's parts found

    def skip(self, name: str) -> bool:
        return name in self.ignore or name in self.done


async def hunt(parts: Components, *, lost: Sequence[str], sweep: bool, now: datetime,
               cycle_id: int | None) -> HuntReport:
    if cycle_id is None:
        raise ValueError("a hunt needs the cycle-log id of its job (its parts and batches are recorded under it)")
    report = HuntReport()
    ctx = _context(parts, lost, now)
    observed: list[Candidate] = []
    # parts 0 … n-1 (the sweep's follow); cut in slices only where they run as jobs (embedded, a slice
    # would only generate its group's lookalikes once more)
    slices = parts.config.cluster.takedown_slices if parts.run_sweep_parts is not None else 1
    lost_plan = plan_lost_parts(lost, parts.config.cluster.sweep_labels, slices)
    if lost:
        observed += await _hunt_lost(parts, ctx, lost, lost_plan, now=now, cycle_id=cycle_id, report=report)
    if sweep:
        observed += await _sweep(parts, ctx, lost, now=now, cycle_id=cycle_id, report=report,
                                 first_part=len(lost_plan))
    network = [p.domain for p in ctx.network]
    # Scoring reads its own view of the network's profiles (scheduler/score_jobs.py): the hunt's are let go
    # first, not held beside them (at 10^5 watched sites each copy is hundreds of MB).
    ctx.network = []
    await _score_all(parts, network, observed, now=now, cycle_id=cycle_id, report=report)
    consume(parts, sweep=cycle_id, now=now)  # its parts' names: kept until now, for a resumed job (cluster mode)
    report.wildcard_tlds = sorted(set(ctx.wildcards.active) | ctx.part_wildcards)
    return report


def _context(parts: Components, lost: Sequence[str], now: datetime) -> _Context:
    with parts.store.transaction() as session:
        network = profiles.network_profiles(session)
        watched = set(watchlist.watched_names(session))
    cfg = parts.config.discovery
    return _Context(network=network, typo_tlds=network_suffixes([*(p.domain for p in network), *lost]),
                    ignore=watched | set(parts.config.brands.legitimate), done=set(),
                    wildcards=Wildcards(parts, salt=now.isoformat()),
                    recheck_since=now - timedelta(hours=cfg.recheck_rejected_hours))


async def _hunt_lost(parts: Components, ctx: _Context, lost: Sequence[str], split: list[SweepPart], *,
                     now: datetime, cycle_id: int, report: HuntReport) -> list[Candidate]:
    """Every resolving lookalike of the just-lost domains, observed at once, uncapped. Generated and
    resolved in the parts of ``split`` (cluster mode: jobs the workers share), merged here as if
    resolved in one go over ``lost``."""
    found: dict[str, Resolved] = {}
    await run_parts(parts, sweep=cycle_id, plan=split, typo_tlds=ctx.typo_tlds, now=now, wildcards=ctx.wildcards)
    ctx.part_wildcards |= merge_parts(parts, sweep=cycle_id, plan=split, seed_order=lost, skip=ctx.skip,
                                      report=report, into=found)
    fresh = _without_unchanged_rejections(parts, found, ctx, report)
    plan = plan_observation(fresh, limit=0, lost_seeds={c.seed for c in fresh})
    await _observe(parts, plan.observe, found, now=now, cycle_id=cycle_id, round_name=LOST, report=report)
    report.lost_observed = len(plan.observe)
    ctx.done.update(found)
    return list(plan.observe)


async def _sweep(parts: Components, ctx: _Context, lost: Collection[str], *, now: datetime,
                 cycle_id: int, report: HuntReport, first_part: int) -> list[Candidate]:
    """Every source, resolved in batches; observed in priority order up to the cap; the rest deferred."""
    with parts.store.transaction() as session:
        waiting = candidate_store.deferred(session)
        infra = profiles.network_infrastructure(session, ctx.network)
    found: dict[str, Resolved] = {}
    # Deferred names, hub links, redirect targets and similar pages: resolved as the sweep's first sources, in
    # slices of [cluster] sweep_names (cluster mode: jobs the workers share; embedded: one), merged before
    # the parts, as one resolve over them in this order would have met them.
    from_store = [*waiting, *sources.link_candidates(ctx.network, ctx.ignore),
                  *sources.similar_candidates(parts, ctx.network)]
    asked = [c for c in from_store if not ctx.skip(c.domain)]
    report.generated += len(from_store) - len(asked)  # counted as one resolve counts the names it skips
    # Typos crossed with the network's TLDs for the domains already lost (their replacements may come days
    # later); a live domain's typos on its own suffix only: crossing every label with every network TLD is
    # 10^6 names a sweep, for squatters nobody is replacing. In parts by label group (cluster mode: jobs
    # the workers share), merged here as if resolved in one go.
    gone = [p.domain for p in ctx.network if p.status.lost and p.domain not in lost]
    live = [p.domain for p in ctx.network if not p.status.lost and p.domain not in lost]
    split = plan_parts(ctx.network, lost, parts.config.cluster.sweep_labels, first=first_part)
    # The network-bound sources (CT, NRD feeds, zone files, CertStream, pDNS) run beside the parts (cluster
    # mode: jobs queued with them), each recording what resolved; merged after the parts, in their order.
    per_slice = parts.config.cluster.sweep_names if parts.run_sweep_parts is not None else 0
    plan = plan_sources(parts, ctx.network, infra, names=asked, per_slice=per_slice)

    async def run(sources: SourcePlan) -> None:  # a run after the first: the parts are recorded, only new slices
        await run_parts(parts, sweep=cycle_id, plan=split, typo_tlds=ctx.typo_tlds, now=now, wildcards=ctx.wildcards,
                        sources=sources)

    # a retried sweep: the names of slices its first attempt recorded with other names, asked again
    plan = await ask_sources(parts, sweep=cycle_id, plan=plan, per_slice=per_slice, run=run)
    ctx.part_wildcards |= merge_sources(parts, sweep=cycle_id, plan=plan, skip=ctx.skip, report=report, into=found,
                                        names=True)
    not_asked = unasked(parts, sweep=cycle_id, plan=plan)  # none, unless a slice asked again was recorded otherwise
    ctx.part_wildcards |= merge_parts(parts, sweep=cycle_id, plan=split, seed_order=[*gone, *live], skip=ctx.skip,
                                      report=report, into=found)
    ctx.part_wildcards |= merge_sources(parts, sweep=cycle_id, plan=plan, skip=ctx.skip, report=report, into=found)

    fresh = _without_unchanged_rejections(parts, found, ctx, report)
    room = max(0, MAX_OBSERVED_PER_HUNT - report.observed)
    pick = plan_observation(fresh, room, deferred_before={c.domain for c in waiting})
    if pick.deferred:
        log.warning("hunt: observing %d of %d resolving candidates; %d deferred to the next sweep",
                    len(pick.observe), len(fresh), len(pick.deferred))
    with parts.store.transaction() as session:
        report.deferred = candidate_store.defer(session, pick.deferred, now=now)
        candidate_store.mark_unresolved(
            session, (c.domain for c in waiting if c.domain not in found and c.domain not in not_asked), now=now)
    await _observe(parts, pick.observe, found, now=now, cycle_id=cycle_id, round_name=SWEEP, report=report)
    ctx.done.update(c.domain for c in pick.observe)
    return list(pick.observe)


def _without_unchanged_rejections(parts: Components, found: dict[str, Resolved], ctx: _Context,
                                  report: HuntReport) -> list[Candidate]:
    """The resolving candidates worth observing: not those rejected recently on the same DNS answer."""
    answers = {n: r.fingerprint for n, r in found.items() if r.candidate.source not in NEVER_SKIPPED}
    with parts.store.transaction() as session:
        unchanged = candidate_store.unchanged_rejections(session, answers, since=ctx.recheck_since)
    report.unchanged += len(unchanged)
    return [r.candidate for n, r in found.items() if n not in unchanged]


async def _observe(parts: Components, chosen: Sequence[Candidate], found: dict[str, Resolved], *,
                   now: datetime, cycle_id: int, round_name: str, report: HuntReport) -> None:
    """Store the chosen candidates as such and observe them (DNS, HTTP, RDAP when never looked up or
    when the DNS picture changed, classify) as a round: in batches, cluster workers sharing them."""
    if not chosen:
        return
    names = [c.domain for c in chosen]
    with parts.store.transaction() as session:
        watchlist.add_domains(session, names, campaign="", origin="candidate", now=now, watched=False)
        for c in chosen:
            candidate_store.upsert(session, c.domain, source=c.source, via=c.via, seed=c.seed, now=now,
                                   fingerprint=found[c.domain].fingerprint)
    # names on one DNS answer (one host, most likely) go in one batch: one crawler's politeness per host
    hosts = {c.domain: f"answer {found[c.domain].fingerprint}" for c in chosen}
    seen = await observe_round(parts, names, now=now, cycle_id=cycle_id, crawl=True, round_name=round_name,
                               hosts=hosts)
    for key, count in seen.registry.items():  # lookups made by the workers' batches
        report.registry[key] = report.registry.get(key, 0) + count
    report.observed += len(names)


async def _score_all(parts: Components, network: list[str], chosen: Sequence[Candidate], *, now: datetime,
                     cycle_id: int, report: HuntReport) -> None:
    """Score every candidate the hunt observed against one view of the store taken after all of them, and
    the network as it was when the hunt began: no cascade, a clone accepted earlier in this hunt is not
    yet evidence for others (scheduler/score_jobs.py). Embedded: one batch, here; cluster mode: batches of
    [cluster] score_batch as ``score`` jobs (``parts.run_score_batches``). The report from their records."""
    if not chosen:
        return
    if parts.run_score_batches is None:
        plan = plan_scoring(chosen, network, len(chosen))
        score_jobs.score_inline(parts, cycle_id, plan, now=now)
    else:
        # Cluster mode: the runner scores a plan of one batch in this job too, unless this hunt is a resumed
        # one whose first attempt queued score jobs: then that attempt's plan (its network, before its
        # batches' promotions) is taken up, not one of this attempt's candidates scored as its batch 0.
        plan = await parts.run_score_batches(cycle_id, plan_scoring(chosen, network, parts.config.cluster.score_batch),
                                             now)
    score_jobs.collect(parts, cycle_id, plan, report)
