"""Read queries for researchers: search the watchlist, one domain in detail, pivots on an indicator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detect.model import Status
from storage.inlist import chunks
from storage.lineage import edges
from storage.models import DomainRow, IndicatorRow, ObservationRow
from storage.values import DomainInfo, EdgeInfo, StatusChange
from storage.watchlist import domain_info, filter_domains, status_history


@dataclass(frozen=True)
class IndicatorSeen:
    """One indicator of a domain: when it was first and last seen there, how often, and by how many
    domains of the store in all (``domains`` ≥ 1; > 1 means a pivot leads somewhere)."""

    kind: str
    value: str
    first_seen: datetime
    last_seen: datetime
    observations: int
    domains: int


@dataclass(frozen=True)
class LastPage:
    """The latest HTTP observation with an answer: what a person would see (title is crawled text)."""

    url: str
    final_url: str
    http_status: int | None
    title: str
    observed_at: datetime


@dataclass(frozen=True)
class DomainDetail:
    domain: DomainInfo
    history: tuple[StatusChange, ...]
    indicators: tuple[IndicatorSeen, ...]
    edges: tuple[EdgeInfo, ...]
    last_page: LastPage | None


@dataclass(frozen=True)
class PivotHit:
    domain: DomainInfo
    first_seen: datetime
    last_seen: datetime
    observations: int


@dataclass(frozen=True)
class Pivot:
    kind: str
    value: str
    hits: tuple[PivotHit, ...]


def search_domains(session: Session, *, q: str = "", campaign: str | None = None, status: Status | None = None,
                   origin: str | None = None, changed_since: datetime | None = None, limit: int = 1000,
                   offset: int = 0, watched_only: bool = True) -> tuple[list[DomainInfo], int]:
    """Domains whose name contains ``q`` (case-insensitive), filtered; returns (page, total).
    Unreported candidates (watched = false) are left out unless ``watched_only`` is False."""
    query = filter_domains(select(DomainRow), campaign=campaign, status=status, origin=origin,
                           changed_since=changed_since, watched_only=watched_only)
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(DomainRow.name.like(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DomainRow.name).limit(limit).offset(offset))
    return [domain_info(r) for r in rows], int(total)


# An indicator of a stamped DNS observation was seen at each of the observation's looks: until its
# last_seen_at, 1 + repeats times (storage/observations.py).
_LAST_SEEN = func.max(func.coalesce(ObservationRow.last_seen_at, IndicatorRow.observed_at))
_LOOKS = func.sum(1 + ObservationRow.repeats)
_ITS_LOOK = ObservationRow.id == IndicatorRow.observation_id


def indicators_of(session: Session, domain_id: int) -> list[IndicatorSeen]:
    mine = (select(IndicatorRow.kind, IndicatorRow.value, func.min(IndicatorRow.observed_at), _LAST_SEEN, _LOOKS)
            .join(ObservationRow, _ITS_LOOK)
            .where(IndicatorRow.domain_id == domain_id)
            .group_by(IndicatorRow.kind, IndicatorRow.value)
            .order_by(IndicatorRow.kind, IndicatorRow.value))
    found = list(session.execute(mine))
    if not found:
        return []
    shared: dict[tuple[str, str], int] = {}
    for chunk in chunks(v for _, v, *_ in found):
        sharers = (select(IndicatorRow.kind, IndicatorRow.value, func.count(func.distinct(IndicatorRow.domain_id)))
                   .where(IndicatorRow.value.in_(chunk))
                   .group_by(IndicatorRow.kind, IndicatorRow.value))
        shared.update({(k, v): n for k, v, n in session.execute(sharers)})
    return [IndicatorSeen(k, v, first, last, int(n), int(shared.get((k, v), 1))) for k, v, first, last, n in found]


def _last_page(session: Session, domain_id: int) -> LastPage | None:
    row = session.scalar(select(ObservationRow)
                         .where(ObservationRow.domain_id == domain_id, ObservationRow.kind == "http",
                                ObservationRow.http_status.is_not(None))
                         .order_by(ObservationRow.observed_at.desc(), ObservationRow.id.desc()).limit(1))
    if row is None:
        return None
    return LastPage(url=row.url or "", final_url=row.final_url or "", http_status=row.http_status,
                    title=row.title or "", observed_at=row.observed_at)


def domain_detail(session: Session, name: str) -> DomainDetail | None:
    """Everything the store knows about one domain, or None when it is not in the store."""
    row = session.scalar(select(DomainRow).where(DomainRow.name == name))
    if row is None:
        return None
    return DomainDetail(domain=domain_info(row), history=tuple(status_history(session, name)),
                        indicators=tuple(indicators_of(session, row.id)), edges=tuple(edges(session, name)),
                        last_page=_last_page(session, row.id))


def pivot(session: Session, kind: str, value: str) -> Pivot | None:
    """Every domain that ever showed indicator ``kind``=``value`` with first/last seen; None if none did."""
    query = (select(IndicatorRow.domain_id, func.min(IndicatorRow.observed_at), _LAST_SEEN, _LOOKS)
             .join(ObservationRow, _ITS_LOOK)
             .where(IndicatorRow.kind == kind, IndicatorRow.value == value)
             .group_by(IndicatorRow.domain_id))
    found = list(session.execute(query))
    if not found:
        return None
    rows = {r.id: r for chunk in chunks(f[0] for f in found)
            for r in session.scalars(select(DomainRow).where(DomainRow.id.in_(chunk)))}
    hits = sorted((PivotHit(domain_info(rows[d]), first, last, int(n)) for d, first, last, n in found),
                  key=lambda h: (h.first_seen, h.domain.name))
    return Pivot(kind=kind, value=value, hits=tuple(hits))


def indicator_kinds(session: Session) -> list[tuple[str, int]]:
    """The indicator kinds in the store with how many distinct values each has."""
    rows = session.execute(select(IndicatorRow.kind, func.count(func.distinct(IndicatorRow.value)))
                           .group_by(IndicatorRow.kind).order_by(IndicatorRow.kind))
    return [(k, int(n)) for k, n in rows]
