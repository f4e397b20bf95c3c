"""A discovery sweep's parts: each part (a group of the network's labels) records, once, the lookalikes
that resolved; the sweep's final step reads them back, then drops them. A takedown's hunt records its
lookalike parts the same way, under the same job's id with part numbers of their own (the job's sweep,
if it has one, numbers its parts after them).

A part's marker row (``sweep_parts``, unique per sweep and part) is written in the transaction that
records its names, so a part is recorded whole or not at all, and a part run twice records nothing the
second time (the second run's insert meets the unique key and is rolled back)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.inlist import chunks
from storage.models import SweepFoundRow, SweepPartRow

_Q = TypeVar("_Q", bound=Select[Any])

KEEP_PARTS = timedelta(days=7)
"""Markers of finished parts are kept this long (a part queued again later still records nothing)."""


@dataclass(frozen=True)
class Found:
    """A lookalike a part resolved: the discovery that won within the part, and its answer's fingerprint."""

    part: int
    name: str
    source: str
    via: str
    seed: str
    fingerprint: str


@dataclass(frozen=True)
class PartDone:
    part: int
    generated: int
    wildcards: list[str]
    worker: str


def is_done(session: Session, sweep: int, part: int) -> bool:
    return session.scalar(select(SweepPartRow.id).where(SweepPartRow.sweep == sweep, SweepPartRow.part == part)) is not None


def record(session: Session, sweep: int, part: int, found: Iterable[Found], *, generated: int,
           wildcards: Iterable[str], worker: str, now: datetime) -> bool:
    """Record part ``part`` of ``sweep`` with what it ``found``, unless it was recorded already (then
    nothing is written). True when recorded now. Runs in a savepoint: the caller's transaction goes on."""
    try:
        with session.begin_nested():
            session.add(SweepPartRow(sweep=sweep, part=part, generated=generated, wildcards=sorted(wildcards),
                                     worker=worker[:64], finished_at=now))
            session.flush()  # the unique key first: a second run stops here
            session.add_all(SweepFoundRow(sweep=sweep, part=part, name=f.name, source=f.source, via=f.via[:2000],
                                          seed=f.seed, fingerprint=f.fingerprint) for f in found)
            session.flush()
    except IntegrityError:
        return False
    return True


def parts_of(session: Session, sweep: int, parts: Collection[int] | None = None) -> list[PartDone]:
    """The recorded parts of ``sweep`` (only ``parts`` when given), by part."""
    query = select(SweepPartRow).where(SweepPartRow.sweep == sweep)
    rows = [r for q in _only(query, SweepPartRow.part, parts) for r in session.scalars(q)]
    rows.sort(key=lambda r: r.part)
    return [PartDone(r.part, r.generated, list(r.wildcards), r.worker) for r in rows]


def found_of(session: Session, sweep: int, parts: Collection[int] | None = None) -> list[Found]:
    """The names every recorded part of ``sweep`` (only ``parts`` when given) found, by part then name
    (the caller orders them)."""
    query = select(SweepFoundRow).where(SweepFoundRow.sweep == sweep)
    rows = [r for q in _only(query, SweepFoundRow.part, parts) for r in session.scalars(q)]
    rows.sort(key=lambda r: (r.part, r.name))
    return [Found(r.part, r.name, r.source, r.via, r.seed, r.fingerprint) for r in rows]


def _only(query: _Q, column: Any, parts: Collection[int] | None) -> Iterator[_Q]:
    """``query`` itself when ``parts`` is None, else once per chunk of ``parts`` (storage/inlist.py)."""
    if parts is None:
        yield query
        return
    for chunk in chunks(sorted(parts)):
        yield query.where(column.in_(chunk))


def consumed(session: Session, sweep: int, *, now: datetime, parts: Collection[int] | None = None) -> None:
    """The final step of ``sweep`` has read the names of its ``parts`` (all when None): drop them (and any
    an earlier sweep left), and the markers of parts finished more than KEEP_PARTS ago. Sweeps run one at
    a time (the work lock). Other parts of ``sweep`` keep their names (a takedown hunt's parts are read
    before its job's sweep parts run)."""
    session.execute(delete(SweepFoundRow).where(SweepFoundRow.sweep < sweep))
    if parts is None:
        session.execute(delete(SweepFoundRow).where(SweepFoundRow.sweep == sweep))
    for chunk in chunks(sorted(parts or ())):
        session.execute(delete(SweepFoundRow).where(SweepFoundRow.sweep == sweep, SweepFoundRow.part.in_(chunk)))
    session.execute(delete(SweepPartRow).where(SweepPartRow.finished_at < now - KEEP_PARTS))
