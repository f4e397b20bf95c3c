"""The daemon: APScheduler's AsyncIOScheduler on the one event loop shared with Scrapy (Twisted's
asyncio reactor). The scheduler only queues work; jobs never overlap (one lock), coalesce, and a
late job runs once instead of piling up after a laptop sleeps. SIGHUP re-reads the config file
between jobs; a broken file is reported and the running config stays."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from detect.settings import SettingsError
from scheduler import cycle
from scheduler.components import Components
from scheduler.settings import CycleSettings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


# Job id, job, and the [schedule] key of its interval (cluster mode schedules the same ones).
JOBS = cycle.JOBS


def changed_sections(old: CycleSettings, new: CycleSettings) -> list[str]:
    """The config sections whose values differ (the shell's own sections too: its Config is a CycleSettings)."""
    return [f.name for f in fields(old) if getattr(old, f.name) != getattr(new, f.name, None)]


class Daemon:
    def __init__(self, parts: Components, *, clock: Clock = utcnow,
                 on_report: Callable[[Any], None] | None = None,
                 reload: Callable[[], CycleSettings] | None = None) -> None:
        """``reload`` re-reads the config (SIGHUP); it raises SettingsError for a broken file."""
        self.parts = parts
        self.clock = clock
        self.on_report = on_report
        self.reload_config = reload
        self._busy = asyncio.Lock()
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self._scheduler: AsyncIOScheduler | None = None
        self._reloads: set[asyncio.Task[Any]] = set()
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

    def request_reload(self) -> None:
        """SIGHUP: reload between jobs (never under a running one)."""
        if self.reload_config is None or self._stop.is_set():
            return
        task = asyncio.ensure_future(self.reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload(self) -> bool:
        """Re-read the config; on success the next jobs use new Components and the new intervals."""
        assert self.reload_config is not None
        old = self.parts.config
        try:
            new = self.reload_config()
        except SettingsError as exc:
            log.error("config reload failed: %s; keeping the running config", exc)
            return False
        async with self._busy:
            if self._stop.is_set():
                return False
            if new.storage.url != old.storage.url:
                log.warning("config reload: [storage] url changed; a running daemon keeps its store "
                            "(restart to switch)")
            changed = changed_sections(old, new)
            parts = Components.from_settings(new, self.parts.store, self.parts.signatures, progress=self.parts.progress,
                                           pages=self.parts.pages)
            previous, self.parts = self.parts, parts
            await previous.close()
            if self._scheduler is not None and old.schedule != new.schedule:
                for name, _job, key in JOBS:
                    if getattr(old.schedule, key) != getattr(new.schedule, key):
                        self._scheduler.reschedule_job(name, trigger="interval", seconds=getattr(new.schedule, key))
        log.info("config reloaded; changed: %s", ", ".join(changed) or "nothing")
        return True

    def stop(self) -> None:
        if not self._stop.is_set():
            log.info("stopping: finishing the work in hand")
            self._stop.set()

    async def serve(self) -> None:
        """Run until stop() (SIGINT/SIGTERM): a first full cycle now, then the scheduled jobs."""
        cfg = self.parts.config.schedule
        loop = asyncio.get_running_loop()
        for sig, handler in ((signal.SIGINT, self.stop), (signal.SIGTERM, self.stop),
                             (signal.SIGHUP, self.request_reload)):
            try:
                loop.add_signal_handler(sig, handler)
            except (NotImplementedError, RuntimeError, AttributeError):  # pragma: no cover - non-main thread
                pass
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._scheduler = scheduler
        now = utcnow()
        for name, job, key in JOBS:
            every = getattr(cfg, key)
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
            work = [first, *self._running, *self._reloads]
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
