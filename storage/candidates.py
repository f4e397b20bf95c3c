"""Candidates discovery checked, and what was decided, so sweeps can report only what changed.

Decisions: ``clone``, ``rejected``, ``deferred`` (resolving, but past the hunt's observation cap: the
next sweep observes it before fresh names). A decision keeps the fingerprint of the DNS answer it was
made on, so a rejected name whose answer has not changed is not crawled again every sweep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from detect.model import Candidate, Evidence
from storage.codec import evidence_to_raw
from storage.inlist import chunks
from storage.models import CandidateRow


def _row(session: Session, name: str) -> CandidateRow | None:
    return session.scalar(select(CandidateRow).where(CandidateRow.name == name))


def upsert(session: Session, name: str, *, source: str, via: str, seed: str, now: datetime,
           fingerprint: str = "") -> None:
    row = _row(session, name)
    if row is None:
        session.add(CandidateRow(name=name, source=source, via=via[:2000], seed=seed, first_seen=now,
                                 last_checked=now, resolves=True, evidence=[], dns_fingerprint=fingerprint))
    else:
        row.last_checked, row.resolves = now, True
        if fingerprint:
            row.dns_fingerprint = fingerprint
    session.flush()


def decide(session: Session, name: str, *, score: float, decision: str, evidence: Sequence[Evidence],
           now: datetime) -> None:
    row = _row(session, name)
    if row is None:
        return
    row.score, row.decision, row.last_checked = score, decision, now
    row.evidence = evidence_to_raw(evidence, digits=4)


def unchanged_rejections(session: Session, answers: Mapping[str, str], *, since: datetime) -> set[str]:
    """Of ``answers`` (name → fingerprint of its answer now), the names rejected at or after ``since``
    on the same answer: nothing to look at again."""
    names = list(answers)
    out: set[str] = set()
    for chunk in chunks(names):
        rows = session.execute(select(CandidateRow.name, CandidateRow.dns_fingerprint, CandidateRow.last_checked)
                               .where(CandidateRow.name.in_(chunk),
                                      CandidateRow.decision == "rejected"))
        for name, fp, checked in rows:
            if fp and fp == answers[name] and checked >= since:
                out.add(name)
    return out


def defer(session: Session, candidates: Iterable[Candidate], *, now: datetime) -> int:
    """Record resolving candidates a hunt could not observe, for the next sweep; returns how many. Their
    rows are read one query a chunk (a sweep at 10⁴ domains defers thousands: bench/coordinator.py)."""
    wanted = list(candidates)
    rows = _rows(session, [c.domain for c in wanted])
    for c in wanted:
        row = rows.get(c.domain)
        if row is None:
            rows[c.domain] = CandidateRow(name=c.domain, source=c.source, via=c.via[:2000], seed=c.seed,
                                          first_seen=now, last_checked=now, resolves=True, evidence=[],
                                          decision="deferred")
            session.add(rows[c.domain])
        elif row.decision != "clone":
            row.decision, row.resolves = "deferred", True
    session.flush()
    return len(wanted)


def _rows(session: Session, names: Sequence[str]) -> dict[str, CandidateRow]:
    """The candidate rows of those of ``names`` stored, one query a chunk."""
    out: dict[str, CandidateRow] = {}
    for chunk in chunks(sorted(set(names))):
        out.update((r.name, r) for r in session.scalars(select(CandidateRow).where(CandidateRow.name.in_(chunk))))
    return out


def deferred(session: Session) -> list[Candidate]:
    """Candidates an earlier hunt deferred, oldest first."""
    rows = session.execute(select(CandidateRow.name, CandidateRow.source, CandidateRow.via, CandidateRow.seed)
                           .where(CandidateRow.decision == "deferred")
                           .order_by(CandidateRow.first_seen, CandidateRow.id))
    return [Candidate(name, source, via, seed) for name, source, via, seed in rows]


def mark_unresolved(session: Session, names: Iterable[str], *, now: datetime) -> None:
    """Deferred names that no longer resolve: no longer waiting for a crawl (read one query a chunk)."""
    for row in _rows(session, list(names)).values():
        if row.decision == "deferred":
            row.decision, row.resolves, row.last_checked = "unresolved", False, now
