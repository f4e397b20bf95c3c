"""A discovery sweep's sources besides its lookalikes — the names it read from the store (in slices), CT
search, NRD feeds, zone files (one source a zone), CertStream, passive DNS — each run on its own: it reads
its source, screens and resolves the names, and records once what resolved, with its errors and notes, in
the transaction that advances its cursors (storage/sweep_sources.py). The embedded process runs them one
after another after the sweep's lookalike parts; cluster workers one job each, queued with those parts in
one transaction (scheduler/cluster.py). The sweep's final step merges the names slices first, then the
parts, then the other sources in SOURCES order, as one process resolving them in turn would have met them
(scheduler/hunt.py). The names from the store (deferred by an earlier hunt, hub links, similar pages) are
read by the sweep from the store and its process's index and handed to the slices.

What a source needs of the network (its domains, labels, infrastructure, the pDNS values worth asking)
is computed by the sweep and handed over (:class:`SourceInputs`, a job's payload in cluster mode), so a
source on a worker sees the network as the sweep saw it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.zonestate import ZoneState
from detect.model import Candidate, Indicator
from detect.scoring import SiteProfile
from scheduler import hunt_sources as sources
from scheduler.components import Components, worker_id
from scheduler.hunt_pdns import asked_values, pdns_asked
from scheduler.hunt_report import HuntReport
from scheduler.hunt_resolve import Resolved, WatchedSkip, Wildcards, join_recorded, resolve
from scheduler.name_screen import NameScreen
from scheduler.settings import ZONE_TLD_MAX, tld_labels_ok
from scheduler.source_state import PendingMemory
from scheduler.zone_source import zone_candidates, zone_specs
from storage import sweep_sources

log = logging.getLogger(__name__)

SOURCES = ("ct", "nrd", "zone", "certstream", "pdns")
"""Every kind of sweep source, in the order the sweep resolves (and merges) them. Zone files run as one
source per configured zone, ``zone:<tld>`` (:func:`zone_source`), in the config's order at the zone's place:
two zones are two jobs that two zone workers can read at once (cluster mode), each under its zone's lock."""
ZONE_PREFIX = "zone:"
NAMES_INDEX = 10_000
"""The job number of slice ``names:0`` (SourcePlan.index): above any configured source's (one a zone file)."""
NAMES_PREFIX = "names:"
"""A sweep's names read from the store — deferred by an earlier hunt, hub links and redirect targets of live
network sites, stored pages similar to the network's — resolved in slices of [cluster] sweep_names (cluster
mode; embedded: one), each a source ``names:<k>`` that carries its candidates (:meth:`SourcePlan.payload`),
merged before the lookalike parts, where one process resolving them first met them. Each slice records
which names it was given (a digest, :func:`names_digest`): a resumed attempt whose store gave other names
than its first's finds a slice recorded with other names, and asks that slice's names again in slices of
their own (:func:`resumed_names`); :func:`unasked` says which names no slice was asked, so a deferred name
is never taken for one that stopped resolving."""
SCREEN = frozenset({"labels", "infra"})
NEEDS = {"ct": frozenset({"names"}), "nrd": SCREEN, "zone": SCREEN, "certstream": SCREEN,
         "pdns": frozenset({"names", "labels", "infra", "asked"}), "names": frozenset()}
"""What each kind of source reads of :class:`SourceInputs`."""


def zone_source(tld: str) -> str:
    """The sweep source that reads zone ``tld``'s file."""
    return f"{ZONE_PREFIX}{tld}"


def names_source(index: int) -> str:
    """The sweep source resolving slice ``index`` of the sweep's names from the store."""
    return f"{NAMES_PREFIX}{index}"


def kind_of(source: str) -> str:
    """The kind (an entry of SOURCES, or ``names``) of sweep source ``source``: ``zone`` for ``zone:<tld>``,
    ``names`` for ``names:<k>``."""
    return "zone" if source.startswith(ZONE_PREFIX) else "names" if source.startswith(NAMES_PREFIX) else source


def known(source: str) -> bool:
    """Whether ``source`` names a sweep source: an entry of SOURCES, ``zone:<tld>`` (bare ``zone``, every
    configured zone in one source, is how sweeps before the split named it) or ``names:<k>``."""
    if source.startswith(NAMES_PREFIX):
        index = source[len(NAMES_PREFIX):]
        return index.isascii() and index.isdigit() and len(index) <= 6 and str(int(index)) == index
    return source in SOURCES or (source.startswith(ZONE_PREFIX) and _tld_ok(source[len(ZONE_PREFIX):]))


def _tld_ok(tld: str) -> bool:
    """A zone's TLD as the config keeps it (lower case, ZONE_TLD_MAX characters at most)."""
    return len(tld) <= ZONE_TLD_MAX and tld == tld.lower() and tld_labels_ok(tld)


