"""What an export reads: every watched domain with its status history, and every lineage edge.

Read once per export (``snapshot``); the exporters (storage/export.py, storage/stix.py) turn it into
bytes. ``iso`` is the contract's time format, shared by both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.lineage import edges as all_edges
from storage.models import DomainRow, StatusChangeRow
from storage.values import DomainInfo, EdgeInfo, StatusChange
from storage.watchlist import domain_info, status_change


@dataclass(frozen=True)
class DomainRecord:
    domain: DomainInfo
    history: tuple[StatusChange, ...]


@dataclass(frozen=True)
class Snapshot:
    domains: tuple[DomainRecord, ...]
    edges: tuple[EdgeInfo, ...]


def snapshot(session: Session) -> Snapshot:
    """Every watched domain (by name) with its status history, and every edge (oldest first).

    Candidates discovery observed but did not report (watched = false) are left out: an export lists
    the network and its lineage, not every name a sweep resolved."""
    rows = list(session.scalars(select(DomainRow).where(DomainRow.watched.is_(True)).order_by(DomainRow.name)))
    history: dict[int, list[StatusChange]] = {r.id: [] for r in rows}
    for ch in session.scalars(select(StatusChangeRow).join(DomainRow, DomainRow.id == StatusChangeRow.domain_id)
                              .where(DomainRow.watched.is_(True))
                              .order_by(StatusChangeRow.changed_at, StatusChangeRow.id)):
        history.setdefault(ch.domain_id, []).append(status_change(ch))
    return Snapshot(domains=tuple(DomainRecord(domain_info(r), tuple(history[r.id])) for r in rows),
                    edges=tuple(all_edges(session)))


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, to the second (the contract's time format)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
