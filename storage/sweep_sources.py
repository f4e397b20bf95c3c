"""A discovery sweep's sources besides its lookalikes (CT search, NRD feeds, zone files, CertStream,
passive DNS): each records, once, the candidates it found that resolved, with what it reported; the
sweep's final step reads them back, then drops them (as storage/sweeps.py does for the lookalike parts).

A source's marker row (``sweep_sources``, unique per sweep and source) is written in the transaction that
records its names and saves the source's cursors (feed dates, ETags, CT answers: ``source_state``), so a
source is recorded whole with its cursors advanced, or not at all; run twice, the second run records
nothing and advances nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import source_state
from storage.models import SweepSourceFoundRow, SweepSourceRow

KEEP_SOURCES = timedelta(days=7)
"""Markers of finished sources are kept this long (a source job queued again later still records nothing)."""


@dataclass(frozen=True)
class SourceFound:
    """A candidate a source resolved: the discovery that won within the source, and its answer's fingerprint."""

    source: str
    name: str
    found_by: str
    via: str
    seed: str
    fingerprint: str


@dataclass(frozen=True)
class SourceDone:
    source: str
    generated: int
    wildcards: list[str]
    report: dict[str, Any]
    worker: str


@dataclass(frozen=True)
class SourceRecord:
    """What one run of a source hands to :func:`record`."""

    found: list[SourceFound]
    generated: int
    wildcards: list[str]
    report: dict[str, Any]
    memos: list[source_state.SourceStateValue] = field(default_factory=list)  # cursors to advance with it


def is_done(session: Session, sweep: int, source: str) -> bool:
    return session.scalar(select(SweepSourceRow.id).where(SweepSourceRow.sweep == sweep,
                                                          SweepSourceRow.source == source)) is not None


def record(session: Session, sweep: int, source: str, got: SourceRecord, *, worker: str, now: datetime) -> bool:
    """Record ``source`` of ``sweep`` with what it found and advance its cursors, unless it was recorded
    already (then nothing is written). True when recorded now. Runs in a savepoint."""
    try:
        with session.begin_nested():
            session.add(SweepSourceRow(sweep=sweep, source=source, generated=got.generated,
                                       wildcards=sorted(got.wildcards), report=dict(got.report), worker=worker[:64],
                                       finished_at=now))
            session.flush()  # the unique key first: a second run stops here
            session.add_all(SweepSourceFoundRow(sweep=sweep, source=source, name=f.name, found_by=f.found_by,
                                                via=f.via[:2000], seed=f.seed, fingerprint=f.fingerprint)
                            for f in got.found)
            for memo in got.memos:
                source_state.save(session, memo, now=memo.updated_at or now)
            session.flush()
    except IntegrityError:
        return False
    return True


def sources_of(session: Session, sweep: int) -> list[SourceDone]:
    """The recorded sources of ``sweep``, by name."""
    rows = sorted(session.scalars(select(SweepSourceRow).where(SweepSourceRow.sweep == sweep)), key=lambda r: r.source)
    return [SourceDone(r.source, r.generated, list(r.wildcards), dict(r.report or {}), r.worker) for r in rows]


def found_of(session: Session, sweep: int, source: str) -> list[SourceFound]:
    """The names ``source`` of ``sweep`` found, by name."""
    rows = session.scalars(select(SweepSourceFoundRow).where(SweepSourceFoundRow.sweep == sweep,
                                                             SweepSourceFoundRow.source == source))
    return sorted((SourceFound(r.source, r.name, r.found_by, r.via, r.seed, r.fingerprint) for r in rows),
                  key=lambda f: f.name)


def consumed(session: Session, sweep: int, *, now: datetime) -> None:
    """The final step of ``sweep`` has read its sources' names: drop them (and any an earlier sweep left),
    and the markers of sources finished more than KEEP_SOURCES ago."""
    session.execute(delete(SweepSourceFoundRow).where(SweepSourceFoundRow.sweep <= sweep))
    session.execute(delete(SweepSourceRow).where(SweepSourceRow.finished_at < now - KEEP_SOURCES))
