"""Alert outbox against a real SMTP server (aiosmtpd on loopback): once per edge, retried, sanitised."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from detect.model import Classification, Status
from hydrawatch.config import AlertsConfig
from scheduler import alerts
from scheduler.deliver import deliver, new_message_id
from scheduler.observe import is_takedown
from storage import outbox, watchlist
from storage.models import EdgeRow
from storage.store import Store
from storage.values import StatusChange
from storage.watchlist import domain_row
from tests.support.mail import Inbox, free_port, smtp_inbox

T0 = datetime(2024, 9, 6, 12, tzinfo=UTC)
HOSTILE = "Breaking\r\nBcc: victim@example.org\x1b]0;pwned\x07 <script>alert(1)</script>"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as served:
        yield served


def _edge(store: Store, src: str, dst: str) -> int:
    with store.transaction() as session:
        watchlist.add_domains(session, [src, dst], campaign="c", origin="seed", now=T0)
        edge = EdgeRow(from_id=domain_row(session, src).id, to_id=domain_row(session, dst).id,  # type: ignore[union-attr]
                       relation="replacement", confidence=0.91, detected_at=T0,
                       evidence=[{"kind": "same_label", "value": "rrn", "weight": 0.5, "detail": ""},
                                 {"kind": "title", "value": HOSTILE, "weight": 0.2, "detail": HOSTILE}])
        session.add(edge)
        session.flush()
        outbox.enqueue(session, edge.id, now=T0, message_id=new_message_id())
        outbox.enqueue(session, edge.id, now=T0, message_id=new_message_id())  # idempotent
        return edge.id


def _cfg(port: int, **kw: object) -> AlertsConfig:
    return AlertsConfig(smtp_host="127.0.0.1", smtp_port=port, mail_to=["analyst@example.org"],
                        retry_backoff=1.0, **kw)  # type: ignore[arg-type]


def test_one_mail_per_edge_naming_clone_predecessor_and_evidence(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _edge(store, "rrn.media", "rrn.so")
    assert deliver(store, _cfg(port), now=T0).sent == 1
    assert deliver(store, _cfg(port), now=T0 + timedelta(hours=1)).sent == 0
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert "rrn.so" in msg["Subject"] and "rrn.media" in msg["Subject"]
    body = msg.get_payload(decode=True).decode()
    assert "predecessor : rrn.media" in body and "0.91" in body and "lexical 0.50 (decided)" in body
    assert "+0.50  same label as rrn" in body
    assert "\x1b" not in body and "Bcc: victim" not in msg
    assert msg["Message-ID"].endswith("@hydrawatch>")


def test_smtp_down_keeps_alerts_and_delivers_each_once_when_back(store: Store) -> None:
    port = free_port()
    _edge(store, "a.ltd", "a.so")
    _edge(store, "b.ltd", "b.so")
    for i in range(3):
        report = deliver(store, _cfg(port), now=T0 + timedelta(minutes=i * 10))
        assert report.sent == 0
    with store.transaction() as session:
        assert outbox.counts(session) == {"pending": 2}
    with smtp_inbox(port=port) as (inbox, _):
        assert deliver(store, _cfg(port), now=T0 + timedelta(hours=2)).sent == 2
        assert deliver(store, _cfg(port), now=T0 + timedelta(hours=3)).sent == 0
    assert sorted(m["Subject"].split()[3] for m in inbox.messages) == ["a.so", "b.so"]


def test_digest_mode_sends_one_mail_for_many_clones(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _edge(store, "a.ltd", "a.so")
    _edge(store, "b.ltd", "b.so")
    assert deliver(store, _cfg(port, digest=True), now=T0).sent == 2
    assert len(inbox.messages) == 1 and "2 new clones" in inbox.messages[0]["Subject"]


def test_disabled_email_sends_nothing_and_keeps_the_outbox(store: Store) -> None:
    _edge(store, "a.ltd", "a.so")
    assert deliver(store, AlertsConfig(), now=T0).skipped
    with store.transaction() as session:
        assert outbox.counts(session) == {"pending": 1}


def _takedown(store: Store, name: str, reason: str) -> None:
    """A watched domain seen active, then seized; its takedown alert queued with the change (twice: idempotent)."""
    with store.transaction() as session:
        watchlist.add_domains(session, [name], campaign="doppelganger", origin="seed", now=T0)
        watchlist.set_status(session, name, Classification(Status.ACTIVE, "HTTP 200"), T0)
        watchlist.set_status(session, name, Classification(Status.SEIZED, reason), T0 + timedelta(days=1))
        change_id = watchlist.latest_change_id(session, name)
        assert change_id is not None
        first = outbox.enqueue_takedown(session, change_id, now=T0, message_id=new_message_id())
        assert outbox.enqueue_takedown(session, change_id, now=T0, message_id=new_message_id()) == first


def test_one_mail_per_takedown_naming_status_and_reason(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _takedown(store, "washingtonpost.pm", "NS ns1.fbi.seized.gov (FBI seizure name server) " + HOSTILE)
    _edge(store, "rrn.media", "rrn.so")
    assert deliver(store, _cfg(port, digest=True), now=T0 + timedelta(days=1)).sent == 2
    assert deliver(store, _cfg(port), now=T0 + timedelta(days=2)).sent == 0
    assert len(inbox.messages) == 2  # the clone digest, and the takedown on its own
    down = next(m for m in inbox.messages if "takedown" in m["Subject"])
    assert down["Subject"] == "[hydrawatch] takedown: washingtonpost.pm is now seized (was active)"
    body = down.get_payload(decode=True).decode()
    assert "fbi.seized.gov" in body and "campaign    : doppelganger" in body
    assert "\x1b" not in body and "Bcc: victim" not in down
    with store.transaction() as session:
        assert outbox.counts(session, queue=outbox.Queue.TAKEDOWN) == {"sent": 1}


def test_takedown_alerts_wait_for_smtp_like_clone_alerts(store: Store) -> None:
    port = free_port()
    _takedown(store, "rrn.media", "NXDOMAIN after the domain was live")
    assert deliver(store, _cfg(port), now=T0 + timedelta(days=1)).failed == 1
    with store.transaction() as session:
        assert outbox.counts(session, queue=outbox.Queue.TAKEDOWN) == {"pending": 1}
        assert outbox.due_takedowns(session, now=T0 + timedelta(days=1)) == []  # backing off
    with smtp_inbox(port=port) as (inbox, _):
        assert deliver(store, _cfg(port), now=T0 + timedelta(days=2)).sent == 1
    assert [m["X-Hydrawatch-Takedown"] for m in inbox.messages] == ["rrn.media"]


def test_header_text_is_sanitised() -> None:
    assert "\r" not in alerts.header_safe(HOSTILE) and "\n" not in alerts.header_safe(HOSTILE)
    assert "\x1b" not in alerts.header_safe(HOSTILE)


@pytest.mark.parametrize("previous, status, news", [
    ("active", "seized", True), ("parked", "suspended", True), ("dead", "seized", True),
    ("unknown", "seized", False), (None, "seized", False), ("seized", "suspended", False),
    ("active", "dead", False), ("seized", "active", False),
])
def test_which_status_changes_are_takedown_news(previous: str | None, status: str, news: bool) -> None:
    assert is_takedown(StatusChange(status, previous, "", T0)) is news


def test_failed_alerts_of_both_queues_are_listed_and_retried(store: Store) -> None:
    _edge(store, "a.ltd", "a.so")
    _takedown(store, "b.ltd", "RDAP client hold; DNS NXDOMAIN")
    assert deliver(store, _cfg(free_port(), max_attempts=1), now=T0 + timedelta(days=1)).failed == 2
    with store.transaction() as session:
        failed = outbox.queued(session, state="failed")
        assert sorted((a.kind, a.about, a.detail) for a in failed) == [
            ("clone", "a.so", "replacement of a.ltd"), ("takedown", "b.ltd", "seized (was active)")]
        assert outbox.queued(session, state="pending") == []
        assert outbox.retry(session, outbox.Queue.TAKEDOWN, None, now=T0 + timedelta(days=2)) == 1
        assert outbox.retry(session, outbox.Queue.CLONE, [999], now=T0 + timedelta(days=2)) == 0
    with store.transaction() as session:
        assert [(a.kind, a.attempts) for a in outbox.queued(session, state="pending")] == [("takedown", 0)]
        assert outbox.due_takedowns(session, now=T0 + timedelta(days=2))[0].domain == "b.ltd"


@pytest.mark.parametrize(("base_url", "link"), [
    ("http://hw.example", "http://hw.example/#/domain/rrn.so"),
    ("http://hw.example/", "http://hw.example/#/domain/rrn.so"),
    ("https://lab.example/hydrawatch", "https://lab.example/hydrawatch/#/domain/rrn.so"),
    ("http://127.0.0.1:8750/?token=s3cret", "http://127.0.0.1:8750/?token=s3cret#/domain/rrn.so"),
    ("http://hw.example/#/domain/old.ltd", "http://hw.example/#/domain/rrn.so"),
])
def test_mail_links_put_the_route_after_the_query(base_url: str, link: str) -> None:
    assert alerts.lineage_url(base_url, "rrn.so") == link
