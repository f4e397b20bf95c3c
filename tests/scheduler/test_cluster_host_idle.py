"""An oversized host's crawl batch waits only what is left of [crawler] host_delay since that host's
previous batch ended (issue 17): how long the host has been idle is read from procrastinate's events on
the database's clock (workers' clocks may disagree), not assumed. On a real PostgreSQL with procrastinate's
tables."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import text

from scheduler.components import Components
from storage.store import Store

pytest.importorskip("procrastinate")

from scheduler.cluster import REAP_TASK, STAGE_TASK, apply_schema
from scheduler.cluster_plan import HOST_LOCK, defer, host_idle


def _end(store: Store, job: int, status: str) -> None:
    with store.transaction() as session:  # what a worker does: take the job, then end it (the events follow)
        session.execute(text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :j"), {"j": job})
    with store.transaction() as session:
        session.execute(text("UPDATE procrastinate_jobs SET status = CAST(:s AS procrastinate_job_status) "
                             "WHERE id = :j"), {"j": job, "s": status})


@pytest.mark.postgres
def test_a_hosts_idle_time_is_read_from_its_last_batchs_end(pg_url: str) -> None:
    store = Store.from_url(pg_url)
    store.init()
    apply_schema(pg_url)
    try:
        batch = {"kind": "observe", "domains": ["a.test"], "crawl": True, "parent": 1, "index": 0,
                 "round": "watched", "at": "2026-12-07T15:00:00+00:00", "host": "203.0.113.7"}
        with store.transaction() as session:
            assert host_idle(session, "203.0.113.7") is None  # no batch of it yet: nothing to wait for
            first, other = defer(session, STAGE_TASK, [batch, {**batch, "index": 1, "host": "203.0.113.8"}])
            lock = session.execute(text("SELECT lock FROM procrastinate_jobs WHERE id = :j"), {"j": first}).scalar()
        assert lock == HOST_LOCK + "203.0.113.7"
        with store.transaction() as session:
            assert host_idle(session, "203.0.113.7") is None  # queued, not ended
        _end(store, first, "succeeded")
        time.sleep(0.3)
        with store.transaction() as session:
            idle = host_idle(session, "203.0.113.7")
            assert idle is not None and 0.25 <= idle < 30, idle
            assert host_idle(session, "203.0.113.8") is None  # another host's batch never ended
        _end(store, other, "failed")  # a failed batch ended too: its host was left alone since
        with store.transaction() as session:
            later = host_idle(session, "203.0.113.8")
            assert later is not None and 0 <= later < 0.25, later
    finally:
        store.close()


def _workers(store: Store, beats: list[str]) -> list[int]:
    """Workers with these heartbeats ("now() - interval '5 seconds'", …): their ids."""
    with store.transaction() as session:
        return [int(session.execute(text(f"INSERT INTO procrastinate_workers (last_heartbeat) VALUES ({beat}) "
                                         "RETURNING id")).scalar_one()) for beat in beats]


def _doing(store: Store, worker: int, task: str = STAGE_TASK, kind: str = "observe") -> int:
    """A job of ``task`` (a stage: of ``kind``) that ``worker`` runs: its id."""
    with store.transaction() as session:
        return int(session.execute(text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status, worker_id, args) "
            "VALUES ('default', :task, 'doing', :worker, CAST(:args AS jsonb)) RETURNING id"),
            {"task": task, "worker": worker, "args": json.dumps({"kind": kind})}).scalar_one())


def _ended(store: Store, job: int) -> None:
    with store.transaction() as session:
        session.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = :j"), {"j": job})


@pytest.mark.postgres
def test_the_workers_sharing_a_dns_budget_are_the_live_ones_running_a_stage_job(pg_url: str) -> None:
    """[cluster] dns_budget is shared among the workers running a stage job that asks DNS with a heartbeat
    within stalled_seconds (on the database's clock): an idle worker, one running only another task or
    only delivery and scoring, one silent longer (killed, its machine gone) take no share, unless it is
    the worker asking."""
    from scheduler.cluster_plan import busy_workers, dns_share

    store = Store.from_url(pg_url)
    store.init()
    apply_schema(pg_url)
    try:
        with store.transaction() as session:
            assert busy_workers(session, 30, STAGE_TASK) == 0
        now, recent, idle, other, mailer, old = _workers(store, ["now()", "now() - interval '5 seconds'", "now()",
                                                                 "now()", "now()", "now() - interval '2 minutes'"])
        for worker in (now, recent, old):
            _doing(store, worker)
        _doing(store, now, kind="sweep_part")  # two jobs of one worker: one worker
        _doing(store, other, task=REAP_TASK)
        _doing(store, mailer, kind="alerts")  # delivering mail, scoring: no DNS asked
        _doing(store, mailer, kind="score")
        with store.transaction() as session:
            assert busy_workers(session, 30, STAGE_TASK) == 2
            assert busy_workers(session, 300, STAGE_TASK) == 3
            assert dns_share(300, busy_workers(session, 30, STAGE_TASK), 512) == 150
            # the asking worker counts itself while it runs a job, even with a late heartbeat (its loop
            # was busy); asking while idle, it counts only the others
            assert busy_workers(session, 30, STAGE_TASK, me=old) == 3
            assert busy_workers(session, 30, STAGE_TASK, me=now) == 2
            assert busy_workers(session, 30, STAGE_TASK, me=idle) == 2
    finally:
        store.close()


@pytest.mark.postgres
def test_a_workers_dns_share_follows_the_busy_workers_while_its_job_runs(pg_url: str) -> None:
    """The share is divided again every heartbeat, not only as a job starts: a second worker that takes
    a job brings this one down to half the budget within a beat, and when that job ends this one takes the
    whole budget back; its open engine's window follows at once."""
    from crawler.dns import Prober
    from hydrawatch.config import from_mapping
    from scheduler.cluster import _keep_dns_share, _share_dns

    store = Store.from_url(pg_url)
    store.init()
    apply_schema(pg_url)
    settings = from_mapping({"storage": {"url": pg_url}, "dns": {"concurrency": 512},
                             "cluster": {"dns_budget": 300}})
    parts = cast(Components, cast(Any, SimpleNamespace(store=store, prober=Prober(concurrency=512))))
    try:
        me, other = _workers(store, ["now()", "now()"])
        _doing(store, me)
        _share_dns(parts, settings)  # this worker's job starts: alone at work, the whole budget
        assert parts.prober.concurrency == 300

        async def watch() -> list[int]:
            seen: list[int] = []
            keeper = asyncio.ensure_future(_keep_dns_share(parts, settings, 0.05))
            try:
                job = _doing(store, other)
                for _ in range(100):
                    await asyncio.sleep(0.05)
                    if parts.prober.concurrency == 150:
                        break
                seen.append(parts.prober.concurrency)
                _ended(store, job)
                for _ in range(100):
                    await asyncio.sleep(0.05)
                    if parts.prober.concurrency == 300:
                        break
                seen.append(parts.prober.concurrency)
            finally:
                keeper.cancel()
            return seen

        assert asyncio.run(watch()) == [150, 300]
    finally:
        store.close()