def slice_number(source: str) -> int:
    """``k`` of the names slice ``names:<k>``."""
    return int(source[len(NAMES_PREFIX):])


@dataclass(frozen=True)
class SourceInputs:
    """What the sources need of the network, as the sweep saw it."""

    names: tuple[str, ...]                       # the network's domains (CT keywords, pDNS's known names)
    labels: tuple[str, ...]                      # their labels, sorted (the name screen)
    infra: tuple[Indicator, ...]                 # the network's infrastructure (the name screen)
    asked: tuple[tuple[Indicator, str], ...]     # pDNS: the values worth asking, each with its seed

    @classmethod
    def of(cls, network: Sequence[SiteProfile], infrastructure: Iterable[Indicator]) -> SourceInputs:
        infra = tuple(sorted(infrastructure, key=lambda i: (i.kind, i.value)))
        return cls(tuple(p.domain for p in network), tuple(sorted({p.label for p in network})), infra,
                   tuple(asked_values(network, infra)))

    def payload(self, source: str) -> dict[str, Any]:
        """What ``source`` reads of them, as a job's payload (the rest sent empty: a network of 10⁵
        domains would otherwise put its names five times in the queue): CT its names (keywords); NRD,
        zone files and CertStream the name screen's labels and infrastructure; pDNS all four."""
        need = NEEDS[kind_of(source)]
        return {"names": list(self.names) if "names" in need else [],
                "labels": list(self.labels) if "labels" in need else [],
                "infra": [[i.kind, i.value] for i in self.infra] if "infra" in need else [],
                "asked": [[i.kind, i.value, seed] for i, seed in self.asked] if "asked" in need else []}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SourceInputs:
        return cls(tuple(payload["names"]), tuple(payload["labels"]),
                   tuple(Indicator(k, v) for k, v in payload["infra"]),
                   tuple((Indicator(k, v), seed) for k, v, seed in payload["asked"]))


@dataclass(frozen=True)
class SourcePlan:
    """The sources a sweep runs (the configured ones, in SOURCES order) and what they need."""

    sources: tuple[str, ...]
    inputs: SourceInputs
    names: tuple[tuple[Candidate, ...], ...] = ()  # the store names' slices: source names:<k> resolves names[k]
    again: frozenset[str] = frozenset()  # slices recorded with other names, whose names later slices ask again

    def index(self, source: str) -> int:
        """``source``'s job's number, the same in every attempt of a sweep: a configured source its place
        among them (fixed by the config), slice ``names:<k>`` NAMES_INDEX + k (the number of slices changes
        with the store: were they numbered by place, a retried attempt's sources would take its first
        attempt's numbers of other sources)."""
        if kind_of(source) == "names":
            return NAMES_INDEX + slice_number(source)
        return [s for s in self.sources if kind_of(s) != "names"].index(source)

    def names_of(self, source: str) -> tuple[Candidate, ...]:
        """The candidates source ``source`` resolves itself (a ``names:<k>`` slice's; none for the others)."""
        return self.names[slice_number(source)] if kind_of(source) == "names" else ()

    def payload(self, source: str) -> dict[str, Any]:
        """What ``source``'s job carries: what it reads of the network's inputs, and a names slice its
        candidates as [name, source, via, seed]."""
        out = self.inputs.payload(source)
        if kind_of(source) == "names":
            out["candidates"] = [[c.domain, c.source, c.via, c.seed] for c in self.names_of(source)]
        return out


def plan_sources(parts: Components, network: Sequence[SiteProfile], infrastructure: Iterable[Indicator], *,
                 names: Sequence[Candidate] = (), per_slice: int = 0) -> SourcePlan:
    """The sweep's sources: ``names`` read from the store in slices of ``per_slice`` (0: one slice), then the
    configured sources (deterministic for one config) in SOURCES' order, one ``zone:<tld>`` source per
    configured zone in the config's order; with the network's inputs."""
    cfg = parts.config.discovery
    on = {"ct": bool(cfg.ct_search_url), "nrd": bool(cfg.nrd_feeds), "certstream": bool(cfg.certstream_url),
          "pdns": bool(cfg.pdns_url)}
    zones = tuple(dict.fromkeys(zone_source(spec.tld) for spec in zone_specs(cfg)))
    size = per_slice if per_slice > 0 else max(1, len(names))
    slices = tuple(tuple(names[start:start + size]) for start in range(0, len(names), size))
    planned = [names_source(k) for k in range(len(slices))]
    for kind in SOURCES:
        planned += zones if kind == "zone" else ([kind] if on[kind] else [])
    return SourcePlan(tuple(planned), SourceInputs.of(network, infrastructure), slices)


