"""The daemon: APScheduler's AsyncIOScheduler on the one event loop shared with Scrapy (Twisted's
asyncio reactor). The scheduler only queues work; jobs never overlap (one lock), coalesce, and a
late job runs once instead of piling up after a laptop sleeps."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scheduler import cycle
from scheduler.components import Components

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Daemon:
    def __init__(self, parts: Components, *, clock: Clock = utcnow,
                 on_report: Callable[[Any], None] | None = None) -> None:
        self.parts = parts
        self.clock = clock
        self.on_report = on_report
        self._busy = asyncio.Lock()
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self.cycles = 0

    async def _run(self, name: str, job: Callable[..., Awaitable[Any]], exclusive: bool = True) -> None:
        """Run one job. Exclusive jobs (probe, crawl, discovery, the first cycle) wait for each other;
        the alert job does not: delivery is synchronous (no await, so it cannot interleave with another
        job's transaction) and must not wait behind a long hunt."""
        if self._stop.is_set():
            return
        try:
            if exclusive:
                await self._busy.acquire()
        except asyncio.CancelledError:
            return  # stopping while queued behind another job: nothing was started
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            if self._stop.is_set():
                return
            report = await job(self.parts, now=self.clock())
            self.cycles += 1
            if self.on_report is not None:
                self.on_report(report)
        except asyncio.CancelledError:
            log.warning("job %s interrupted; its finished domains are kept", name)
            if not self._stop.is_set():
                raise
        except Exception:
            log.exception("job %s failed; the daemon goes on", name)
        finally:
            self._running.discard(task)
            if exclusive:
                self._busy.release()

    def stop(self) -> None:
        if not self._stop.is_set():
            log.info("stopping: finishing the work in hand")
            self._stop.set()

    async def serve(self) -> None:
        """Run until stop() (SIGINT/SIGTERM): a first full cycle now, then the scheduled jobs."""
        cfg = self.parts.config.schedule
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread
                pass
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=timezone.utc, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        now = utcnow()
        jobs = [
            ("probe", cycle.probe_job, cfg.dns_interval),
            ("crawl", cycle.crawl_job, cfg.crawl_interval),
            ("discovery", cycle.discovery_job, cfg.discovery_interval),
            ("alerts", cycle.alert_job, cfg.alert_interval),
        ]
        for name, job, every in jobs:
            scheduler.add_job(self._run, "interval", args=(name, job, name != "alerts"), seconds=every, id=name,
                              replace_existing=True, next_run_time=now + timedelta(seconds=every))
        scheduler.start()
        log.info("daemon started: probe every %ss, crawl every %ss, discovery every %ss, alerts every %ss",
                 cfg.dns_interval, cfg.crawl_interval, cfg.discovery_interval, cfg.alert_interval)
        first = asyncio.ensure_future(self._run("cycle", cycle.run_cycle))
        try:
            await self._stop.wait()
        finally:
            scheduler.pause()  # no new runs; the queued ones see the stop flag and return
            work = [first, *self._running]
            if any(not t.done() for t in work):
                # Give the job in hand a moment to reach a domain boundary, then cancel it: every
                # domain already observed is committed; the interrupted one is rolled back.
                await asyncio.wait(work, timeout=5)
                for task in work:
                    if not task.done():
                        task.cancel()
                await asyncio.gather(*work, return_exceptions=True)
            for _ in range(3):  # let runs queued on the job lock return before the executor is shut
                await asyncio.sleep(0.05)
            scheduler.shutdown(wait=False)
            log.info("daemon stopped after %d jobs", self.cycles)
