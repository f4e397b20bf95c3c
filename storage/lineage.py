"""Lineage edges between domains (who replaced, mirrors or runs with whom) and the family of a domain.

An edge is recorded once per (from, to, relation) and never overwritten: the first detection, its
confidence and its evidence are the history researchers cite.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from detect.model import Evidence, Relation
from storage.codec import evidence_from_raw, evidence_to_raw
from storage.inlist import chunks
from storage.models import DomainRow, EdgeRow, StatusChangeRow
from storage.values import DomainInfo, EdgeInfo, StatusChange
from storage.watchlist import domain_info, status_change

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FamilyMember:
    """One domain of a family. ``depth`` is 0 for the asked domain, -n for a predecessor n edges
    upstream, +n for a successor n edges downstream; ``role`` names the same ("self", "predecessor",
    "successor")."""

    domain: DomainInfo
    role: str
    depth: int
    history: tuple[StatusChange, ...]


@dataclass(frozen=True)
class Family:
    """A domain with its predecessors and successors, transitively, and the edges between them."""

    root: str
    members: tuple[FamilyMember, ...]
    edges: tuple[EdgeInfo, ...]

    def member(self, name: str) -> FamilyMember:
        for m in self.members:
            if m.domain.name == name:
                return m
        raise KeyError(name)

    @property
    def predecessors(self) -> tuple[FamilyMember, ...]:
        return tuple(m for m in self.members if m.role == "predecessor")

    @property
    def successors(self) -> tuple[FamilyMember, ...]:
        return tuple(m for m in self.members if m.role == "successor")


def edge_info(row: EdgeRow, from_domain: str, to_domain: str) -> EdgeInfo:
    """An edge row (its two domains named) as the plain value the store hands out."""
    return EdgeInfo(id=row.id, from_domain=from_domain, to_domain=to_domain, relation=Relation(row.relation),
                    confidence=row.confidence, evidence=evidence_from_raw(row.evidence),
                    detected_at=row.detected_at)


def _edge_info(row: EdgeRow, names: dict[int, str]) -> EdgeInfo:
    return edge_info(row, names[row.from_id], names[row.to_id])


def _ids(session: Session, *names: str) -> dict[str, int]:
    return {name: id_ for chunk in chunks(names)
            for name, id_ in session.execute(select(DomainRow.name, DomainRow.id).where(DomainRow.name.in_(chunk)))}


def add_edge(session: Session, *, from_domain: str, to_domain: str, relation: Relation, confidence: float,
             evidence: Sequence[Evidence], now: datetime) -> tuple[int, bool]:
    """Record ``from_domain → to_domain`` as ``relation``; returns (edge id, created). An edge already
    there is returned untouched (created=False). Both domains must be in the store (KeyError)."""
    relation = Relation(relation)
    if from_domain == to_domain:
        raise ValueError(f"an edge needs two domains, got {from_domain} twice")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must be within 0..1, not {confidence}")
    ids = _ids(session, from_domain, to_domain)
    for name in (from_domain, to_domain):
        if name not in ids:
            raise KeyError(name)
    query = select(EdgeRow).where(EdgeRow.from_id == ids[from_domain], EdgeRow.to_id == ids[to_domain],
                                  EdgeRow.relation == relation.value)
    existing = session.scalar(query)
    if existing is not None:
        return existing.id, False
    row = EdgeRow(from_id=ids[from_domain], to_id=ids[to_domain], relation=relation.value,
                  confidence=float(confidence), evidence=evidence_to_raw(evidence), detected_at=now)
    if session.get_bind().dialect.name == "postgresql":
        try:
            with session.begin_nested():  # a concurrent writer may have inserted the same edge meanwhile
                session.add(row)
                session.flush()
        except IntegrityError:
            again = session.scalar(query)
            if again is None:
                raise
            return again.id, False
    else:
        # No SAVEPOINT on SQLite: under pysqlite it can open (and on release commit) a transaction of
        # its own, breaking the caller's unit of work. Writers are serialised there; a duplicate from
        # an overlapping job would surface as IntegrityError (the scheduler never overlaps jobs).
        session.add(row)
        session.flush()
    log.info("edge %s -> %s (%s, %.2f) recorded", from_domain, to_domain, relation.value, confidence)
    return row.id, True


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {id_: name for chunk in chunks(ids)
            for id_, name in session.execute(select(DomainRow.id, DomainRow.name).where(DomainRow.id.in_(chunk)))}


def edges(session: Session, domain: str | None = None) -> list[EdgeInfo]:
    """Every edge (oldest first), or those touching ``domain`` on either side."""
    query = select(EdgeRow).order_by(EdgeRow.detected_at, EdgeRow.id)
    if domain is not None:
        ids = _ids(session, domain)
        if domain not in ids:
            return []
        query = query.where(or_(EdgeRow.from_id == ids[domain], EdgeRow.to_id == ids[domain]))
    rows = list(session.scalars(query))
    names = _names(session, {r.from_id for r in rows} | {r.to_id for r in rows})
    return [_edge_info(r, names) for r in rows]


def _walk(session: Session, start: int, forward: bool) -> dict[int, int]:
    """Breadth-first over edges (forward = successors): domain id → distance from ``start``."""
    seen: dict[int, int] = {start: 0}
    frontier = {start}
    depth = 0
    near, far = (EdgeRow.from_id, EdgeRow.to_id) if forward else (EdgeRow.to_id, EdgeRow.from_id)
    while frontier:
        depth += 1
        found = {f for chunk in chunks(frontier) for f in session.scalars(select(far).where(near.in_(chunk)))}
        found -= seen.keys()
        for id_ in found:
            seen[id_] = depth
        frontier = found
    return seen


def family(session: Session, domain: str) -> Family:
    """``domain``'s predecessors and successors, transitively (A → B → C), with the edges between
    them and each member's status history. KeyError for a domain not in the store."""
    root = session.scalar(select(DomainRow).where(DomainRow.name == domain))
    if root is None:
        raise KeyError(domain)
    down = _walk(session, root.id, forward=True)
    up = _walk(session, root.id, forward=False)
    placed: dict[int, tuple[str, int]] = {root.id: ("self", 0)}
    for id_, dist in up.items():
        placed.setdefault(id_, ("predecessor", -dist))
    for id_, dist in down.items():
        placed.setdefault(id_, ("successor", dist))
    rows = {r.id: r for chunk in chunks(placed)
            for r in session.scalars(select(DomainRow).where(DomainRow.id.in_(chunk)))}
    history: dict[int, list[StatusChange]] = {id_: [] for id_ in placed}
    changes = [ch for chunk in chunks(placed)
               for ch in session.scalars(select(StatusChangeRow).where(StatusChangeRow.domain_id.in_(chunk)))]
    for ch in sorted(changes, key=lambda c: (c.changed_at, c.id)):
        history[ch.domain_id].append(status_change(ch))
    # Edges with both ends in the family; a predecessor's other children (siblings) are not members.
    edge_rows = sorted((e for chunk in chunks(placed)
                        for e in session.scalars(select(EdgeRow).where(EdgeRow.from_id.in_(chunk)))
                        if e.to_id in placed), key=lambda e: (e.detected_at, e.id))
    names = {id_: row.name for id_, row in rows.items()}
    members = sorted(
        (FamilyMember(domain_info(rows[id_]), role, depth, tuple(history[id_])) for id_, (role, depth) in placed.items()),
        key=lambda m: (m.depth, m.domain.first_seen, m.domain.name),
    )
    return Family(root=domain, members=tuple(members), edges=tuple(_edge_info(r, names) for r in edge_rows))
