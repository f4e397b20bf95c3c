"""The alert outbox: one row per edge, written in the edge's transaction, delivered at most once;
and the takedown queue (``[alerts] takedowns``): one row per takedown of a watched domain, written
with its status change. Both queues are delivered the same way.

Delivery claims a row (state ``sending``, attempts+1) in its own transaction before talking to SMTP
and marks it ``sent`` only after the server accepted the message. A crash between acceptance and the
``sent`` commit leaves the row ``sending``; it is retried with the same Message-ID, so a receiving
system can drop the duplicate. That window is the only way two mails can leave for one edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from detect.model import Status
from storage.inlist import chunks
from storage.lineage import edge_info
from storage.models import DeliveryState, DomainRow, EdgeRow, OutboxRow, StatusChangeRow, TakedownAlertRow
from storage.values import EdgeInfo
from storage.watchlist import status_change


class Queue(enum.StrEnum):
    """An alert queue, by what its alerts announce (the kind in ``clone:ID`` / ``takedown:ID``)."""

    CLONE = "clone"
    TAKEDOWN = "takedown"


_Table = type[OutboxRow] | type[TakedownAlertRow]
_TABLES: dict[Queue, _Table] = {Queue.CLONE: OutboxRow, Queue.TAKEDOWN: TakedownAlertRow}


def _table(queue: Queue) -> _Table:
    """The ORM table behind ``queue`` (ValueError for anything but a Queue or its name)."""
    return _TABLES[Queue(queue)]


@dataclass(frozen=True)
class OutboxItem:
    id: int
    state: str
    attempts: int
    message_id: str
    edge: EdgeInfo
    predecessor_status: Status
    clone_first_seen: datetime


def _enqueue(session: Session, queue: Queue, *, now: datetime, message_id: str, **key: int) -> int:
    """One row per ``key`` (the edge or the status change it announces): an existing one is kept."""
    ((column, value),) = key.items()
    table = _table(queue)
    existing = session.scalar(select(table).where(getattr(table, column) == value))
    if isinstance(existing, DeliveryState):
        return existing.id
    row = table(state="pending", attempts=0, created_at=now, next_attempt_at=now, message_id=message_id, **key)
    session.add(row)
    session.flush()
    return row.id


def enqueue(session: Session, edge_id: int, *, now: datetime, message_id: str) -> int:
    """Queue the alert for ``edge_id`` (idempotent: one row per edge)."""
    return _enqueue(session, Queue.CLONE, now=now, message_id=message_id, edge_id=edge_id)


def due(session: Session, *, now: datetime, limit: int = 200) -> list[OutboxItem]:
    """Rows to deliver now: pending or interrupted (sending) rows whose next attempt has come. On
    PostgreSQL they are locked for the session's transaction, rows another transaction holds skipped."""
    src, dst = aliased(DomainRow), aliased(DomainRow)
    rows = session.execute(
        select(OutboxRow, EdgeRow, src.name, dst.name, src.status, dst.first_seen)
        .join(EdgeRow, EdgeRow.id == OutboxRow.edge_id)
        .join(src, src.id == EdgeRow.from_id).join(dst, dst.id == EdgeRow.to_id)
        .where(OutboxRow.state.in_(("pending", "sending")),
               or_(OutboxRow.next_attempt_at.is_(None), OutboxRow.next_attempt_at <= now))
        .order_by(OutboxRow.id).limit(limit).with_for_update(skip_locked=True, of=OutboxRow))
    return [OutboxItem(o.id, o.state, o.attempts, o.message_id, edge_info(e, s, d), Status(s_status), d_first)
            for o, e, s, d, s_status, d_first in rows]


@dataclass(frozen=True)
class TakedownItem:
    id: int
    state: str
    attempts: int
    message_id: str
    domain: str
    campaign: str
    status: Status
    previous: Status | None
    reason: str
    since: datetime


def enqueue_takedown(session: Session, status_change_id: int, *, now: datetime, message_id: str) -> int:
    """Queue the alert for a takedown (idempotent: one row per status change)."""
    return _enqueue(session, Queue.TAKEDOWN, now=now, message_id=message_id, status_change_id=status_change_id)


