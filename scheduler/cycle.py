"""One cycle and the jobs the daemon schedules. `run --once`, `demo`, the daemon and the tests all
call these functions; nothing else decides what a cycle does."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from detect.model import Candidate, Status
from scheduler.components import Components, worker_id
from scheduler.deliver import DeliveryReport, deliver
from scheduler.hunt import HuntReport, hunt
from scheduler.observe import ObserveReport
from scheduler.recheck_jobs import recheck_batch
from scheduler.rounds import WATCHED, observe_batch, observe_round
from scheduler.score_jobs import ScoreBatch, score_batch
from scheduler.sweep_parts import SweepPart, sweep_part
from scheduler.sweep_sources import SourceInputs, sweep_source
from storage import cycles, watchlist
from storage.values import StatusChange

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class CycleReport:
    cycle_id: int
    kind: str
    observed: ObserveReport = field(default_factory=ObserveReport)
    hunted: HuntReport = field(default_factory=HuntReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    seconds: float = 0.0
    registry: dict[str, int] = field(default_factory=dict)  # RdapClient.take_counts(): cached, whois, rate_limited

    def stats(self) -> dict[str, Any]:
        return {
            "probed": self.observed.probed, "crawled": self.observed.crawled, "rdap": self.observed.rdap,
            # every registry lookup of the cycle (watched domains and candidates): from the cache, over
            # port-43 WHOIS, and not made because a server's budget or Retry-After was beyond rdap.max_wait
            "rdap_cached": self.registry.get("cached", 0), "rdap_whois": self.registry.get("whois", 0),
            "rdap_rate_limited": self.registry.get("rate_limited", 0),
            "status_changes": [{"domain": d, "from": c.previous, "to": c.status, "reason": c.reason}
                               for d, c in self.observed.changes],
            "lost": self.observed.lost,
            "candidates_generated": self.hunted.generated, "candidates_resolved": self.hunted.resolved,
            "candidates_observed": self.hunted.observed, "candidates_truncated": self.hunted.truncated,
            "candidates_lost_observed": self.hunted.lost_observed,
            "candidates_deferred": self.hunted.deferred, "candidates_unchanged": self.hunted.unchanged,
            "wildcard_tlds": self.hunted.wildcard_tlds,
            "new_edges": self.hunted.new_edges,
            "clones": [{"to": c.candidate, "from": c.predecessor, "relation": c.relation,
                        "confidence": round(c.confidence, 3)} for c in self.hunted.clones],
            "source_errors": self.hunted.source_errors, "source_notes": self.hunted.source_notes,
            "alerts_sent": self.delivery.sent, "alerts_failed": self.delivery.failed,
            "seconds": round(self.seconds, 2),
        }


async def _job(parts: Components, kind: str, now: datetime,
               body: Callable[[CycleReport], Awaitable[None]], tags: dict[str, Any] | None = None,
               resume: int | None = None) -> CycleReport:
    """Run ``body`` as one row of the cycle log: a new row, or with ``resume`` (cluster mode: a job
    retried after its worker died, ``now`` its first attempt's) that attempt's own row again. ``tags``
    are logged from the start, so a killed attempt's row still names its queued job."""
    started = time.monotonic()
    with parts.store.transaction() as session:
        cycle_id = (cycles.reopen(session, resume, now) if resume is not None
                    else cycles.start(session, kind, now, stats=tags))
    report = CycleReport(cycle_id=cycle_id, kind=kind)
    outcome = "failed"
    try:  # the preparation too: a job that fails there is logged as failed, not left "running"
        # PostgreSQL: the tables the last jobs changed much get fresh planner statistics (a store whose
        # autovacuum is off or behind otherwise plans its batched reads on empty-table figures); in a thread
        await asyncio.to_thread(parts.store.refresh_statistics)
        # Pages other processes stored since this one's last job (cluster workers; an `archive import`
        # beside the daemon) join the similarity index: only the new rows are read.
        parts.pages.refresh(parts.store)
        if kind != "batch":  # a worker may run two batches at once: neither drops the other's counts
            parts.rdap.take_counts()
        await body(report)
        outcome = "ok"
    except asyncio.CancelledError:
        outcome = "interrupted"
        raise
    finally:
        report.seconds = time.monotonic() - started
        counts = parts.rdap.take_counts()
        # the lookups other processes made for this job (cluster batches: its round's, its hunt's)
        other = {k: report.observed.registry.get(k, 0) + report.hunted.registry.get(k, 0)
                 for k in {*report.observed.registry, *report.hunted.registry}}
        report.registry = {k: counts.get(k, 0) + other.get(k, 0) for k in {*counts, *other}}
        with parts.store.transaction() as session:
            cycles.finish(session, cycle_id, now=now + timedelta(seconds=report.seconds), outcome=outcome,
                          stats={**report.stats(), **(tags or {})})
    return report


def _watched(parts: Components) -> list[str]:
    with parts.store.transaction() as session:
        return watchlist.watched_names(session)


async def batch_job(parts: Components, *, now: datetime, domains: list[str], crawl: bool, parent: int,
                    index: int, round_name: str = WATCHED, tags: dict[str, Any] | None = None) -> CycleReport:
    """Cluster mode: batch ``index`` of round ``round_name`` of job ``parent`` (a cycle-log id) as a job
    (scheduler/rounds.py: the watchlist's round, or the candidates its hunt chose). Its report goes to
    the cycle log (kind "batch"), where the round's coordinator reads it (:func:`batch_reports`)."""

    async def body(report: CycleReport) -> None:
        report.observed = await observe_batch(parts, domains, now=now, cycle_id=parent, crawl=crawl,
                                              round_name=round_name)

    return await _job(parts, "batch", now, body, {"parent": parent, "round": round_name, "index": index,
                                                  "worker": worker_id(), **(tags or {})})


async def sweep_part_job(parts: Components, *, now: datetime, sweep: int, index: int, gone: list[str],
                         live: list[str], typo_tlds: list[str], cut: int = 0, cuts: int = 1) -> bool:
    """Cluster mode: part ``index`` of sweep ``sweep`` (the cycle-log id of the sweep's job) as a job: the
    lookalikes of its label group (slice ``cut`` of ``cuts`` of them) generated, resolved and recorded
    once (scheduler/sweep_parts.py)."""
    return await sweep_part(parts, sweep=sweep, part=SweepPart(index, tuple(gone), tuple(live), cut, cuts),
                            typo_tlds=typo_tlds, now=now)


async def source_job(parts: Components, *, now: datetime, sweep: int, source: str, inputs: SourceInputs,
                     names: Sequence[Candidate] = ()) -> bool:
    """Cluster mode: sweep ``sweep``'s source ``source`` (CT search, NRD feeds, a zone file, CertStream,
    pDNS, a slice of the names read from the store: ``names``) as a job: read, screened, resolved and
    recorded once (scheduler/sweep_sources.py)."""
    return await sweep_source(parts, sweep=sweep, source=source, inputs=inputs, now=now, names=names)


async def score_job(parts: Components, *, now: datetime, parent: int, batch: ScoreBatch, network: tuple[str, ...],
                    everyone: tuple[str, ...]) -> bool:
    """Cluster mode: batch ``batch`` of the scoring of hunt ``parent`` (a cycle-log id) as a job: its inputs
    read, its candidates scored and recorded once (scheduler/score_jobs.py). In a thread: a batch is
    seconds to minutes of pure Python, which would otherwise hold the worker's event loop and its
    heartbeat (another worker's reaper would take the job for stalled and run it a second time)."""
    return await asyncio.to_thread(score_batch, parts, parent=parent, batch=batch, network=network,
                                   everyone=everyone, now=now)


async def recheck_job(parts: Components, *, now: datetime, parent: int, round_name: str, index: int,
                      domains: list[str], banners: dict[str, str], hunts: list[int] | None = None) -> bool:
    """Cluster mode: batch ``index`` of the banner re-check of round ``round_name`` of job ``parent`` (a
    cycle-log id) as a job: classified again and recorded once (scheduler/recheck_jobs.py). In a thread, as
    a score batch: hundreds of domains read and classified would otherwise hold the worker's event loop and
    its heartbeat."""
    return await asyncio.to_thread(recheck_batch, parts, parent=parent, round_name=round_name, index=index,
                                   domains=domains, banners=banners, now=now, hunts=hunts)


def batch_reports(parts: Components, parent: int, count: int, now: datetime, round_name: str = WATCHED
                  ) -> list[ObserveReport]:
    """The reports of the ``count`` batches of round ``round_name`` of job ``parent`` from the cycle log
    (the last successful run of each: a batch retried after its worker died is counted once, with what
    that run saw)."""
    with parts.store.transaction() as session:
        rows = cycles.batches_of(session, parent, round_name)
    found: dict[int, ObserveReport] = {}
    for stats in rows:  # oldest first: a later run of a batch replaces an earlier one
        part = ObserveReport(probed=stats.get("probed", 0), crawled=stats.get("crawled", 0), rdap=stats.get("rdap", 0))
        part.registry = {"cached": stats.get("rdap_cached", 0), "whois": stats.get("rdap_whois", 0),
                         "rate_limited": stats.get("rdap_rate_limited", 0)}
        part.changes = [(c["domain"], StatusChange(status=Status(c["to"]), reason=c["reason"], since=now,
                                                   previous=Status(c["from"]) if c["from"] else None))
                        for c in stats.get("status_changes", [])]
        found[int(stats["index"])] = part
    missing = sorted(set(range(count)) - set(found))
    if missing:
        raise RuntimeError(f"round {parent} ({round_name}): no report of batch(es) {missing} in the cycle log")
    return [found[i] for i in range(count)]


async def run_cycle(parts: Components, *, now: datetime, send_alerts: bool = True,
                    tags: dict[str, Any] | None = None, resume: int | None = None) -> CycleReport:
    """One complete cycle: probe and crawl every watched domain, classify, hunt (triggered by the
    takedowns just seen, plus a full sweep), score, record, deliver alerts. ``tags`` are added to the
    stats kept in the cycle log (cluster mode: the id of the queued job); ``resume``: see :func:`_job`."""

    async def body(report: CycleReport) -> None:
        report.observed = await observe_round(parts, _watched(parts), now=now, cycle_id=report.cycle_id, crawl=True)
        report.hunted = await hunt(parts, lost=report.observed.lost, sweep=True, now=now, cycle_id=report.cycle_id)
        if send_alerts:
            report.delivery = deliver(parts.store, parts.config.alerts, now=now)

    return await _job(parts, "cycle", now, body, tags, resume)


async def probe_job(parts: Components, *, now: datetime, tags: dict[str, Any] | None = None,
                    resume: int | None = None) -> CycleReport:
    """DNS round: probe every watched domain (RDAP when DNS changed), classify, hunt at once on a loss."""

    async def body(report: CycleReport) -> None:
        report.observed = await observe_round(parts, _watched(parts), now=now, cycle_id=report.cycle_id, crawl=False)
        if report.observed.lost:
            report.hunted = await hunt(parts, lost=report.observed.lost, sweep=False, now=now,
                                       cycle_id=report.cycle_id)

    return await _job(parts, "probe", now, body, tags, resume)


async def crawl_job(parts: Components, *, now: datetime, tags: dict[str, Any] | None = None,
                    resume: int | None = None) -> CycleReport:
    async def body(report: CycleReport) -> None:
        report.observed = await observe_round(parts, _watched(parts), now=now, cycle_id=report.cycle_id, crawl=True)
        if report.observed.lost:
            report.hunted = await hunt(parts, lost=report.observed.lost, sweep=False, now=now,
                                       cycle_id=report.cycle_id)

    return await _job(parts, "crawl", now, body, tags, resume)


async def hunt_job(parts: Components, *, now: datetime, lost: list[str], tags: dict[str, Any] | None = None,
                   resume: int | None = None) -> CycleReport:
    """The hunt for replacements of ``lost`` on its own: cluster mode queues it in the transaction of
    the status change that triggers it, so a worker killed before its inline hunt loses nothing."""

    async def body(report: CycleReport) -> None:
        report.hunted = await hunt(parts, lost=lost, sweep=False, now=now, cycle_id=report.cycle_id)

    return await _job(parts, "hunt", now, body, tags, resume)


async def discovery_job(parts: Components, *, now: datetime, tags: dict[str, Any] | None = None,
                        resume: int | None = None) -> CycleReport:
    async def body(report: CycleReport) -> None:
        report.hunted = await hunt(parts, lost=[], sweep=True, now=now, cycle_id=report.cycle_id)

    return await _job(parts, "discovery", now, body, tags, resume)


async def alert_job(parts: Components, *, now: datetime) -> DeliveryReport:
    return deliver(parts.store, parts.config.alerts, now=now)


# The scheduled jobs, shared by the embedded daemon and cluster mode: name, job, [schedule] key.
JOBS: tuple[tuple[str, Callable[..., Awaitable[Any]], str], ...] = (
    ("probe", probe_job, "dns_interval"),
    ("crawl", crawl_job, "crawl_interval"),
    ("discovery", discovery_job, "discovery_interval"),
    ("alerts", alert_job, "alert_interval"),
)
