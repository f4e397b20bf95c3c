from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import StatementError

from detect.model import Classification, Status
from storage import migrate, partitions, watchlist
from storage.models import Base, DomainRow
from storage.store import Store

T0 = datetime(2024, 9, 1, tzinfo=UTC)


def test_init_is_idempotent_and_creates_every_table(store: Store) -> None:
    assert store.init() == migrate.head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert {"domains", "observations", "pages", "indicators", "status_changes", "edges", "alert_outbox",
            "takedown_outbox", "candidates", "cycles"} <= tables


def test_the_head_every_command_checks_against_is_alembics_head() -> None:
    assert migrate.HEAD == migrate.head_revision()


def test_the_migrated_schema_is_the_one_the_models_describe(store: Store) -> None:
    """A model changed without its migration (or the reverse) shows up here, on both databases."""
    with store.engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn, opts={"include_name": partitions.include_name}),
                                 Base.metadata)
    if store.engine.dialect.name == "postgresql":  # what partitioning costs (storage/partitions.py), no more
        assert sorted((d[0], d[1].table.name) for d in found) == [
            ("add_constraint", "indicators"), ("add_fk", "indicators"), ("add_fk", "pages"),
            ("remove_constraint", "indicators")]
        assert [d[1].name for d in found if d[0] == "add_fk"] == [None, None]
        unique = [sorted(c.name for c in d[1].columns) for d in found if d[0].endswith("_constraint")]
        assert sorted(unique) == [["kind", "observation_id", "observed_at", "value"], ["kind", "observation_id", "value"]]
    else:
        assert found == []


def test_migrations_upgrade_from_first_revision_to_head(config) -> None:  # type: ignore[no-untyped-def]
    s = Store.from_url(config.storage.url)
    revs = migrate.revisions()
    assert migrate.upgrade(s.engine, revs[0]) == revs[0]
    assert migrate.upgrade(s.engine) == migrate.head_revision()
    s.close()


def test_added_domains_are_kept_once_with_campaign_and_origin(store: Store) -> None:
    with store.transaction() as session:
        first = watchlist.add_domains(session, ["a.ltd", "b.pm", "a.ltd"], campaign="c1", origin="seed", now=T0)
    with store.transaction() as session:
        second = watchlist.add_domains(session, ["b.pm", "c.so"], campaign="c2", origin="discovered", now=T0)
        rows = {d.name: d for d in watchlist.list_domains(session)}
    assert first.added == ("a.ltd", "b.pm") and second.added == ("c.so",) and second.existing == ("b.pm",)
    assert rows["b.pm"].campaign == "c1" and rows["c.so"].origin == "discovered"
    assert rows["a.ltd"].first_seen == T0


def test_status_changes_are_appended_never_overwritten(store: Store) -> None:
    with store.transaction() as session:
        watchlist.add_domains(session, ["a.ltd"], campaign="", origin="seed", now=T0)
        assert watchlist.set_status(session, "a.ltd", Classification(Status.ACTIVE, "200 OK"), T0)
        assert watchlist.set_status(session, "a.ltd", Classification(Status.ACTIVE, "still"), T0) is None
        change = watchlist.set_status(session, "a.ltd", Classification(Status.SEIZED, "fbi ns"),
                                      T0 + timedelta(days=3))
    assert change is not None and change.previous == "active"
    with store.transaction() as session:
        history = watchlist.status_history(session, "a.ltd")
        now = watchlist.get_domain(session, "a.ltd")
    assert [h.status for h in history] == ["active", "seized"]
    assert now is not None and now.status == "seized" and now.status_since == T0 + timedelta(days=3)
    assert history[0].since.tzinfo is not None


def test_failed_transaction_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as session:
        watchlist.add_domains(session, ["x.ltd"], campaign="", origin="seed", now=T0)
        raise RuntimeError("boom")
    with store.transaction() as session:
        assert session.scalars(select(DomainRow)).all() == []


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"), store.transaction() as session:
        watchlist.add_domains(session, ["x.ltd"], campaign="", origin="seed", now=datetime(2024, 1, 1))


