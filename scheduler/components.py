"""The long-lived parts a cycle uses, built once per process from the settings."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from crawler.dns import Prober
from crawler.fetch import SiteCrawler
from crawler.rdap import RdapClient
from crawler.whois import WhoisClient
from detect.signatures import Signatures
from scheduler.page_index import PageIndex
from scheduler.progress import NULL, ProgressSink
from scheduler.settings import CycleSettings
from storage.store import Store

if TYPE_CHECKING:
    from scheduler.observe import ObserveReport
    from scheduler.score_jobs import ScorePlan
    from scheduler.sweep_parts import SweepPart
    from scheduler.sweep_sources import SourcePlan


@dataclass
class Components:
    config: CycleSettings  # the shell's Config is one
    store: Store
    prober: Prober
    crawler: SiteCrawler
    rdap: RdapClient
    signatures: Signatures
    pages: PageIndex  # latest page sketch of every stored domain, for "who serves this text?"
    progress: ProgressSink = field(default=NULL)  # a foreground run's progress display
    # Called in the transaction of a watched domain's loss (cluster mode queues its hunt there).
    on_loss: Callable[[Session, str], None] | None = None
    # Cluster mode: runs a round's batches as jobs on the workers, (batches, crawl, cycle id, now, round
    # name, per batch the host whose batches must run one after another or "": scheduler/rounds.py) →
    # each batch run with its report, in order (a resumed round: the batches its first attempt planned,
    # and any domain missing from them); None: the round's batches run here, one after another. The
    # watchlist's rounds and the candidates a hunt chose go through it.
    run_batches: Callable[[list[list[str]], bool, int | None, datetime, str, list[str]],
                          Awaitable[list[tuple[list[str], ObserveReport]]]] | None = None
    # Cluster mode: runs a sweep's parts (or a takedown hunt's lookalike parts) and its sources as jobs on
    # the workers, (cycle id, parts, typo suffixes, now, sources or None), returning once all are
    # recorded; None: they run here, one after another.
    run_sweep_parts: Callable[[int, list[SweepPart], tuple[str, ...], datetime, SourcePlan | None],
                              Awaitable[None]] | None = None
    # Cluster mode: scores a hunt's candidates as `score` jobs on the workers, (the hunt's cycle id, the plan,
    # now) → the plan run (a resumed hunt: the one its first attempt queued), once every batch is recorded
    # (scheduler/score_jobs.py); None: one batch, scored here.
    run_score_batches: Callable[[int, ScorePlan, datetime], Awaitable[ScorePlan]] | None = None
    # Cluster mode: a round's banner re-check as `recheck` jobs on the workers, (the round's cycle id, its
    # name, its domains in batches, the banners to classify against, now) → the status changes they recorded,
    # in batch order (scheduler/recheck_jobs.py); None: the re-check runs here.
    run_rechecks: Callable[[int, str, list[list[str]], dict[str, str], datetime], Awaitable[ObserveReport]] | None = None

    @classmethod
    def from_settings(cls, settings: CycleSettings, store: Store, signatures: Signatures,
                      progress: ProgressSink = NULL, pages: PageIndex | None = None) -> Components:
        """``signatures``: parsed by the caller (the shell reads the files: detect/ does no I/O);
        ``pages``: an index to keep (a config reload), else rebuilt from the store."""
        return cls(config=settings, store=store, prober=Prober.from_settings(settings.dns),
                   crawler=SiteCrawler.from_settings(settings.crawler, settings.dns),
                   rdap=RdapClient.from_settings(settings.rdap, WhoisClient.from_settings(
                       settings.rdap, allow_private=settings.crawler.allow_private_addresses)),
                   signatures=signatures, pages=PageIndex.from_store(store) if pages is None else pages,
                   progress=progress)

    async def close(self) -> None:
        await self.prober.close()



def page_index(store: Store) -> PageIndex:
    """The similarity index of every stored domain's latest page, read from the store."""
    return PageIndex.from_store(store)


def worker_id() -> str:
    """Who runs a job, as the cycle log and the sweep records name it: host and process id (the id alone
    repeats across machines)."""
    return f"{socket.gethostname()}:{os.getpid()}"
