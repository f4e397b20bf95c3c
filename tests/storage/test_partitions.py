"""PostgreSQL: observations and indicators are range-partitioned by month (storage/partitions.py), on
a fresh store and on one converted by migration 0006; every job makes the next month's partition
ahead of need; SQLite stays unpartitioned."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from detect.fingerprints import dns_indicators
from detect.model import DnsResult, Rcode
from storage import cycles, migrate, observations, partitions, watchlist
from storage.observations import DnsWrite
from storage.store import Store

SEPT = datetime(2024, 9, 3, 12, 0, tzinfo=UTC)
JAN = datetime(2025, 1, 20, 8, 0, tzinfo=UTC)


def _dns(store: Store, name: str, address: str, when: datetime) -> None:
    answer = DnsResult(name=name, rcode=Rcode.NOERROR, records={"A": (address,)})
    with store.transaction() as session:
        observations.record_dns_batch(session, [DnsWrite(name, answer, dns_indicators(answer))], now=when)


def _where(store: Store, table: str) -> list[tuple[str, int]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1 ORDER BY 1"))]  # type: ignore[misc]


@pytest.fixture
def pg_store(pg_url: str) -> Store:
    store = Store.from_url(pg_url)
    yield store  # type: ignore[misc]
    store.close()


def test_a_fresh_store_is_partitioned_and_every_job_makes_next_month_ahead(pg_store: Store) -> None:
    pg_store.init()
    now = datetime.now(UTC)
    this, following = partitions.month_of(now), partitions.next_month(partitions.month_of(now))
    with pg_store.engine.connect() as conn:
        for table in partitions.PARTITIONED:
            assert partitions.is_partitioned(conn, table)
            assert {partitions.name_of(table, this), partitions.name_of(table, following),
                    f"{table}_pdefault"} <= partitions.existing(conn, table)
    with pg_store.transaction() as session:
        watchlist.add_domains(session, ["a.ltd"], campaign="", origin="seed", now=SEPT)
        cycles.start(session, "probe", datetime(2031, 12, 5, tzinfo=UTC))  # a job in December 2031
    with pg_store.engine.connect() as conn:
        assert {"observations_p203112", "observations_p203201"} <= partitions.existing(conn, "observations")
        assert partitions.ensure(conn, datetime(2031, 12, 31, tzinfo=UTC)) == []  # made once
    _dns(pg_store, "a.ltd", "192.0.2.1", datetime(2032, 1, 1, 0, 5, tzinfo=UTC))
    assert _where(pg_store, "observations") == [("observations_p203201", 1)]
    assert _where(pg_store, "indicators") == [("indicators_p203201", 2)]


def test_rows_of_a_month_without_partition_move_in_when_it_is_made(pg_store: Store) -> None:
    pg_store.init()
    with pg_store.transaction() as session:
        watchlist.add_domains(session, ["a.ltd"], campaign="", origin="seed", now=SEPT)
    _dns(pg_store, "a.ltd", "192.0.2.1", SEPT)  # an old date: no monthly partition, the default takes it
    assert _where(pg_store, "observations") == [("observations_pdefault", 1)]
    with pg_store.engine.begin() as conn:
        assert partitions.ensure(conn, SEPT, ahead=0) == ["observations_p202409", "indicators_p202409"]
    assert _where(pg_store, "observations") == [("observations_p202409", 1)]
    with pg_store.transaction() as session:
        assert observations.latest_dns(session, "a.ltd") is not None


def test_an_existing_store_is_converted_with_its_rows_and_ids(pg_store: Store) -> None:
    migrate.upgrade(pg_store.engine, "0005")
    with pg_store.transaction() as session:
        watchlist.add_domains(session, ["a.ltd", "b.pm"], campaign="", origin="seed", now=SEPT)
    # rows as 0005's tables hold them, written without the ORM (which knows the columns of later revisions):
    # a.ltd's answer, and b.pm's seen twice (a stamp)
    with pg_store.engine.begin() as conn:
        for domain_id, address, first, last, prev, repeats in ((1, "192.0.2.1", SEPT, SEPT, None, 0),
                                                                (2, "192.0.2.2", JAN, JAN.replace(hour=9), JAN, 1)):
            obs_id = conn.execute(text(
                "INSERT INTO observations (domain_id, kind, observed_at, last_seen_at, prev_seen_at, repeats, error, "
                "rcode, raw) VALUES (:d, 'dns', :first, :last, :prev, :repeats, '', 'NOERROR', :raw) RETURNING id"),
                {"d": domain_id, "first": first, "last": last, "prev": prev, "repeats": repeats,
                 "raw": f'{{"rcode": "NOERROR", "records": {{"A": ["{address}"]}}}}'}).scalar_one()
            conn.execute(text("INSERT INTO indicators (domain_id, observation_id, kind, value, observed_at) "
                              "VALUES (:d, :o, 'ip', :v, :first)"), {"d": domain_id, "o": obs_id, "v": address,
                                                                    "first": first})
    with pg_store.engine.connect() as conn:
        before = conn.execute(text("SELECT id, domain_id, observed_at, last_seen_at, repeats, raw::text "
                                   "FROM observations ORDER BY id")).all()
        indicators = conn.execute(text("SELECT count(*) FROM indicators")).scalar_one()
    assert pg_store.init() == migrate.HEAD
    with pg_store.engine.connect() as conn:
        after = conn.execute(text("SELECT id, domain_id, observed_at, last_seen_at, repeats, raw::text "
                                  "FROM observations ORDER BY id")).all()
        assert conn.execute(text("SELECT count(*) FROM indicators")).scalar_one() == indicators
        assert not conn.execute(text("SELECT to_regclass('observations_unpartitioned')")).scalar()
    assert after == before
    assert _where(pg_store, "observations") == [("observations_p202409", 1), ("observations_p202501", 1)]
    _dns(pg_store, "a.ltd", "192.0.2.9", JAN.replace(day=21))  # new ids follow the old ones
    with pg_store.engine.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM observations")).scalar_one() > max(r[0] for r in before)


def test_sqlite_stays_unpartitioned(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    store.init()
    with store.engine.begin() as conn:
        assert partitions.ensure(conn, SEPT) == []
        assert not partitions.is_partitioned(conn, "observations")
    store.close()
