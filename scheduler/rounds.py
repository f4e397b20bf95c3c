"""A round: one set of domains observed (DNS, crawl, RDAP, classify, record) in batches of [cluster]
observe_batch. The watchlist's probe and crawl rounds are rounds, and so are the candidates a hunt chose
(a takedown's lookalikes, a sweep's pick). The embedded process runs a round's batches one after another;
cluster mode runs them as `observe` jobs the workers share (``Components.run_batches``), each batch's
report kept in the cycle log under the round's job and the round's name. A round split into batches then
re-checks its domains against the seizure banners it first saw (scheduler/observe.py ``recheck_banners``):
the embedded process in the round's job, cluster mode as `recheck` jobs the workers share
(``Components.run_rechecks``, scheduler/recheck_jobs.py).

A crawl round never splits one host's sites over two batches, except a host with more sites than a
batch holds; such a host's batches are marked with its key (:class:`RoundPlan`), and cluster mode runs
the batches of one such host one after another (a procrastinate lock per host), so two workers never
crawl one host at once, as one process never does."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from scheduler.components import Components
from scheduler.host_groups import host_keys
from scheduler.observe import ObserveReport, banners_to_recheck, observe, recheck_banners, takedown_pages
from scheduler.recheck_jobs import plan_rechecks
from storage import observations

log = logging.getLogger(__name__)

WATCHED = "watched"
"""The watchlist's probe or crawl round."""
LOST = "lost"
"""The lookalikes of the domains a takedown just lost, chosen by their hunt (observed uncapped)."""
SWEEP = "sweep"
"""The candidates a discovery sweep chose (up to the hunt's cap)."""
ROUNDS = (WATCHED, LOST, SWEEP)
"""One job may run one of each (a full cycle: its round, its takedowns' hunt, its sweep)."""


def label(round_name: str) -> str:
    """What a round's progress display calls the domains it observes."""
    return "watched" if round_name == WATCHED else "candidates"


@dataclass(frozen=True)
class RoundPlan:
    """A round's batches, and per batch the key of the host with more sites than a batch holds whose
    sites it carries ("" = none): the batches of one such host must not be crawled at once."""

    batches: list[list[str]]
    serial: list[str]


def plan_batches(parts: Components, domains: list[str], *, crawl: bool, hosts: Mapping[str, str] | None = None
                 ) -> list[list[str]]:
    """:func:`plan_round`'s batches."""
    return plan_round(parts, domains, crawl=crawl, hosts=hosts).batches


