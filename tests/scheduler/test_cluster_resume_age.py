"""How old a killed attempt may be and still be resumed (issue 17, [cluster] resume_max_age): a stage's
job retried after its worker died resumes its first attempt (same cycle-log row, same ``now``) only while
that attempt is recent; an older one is marked abandoned, its still-queued batches and parts are
cancelled, and the job starts a fresh cycle. On a real PostgreSQL store with procrastinate's tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from storage import cycles
from storage.store import Store

pytest.importorskip("procrastinate")

from scheduler.cluster import STAGE_TASK, apply_schema
from scheduler.cluster_plan import defer, plan_key, resumable, resume_or_abandon

NOW = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
HOUR = 3600.0


def test_an_attempt_is_resumable_while_younger_than_the_limit() -> None:
    assert resumable(NOW - timedelta(minutes=59), NOW, HOUR)
    assert resumable(NOW - timedelta(hours=1), NOW, HOUR)  # the limit itself still resumes
    assert not resumable(NOW - timedelta(hours=1, seconds=1), NOW, HOUR)
    assert resumable(NOW + timedelta(minutes=5), NOW, HOUR)  # a clock that went back: recent


def _children(parent: int) -> list[dict[str, Any]]:
    return [{"kind": "observe", "domains": ["a.test"], "crawl": True, "parent": parent, "index": 0,
             "round": "watched", "at": NOW.isoformat()},
            {"kind": "sweep_part", "sweep": parent, "index": 0, "gone": ["a.test"], "live": [], "tlds": ["test"],
             "at": NOW.isoformat()},
            # a sweep's source: run after its sweep was abandoned it would advance its cursor for nothing
            {"kind": "source", "sweep": parent, "index": 2, "source": "zone:test", "names": [], "labels": ["a"],
             "infra": [], "asked": [], "at": NOW.isoformat()}]


@pytest.mark.postgres
def test_a_retried_job_resumes_a_recent_attempt_and_abandons_an_old_one(pg_url: str) -> None:
    store = Store.from_url(pg_url)
    store.init()
    apply_schema(pg_url)
    try:
        with store.transaction() as session:
            old = cycles.start(session, "cycle", NOW - timedelta(hours=2), stats={"job": 42})
            recent = cycles.start(session, "crawl", NOW - timedelta(minutes=10), stats={"job": 43})
            mine = defer(session, STAGE_TASK, _children(old))
            theirs = defer(session, STAGE_TASK, _children(recent))
        with store.transaction() as session:
            # the recent attempt: resumed at its own start, its children left alone
            assert resume_or_abandon(session, STAGE_TASK, "crawl", 43, now=NOW, max_age=HOUR) == (
                recent, NOW - timedelta(minutes=10))
            # the old one: not resumed; its row abandoned, its queued children cancelled
            assert resume_or_abandon(session, STAGE_TASK, "cycle", 42, now=NOW, max_age=HOUR) is None
            assert resume_or_abandon(session, STAGE_TASK, "cycle", 99, now=NOW, max_age=HOUR) is None  # no row
        with store.transaction() as session:
            status = dict(session.execute(text("SELECT id, status FROM procrastinate_jobs")).all())
            outcome = dict(session.execute(text("SELECT id, outcome FROM cycles")).all())
        assert [status[j] for j in mine] == ["cancelled", "cancelled", "cancelled"]
        assert [status[j] for j in theirs] == ["todo", "todo", "todo"]
        with store.transaction() as session:  # the zone source on its own queue, under its lock
            routed = session.execute(text("SELECT queue_name, lock FROM procrastinate_jobs WHERE id = ANY(:ids) "
                                          "ORDER BY id"), {"ids": theirs}).all()
        assert [tuple(r) for r in routed] == [("default", None), ("default", None), ("zones", "hydrawatch:zone:test")]
        assert outcome == {old: "abandoned", recent: "running"}
        with store.transaction() as session:  # the fresh cycle the job then starts is the one a third attempt resumes
            fresh = cycles.start(session, "cycle", NOW, stats={"job": 42})
        with store.transaction() as session:
            assert resume_or_abandon(session, STAGE_TASK, "cycle", 42, now=NOW + timedelta(minutes=1),
                                     max_age=HOUR) == (fresh, NOW)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_retry_under_other_part_settings_starts_afresh_and_one_under_the_same_resumes(pg_url: str) -> None:
    """Parts are matched by number, and their numbers follow [cluster] sweep_labels and takedown_slices:
    an attempt logged under other values is abandoned (its queued children cancelled), not resumed with
    parts cut otherwise; the same values, or a row logged before plans were (no key), resume."""
    store = Store.from_url(pg_url)
    store.init()
    apply_schema(pg_url)
    first, now = plan_key(20, 4), NOW - timedelta(minutes=5)
    try:
        with store.transaction() as session:
            changed = cycles.start(session, "discovery", now, stats={"job": 51, "plan": first})
            same = cycles.start(session, "hunt", now, stats={"job": 52, "plan": first})
            unkeyed = cycles.start(session, "cycle", now, stats={"job": 53})
            queued = defer(session, STAGE_TASK, _children(changed))
        with store.transaction() as session:
            assert resume_or_abandon(session, STAGE_TASK, "discovery", 51, now=NOW, max_age=HOUR,
                                     plan=plan_key(20, 1)) is None
            assert resume_or_abandon(session, STAGE_TASK, "hunt", 52, now=NOW, max_age=HOUR,
                                     plan=plan_key(20, 4)) == (same, now)
            assert resume_or_abandon(session, STAGE_TASK, "cycle", 53, now=NOW, max_age=HOUR,
                                     plan=plan_key(5, 4)) == (unkeyed, now)
        with store.transaction() as session:
            status = dict(session.execute(text("SELECT id, status FROM procrastinate_jobs")).all())
            outcome = dict(session.execute(text("SELECT id, outcome FROM cycles")).all())
        assert [status[j] for j in queued] == ["cancelled", "cancelled", "cancelled"]
        assert outcome == {changed: "abandoned", same: "running", unkeyed: "running"}
        assert plan_key(20, 4) != plan_key(4, 20)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_summary_leaves_out_the_job_and_plan_keys(pg_url: str) -> None:
    store = Store.from_url(pg_url)
    store.init()
    try:
        with store.transaction() as session:
            row = cycles.start(session, "cycle", NOW, stats={"job": 61, "plan": plan_key(20, 4)})
            cycles.finish(session, row, now=NOW, outcome="ok", stats={"observed": 3, "job": 61, "plan": plan_key(20, 4)})
        with store.transaction() as session:
            assert cycles.stats_of_job(session, 61) == {"observed": 3}
    finally:
        store.close()