async def _candidates(parts: Components, source: str, inputs: SourceInputs, names: Sequence[Candidate],
                      report: HuntReport, memory: PendingMemory, zones: list[ZoneState],
                      now: datetime) -> AsyncIterator[Candidate]:
    if kind_of(source) == "names":
        for c in names:
            yield c
        return
    if source == "ct":
        for c in await sources.ct_candidates(parts, inputs.names, report, now=now, memory=memory):
            yield c
        return
    screen = NameScreen.for_hunt(parts, inputs.labels, inputs.infra)
    if source == "nrd":
        stream = sources.nrd_candidates(parts, inputs.labels, frozenset(inputs.infra), report, screen, now=now,
                                        memory=memory)
    elif kind_of(source) == "zone":  # one zone (bare "zone": every configured zone, as sweeps before the split)
        only = source[len(ZONE_PREFIX):] if source.startswith(ZONE_PREFIX) else None
        stream = zone_candidates(parts, screen, report, now, screened=zones, only=only)
    elif source == "certstream":
        stream = sources.certstream_candidates(parts, screen, report)
    elif source == "pdns":
        stream = pdns_asked(parts, inputs.asked, set(inputs.names), inputs.infra, screen, report)
    else:
        raise ValueError(f"unknown sweep source {source!r} (known: {', '.join(SOURCES)}, zone:<tld>)")
    async for c in stream:
        yield c


def names_digest(names: Iterable[Candidate]) -> str:
    """Which names a ``names:<k>`` slice was given (recorded with it; :func:`unasked`)."""
    return hashlib.sha256("\n".join(sorted({c.domain for c in names})).encode()).hexdigest()[:16]


def resumed_names(parts: Components, *, sweep: int, plan: SourcePlan, per_slice: int) -> SourcePlan:
    """``plan`` for a retried sweep ``sweep``: a slice its killed first attempt recorded with other names
    than ``plan`` gives it is not run again (it is recorded), so its names go again in slices of their own
    (``per_slice`` names, 0: one), numbered after every slice recorded (their jobs' numbers follow:
    :meth:`SourcePlan.index`). A slice ``plan`` asks again already (``plan.again``) is not asked a third
    time. ``plan`` itself when no other slice of the sweep is recorded otherwise (a first attempt, the
    embedded process)."""
    with parts.store.transaction() as session:
        done = {d.source: d for d in sweep_sources.sources_of(session, sweep) if kind_of(d.source) == "names"}
    stale = [s for s in plan.sources if s in done and s not in plan.again
             and done[s].report.get("asked") != names_digest(plan.names_of(s))]
    if not stale:
        return plan
    again = [c for s in stale for c in plan.names_of(s)]
    start = max([len(plan.names), *(slice_number(s) + 1 for s in done)])
    size = per_slice if per_slice > 0 else len(again)
    extra = [tuple(again[i:i + size]) for i in range(0, len(again), size)]
    padded = (*plan.names, *([()] * (start - len(plan.names))), *extra)
    return SourcePlan((*plan.sources, *(names_source(start + k) for k in range(len(extra)))), plan.inputs, padded,
                      again=plan.again | frozenset(stale))


RESUME_PASSES = 4
"""How many times a resumed sweep runs its sources before it leaves names unasked (:func:`ask_sources`)."""


async def ask_sources(parts: Components, *, sweep: int, plan: SourcePlan, per_slice: int,
                      run: Callable[[SourcePlan], Awaitable[None]]) -> SourcePlan:
    """Run ``plan``'s sources with ``run`` (every one recorded when it returns) and return the plan they
    ran. A retried sweep first asks again the names of slices its killed first attempt recorded with other
    names (:func:`resumed_names`); and a slice of that attempt still queued or running when this one began
    is waited for by ``run`` and recorded with the first attempt's names: its names are asked again the same
    way, in a further run. After RESUME_PASSES runs, names still unasked stay so (:func:`unasked`: a deferred
    one stays deferred) until the next sweep."""
    plan = resumed_names(parts, sweep=sweep, plan=plan, per_slice=per_slice)
    for passes in range(1, RESUME_PASSES + 1):
        await run(plan)
        later = resumed_names(parts, sweep=sweep, plan=plan, per_slice=per_slice)
        if later is plan:
            break
        if passes == RESUME_PASSES:
            log.warning("sweep %d: %d slice(s) recorded with other names after %d runs; their names wait for the "
                        "next sweep", sweep, len(later.again - plan.again), passes)
            break
        log.info("sweep %d: %d slice(s) of an earlier attempt recorded with other names; their names asked again",
                 sweep, len(later.again - plan.again))
        plan = later
    return plan


