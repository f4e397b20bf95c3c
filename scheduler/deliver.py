"""Drain the alert queues through SMTP (clone alerts, then takedown alerts): claim, send, mark sent
only after the server accepted."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from scheduler import alerts, mailer
from scheduler.settings import AlertsSettings
from storage import lock, outbox
from storage.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    skipped: str = ""


def new_message_id() -> str:
    """A Message-ID fixed when the alert is queued, so every retry of that alert carries it."""
    return f"<{uuid.uuid4().hex}@hydrawatch>"


def digest_message_id(items: list[outbox.OutboxItem]) -> str:
    """Stable for the same set of alerts: a digest re-sent after a crash carries the same id."""
    key = hashlib.sha256(" ".join(sorted(i.message_id for i in items)).encode()).hexdigest()[:32]
    return f"<digest-{key}@hydrawatch>"


DELIVER_LOCK = "hydrawatch:deliver"


def deliver(store: Store, cfg: AlertsSettings, *, now: datetime) -> DeliveryReport:
    """Deliver the due clone alerts (one mail each, or one digest), then the due takedown alerts.

    One deliverer at a time per store (an advisory lock on PostgreSQL): a row left "sending" is then
    always one whose deliverer died, so a second process never mails a row that is being sent. When
    another process is delivering, this one returns at once (skipped)."""
    if not cfg.smtp_host or not cfg.mail_to:
        return DeliveryReport(skipped="e-mail disabled ([alerts] smtp_host or mail_to empty)")
    with lock.advisory(store.engine, DELIVER_LOCK) as held:
        if not held:
            log.debug("alert delivery skipped: another process is delivering")
            return DeliveryReport(skipped="another process is delivering the alerts")
        return _deliver(store, cfg, now=now)


def _deliver(store: Store, cfg: AlertsSettings, *, now: datetime) -> DeliveryReport:
    with store.transaction() as session:
        items = outbox.due(session, now=now)
        for item in items:
            outbox.claim(session, item.id, now=now)
        takedowns = outbox.due_takedowns(session, now=now)
        for down in takedowns:
            outbox.claim(session, down.id, now=now, queue=outbox.Queue.TAKEDOWN)
    batches: list[tuple[EmailMessage, list[int], outbox.Queue]] = []
    if items:
        batches += ([(alerts.render_digest(items, cfg, digest_message_id(items)), [i.id for i in items], outbox.Queue.CLONE)]
                    if cfg.digest else [(alerts.render_one(i, cfg), [i.id], outbox.Queue.CLONE) for i in items])
    batches += [(alerts.render_takedown(d, cfg), [d.id], outbox.Queue.TAKEDOWN) for d in takedowns]
    sent = failed = 0
    for message, ids, queue in batches:
        try:
            mailer.send(message, cfg)
        except mailer.MailError as exc:
            log.warning("alert delivery failed (%d alert(s) kept for retry): %s", len(ids), exc)
            with store.transaction() as session:
                outbox.mark_failed(session, ids, str(exc), now=now, max_attempts=cfg.max_attempts,
                                   backoff=cfg.retry_backoff, queue=queue)
            failed += len(ids)
            continue
        with store.transaction() as session:
            outbox.mark_sent(session, ids, now=now, queue=queue)
        sent += len(ids)
        log.info("alert sent: %s", message["Subject"])
    return DeliveryReport(sent=sent, failed=failed)
