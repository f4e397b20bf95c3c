"""The alert outbox: one row per edge, written in the edge's transaction, delivered at most once;
and the takedown queue (``[alerts] takedowns``): one row per takedown of a watched domain, written
with its status change. Both queues are delivered the same way.

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
from storage.inlist import chunks
from storage.models import DeliveryState, DomainRow, EdgeRow, OutboxRow, StatusChangeRow, TakedownAlertRow
from storage.values import EdgeInfo

Queue = type[OutboxRow] | type[TakedownAlertRow]


@dataclass(frozen=True)
class OutboxItem:
    id: int
    state: str
    attempts: int
    message_id: str
    edge: EdgeInfo
    predecessor_status: str
    clone_first_seen: datetime


def _enqueue(session: Session, queue: Queue, *, now: datetime, message_id: str, **key: int) -> int:
    """One row per ``key`` (the edge or the status change it announces): an existing one is kept."""
    ((column, value),) = key.items()
    existing = session.scalar(select(queue).where(getattr(queue, column) == value))
    if isinstance(existing, DeliveryState):
        return existing.id
    row = queue(state="pending", attempts=0, created_at=now, next_attempt_at=now, message_id=message_id, **key)
    session.add(row)
    session.flush()
    return row.id


def enqueue(session: Session, edge_id: int, *, now: datetime, message_id: str) -> int:
    """Queue the alert for ``edge_id`` (idempotent: one row per edge)."""
    return _enqueue(session, OutboxRow, now=now, message_id=message_id, edge_id=edge_id)


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


@dataclass(frozen=True)
class TakedownItem:
    id: int
    state: str
    attempts: int
    message_id: str
    domain: str
    campaign: str
    status: str
    previous: str
    reason: str
    since: datetime


def enqueue_takedown(session: Session, status_change_id: int, *, now: datetime, message_id: str) -> int:
    """Queue the alert for a takedown (idempotent: one row per status change)."""
    return _enqueue(session, TakedownAlertRow, now=now, message_id=message_id, status_change_id=status_change_id)


def due_takedowns(session: Session, *, now: datetime, limit: int = 200) -> list[TakedownItem]:
    """Takedown alerts to deliver now (pending, or interrupted while sending, and their time has come)."""
    rows = session.execute(
        select(TakedownAlertRow, StatusChangeRow, DomainRow.name, DomainRow.campaign)
        .join(StatusChangeRow, StatusChangeRow.id == TakedownAlertRow.status_change_id)
        .join(DomainRow, DomainRow.id == StatusChangeRow.domain_id)
        .where(TakedownAlertRow.state.in_(("pending", "sending")),
               or_(TakedownAlertRow.next_attempt_at.is_(None), TakedownAlertRow.next_attempt_at <= now))
        .order_by(TakedownAlertRow.id).limit(limit))
    return [TakedownItem(t.id, t.state, t.attempts, t.message_id, name, campaign, c.status, c.previous or "",
                         c.reason, c.changed_at) for t, c, name, campaign in rows]


def _row(session: Session, queue: Queue, item_id: int) -> DeliveryState:
    row = session.get(queue, item_id)
    assert isinstance(row, DeliveryState)
    return row


def claim(session: Session, item_id: int, *, now: datetime, queue: Queue = OutboxRow) -> None:
    row = _row(session, queue, item_id)
    row.state, row.attempts = "sending", row.attempts + 1


def mark_sent(session: Session, item_ids: list[int], *, now: datetime, queue: Queue = OutboxRow) -> None:
    for item_id in item_ids:
        row = _row(session, queue, item_id)
        row.state, row.sent_at, row.last_error = "sent", now, ""


def mark_failed(session: Session, item_ids: list[int], error: str, *, now: datetime, max_attempts: int,
                backoff: float = 30.0, queue: Queue = OutboxRow) -> None:
    """Record a failed attempt; back off exponentially (``backoff`` doubling, capped at 1 h); give up at max."""
    for item_id in item_ids:
        row = _row(session, queue, item_id)
        row.last_error = error[:1000]
        if row.attempts >= max_attempts:
            row.state = "failed"
            continue
        row.state = "pending"
        row.next_attempt_at = now + timedelta(seconds=min(3600.0, backoff * 2 ** max(0, row.attempts - 1)))


def counts(session: Session, queue: Queue = OutboxRow) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in session.scalars(select(queue.state)):
        out[state] = out.get(state, 0) + 1
    return out


@dataclass(frozen=True)
class QueuedAlert:
    """One row of either queue, as `hydrawatch alerts list` shows it."""

    kind: str  # "clone" or "takedown"
    id: int
    state: str
    attempts: int
    about: str  # the clone or the domain taken down
    detail: str  # "replacement of rrn.media" / "seized (was active)"
    created_at: datetime
    sent_at: datetime | None
    last_error: str


def queued(session: Session, *, state: str | None = None) -> list[QueuedAlert]:
    """Every alert of both queues (or those in ``state``), oldest first."""
    out: list[QueuedAlert] = []
    src, dst = aliased(DomainRow), aliased(DomainRow)
    clones = (select(OutboxRow, EdgeRow.relation, src.name, dst.name).join(EdgeRow, EdgeRow.id == OutboxRow.edge_id)
              .join(src, src.id == EdgeRow.from_id).join(dst, dst.id == EdgeRow.to_id))
    downs = (select(TakedownAlertRow, StatusChangeRow.status, StatusChangeRow.previous, DomainRow.name)
             .join(StatusChangeRow, StatusChangeRow.id == TakedownAlertRow.status_change_id)
             .join(DomainRow, DomainRow.id == StatusChangeRow.domain_id))
    if state:
        clones, downs = clones.where(OutboxRow.state == state), downs.where(TakedownAlertRow.state == state)
    for o, relation, from_name, to_name in session.execute(clones):
        out.append(QueuedAlert("clone", o.id, o.state, o.attempts, to_name, f"{relation} of {from_name}",
                               o.created_at, o.sent_at, o.last_error))
    for t, status, previous, name in session.execute(downs):
        out.append(QueuedAlert("takedown", t.id, t.state, t.attempts, name, f"{status} (was {previous})",
                               t.created_at, t.sent_at, t.last_error))
    return sorted(out, key=lambda a: (a.created_at, a.kind, a.id))


def retry(session: Session, queue: Queue, item_ids: list[int] | None, *, now: datetime) -> int:
    """Give failed alerts (all, or ``item_ids``) a fresh round of attempts; returns how many."""
    query = select(queue).where(queue.state == "failed")
    if item_ids is None:
        found = list(session.scalars(query))
    else:
        found = [row for chunk in chunks(item_ids) for row in session.scalars(query.where(queue.id.in_(chunk)))]
    rows = [row for row in found if isinstance(row, DeliveryState)]
    for row in rows:
        row.state, row.attempts, row.next_attempt_at = "pending", 0, now
    return len(rows)
