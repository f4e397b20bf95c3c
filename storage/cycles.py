"""The cycle log: when each job ran, how it ended, what it did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage import partitions
from storage.models import CycleRow


def start(session: Session, kind: str, now: datetime, stats: dict[str, Any] | None = None) -> int:
    """Log a job's start (``stats``: what is known of it already, e.g. its queued job's id). On
    PostgreSQL, first make this month's and next month's partitions of the history tables where
    missing (storage/partitions.py): every job makes them ahead of need."""
    partitions.ensure(session.connection(), now)
    row = CycleRow(kind=kind, started_at=now, outcome="running", stats=dict(stats or {}))
    session.add(row)
    session.flush()
    return row.id


def attempt_of_job(session: Session, kind: str, job_id: int) -> tuple[int, datetime] | None:
    """The cycle-log id and start of the latest ``kind`` row an earlier attempt of queued job ``job_id``
    logged (cluster mode: a job retried after its worker died resumes that row), or None."""
    row = session.scalars(select(CycleRow).where(CycleRow.kind == kind, CycleRow.stats["job"].as_integer() == job_id)
                          .order_by(CycleRow.id.desc()).limit(1)).first()
    return (row.id, row.started_at) if row is not None else None


def plan_of(session: Session, cycle_id: int) -> str | None:
    """The plan key row ``cycle_id`` was logged with (cluster mode: the settings its batches and parts were
    cut by), or None for a row logged without one."""
    row = session.get(CycleRow, cycle_id)
    plan = (row.stats or {}).get("plan") if row is not None else None
    return plan if isinstance(plan, str) else None


def reopen(session: Session, cycle_id: int, now: datetime) -> int:
    """Log that a job resumes its row ``cycle_id`` (an earlier attempt's, started at ``now``)."""
    partitions.ensure(session.connection(), now)
    row = session.get(CycleRow, cycle_id)
    assert row is not None
    row.finished_at, row.outcome = None, "running"
    return row.id


def abandon(session: Session, cycle_id: int, *, now: datetime) -> None:
    """Log that row ``cycle_id`` (a killed attempt's) will not be resumed: a retried job started afresh."""
    row = session.get(CycleRow, cycle_id)
    assert row is not None
    row.finished_at, row.outcome = now, "abandoned"


def finish(session: Session, cycle_id: int, *, now: datetime, outcome: str, stats: dict[str, Any]) -> None:
    row = session.get(CycleRow, cycle_id)
    assert row is not None
    row.finished_at, row.outcome, row.stats = now, outcome, stats


def close_interrupted(session: Session, *, now: datetime) -> int:
    """Mark the cycles a killed process left ``running`` as ``interrupted`` (call under the store lock)."""
    rows = list(session.scalars(select(CycleRow).where(CycleRow.outcome == "running")))
    for row in rows:
        row.finished_at, row.outcome = now, "interrupted"
    return len(rows)


def recent(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    rows = session.scalars(select(CycleRow).order_by(CycleRow.id.desc()).limit(limit))
    return [{"id": r.id, "kind": r.kind, "started_at": r.started_at, "finished_at": r.finished_at,
             "outcome": r.outcome, "stats": r.stats} for r in rows]


def stats_of_job(session: Session, job_id: int) -> dict[str, Any] | None:
    """The stats of the latest successful cycle a cluster worker ran for queued job ``job_id``."""
    rows = session.scalars(select(CycleRow).where(CycleRow.kind == "cycle", CycleRow.outcome == "ok")
                           .order_by(CycleRow.id.desc()).limit(200))
    for row in rows:
        if (row.stats or {}).get("job") == job_id:
            return {k: v for k, v in row.stats.items() if k not in ("job", "plan")}
    return None


def batches_of(session: Session, parent: int, round_name: str = "watched") -> list[dict[str, Any]]:
    """The stats of the successful batch jobs (cluster mode) of round ``round_name`` of the job logged as
    ``parent``, oldest first. A job's rounds: "watched" (its probe or crawl round; batches logged without
    a round are that), "lost" and "sweep" (the candidates its hunt chose)."""
    rows = session.scalars(select(CycleRow).where(CycleRow.kind == "batch", CycleRow.outcome == "ok",
                                                  CycleRow.stats["parent"].as_integer() == parent)
                           .order_by(CycleRow.id))
    return [dict(r.stats) for r in rows if (r.stats or {}).get("round", "watched") == round_name]


def record(session: Session, kind: str, now: datetime, stats: dict[str, Any]) -> int:
    """Log a finished piece of a job (cluster mode's ``score`` batch: its ``parent`` job and ``index``) in
    the caller's transaction, the one that writes what the piece did."""
    row = CycleRow(kind=kind, started_at=now, finished_at=now, outcome="ok", stats=dict(stats))
    session.add(row)
    session.flush()
    return row.id


def records_of(session: Session, kind: str, parent: int) -> list[dict[str, Any]]:
    """The stats of the ``kind`` pieces logged by :func:`record` under job ``parent``, oldest first."""
    rows = session.scalars(select(CycleRow).where(CycleRow.kind == kind, CycleRow.outcome == "ok",
                                                  CycleRow.stats["parent"].as_integer() == parent)
                           .order_by(CycleRow.id))
    return [dict(r.stats) for r in rows]


def claim(session: Session, kind: str, parent: int, index: int) -> bool:
    """In the caller's transaction, before it writes piece ``index`` of ``kind`` under job ``parent``:
    whether that piece is not recorded yet. On PostgreSQL it first waits for any other transaction
    claiming the same piece (an advisory lock held until the transaction ends), so two runs of one piece
    at once (a job the reaper took for stalled) record it once: the second finds the first's record."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('hydrawatch:' || current_schema() || ':' "
                             "|| :key))"), {"key": f"{kind}:{parent}:{index}"})
    return index not in {int(stats["index"]) for stats in records_of(session, kind, parent)}
