"""The alert outbox: one row per edge, written in the edge's transaction, delivered at most once.

Delivery claims a row (state ``sending``, attempts+1) in its own transaction before talking to SMTP
and marks it ``sent`` only after the server accepted the message. A crash between acceptance and the
``sent`` commit leaves the row ``sending``; it is retried with the same Message-ID, so a receiving
system can drop the duplicate. That window is the only way two mails can leave for one edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from detect.model import Evidence
from storage.models import DomainRow, EdgeRow, OutboxRow
from storage.values import EdgeInfo


@dataclass(frozen=True)
class OutboxItem:
    id: int
    state: str
    attempts: int
    message_id: str
    edge: EdgeInfo
    predecessor_status: str
    clone_first_seen: datetime


def enqueue(session: Session, edge_id: int, *, now: datetime, message_id: str) -> int:
    """Queue the alert for ``edge_id`` (idempotent: one row per edge)."""
    existing = session.scalar(select(OutboxRow).where(OutboxRow.edge_id == edge_id))
    if existing is not None:
        return existing.id
    row = OutboxRow(edge_id=edge_id, state="pending", attempts=0, created_at=now, next_attempt_at=now,
                    message_id=message_id)
    session.add(row)
    session.flush()
    return row.id


def _edge_info(edge: EdgeRow, src: str, dst: str) -> EdgeInfo:
    return EdgeInfo(id=edge.id, from_domain=src, to_domain=dst, relation=edge.relation,
                    confidence=edge.confidence,
                    evidence=tuple(Evidence(e.get("kind", ""), str(e.get("value", "")), float(e.get("weight", 0.0)),
                                            e.get("detail", "")) for e in edge.evidence or ()),
                    detected_at=edge.detected_at)


def due(session: Session, *, now: datetime, limit: int = 200) -> list[OutboxItem]:
    """Rows to deliver now: pending or interrupted (sending) rows whose next attempt has come."""
    src, dst = aliased(DomainRow), aliased(DomainRow)
    rows = session.execute(
        select(OutboxRow, EdgeRow, src.name, dst.name, src.status, dst.first_seen)
        .join(EdgeRow, EdgeRow.id == OutboxRow.edge_id)
        .join(src, src.id == EdgeRow.from_id).join(dst, dst.id == EdgeRow.to_id)
        .where(OutboxRow.state.in_(("pending", "sending")),
               or_(OutboxRow.next_attempt_at.is_(None), OutboxRow.next_attempt_at <= now))
        .order_by(OutboxRow.id).limit(limit))
    return [OutboxItem(o.id, o.state, o.attempts, o.message_id, _edge_info(e, s, d), s_status, d_first)
            for o, e, s, d, s_status, d_first in rows]


def claim(session: Session, item_id: int, *, now: datetime) -> None:
    row = session.get(OutboxRow, item_id)
    assert row is not None
    row.state, row.attempts = "sending", row.attempts + 1


def mark_sent(session: Session, item_ids: list[int], *, now: datetime) -> None:
    for item_id in item_ids:
        row = session.get(OutboxRow, item_id)
        assert row is not None
        row.state, row.sent_at, row.last_error = "sent", now, ""


def mark_failed(session: Session, item_ids: list[int], error: str, *, now: datetime, max_attempts: int,
                backoff: float = 30.0) -> None:
    """Record a failed attempt; back off exponentially (``backoff`` doubling, capped at 1 h); give up at max."""
    for item_id in item_ids:
        row = session.get(OutboxRow, item_id)
        assert row is not None
        row.last_error = error[:1000]
        if row.attempts >= max_attempts:
            row.state = "failed"
            continue
        row.state = "pending"
        row.next_attempt_at = now + timedelta(seconds=min(3600.0, backoff * 2 ** max(0, row.attempts - 1)))


def counts(session: Session) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in session.scalars(select(OutboxRow.state)):
        out[state] = out.get(state, 0) + 1
    return out
