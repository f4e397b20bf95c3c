"""The watchlist: domains, their current status, and the history of status changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from detect.model import Classification, Status
from storage.inlist import chunks
from storage.models import DomainRow, StatusChangeRow
from storage.values import AddResult, DomainInfo, StatusChange


def domain_info(row: DomainRow) -> DomainInfo:
    """A domain row as the plain value the store hands out."""
    return DomainInfo(
        name=row.name, campaign=row.campaign, origin=row.origin, status=Status(row.status),
        status_reason=row.status_reason, status_since=row.status_since, first_seen=row.first_seen,
        last_seen=row.last_seen, tags=tuple(row.tags or ()),
    )


def status_change(row: StatusChangeRow) -> StatusChange:
    """A status-change row as the plain value the store hands out."""
    return StatusChange(Status(row.status), Status(row.previous) if row.previous is not None else None, row.reason,
                        row.changed_at)


def add_domains(session: Session, names: Iterable[str], *, campaign: str, origin: str, now: datetime,
                tags: Iterable[str] = (), watched: bool = True) -> AddResult:
    """Add normalised names to the store; names already there are left as they are.

    Discovery adds the candidates it observes with ``watched=False`` (origin "candidate"): their
    observations feed pivots and rarity counts, but they are not on the watchlist until promoted.
    """
    wanted = list(dict.fromkeys(names))
    existing: set[str] = set()
    for chunk in chunks(wanted):
        existing.update(session.scalars(select(DomainRow.name).where(DomainRow.name.in_(chunk))))
    added = [n for n in wanted if n not in existing]
    session.add_all(
        DomainRow(name=n, campaign=campaign, origin=origin, tags=list(tags), first_seen=now, last_seen=now,
                  status="unknown", status_reason="not observed yet", watched=watched)
        for n in added
    )
    session.flush()
    return AddResult(tuple(added), tuple(n for n in wanted if n in existing))


def domain_row(session: Session, name: str) -> DomainRow | None:
    return session.scalar(select(DomainRow).where(DomainRow.name == name))


def get_domain(session: Session, name: str) -> DomainInfo | None:
    row = domain_row(session, name)
    return domain_info(row) if row else None


def get_domains(session: Session, names: Iterable[str]) -> dict[str, DomainInfo]:
    """:func:`get_domain` of many names, one query a chunk: name → its domain, for those in the store."""
    return {name: domain_info(row) for name, row in domain_rows(session, names).items()}


def domain_rows(session: Session, names: Iterable[str]) -> dict[str, DomainRow]:
    """The rows of those of ``names`` in the store, one query a chunk (:func:`domain_row` of many)."""
    out: dict[str, DomainRow] = {}
    for chunk in chunks(list(names)):
        out.update((row.name, row) for row in session.scalars(select(DomainRow).where(DomainRow.name.in_(chunk))))
    return out


def list_domains(session: Session, *, campaign: str | None = None, status: Status | None = None,
                 origin: str | None = None, changed_since: datetime | None = None,
                 watched_only: bool = False) -> list[DomainInfo]:
    query = filter_domains(select(DomainRow).order_by(DomainRow.name), campaign=campaign, status=status,
                           origin=origin, changed_since=changed_since, watched_only=watched_only)
    return [domain_info(r) for r in session.scalars(query)]


def filter_domains(query: Select[DomainRow], *, campaign: str | None, status: Status | None,
                   origin: str | None, changed_since: datetime | None,
                   watched_only: bool) -> Select[DomainRow]:
    """``query`` narrowed by the filters the CLI, the API and the web page share (falsy = no filter)."""
    if watched_only:
        query = query.where(DomainRow.watched.is_(True))
    if campaign:
        query = query.where(DomainRow.campaign == campaign)
    if status:
        query = query.where(DomainRow.status == Status(status).value)
    if origin:
        query = query.where(DomainRow.origin == origin)
    if changed_since:
        query = query.where(DomainRow.status_since >= changed_since)
    return query


def set_status(session: Session, name: str, verdict: Classification, now: datetime) -> StatusChange | None:
    """Record the latest verdict; a change of status appends to the history and is returned.

    The domain's row is locked and read afresh first (PostgreSQL; SQLite has one writer at a time), so
    two processes classifying one domain at once make one change: the second sees the first's status."""
    row = session.scalar(select(DomainRow).where(DomainRow.name == name).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None:
        raise KeyError(name)
    change = apply_status(session, row, verdict, now)
    session.flush()
    return change


def lock_domains(session: Session, names: Iterable[str], now: datetime) -> dict[str, DomainRow]:
    """The rows of those of ``names`` in the store, locked for the caller's transaction and read afresh, to
    classify them together (:func:`apply_status`): PostgreSQL locks them in id order (FOR UPDATE, so two
    processes locking overlapping batches wait instead of deadlocking); SQLite takes its one write lock
    first, by stamping their ``last_seen`` with ``now`` (what classifying them does anyway), so no other
    writer can come between this read and the writes. One query a chunk of names."""
    wanted = list(dict.fromkeys(names))
    sqlite = session.get_bind().dialect.name == "sqlite"
    out: dict[str, DomainRow] = {}
    for chunk in chunks(wanted):
        if sqlite:
            session.execute(update(DomainRow).where(DomainRow.name.in_(chunk)).values(last_seen=now)
                            .execution_options(synchronize_session=False))
        rows = session.scalars(select(DomainRow).where(DomainRow.name.in_(chunk)).order_by(DomainRow.id)
                               .with_for_update().execution_options(populate_existing=True))
        out.update((row.name, row) for row in rows)
    return out


def apply_status(session: Session, row: DomainRow, verdict: Classification, now: datetime) -> StatusChange | None:
    """Record the latest verdict on ``row`` (locked by the caller: :func:`set_status`, :func:`lock_domains`);
    a change of status appends to the history (written with the caller's next flush) and is returned."""
    row.last_seen = now
    if row.status == verdict.status.value:
        row.status_reason = verdict.reason
        return None
    change = StatusChangeRow(domain_id=row.id, status=verdict.status.value, previous=row.status,
                             reason=verdict.reason, changed_at=now)
    session.add(change)
    row.status, row.status_reason, row.status_since = verdict.status.value, verdict.reason, now
    return status_change(change)


def status_before(session: Session, domain_id: int, at: datetime) -> tuple[Status | None] | None:
    """The domain's status before the first change recorded at exactly ``at`` (one-tuple: None for a first
    look), or None when no change is recorded at ``at``."""
    first = session.scalar(select(StatusChangeRow).where(StatusChangeRow.domain_id == domain_id,
                                                         StatusChangeRow.changed_at == at)
                           .order_by(StatusChangeRow.id).limit(1))
    if first is None:
        return None
    return (Status(first.previous) if first.previous is not None else None,)


def latest_change_id(session: Session, name: str) -> int | None:
    """The id of the domain's latest status change (what a takedown alert refers to)."""
    row = domain_row(session, name)
    if row is None:
        return None
    return session.scalar(select(StatusChangeRow.id).where(StatusChangeRow.domain_id == row.id)
                          .order_by(StatusChangeRow.changed_at.desc(), StatusChangeRow.id.desc()).limit(1))


def status_history(session: Session, name: str) -> list[StatusChange]:
    row = domain_row(session, name)
    if row is None:
        return []
    rows = session.scalars(select(StatusChangeRow).where(StatusChangeRow.domain_id == row.id)
                           .order_by(StatusChangeRow.changed_at, StatusChangeRow.id))
    return [status_change(r) for r in rows]


def watched_names(session: Session) -> list[str]:
    return list(session.scalars(select(DomainRow.name).where(DomainRow.watched.is_(True)).order_by(DomainRow.name)))


def watched_among(session: Session, names: Iterable[str]) -> set[str]:
    """Which of ``names`` are watched: one keyed query a chunk (a job that meets a few names need not read
    the whole watchlist)."""
    found: set[str] = set()
    for chunk in chunks(names):
        found.update(session.scalars(select(DomainRow.name).where(DomainRow.name.in_(chunk),
                                                                  DomainRow.watched.is_(True))))
    return found


def promote(session: Session, name: str, *, campaign: str, now: datetime) -> bool:
    """Put a discovered clone on the watchlist (origin "discovered"); False if it already was."""
    row = domain_row(session, name)
    if row is None:
        raise KeyError(name)
    if row.watched:
        return False
    row.watched, row.origin, row.campaign = True, "discovered", campaign or row.campaign
    return True
