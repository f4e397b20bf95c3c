"""One cycle and the jobs the daemon schedules. `run --once`, `demo`, the daemon and the tests all
call these functions; nothing else decides what a cycle does."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scheduler.components import Components
from scheduler.deliver import DeliveryReport, deliver
from scheduler.hunt import HuntReport, hunt
from scheduler.observe import ObserveReport, observe
from storage import cycles, watchlist

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
            "clones": [{"to": v.candidate, "from": v.predecessor, "relation": v.relation.value if v.relation else None,
                        "confidence": round(v.confidence, 3)} for v in self.hunted.clones],
            "source_errors": self.hunted.source_errors, "source_notes": self.hunted.source_notes,
            "alerts_sent": self.delivery.sent, "alerts_failed": self.delivery.failed,
            "seconds": round(self.seconds, 2),
        }


async def _job(parts: Components, kind: str, now: datetime,
               body: Callable[[CycleReport], Awaitable[None]], tags: dict[str, Any] | None = None) -> CycleReport:
    started = time.monotonic()
    with parts.store.transaction() as session:
        cycle_id = cycles.start(session, kind, now)
    report = CycleReport(cycle_id=cycle_id, kind=kind)
    outcome = "failed"
    # Pages other processes stored since this one's last job (cluster workers; an `archive import`
    # beside the daemon) join the similarity index: only the new rows are read.
    parts.pages.refresh(parts.store)
    parts.rdap.take_counts()
    try:
        await body(report)
        outcome = "ok"
    except asyncio.CancelledError:
        outcome = "interrupted"
        raise
    finally:
        report.seconds = time.monotonic() - started
        report.registry = parts.rdap.take_counts()
        with parts.store.transaction() as session:
            cycles.finish(session, cycle_id, now=now + timedelta(seconds=report.seconds), outcome=outcome,
                          stats={**report.stats(), **(tags or {})})
    return report


def _watched(parts: Components) -> list[str]:
    with parts.store.transaction() as session:
        return watchlist.watched_names(session)


async def run_cycle(parts: Components, *, now: datetime, send_alerts: bool = True,
                    tags: dict[str, Any] | None = None) -> CycleReport:
    """One complete cycle: probe and crawl every watched domain, classify, hunt (triggered by the
    takedowns just seen, plus a full sweep), score, record, deliver alerts. ``tags`` are added to the
    stats kept in the cycle log (cluster mode: the id of the queued job)."""

    async def body(report: CycleReport) -> None:
        report.observed = await observe(parts, _watched(parts), now=now, cycle_id=report.cycle_id, crawl=True)
        report.hunted = await hunt(parts, lost=report.observed.lost, sweep=True, now=now, cycle_id=report.cycle_id)
        if send_alerts:
            report.delivery = deliver(parts.store, parts.config.alerts, now=now)

    return await _job(parts, "cycle", now, body, tags)


async def probe_job(parts: Components, *, now: datetime) -> CycleReport:
    """DNS round: probe every watched domain (RDAP when DNS changed), classify, hunt at once on a loss."""

    async def body(report: CycleReport) -> None:
        report.observed = await observe(parts, _watched(parts), now=now, cycle_id=report.cycle_id, crawl=False)
        if report.observed.lost:
            report.hunted = await hunt(parts, lost=report.observed.lost, sweep=False, now=now,
                                       cycle_id=report.cycle_id)

    return await _job(parts, "probe", now, body)


async def crawl_job(parts: Components, *, now: datetime) -> CycleReport:
    async def body(report: CycleReport) -> None:
        report.observed = await observe(parts, _watched(parts), now=now, cycle_id=report.cycle_id, crawl=True)
        if report.observed.lost:
            report.hunted = await hunt(parts, lost=report.observed.lost, sweep=False, now=now,
                                       cycle_id=report.cycle_id)

    return await _job(parts, "crawl", now, body)


async def hunt_job(parts: Components, *, now: datetime, lost: list[str]) -> CycleReport:
    """The hunt for replacements of ``lost`` on its own: cluster mode queues it in the transaction of
    the status change that triggers it, so a worker killed before its inline hunt loses nothing."""

    async def body(report: CycleReport) -> None:
        report.hunted = await hunt(parts, lost=lost, sweep=False, now=now, cycle_id=report.cycle_id)

    return await _job(parts, "hunt", now, body)


async def discovery_job(parts: Components, *, now: datetime) -> CycleReport:
    async def body(report: CycleReport) -> None:
        report.hunted = await hunt(parts, lost=[], sweep=True, now=now, cycle_id=report.cycle_id)

    return await _job(parts, "discovery", now, body)


async def alert_job(parts: Components, *, now: datetime) -> DeliveryReport:
    return deliver(parts.store, parts.config.alerts, now=now)


# The scheduled jobs, shared by the embedded daemon and cluster mode: name, job, [schedule] key.
JOBS: tuple[tuple[str, Callable[..., Awaitable[Any]], str], ...] = (
    ("probe", probe_job, "dns_interval"),
    ("crawl", crawl_job, "crawl_interval"),
    ("discovery", discovery_job, "discovery_interval"),
    ("alerts", alert_job, "alert_interval"),
)
