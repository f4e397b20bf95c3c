"""RDAP lookups are written many domains a transaction (storage.observations.record_rdap_batch) and
idempotently: a registration seen again stamps the latest row, so a retried batch adds no row, while a
changed registration is always a new row (history is the product). An interrupted round keeps the
chunks it committed. Both stores; two attempts at once on PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select

from detect import fingerprints
from detect.model import Classification, ErrorKind, RdapRecord, Status
from scheduler import observe as observe_module
from scheduler.components import Components
from scheduler.observe import ObserveReport
from storage import observations, watchlist
from storage.models import IndicatorRow, ObservationRow
from storage.observations import RdapWrite
from storage.store import Store

T0 = datetime(2024, 9, 1, tzinfo=UTC)
NAMES = [f"site{i}.ltd" for i in range(7)]


def _rec(name: str, registrar: str = "Reg One", raw: str = '{"eventDate": "1"}',
         ns: tuple[str, ...] = ("ns1.host.example",), failed: bool = False) -> RdapRecord:
    if failed:
        return RdapRecord(domain=name, error_kind=ErrorKind.TIMEOUT, error="slow")
    return RdapRecord(domain=name, http_status=200, registrar=registrar, registered=T0 - timedelta(days=30),
                      statuses=("client transfer prohibited",), nameservers=ns, raw=raw)


def _writes(records: list[RdapRecord]) -> list[RdapWrite]:
    return [RdapWrite(rec, tuple(fingerprints.rdap_indicators(rec))) for rec in records]


def _rows(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with store.transaction() as session:
        obs = session.execute(select(ObservationRow.id, ObservationRow.domain_id, ObservationRow.observed_at,
                                     ObservationRow.last_seen_at, ObservationRow.prev_seen_at, ObservationRow.repeats,
                                     ObservationRow.registrar, ObservationRow.error_kind)
                              .where(ObservationRow.kind == "rdap").order_by(ObservationRow.id)).all()
        inds = session.execute(select(IndicatorRow.observation_id, IndicatorRow.kind, IndicatorRow.value)
                               .order_by(IndicatorRow.observation_id, IndicatorRow.kind, IndicatorRow.value)).all()
    return [tuple(r) for r in obs], [tuple(r) for r in inds]


def _seed(store: Store) -> None:
    with store.transaction() as session:
        watchlist.add_domains(session, NAMES, campaign="", origin="seed", now=T0)


def test_the_same_batch_recorded_twice_leaves_the_same_rows(store: Store) -> None:
    _seed(store)
    batch = _writes([_rec(n, failed=(n == "site3.ltd")) for n in NAMES])
    with store.transaction() as session:
        first = observations.record_rdap_batch(session, batch, now=T0)
    assert (first.written, first.stamped) == (len(NAMES), 0)
    rows = _rows(store)
    assert len(rows[0]) == len(NAMES) and len(rows[1]) == 2 * (len(NAMES) - 1)  # registrar + rdap_ns each
    for _ in range(2):  # a retried job: the same lookups again at the round's same moment
        with store.transaction() as session:
            again = observations.record_rdap_batch(session, batch, now=T0)
        assert (again.written, again.stamped, again.ids) == (0, 0, first.ids)
        assert _rows(store) == rows
    # the server's JSON text differs between the two attempts (a per-answer stamp): the same registration
    with store.transaction() as session:
        observations.record_rdap_batch(session, _writes([_rec(n, raw='{"eventDate": "2"}', failed=(n == "site3.ltd"))
                                                         for n in NAMES]), now=T0)
    assert _rows(store) == rows


def test_a_registration_seen_again_stamps_and_a_changed_one_is_a_new_row(store: Store) -> None:
    _seed(store)
    name = NAMES[0]
    day = [T0 + timedelta(days=d) for d in range(6)]
    looks = [_rec(name), _rec(name), _rec(name, registrar="Reg Two"), _rec(name), _rec(name, failed=True),
             _rec(name)]
    for when, rec in zip(day, looks):
        with store.transaction() as session:
            observations.record_rdap_batch(session, _writes([rec]), now=when)
    obs, _ = _rows(store)
    # day 0 and 1 one row (seen twice), the change on day 2, back to Reg One on day 3, a failure, Reg One again
    assert [(r[2], r[3], r[4], r[5], r[6], r[7]) for r in obs] == [
        (day[0], day[1], day[0], 1, "Reg One", None), (day[2], day[2], None, 0, "Reg Two", None),
        (day[3], day[3], None, 0, "Reg One", None), (day[4], day[4], None, 0, None, "timeout"),
        (day[5], day[5], None, 0, "Reg One", None)]
    with store.transaction() as session:
        latest = observations.latest_rdap(session, name)
    assert latest is not None and latest.registrar == "Reg One" and latest.observed_at == day[5]
    # the domain's status changed since its latest RDAP row began: the next look starts a new row (as DNS)
    with store.transaction() as session:
        watchlist.set_status(session, name, Classification(Status.SEIZED, "banner"), day[5] + timedelta(hours=1))
        observations.record_rdap_batch(session, _writes([_rec(name)]), now=day[5] + timedelta(hours=2))
    assert len(_rows(store)[0]) == len(obs) + 1
    # the registry changed the record (its "last changed" date moved, nothing else we parse did): a new row,
    # and the latest record carries the date (it dates a takedown for scoring)
    moved = replace(_rec(name), changed=day[5] + timedelta(hours=3))
    with store.transaction() as session:
        observations.record_rdap_batch(session, _writes([moved]), now=day[5] + timedelta(hours=4))
        assert observations.latest_rdap(session, name).changed == moved.changed  # type: ignore[union-attr]
    assert len(_rows(store)[0]) == len(obs) + 2


def test_one_domain_twice_in_a_batch(store: Store) -> None:
    _seed(store)
    name = NAMES[0]
    with store.transaction() as session:
        done = observations.record_rdap_batch(session, _writes([_rec(name), _rec(name), _rec(name, "Reg Two")]),
                                              now=T0)
    obs, _ = _rows(store)
    assert [r[6] for r in obs] == ["Reg One", "Reg Two"] and done.ids[name] == obs[-1][0] and done.written == 2


def test_an_interrupted_round_keeps_the_chunks_it_committed_and_a_retry_completes_it(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(store)
    monkeypatch.setattr(observe_module, "RDAP_BATCH", 3)
    records = {n: _rec(n) for n in NAMES}
    real = observations.record_rdap_batch
    calls: list[int] = []

    def failing(session: Any, writes: Any, **kwargs: Any) -> Any:
        calls.append(len(writes))
        if len(calls) == 2:
            real(session, writes, **kwargs)  # written, then the transaction fails: rolled back
            raise RuntimeError("worker killed")
        return real(session, writes, **kwargs)

    parts = cast(Components, SimpleNamespace(store=store))
    monkeypatch.setattr(observations, "record_rdap_batch", failing)
    with pytest.raises(RuntimeError, match="worker killed"):
        observe_module._record_rdap(parts, records, T0, None, ObserveReport())
    obs, _ = _rows(store)
    assert calls == [3, 3] and len(obs) == 3  # the first chunk committed, the second rolled back
    kept = obs
    report = ObserveReport()
    observe_module._record_rdap(parts, records, T0, None, report)  # the retried job
    obs, inds = _rows(store)
    assert obs[:3] == kept and len(obs) == len(NAMES) and report.rdap == len(NAMES)
    assert len({r[1] for r in obs}) == len(NAMES) and len(inds) == 2 * len(NAMES)


@pytest.mark.postgres
def test_two_attempts_of_one_batch_at_once_record_it_once(pg_url: str) -> None:
    """A batch taken for dead while it still runs: both attempts write the same lookups at once. The
    second waits on the first's row locks, then finds the registration already recorded."""
    store = Store.from_url(pg_url)
    store.init()
    try:
        _seed(store)
        batch = _writes([_rec(n) for n in NAMES])
        started = threading.Event()
        outcome: list[Any] = []

        def second() -> None:
            started.set()
            with store.transaction() as session:
                outcome.append(observations.record_rdap_batch(session, batch, now=T0))

        with store.transaction() as session:
            observations.record_rdap_batch(session, batch, now=T0)
            thread = threading.Thread(target=second)
            thread.start()
            started.wait()
            thread.join(timeout=1.0)
            assert thread.is_alive()  # waiting on the locks the first attempt holds
        thread.join(timeout=30)
        assert not thread.is_alive() and outcome and outcome[0].written == 0
        obs, inds = _rows(store)
        assert len(obs) == len(NAMES) and len(inds) == 2 * len(NAMES)
    finally:
        store.close()
