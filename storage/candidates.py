"""Candidates discovery checked, and what was decided, so sweeps can report only what changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from detect.model import Evidence
from storage.models import CandidateRow


def upsert(session: Session, name: str, *, source: str, via: str, seed: str, now: datetime) -> None:
    row = session.scalar(select(CandidateRow).where(CandidateRow.name == name))
    if row is None:
        session.add(CandidateRow(name=name, source=source, via=via[:2000], seed=seed, first_seen=now,
                                 last_checked=now, resolves=True, evidence=[]))
    else:
        row.last_checked, row.resolves = now, True
    session.flush()


def decide(session: Session, name: str, *, score: float, decision: str, evidence: Sequence[Evidence],
           now: datetime) -> None:
    row = session.scalar(select(CandidateRow).where(CandidateRow.name == name))
    if row is None:
        return
    row.score, row.decision, row.last_checked = score, decision, now
    row.evidence = [{"kind": e.kind, "value": e.value, "weight": round(e.weight, 4), "detail": e.detail}
                    for e in evidence]