def test_batched_classification_reads_equal_the_one_domain_reads(store: Store) -> None:
    """lock_domains, live_domains, latest_rdaps and with_rdap (one query a batch) give what get_domain,
    was_live and latest_rdap give one domain at a time."""
    from detect.model import ErrorKind, RdapRecord
    from storage import observations

    names = ["a.ltd", "b.ltd", "c.ltd", "d.ltd"]
    with store.transaction() as session:
        watchlist.add_domains(session, names, campaign="", origin="seed", now=T0)
        watchlist.set_status(session, "a.ltd", Classification(Status.ACTIVE, "200 OK"), T0)
        watchlist.set_status(session, "a.ltd", Classification(Status.SEIZED, "banner"), T0 + timedelta(days=1))
        watchlist.set_status(session, "b.ltd", Classification(Status.DEAD, "nxdomain"), T0)
        watchlist.set_status(session, "c.ltd", Classification(Status.PARKED, "parking"), T0)
        for name, registrar, day, failed in [("a.ltd", "old", 0, False), ("a.ltd", "new", 1, False),
                                             ("a.ltd", "", 2, True), ("b.ltd", "first", 0, False),
                                             ("b.ltd", "second", 0, False), ("c.ltd", "", 0, True)]:
            rec = RdapRecord(domain=name, http_status=None if failed else 200, registrar=registrar,
                             error_kind=ErrorKind.TIMEOUT if failed else None, error="slow" if failed else "")
            observations.record_rdap(session, rec, (), now=T0 + timedelta(days=day))
    later = T0 + timedelta(days=5)
    with store.transaction() as session:
        rows = watchlist.lock_domains(session, [*names, "unknown.ltd", "a.ltd"], later)
        assert sorted(rows) == names
        for name, row in rows.items():
            info = watchlist.get_domain(session, name)
            assert info is not None and (row.status, row.origin) == (info.status.value, info.origin)
        ids = {name: row.id for name, row in rows.items()}
        live = observations.live_domains(session, list(ids.values()))
        assert live == {ids[n] for n in names if observations.was_live(session, n)} == {ids["a.ltd"], ids["c.ltd"]}
        rdaps = observations.latest_rdaps(session, list(ids.values()))
        expected = {ids[n]: rec for n in names if (rec := observations.latest_rdap(session, n)) is not None}
        assert rdaps == expected
        assert {n: rdaps[ids[n]].registrar for n in ("a.ltd", "b.ltd")} == {"a.ltd": "new", "b.ltd": "second"}
        assert ids["c.ltd"] not in rdaps and ids["d.ltd"] not in rdaps
        assert observations.with_rdap(session, [*names, "a.ltd"]) == {
            n for n in names if observations.latest_rdap(session, n) is not None} == {"a.ltd", "b.ltd"}
        with pytest.raises(KeyError, match="unknown.ltd"):
            observations.with_rdap(session, ["a.ltd", "unknown.ltd"])
        change = watchlist.apply_status(session, rows["d.ltd"], Classification(Status.ACTIVE, "200 OK"), later)
        assert change is not None and change.previous == "unknown" and change.status == "active"
        assert watchlist.apply_status(session, rows["a.ltd"], Classification(Status.SEIZED, "banner"), later) is None
    with store.transaction() as session:
        d = watchlist.get_domain(session, "d.ltd")
        assert d is not None and d.status == "active" and d.status_since == later and d.last_seen == later
        assert [h.status for h in watchlist.status_history(session, "d.ltd")] == ["active"]


def test_latest_dnses_equal_latest_dns_of_each(store: Store) -> None:
    """latest_dnses (one query a chunk, what a round reads before probing) gives what latest_dns gives one
    domain at a time: newest by observation time then id, a repeated answer's last-seen stamp, None for a
    domain never probed, KeyError for a name not in the store."""
    from detect.model import DnsResult, Rcode
    from storage import observations

    names = ["a.ltd", "b.ltd", "c.ltd", "d.ltd"]

    def answer(name: str, ip: str) -> DnsResult:
        return DnsResult(name, Rcode.NOERROR, {"A": (ip,), "NS": ("ns1.host.example",)})

    with store.transaction() as session:
        watchlist.add_domains(session, names, campaign="", origin="seed", now=T0)
        for name, ip, day in [("a.ltd", "203.0.113.1", 0), ("a.ltd", "203.0.113.2", 2),
                              ("a.ltd", "203.0.113.3", 1),  # written last, observed before the newest
                              ("b.ltd", "203.0.113.9", 0), ("b.ltd", "203.0.113.9", 3),  # repeated: stamped
                              ("c.ltd", "203.0.113.7", 1)]:
            observations.record_dns(session, name, answer(name, ip), (), now=T0 + timedelta(days=day))
        observations.record_dns(session, "c.ltd", DnsResult("c.ltd", Rcode.NXDOMAIN, {}), (),
                                now=T0 + timedelta(days=1))  # a tie on time: the later id wins
    with store.transaction() as session:
        batched = observations.latest_dnses(session, [*names, "a.ltd"])
        assert batched == {n: observations.latest_dns(session, n) for n in names}
        assert batched["a.ltd"] is not None and batched["a.ltd"].get("A") == ("203.0.113.2",)
        assert batched["c.ltd"] is not None and batched["c.ltd"].rcode is Rcode.NXDOMAIN
        assert batched["d.ltd"] is None
        with pytest.raises(KeyError):
            observations.latest_dnses(session, ["a.ltd", "unknown.ltd"])
    with store.transaction() as session:  # a timeout and an error later: no news about the name
        observations.record_dns(session, "a.ltd", DnsResult("a.ltd", Rcode.TIMEOUT, {}, error="timed out"), (),
                                now=T0 + timedelta(days=4))
        observations.record_dns(session, "d.ltd", DnsResult("d.ltd", Rcode.ERROR, {}, error="garbage"), (),
                                now=T0 + timedelta(days=4))
    with store.transaction() as session:
        newest = observations.latest_dnses(session, names)
        answered = observations.latest_dnses(session, names, conclusive=True)
        assert newest["a.ltd"] is not None and newest["a.ltd"].rcode is Rcode.TIMEOUT
        assert answered["a.ltd"] is not None and answered["a.ltd"].get("A") == ("203.0.113.2",)
        assert answered["c.ltd"] is not None and answered["c.ltd"].rcode is Rcode.NXDOMAIN
        assert newest["d.ltd"] is not None and answered["d.ltd"] is None