def plan_round(parts: Components, domains: list[str], *, crawl: bool, hosts: Mapping[str, str] | None = None
               ) -> RoundPlan:
    """A round's domains in batches of [cluster] observe_batch. A probe keeps the watchlist's order. A
    crawl groups the domains whose last DNS answers share any address, directly or through others (one
    host, keyed by the group's lowest address: scheduler/host_groups.py) and never splits a group across
    batches, so two workers never crawl one host's sites at once and one crawler's politeness per host
    ([crawler] host_delay) holds; only a host with more sites than a batch holds is split, into batches of
    its own (logged). ``hosts``: a host key to use instead of the stored answer (a hunt's candidates,
    mostly never stored: their resolve's answer fingerprint, so names on one answer go together)."""
    size = parts.config.cluster.observe_batch
    if not crawl:
        probe = [domains[i:i + size] for i in range(0, len(domains), size)]
        return RoundPlan(probe, [""] * len(probe))
    hinted = hosts or {}
    with parts.store.transaction() as session:
        stored = observations.latest_dnses(session, [name for name in domains if name not in hinted])
    addresses: dict[str, tuple[str, ...]] = {}
    for name in domains:
        dns = stored.get(name)
        addresses[name] = ((hinted[name],) if name in hinted else
                           (*dns.get("A"), *dns.get("AAAA")) if dns is not None else ())
    host = host_keys(addresses)
    batches = pack_host_groups(host, size)
    for address, count in sorted(Counter(host.values()).items()):
        if address and count > size:
            log.info("crawl round: host %s has %d sites, more than a batch of %d: its crawl is split over %d "
                     "batches, crawled one after another", address, count, size, -(-count // size))
    return RoundPlan(batches, oversized_hosts(batches, host, size))


def oversized_hosts(batches: list[list[str]], host: Mapping[str, str], size: int) -> list[str]:
    """Per batch, the host ("" = none) with more than ``size`` sites whose sites it carries (a batch of
    :func:`pack_host_groups` carries at most one: such a host never joins a batch with room). Pure."""
    big = {address for address, count in Counter(host.values()).items() if address and count > size}
    out: list[str] = []
    for batch in batches:
        mine = sorted({host[name] for name in batch} & big)
        assert len(mine) <= 1, mine
        out.append(mine[0] if mine else "")
    return out


def pack_host_groups(host: dict[str, str], size: int) -> list[list[str]]:
    """Domain → its host's address ("" = none known: a group of its own) → batches of at most ``size``
    in which every host group is whole (first fit, largest group first), except a group larger than
    ``size``, which fills batches of its own. Each batch sorted by (address, domain); pure."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in sorted(host, key=lambda d: (host[d], d)):
        groups.setdefault((host[name], "" if host[name] else name), []).append(name)  # no address: alone
    batches: list[list[str]] = []
    room: dict[int, int] = {}  # batch index → free places, for the batches not yet full (in order)
    for members in sorted(groups.values(), key=lambda g: (-len(g), host[g[0]], g[0])):
        fit = next((i for i, free in room.items() if free >= len(members)), None)
        if fit is None:  # a new batch; a host with more sites than a batch holds fills batches of its own
            for start in range(0, len(members), size):
                batches.append(members[start:start + size])
                if len(batches[-1]) < size:
                    room[len(batches) - 1] = size - len(batches[-1])
        else:
            batches[fit] += members
            room[fit] -= len(members)
            if room[fit] == 0:
                del room[fit]
    return [sorted(b, key=lambda d: (host[d], d)) for b in batches]


async def observe_batch(parts: Components, domains: list[str], *, now: datetime, cycle_id: int | None,
                        crawl: bool, round_name: str = WATCHED) -> ObserveReport:
    """One batch of a round (probe, crawl when ``crawl``, RDAP when never looked up or when the DNS
    picture changed, classify, record): the embedded process runs a round's batches one after another,
    cluster workers one job each. Run again at the same ``now`` it records no second status change,
    edge or mail."""
    return await observe(parts, domains, now=now, cycle_id=cycle_id, crawl=crawl, recheck=False,
                         what=label(round_name))


async def observe_round(parts: Components, domains: list[str], *, now: datetime, cycle_id: int | None,
                        crawl: bool, round_name: str = WATCHED, hosts: Mapping[str, str] | None = None
                        ) -> ObserveReport:
    """Observe ``domains``: in one go when they fit one batch (the embedded process), else batch by batch,
    then the round's banner re-check over them all. ``hosts``: as :func:`plan_batches`.

    Cluster mode (``parts.run_batches``) runs even a round of one batch as a batch job: its report and the
    hunts its losses queued are then in the cycle log, so a job killed after its round and resumed reads
    them there instead of observing the round a second time (which found no status change — the killed
    attempt had recorded them — and crawled the sites again while the hunt's cut score jobs were reading)."""
    if len(domains) <= parts.config.cluster.observe_batch and (parts.run_batches is None or cycle_id is None):
        return await observe(parts, domains, now=now, cycle_id=cycle_id, crawl=crawl, what=label(round_name))
    plan = plan_round(parts, domains, crawl=crawl, hosts=hosts)
    batches = plan.batches
    with parts.store.transaction() as session:
        banners = takedown_pages(session, before=now)  # a resumed round's job: its batches' seizures are not "before"
    report = ObserveReport()
    if parts.run_batches is not None:
        ran = await parts.run_batches(batches, crawl, cycle_id, now, round_name, plan.serial)
        for _batch, part in ran:
            report.merge(part)
        # A resumed round (cluster mode) ran the batches its killed first attempt planned too: the
        # re-check and the order cover those domains as well.
        names = {name for batch, _part in ran for name in batch}
        domains = [*domains, *sorted(names - set(domains))]
    else:
        for batch in batches:
            report.merge(await observe_batch(parts, batch, now=now, cycle_id=cycle_id, crawl=crawl,
                                             round_name=round_name))
    # in the round's order, as one batch records them (a crawl round's batches are grouped by host)
    position = {name: i for i, name in enumerate(domains)}
    report.changes.sort(key=lambda change: position.get(change[0], len(position)))
    await _recheck(parts, domains, banners, now, report, cycle_id=cycle_id, round_name=round_name)
    return report


async def _recheck(parts: Components, domains: list[str], banners: dict[str, str], now: datetime,
                   report: ObserveReport, *, cycle_id: int | None, round_name: str) -> None:
    """The round's banner re-check (scheduler/observe.py ``recheck_banners``): here, or in cluster mode as
    ``recheck`` jobs of [cluster] observe_batch domains the workers share (``parts.run_rechecks``,
    scheduler/recheck_jobs.py), each classifying against the banners read here once."""
    if parts.run_rechecks is None or cycle_id is None:
        recheck_banners(parts, domains, banners, now, report)
        return
    fresh = banners_to_recheck(parts, banners, report)
    if fresh is None:
        return
    batches = plan_rechecks(domains, parts.config.cluster.observe_batch)
    log.info("round %s (%s): a seizure banner first seen; %d domains classified again in %d re-check batch(es)",
             cycle_id, round_name, len(domains), len(batches))
    report.merge(await parts.run_rechecks(cycle_id, round_name, batches, fresh, now))