def due_takedowns(session: Session, *, now: datetime, limit: int = 200) -> list[TakedownItem]:
    """Takedown alerts to deliver now (pending, or interrupted while sending, and their time has come);
    locked like :func:`due`'s rows."""
    rows = session.execute(
        select(TakedownAlertRow, StatusChangeRow, DomainRow.name, DomainRow.campaign)
        .join(StatusChangeRow, StatusChangeRow.id == TakedownAlertRow.status_change_id)
        .join(DomainRow, DomainRow.id == StatusChangeRow.domain_id)
        .where(TakedownAlertRow.state.in_(("pending", "sending")),
               or_(TakedownAlertRow.next_attempt_at.is_(None), TakedownAlertRow.next_attempt_at <= now))
        .order_by(TakedownAlertRow.id).limit(limit).with_for_update(skip_locked=True, of=TakedownAlertRow))
    out: list[TakedownItem] = []
    for t, c, name, campaign in rows:
        change = status_change(c)
        out.append(TakedownItem(t.id, t.state, t.attempts, t.message_id, name, campaign, change.status,
                                change.previous, change.reason, change.since))
    return out


def _row(session: Session, queue: Queue, item_id: int) -> DeliveryState:
    row = session.get(_table(queue), item_id)
    assert isinstance(row, DeliveryState)
    return row


def claim(session: Session, item_id: int, *, now: datetime, queue: Queue = Queue.CLONE) -> None:
    row = _row(session, queue, item_id)
    row.state, row.attempts = "sending", row.attempts + 1


def mark_sent(session: Session, item_ids: list[int], *, now: datetime, queue: Queue = Queue.CLONE) -> None:
    for item_id in item_ids:
        row = _row(session, queue, item_id)
        row.state, row.sent_at, row.last_error = "sent", now, ""


def mark_failed(session: Session, item_ids: list[int], error: str, *, now: datetime, max_attempts: int,
                backoff: float = 30.0, queue: Queue = Queue.CLONE) -> None:
    """Record a failed attempt; back off exponentially (``backoff`` doubling, capped at 1 h); give up at max."""
    for item_id in item_ids:
        row = _row(session, queue, item_id)
        row.last_error = error[:1000]
        if row.attempts >= max_attempts:
            row.state = "failed"
            continue
        row.state = "pending"
        row.next_attempt_at = now + timedelta(seconds=min(3600.0, backoff * 2 ** max(0, row.attempts - 1)))


def counts(session: Session, queue: Queue = Queue.CLONE) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in session.scalars(select(_table(queue).state)):
        out[state] = out.get(state, 0) + 1
    return out


@dataclass(frozen=True)
class QueuedAlert:
    """One row of either queue, as `hydrawatch alerts list` shows it."""

    kind: Queue
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
        out.append(QueuedAlert(Queue.CLONE, o.id, o.state, o.attempts, to_name, f"{relation} of {from_name}",
                               o.created_at, o.sent_at, o.last_error))
    for t, status, previous, name in session.execute(downs):
        out.append(QueuedAlert(Queue.TAKEDOWN, t.id, t.state, t.attempts, name, f"{status} (was {previous})",
                               t.created_at, t.sent_at, t.last_error))
    return sorted(out, key=lambda a: (a.created_at, a.kind, a.id))


def retry(session: Session, queue: Queue, item_ids: list[int] | None, *, now: datetime) -> int:
    """Give failed alerts (all, or ``item_ids``) a fresh round of attempts; returns how many."""
    table = _table(queue)
    query = select(table).where(table.state == "failed")
    if item_ids is None:
        found = list(session.scalars(query))
    else:
        found = [row for chunk in chunks(item_ids) for row in session.scalars(query.where(table.id.in_(chunk)))]
    rows = [row for row in found if isinstance(row, DeliveryState)]
    for row in rows:
        row.state, row.attempts, row.next_attempt_at = "pending", 0, now
    return len(rows)
