"""The store keeps the planner's statistics current itself (storage/statistics.py): a table changed by more
than autovacuum's default trigger since its last ANALYZE is analyzed as a job starts, whether the server's
autovacuum is on or not, and then a batched read of it uses its index instead of scanning it whole."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from detect.model import DnsResult, Indicator, Rcode
from storage import observations, statistics, watchlist
from storage.store import Store

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _fill(url: str, domains: int) -> None:
    """``domains`` domains, each with a DNS observation of 20 indicators, written and the writer closed
    (a closing backend hands its table counts to the statistics collector)."""
    store = Store.from_url(url)
    store.init()
    names = [f"site{i:05d}.example" for i in range(domains)]
    try:
        if store.engine.dialect.name == "postgresql":  # a server with autovacuum on must not analyze them first
            with store.transaction() as session:
                for table in session.execute(text("SELECT oid::regclass::text FROM pg_class WHERE relkind = 'r' "
                                                  "AND relnamespace = current_schema()::regnamespace")).scalars():
                    session.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        with store.transaction() as session:
            watchlist.add_domains(session, names, campaign="", origin="seed", now=T0)
            for name in names:
                observations.record_dns(session, name, DnsResult(name, Rcode.NOERROR, {"A": ("192.0.2.1",)}),
                                        [Indicator("ip", f"192.0.2.{k}") for k in range(20)], now=T0)
    finally:
        store.close()


def _refreshed(store: Store) -> list[str]:
    """The tables a refresh analyzed, asked again for up to 10 s: a closed writer's counts reach the
    statistics collector within a second or so."""
    for _ in range(50):
        analyzed = store.refresh_statistics()
        if analyzed:
            return analyzed
        time.sleep(0.2)
    return []


@pytest.mark.postgres
def test_tables_changed_much_are_analyzed_once_and_their_reads_use_their_index(pg_url: str) -> None:
    _fill(pg_url, 3000)
    store = Store.from_url(pg_url)
    try:
        analyzed = _refreshed(store)
        # a changed partition through its parent (which recurses into the partitions), not twice
        assert "indicators" in analyzed and "observations" in analyzed, analyzed
        assert not any("_p2" in t for t in analyzed), analyzed
        assert any(t == "domains" for t in analyzed), analyzed
        assert store.refresh_statistics() == []  # nothing changed since: nothing to do
        with store.engine.connect() as conn:
            ids = list(conn.execute(text("SELECT id FROM observations ORDER BY id LIMIT 100")).scalars())
            plan = "\n".join(conn.execute(text(
                "EXPLAIN SELECT observation_id, kind, value FROM indicators WHERE observation_id = ANY(:ids)"),
                {"ids": ids}).scalars())
        assert "Seq Scan on indicators_p202612" not in plan, plan
    finally:
        store.close()


@pytest.mark.postgres
def test_one_process_analyzes_at_a_time_and_the_others_skip(pg_url: str) -> None:
    _fill(pg_url, 200)
    store = Store.from_url(pg_url)
    holder = create_engine(pg_url)
    try:
        with holder.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:k || ':' || current_schema()))"),
                         {"k": statistics.LOCK})
            assert store.refresh_statistics() == []  # another process is at it
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
            conn.commit()
        assert _refreshed(store), "the stale tables were never analyzed once the lock was free"
    finally:
        store.close()
        holder.dispose()


@pytest.mark.postgres
def test_an_analyze_that_fails_is_logged_and_lets_the_lock_go(pg_url: str) -> None:
    """A table another session holds (here: locked against ANALYZE) past lock_timeout: the refresh gives up
    with a warning, not an error, and lets its lock go: another process's refresh, the table free, analyzes
    it (a failed transaction kept the unlock from running, and a pooled session kept the lock)."""
    _fill(pg_url, 200)
    assert "options=" in pg_url
    store = Store.from_url(pg_url.replace("options=", "options=-c%20lock_timeout%3D300%20", 1))
    holder = create_engine(pg_url)
    try:
        with holder.connect() as conn:
            conn.execute(text("LOCK TABLE indicators IN SHARE UPDATE EXCLUSIVE MODE"))
            tried: list[str] = []
            for _ in range(50):  # until the writer's counts are in: then the ANALYZE waits on the lock and fails
                tried = store.refresh_statistics()
                with store.engine.connect() as probe:
                    stale = probe.execute(statistics.STALE, {"threshold": statistics.THRESHOLD,
                                                             "scale": statistics.SCALE}).scalars().all()
                if any("indicators" in t for t in stale):
                    break
                time.sleep(0.2)
            assert not any("indicators" in t for t in tried), tried
            conn.rollback()
        other = Store.from_url(pg_url)  # another process: the lock was let go, not kept by a pooled session
        try:
            assert "indicators" in _refreshed(other)
        finally:
            other.close()
    finally:
        store.close()
        holder.dispose()


def test_nothing_to_do_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _fill(url, 10)
    store = Store.from_url(url)
    try:
        assert store.refresh_statistics() == []
    finally:
        store.close()