def unasked(parts: Components, *, sweep: int, plan: SourcePlan) -> set[str]:
    """The names of ``plan``'s slices that no recorded slice of sweep ``sweep`` was asked: those of a slice
    recorded (by a killed first attempt) with other names than the plan gives it, and in no other slice."""
    with parts.store.transaction() as session:
        done = {d.source: d for d in sweep_sources.sources_of(session, sweep)}
    given = {s: plan.names_of(s) for s in plan.sources if kind_of(s) == "names"}
    asked = {c.domain for s, names in given.items()
             if s in done and done[s].report.get("asked") == names_digest(names) for c in names}
    return {c.domain for names in given.values() for c in names} - asked


async def sweep_source(parts: Components, *, sweep: int, source: str, inputs: SourceInputs, now: datetime,
                       wildcards: Wildcards | None = None, names: Sequence[Candidate] = ()) -> bool:
    """Run ``source`` for sweep ``sweep`` (a cycle-log id) and record what resolved (both modes run this);
    ``names``: a ``names:<k>`` slice's candidates.
    A source recorded already is not run again; run twice at once, the second records nothing. Its
    cursors (feed dates and ETags, CT answers, zone differences) advance only with its record. True when
    this run recorded it. ``wildcards``: as sweep_parts.sweep_part."""
    if not known(source):
        raise ValueError(f"unknown sweep source {source!r} (known: {', '.join(SOURCES)}, zone:<tld>)")
    with parts.store.transaction() as session:
        if sweep_sources.is_done(session, sweep, source):
            return False
    report = HuntReport()
    found: dict[str, Resolved] = {}
    memory = PendingMemory(parts.store)
    zones: list[ZoneState] = []
    if wildcards is None:  # the sweep's salt: the same nonsense names as the sweep's own
        wildcards = Wildcards(parts, salt=now.isoformat())
    skip = WatchedSkip(parts)  # the watched among the source's own names, not the whole watchlist
    await resolve(parts, skip.astream(_candidates(parts, source, inputs, names, report, memory, zones, now)),
                  skip=skip, wildcards=wildcards, report=report, into=found)
    got = sweep_sources.SourceRecord(
        found=[sweep_sources.SourceFound(source, n, r.candidate.source, r.candidate.via, r.candidate.seed, r.fingerprint)
               for n, r in found.items()],
        generated=report.generated, wildcards=wildcards.active, memos=memory.pending(),
        report={"source_errors": report.source_errors, "source_notes": report.source_notes,
                "truncated": report.truncated, **({"asked": names_digest(names)} if kind_of(source) == "names" else {})})
    with parts.store.transaction() as session:
        recorded = sweep_sources.record(session, sweep, source, got, worker=worker_id(), now=now)
    if recorded:  # the zones' differences are done with once their candidates are kept
        for zone in zones:
            zone.screened()
    return recorded


async def run_sources(parts: Components, *, sweep: int, plan: SourcePlan, now: datetime,
                      wildcards: Wildcards | None = None) -> None:
    """Every source of ``plan`` here, one after another (the embedded process; a worker outside a job)."""
    for source in plan.sources:
        await sweep_source(parts, sweep=sweep, source=source, inputs=plan.inputs, now=now, wildcards=wildcards,
                           names=plan.names_of(source))


def merge_sources(parts: Components, *, sweep: int, plan: SourcePlan, skip: Callable[[str], bool],
                  report: HuntReport, into: dict[str, Resolved], names: bool = False) -> set[str]:
    """The names every source of ``plan`` found join ``into`` source by source in the plan's order, as one
    resolve after the other would have added them (a name met already is only merged, the better
    discovery winning; skipped names are dropped); their counts, errors and notes join ``report``. Kept
    recorded until the hunt has scored (sweep_parts.consume). ``names``: the store names' slices only (the
    sweep merges them before its lookalike parts), else every other source. Returns the wildcard suffixes
    they met."""
    merged = [s for s in plan.sources if (kind_of(s) == "names") == names]
    with parts.store.transaction() as session:
        done = {d.source: d for d in sweep_sources.sources_of(session, sweep)}
        missing = [s for s in merged if s not in done]
        if missing:
            raise RuntimeError(f"sweep {sweep}: source(s) {missing} not recorded")
        rows = {s: sweep_sources.found_of(session, sweep, s) for s in merged}
    wildcards: set[str] = set()
    for source in merged:
        d = done[source]
        report.generated += d.generated
        report.source_errors.extend(d.report.get("source_errors", []))
        report.source_notes.extend(d.report.get("source_notes", []))
        report.truncated += int(d.report.get("truncated", 0))
        wildcards |= set(d.wildcards)
        join_recorded(into, (Resolved(Candidate(f.name, f.found_by, f.via, f.seed), f.fingerprint)
                             for f in rows[source]), skip, report)
    return wildcards
