"""An oversized host's crawl batch waits only what is left of [crawler] host_delay since that host's
previous batch ended (issue 17): how long the host has been idle is read from procrastinate's events on
the database's clock (workers' clocks may disagree), not assumed. On a real PostgreSQL with procrastinate's
tables."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from storage.store import Store

pytest.importorskip("procrastinate")

from scheduler.cluster import STAGE_TASK, apply_schema
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


@pytest.mark.postgres
def test_the_live_workers_sharing_a_dns_budget_are_those_with_a_recent_heartbeat(pg_url: str) -> None:
    """[cluster] dns_budget is shared among the workers procrastinate lists with a heartbeat within
    stalled_seconds (on the database's clock); a worker silent longer (killed, its machine gone) is not
    counted, so the others' shares grow back at their next job."""
    from scheduler.cluster_plan import dns_share, live_workers

    store = Store.from_url(pg_url)
    store.init()
    apply_schema(pg_url)
    try:
        with store.transaction() as session:
            assert live_workers(session, 30) == 0
            session.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()), "
                                 "(now() - interval '5 seconds'), (now() - interval '2 minutes')"))
        with store.transaction() as session:
            assert live_workers(session, 30) == 2
            assert live_workers(session, 300) == 3
            assert dns_share(300, live_workers(session, 30), 512) == 150
    finally:
        store.close()
