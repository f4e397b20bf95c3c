"""A discovery sweep's parts (issue 17): each part is recorded once, whole or not at all, on SQLite and
under two PostgreSQL writers racing for the same part."""

from __future__ import annotations

import threading

import pytest

from storage import sweeps
from storage.store import Store
from tests.storage.world import T0

FOUND = [sweeps.Found(0, "a-b.ltd", "lookalike", "hyphenation", "ab.ltd", "f1"),
         sweeps.Found(0, "ab.pm", "lookalike", "tld-swap", "ab.ltd", "f2")]


def _record(store: Store, found: list[sweeps.Found], part: int = 0) -> bool:
    with store.transaction() as session:
        return sweeps.record(session, 7, part, found, generated=40, wildcards=["pm"], worker="w1", now=T0)


def test_a_part_run_twice_records_nothing_the_second_time(store: Store) -> None:
    assert _record(store, FOUND)
    assert not _record(store, [*FOUND, sweeps.Found(0, "abc.ltd", "lookalike", "addition", "ab.ltd", "f3")])
    with store.transaction() as session:
        assert sweeps.is_done(session, 7, 0) and not sweeps.is_done(session, 7, 1)
        assert sweeps.found_of(session, 7) == sorted(FOUND, key=lambda f: f.name)
        assert sweeps.parts_of(session, 7) == [sweeps.PartDone(0, 40, ["pm"], "w1")]
        sweeps.consumed(session, 7, now=T0)
    with store.transaction() as session:  # the final step read them: the names go, the marker stays
        assert sweeps.found_of(session, 7) == [] and sweeps.is_done(session, 7, 0)
    assert not _record(store, FOUND)  # a part queued again after its sweep: still nothing


def test_a_takedown_hunts_parts_are_read_apart_from_its_sweeps(store: Store) -> None:
    """One job's takedown hunt (parts 0-1) and sweep (part 2) record under one id: reading the hunt's
    parts drops their names only; an earlier job's leftovers go as well."""
    later = [sweeps.Found(2, "ab.io", "lookalike", "tld-swap", "ab.ltd", "f4")]
    assert _record(store, FOUND) and _record(store, [sweeps.Found(1, "ab.me", "lookalike", "tld-swap", "cd.ltd", "f5")], 1)
    assert _record(store, later, 2)
    with store.transaction() as session:
        sweeps.record(session, 6, 0, FOUND, generated=1, wildcards=[], worker="w0", now=T0)  # a killed job's
        assert [p.part for p in sweeps.parts_of(session, 7, {0, 1})] == [0, 1]
        assert [f.part for f in sweeps.found_of(session, 7, {0, 1})] == [0, 0, 1]
        sweeps.consumed(session, 7, now=T0, parts={0, 1})
    with store.transaction() as session:
        assert sweeps.found_of(session, 7) == later and sweeps.found_of(session, 6) == []


@pytest.mark.postgres
def test_two_workers_running_one_part_at_once_record_it_once(pg_url: str) -> None:
    stores = [Store.from_url(pg_url) for _ in range(2)]
    stores[0].init()
    results: list[bool] = []
    start = threading.Barrier(2)

    def run(store: Store) -> None:
        start.wait()
        results.append(_record(store, FOUND))

    try:
        threads = [threading.Thread(target=run, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == [False, True]
        with stores[0].transaction() as session:
            assert len(sweeps.found_of(session, 7)) == len(FOUND) and len(sweeps.parts_of(session, 7)) == 1
    finally:
        for s in stores:
            s.close()

