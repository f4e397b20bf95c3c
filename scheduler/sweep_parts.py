"""A discovery sweep's lookalikes in parts: the network's labels, sorted, in groups of [cluster]
sweep_labels; each part generates the lookalikes of its group's domains and resolves them, and records
once what resolved (storage/sweeps.py). The embedded process runs the parts one after another, cluster
workers one job each, several at once; then the sweep's own job (the final step) merges them, in the
order one process would have met them, and goes on to observe and score (scheduler/hunt.py).

A takedown's hunt does the same with the domains just lost (:func:`plan_lost_parts`): their lookalikes,
crossed with the network's suffixes, in parts by label group, merged as one resolve over the lost
domains would have found them. In cluster mode each label group is cut into [cluster] takedown_slices
parts by a hash of the candidate name (every slice generates the group's lookalikes and resolves the
names that hash to it), so the takedown of one big label spreads over the workers; each name falls in
one slice, so the merge is the same. Its parts are numbered first; the same job's sweep numbers its
parts after them (both are recorded under the job's cycle-log id)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from detect.model import Candidate
from detect.names import InvalidDomain, split
from detect.scoring import SiteProfile
from scheduler import hunt_sources as sources
from scheduler.components import Components, worker_id
from scheduler.hunt_report import HuntReport
from scheduler.hunt_resolve import Resolved, WatchedSkip, Wildcards, join_recorded, resolve
from scheduler.sweep_sources import SourcePlan, run_sources
from storage import sweep_sources, sweeps

T = TypeVar("T")


@dataclass(frozen=True)
class SweepPart:
    """Part ``index`` of a sweep: its label group's domains already lost (``gone``: typos crossed with the
    network's suffixes) and live (``live``: typos on their own suffix), in the network's order. Of their
    lookalikes the part resolves those in slice ``cut`` of ``cuts`` (:func:`in_slice`; all when 1)."""

    index: int
    gone: tuple[str, ...]
    live: tuple[str, ...]
    cut: int = 0
    cuts: int = 1


def in_slice(name: str, cut: int, cuts: int) -> bool:
    """Whether candidate ``name`` belongs to slice ``cut`` of ``cuts``: a stable hash (CRC-32, the same
    in every process), so each name is in exactly one slice."""
    return cuts <= 1 or zlib.crc32(name.encode()) % cuts == cut


def _sliced(candidates: Iterable[Candidate], cut: int, cuts: int) -> Iterator[Candidate]:
    return (c for c in candidates if in_slice(c.domain, cut, cuts))


def plan_parts(network: Sequence[SiteProfile], lost: Collection[str], labels_per_part: int, *,
               first: int = 0) -> list[SweepPart]:
    """The sweep's parts, numbered from ``first``: deterministic for one network (sorted labels, fixed
    group size); the domains just lost are not in any (their own hunt generated their lookalikes)."""
    seeds = [p for p in network if p.domain not in lost]
    groups = _grouped(seeds, lambda p: p.label, labels_per_part)
    return [SweepPart(index, tuple(p.domain for p in group if p.status.lost),
                      tuple(p.domain for p in group if not p.status.lost))
            for index, group in enumerate(groups, start=first)]


def _grouped(items: Sequence[T], label: Callable[[T], str], per_group: int) -> list[list[T]]:
    """``items`` in groups of ``per_group`` labels (sorted labels, cut in order), each group's items in
    ``items``' order: one pass (a pass per group over every item was quadratic: 5,000 groups × 10⁵ network
    sites at 10⁵, minutes of a sweep's own job)."""
    labels = sorted({label(item) for item in items})
    group_of = {name: i // per_group for i, name in enumerate(labels)}
    groups: list[list[T]] = [[] for _ in range(-(-len(labels) // per_group))]
    for item in items:
        groups[group_of[label(item)]].append(item)
    return groups


def plan_lost_parts(lost: Sequence[str], labels_per_part: int, slices: int = 1) -> list[SweepPart]:
    """A takedown hunt's parts, numbered from 0: the domains just lost (all ``gone``: their typos are
    crossed with the network's suffixes) by label group as :func:`plan_parts` groups them, each part's
    domains in ``lost``'s order; each group cut into ``slices`` parts (slice 0 … slices-1 of its
    lookalikes, :func:`in_slice`), so one label's lookalikes can be resolved by several workers."""
    out: list[SweepPart] = []
    cuts = max(1, slices)
    for group in _grouped(lost, _label, labels_per_part):
        out += [SweepPart(len(out) + cut, tuple(group), (), cut, cuts) for cut in range(cuts)]
    return out


def _label(domain: str) -> str:
    try:
        return split(domain).label
    except InvalidDomain:  # no lookalikes either (hunt_sources.lookalikes says so): a part of its own
        return domain


async def sweep_part(parts: Components, *, sweep: int, part: SweepPart, typo_tlds: Sequence[str],
                     now: datetime, wildcards: Wildcards | None = None) -> bool:
    """Generate and resolve the lookalikes of one part and record what resolved (both modes run this).
    A part recorded already is not run again; run twice at once, the second records nothing. True when
    this run recorded it. ``wildcards``: the sweep's own cache of each suffix's wildcard answer when the
    part runs in the sweep's process (a part on a worker probes the suffixes it meets itself)."""
    with parts.store.transaction() as session:
        if sweeps.is_done(session, sweep, part.index):
            return False
    report = HuntReport()
    found: dict[str, Resolved] = {}
    if wildcards is None:  # the sweep's salt: the same nonsense names as the sweep's own
        wildcards = Wildcards(parts, salt=now.isoformat())
    skip = WatchedSkip(parts)  # the watched among the part's own lookalikes, not the whole watchlist
    await resolve(parts, skip.stream(_sliced(sources.lookalikes(parts, part.gone, typo_tlds), part.cut, part.cuts)),
                  skip=skip, wildcards=wildcards, report=report, into=found)
    await resolve(parts, skip.stream(_sliced(sources.lookalikes(parts, part.live, ()), part.cut, part.cuts)),
                  skip=skip, wildcards=wildcards, report=report, into=found)
    with parts.store.transaction() as session:
        return sweeps.record(session, sweep, part.index,
                             [sweeps.Found(part.index, n, r.candidate.source, r.candidate.via, r.candidate.seed,
                                           r.fingerprint) for n, r in found.items()],
                             generated=report.generated, wildcards=wildcards.active, worker=worker_id(), now=now)


async def run_parts(parts: Components, *, sweep: int, plan: list[SweepPart], typo_tlds: Sequence[str],
                    now: datetime, wildcards: Wildcards, sources: SourcePlan | None = None) -> None:
    """Every part of the sweep, and its ``sources`` (scheduler/sweep_sources.py): through
    ``parts.run_sweep_parts`` (cluster mode: jobs the workers share, queued together), else one after
    another here, sharing the sweep's ``wildcards`` (each of ~1,444 suffixes probed once a sweep, not
    once a part)."""
    if parts.run_sweep_parts is not None:
        await parts.run_sweep_parts(sweep, plan, tuple(typo_tlds), now, sources)
        return
    for part in plan:
        await sweep_part(parts, sweep=sweep, part=part, typo_tlds=typo_tlds, now=now, wildcards=wildcards)
    if sources is not None:
        await run_sources(parts, sweep=sweep, plan=sources, now=now, wildcards=wildcards)


def merge_parts(parts: Components, *, sweep: int, plan: list[SweepPart], seed_order: Sequence[str],
                skip: Callable[[str], bool], report: HuntReport, into: dict[str, Resolved]) -> set[str]:
    """The final step's first half: the names every part of ``plan`` found join ``into`` as one resolve
    over all the seeds in ``seed_order`` would have added them (the first discovery of the highest
    priority wins, a name met already is only merged, skipped names are dropped), the parts' counts join
    ``report``. The parts' names stay recorded until the hunt has scored what it observed
    (:func:`consume`): a job killed before then and resumed (cluster mode) reads them again. Returns the
    suffixes the parts found answering every name."""
    indices = {p.index for p in plan}
    with parts.store.transaction() as session:
        done = sweeps.parts_of(session, sweep, indices)
        rows = sweeps.found_of(session, sweep, indices)
        missing = sorted(indices - {d.part for d in done})
        if missing:
            raise RuntimeError(f"sweep {sweep}: part(s) {missing} not recorded")
    # A part's name carries the discovery that won within the part, i.e. its first of the best priority;
    # across parts the same rule, in the order one resolve would have met their seeds.
    order = {seed: i for i, seed in reversed(list(enumerate(seed_order)))}
    rows.sort(key=lambda f: (order.get(f.seed, len(order)), f.name))
    report.generated += sum(d.generated for d in done)
    join_recorded(into, (Resolved(Candidate(f.name, f.source, f.via, f.seed), f.fingerprint) for f in rows),
                  skip, report)
    return {s for d in done for s in d.wildcards}


def consume(parts: Components, *, sweep: int, now: datetime) -> None:
    """The hunt of job ``sweep`` has observed and scored what its parts (its takedowns' and its sweep's)
    and its sweep's sources found: drop their names."""
    with parts.store.transaction() as session:
        sweeps.consumed(session, sweep, now=now)
        sweep_sources.consumed(session, sweep, now=now)
