"""A job run again at its killed first attempt's ``now`` (issue 17: a resumed stage job, a retried batch)
reports the status changes that attempt recorded, as an attempt never killed would have: its losses reach
the report (so the resumed cycle hunts them inline) and the job's loss sink, which finds the hunt the
killed attempt queued instead of queuing a second (scheduler/cluster.py ``queue_hunt``). Nothing is
recorded twice: no second status-change row, no second takedown mail. Outside a replay (every first
attempt, the embedded process) a status left as it was is no change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, text

from detect.model import DnsResult, Rcode, Status
from hydrawatch.bundled import load_signatures
from scheduler.observe import ObserveReport, _classify_batch, replaying
from storage import watchlist
from storage.models import StatusChangeRow, TakedownAlertRow
from storage.store import Store

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
LATER = NOW + timedelta(minutes=10)
NAMES = ["gone.example", "steady.example"]


def _parts(sink: Any) -> Any:
    return SimpleNamespace(signatures=load_signatures(), on_loss=sink,
                           config=SimpleNamespace(alerts=SimpleNamespace(takedowns=True)))


def _nx(name: str) -> DnsResult:
    return DnsResult(name, Rcode.NXDOMAIN, {})


def _live(name: str) -> DnsResult:
    return DnsResult(name, Rcode.NOERROR, {"A": ("203.0.113.5",), "NS": ("ns1.host.example",)})


def _classify(store: Store, parts: Any, dns: dict[str, DnsResult], now: datetime) -> ObserveReport:
    report = ObserveReport()
    with store.transaction() as session:
        _classify_batch(session, parts, NAMES, dns, {}, {}, now, report, {})
    return report


def _seeded(store: Store) -> None:
    with store.transaction() as session:
        watchlist.add_domains(session, NAMES, campaign="c", origin="seed", now=T0)
        for name in NAMES:
            row = watchlist.domain_row(session, name)
            assert row is not None
            row.status, row.status_since = Status.ACTIVE.value, T0


def _change_rows(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(StatusChangeRow)) or 0)


def test_a_replayed_round_reports_the_killed_attempts_loss_once_and_records_nothing_again(store: Store) -> None:
    _seeded(store)
    losses: list[str] = []
    parts = _parts(lambda _session, name: losses.append(name))
    dns = {"gone.example": _nx("gone.example"), "steady.example": _live("steady.example")}
    first = _classify(store, parts, dns, NOW)  # the attempt that is then killed: its change is committed
    assert [n for n, _ in first.changes] == ["gone.example"] and first.lost == ["gone.example"]
    assert losses == ["gone.example"] and _change_rows(store) == 1

    # run again at the same now, not replaying (a re-check in the same job, an embedded re-run): no change
    assert _classify(store, parts, dns, NOW).changes == []
    with replaying(NOW):
        again = _classify(store, parts, dns, NOW)
        assert again.lost == ["gone.example"]  # as the first attempt saw it: active → dead
        (_name, change), = again.changes
        assert change.previous is Status.ACTIVE and change.status is Status.DEAD
        # the round's re-check classifies it again at that now: reported once per job, not twice
        assert _classify(store, parts, dns, NOW).changes == []
    assert losses == ["gone.example", "gone.example"]  # the sink is asked again: it finds the waiting hunt
    assert _change_rows(store) == 1
    # a replay at another now (a later cycle) reports nothing: the change is not that cycle's
    with replaying(LATER):
        assert _classify(store, parts, dns, LATER).changes == []


def test_a_replay_that_sees_otherwise_records_only_the_new_step_and_reports_from_before(store: Store) -> None:
    """The killed attempt saw the domain gone (NXDOMAIN); the resumed one sees it answer again: one new
    row (dead → unknown: it answers, nothing crawled), reported from before that now (active → unknown),
    which is no loss: none reaches the report or the sink."""
    _seeded(store)
    losses: list[str] = []
    parts = _parts(lambda _session, name: losses.append(name))
    _classify(store, parts, {"gone.example": _nx("gone.example"), "steady.example": _live("steady.example")}, NOW)
    assert losses == ["gone.example"]
    with store.transaction() as session:
        row = watchlist.domain_row(session, "gone.example")
        assert row is not None and row.status == Status.DEAD.value and row.status_since == NOW
        assert watchlist.status_before(session, row.id, NOW) == (Status.ACTIVE,)
        assert watchlist.status_before(session, row.id, LATER) is None
    with replaying(NOW):
        again = _classify(store, parts, {name: _live(name) for name in NAMES}, NOW)
    with store.transaction() as session:
        now_status = watchlist.domain_row(session, "gone.example").status  # type: ignore[union-attr]
    assert now_status == Status.UNKNOWN.value, now_status
    assert _change_rows(store) == 2
    assert [(n, c.previous, c.status) for n, c in again.changes] == [("gone.example", Status.ACTIVE, Status.UNKNOWN)]
    assert again.lost == [] and losses == ["gone.example"]


@pytest.mark.postgres
def test_the_resumed_attempts_loss_finds_the_hunt_its_killed_attempt_queued(pg_url: str) -> None:
    """On PostgreSQL with procrastinate's tables: the sink of a worker job (queue_hunt) returns the
    waiting hunt's id for a replayed loss, and queues one hunt only; the takedown mail is queued once."""
    pytest.importorskip("procrastinate")
    from scheduler.cluster import STAGE_TASK, apply_schema, queue_hunt

    store = Store.from_url(pg_url)
    store.init()
    apply_schema(pg_url)
    try:
        _seeded(store)
        hunts: list[int] = []
        parts = _parts(lambda session, name: hunts.append(queue_hunt(session, name)))
        dns = {"gone.example": _nx("gone.example"), "steady.example": _live("steady.example")}
        _classify(store, parts, dns, NOW)
        with replaying(NOW):
            again = _classify(store, parts, dns, NOW)
        assert again.lost == ["gone.example"]
        assert len(hunts) == 2 and hunts[0] == hunts[1], hunts
        with store.transaction() as session:
            queued = session.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t "
                                          "AND args->>'kind' = 'hunt'"), {"t": STAGE_TASK}).scalar_one()
            assert queued == 1
            assert session.scalar(select(func.count()).select_from(TakedownAlertRow)) == 0  # dead: no takedown
    finally:
        store.close()
