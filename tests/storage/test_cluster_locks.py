"""What lets several processes share one PostgreSQL store (issue 17): the store lock held exclusively
by an embedded daemon and shared by cluster workers, named advisory locks, status changes under a row
lock, and outbox rows claimed with SKIP LOCKED."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from detect.model import Classification, Relation, Status
from storage import lineage, outbox, watchlist
from storage.lock import AlreadyRunning, StoreLock, advisory
from storage.store import Store
from tests.storage.world import T0

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    s = Store.from_url(pg_url)
    s.init()
    yield s
    s.close()


def test_workers_share_the_store_lock_and_exclude_the_embedded_daemon(pg_store: Store) -> None:
    other = Store.from_url(str(pg_store.engine.url.render_as_string(hide_password=False)))
    try:
        with StoreLock(pg_store.engine, shared=True), StoreLock(other.engine, shared=True):
            with pytest.raises(AlreadyRunning, match="cluster workers .* are running") as info:
                StoreLock(other.engine).acquire()
            assert info.value.exit_code == 3
        with StoreLock(pg_store.engine):
            with pytest.raises(AlreadyRunning, match=r"embedded daemon \(`hydrawatch run`\) is running"):
                StoreLock(other.engine, shared=True).acquire()
            with pytest.raises(AlreadyRunning, match="another instance is already running"):
                StoreLock(other.engine).acquire()
        with StoreLock(other.engine, shared=True):  # released: free again
            pass
    finally:
        other.close()


def test_a_named_advisory_lock_is_held_by_one_session_at_a_time(pg_store: Store) -> None:
    with (advisory(pg_store.engine, "hydrawatch:deliver") as first,
          advisory(pg_store.engine, "hydrawatch:deliver") as second,
          advisory(pg_store.engine, "hydrawatch:other") as unrelated):
        assert (first, second, unrelated) == (True, False, True)
    with advisory(pg_store.engine, "hydrawatch:deliver") as again:
        assert again


def test_two_processes_classifying_one_domain_at_once_make_one_status_change(pg_store: Store) -> None:
    with pg_store.transaction() as session:
        watchlist.add_domains(session, ["a.ltd"], campaign="c", origin="seed", now=T0)
        watchlist.set_status(session, "a.ltd", Classification(Status.ACTIVE, "200 OK"), T0)
    seized = Classification(Status.SEIZED, "NS ns1.fbi.seized.gov")
    later = T0 + timedelta(hours=1)
    results: list[object] = []
    with pg_store.transaction() as first:
        assert watchlist.get_domain(first, "a.ltd") is not None
        change = watchlist.set_status(first, "a.ltd", seized, later)
        assert change is not None and change.previous is Status.ACTIVE

        def second() -> None:
            with pg_store.transaction() as session:
                # read before the first commits: this session too believes the domain is active
                results.append(watchlist.set_status(session, "a.ltd", seized, later))

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the second writer must wait for the row lock"
    thread.join(10)
    assert results == [None]
    with pg_store.transaction() as session:
        history = watchlist.status_history(session, "a.ltd")
    assert [(h.previous, h.status) for h in history] == [(Status.UNKNOWN, Status.ACTIVE), (Status.ACTIVE, Status.SEIZED)]


def test_outbox_rows_one_transaction_holds_are_skipped_by_another(pg_store: Store) -> None:
    with pg_store.transaction() as session:
        watchlist.add_domains(session, ["a.ltd", "b.pm", "c.so"], campaign="c", origin="seed", now=T0)
        for to in ("b.pm", "c.so"):
            edge_id, _ = lineage.add_edge(session, from_domain="a.ltd", to_domain=to, relation=Relation.REPLACEMENT,
                                          confidence=0.9, evidence=[], now=T0)
            outbox.enqueue(session, edge_id, now=T0, message_id=f"<{to}@test>")
    with pg_store.transaction() as first:
        taken = outbox.due(first, now=T0, limit=1)
        assert [i.message_id for i in taken] == ["<b.pm@test>"]
        with pg_store.transaction() as second:
            assert [i.message_id for i in outbox.due(second, now=T0)] == ["<c.so@test>"]
