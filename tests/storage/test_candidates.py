"""The candidates table remembers decisions: a rejection and the DNS answer it was made on (so an unchanged
name is not crawled again every sweep), and the names a hunt deferred (so the next sweep takes them first).
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detect.model import Candidate
from storage import candidates
from storage.store import Store

T0 = datetime(2025, 3, 13, 12, tzinfo=UTC)


def _decided(store: Store, name: str, fingerprint: str, decision: str, when: datetime) -> None:
    with store.transaction() as session:
        candidates.upsert(session, name, source="lookalike", via="omission", seed="quill.info", now=when,
                          fingerprint=fingerprint)
        candidates.decide(session, name, score=0.1, decision=decision, evidence=[], now=when)


def test_a_rejection_on_the_same_answer_is_remembered_until_it_is_too_old(store: Store) -> None:
    _decided(store, "quil.info", "fp-1", "rejected", T0)
    _decided(store, "quill.net", "fp-2", "clone", T0)
    since = T0 - timedelta(hours=168)
    with store.transaction() as session:
        got = candidates.unchanged_rejections(
            session, {"quil.info": "fp-1", "quill.net": "fp-2", "never.seen": "fp-3"}, since=since)
        changed = candidates.unchanged_rejections(session, {"quil.info": "fp-9"}, since=since)
        stale = candidates.unchanged_rejections(session, {"quil.info": "fp-1"}, since=T0 + timedelta(hours=1))
    assert got == {"quil.info"}  # a clone or an unknown name is never "unchanged rejected"
    assert changed == set() and stale == set()


def test_many_names_are_looked_up_in_chunks(store: Store) -> None:
    for i in range(3):
        _decided(store, f"n{i}.info", "fp", "rejected", T0)
    answers = {f"n{i}.info": "fp" for i in range(1200)}
    with store.transaction() as session:
        assert candidates.unchanged_rejections(session, answers, since=T0) == {"n0.info", "n1.info", "n2.info"}


def test_deferred_candidates_come_back_oldest_first_until_observed_or_gone(store: Store) -> None:
    first = Candidate("quil.info", "lookalike", "omission", "quill.info")
    second = Candidate("quill24.com", "nrd", "feed (lexical: quill)")
    _decided(store, "old-reject.info", "fp", "rejected", T0)
    with store.transaction() as session:
        assert candidates.defer(session, [first], now=T0) == 1
        candidates.defer(session, [second, Candidate("old-reject.info", "ct", "quill")], now=T0 + timedelta(hours=1))
    with store.transaction() as session:
        assert [c.domain for c in candidates.deferred(session)] == ["old-reject.info", "quil.info", "quill24.com"]
        assert candidates.deferred(session)[2] == second
    _decided(store, "quil.info", "fp", "rejected", T0 + timedelta(hours=2))  # observed: no longer waiting
    with store.transaction() as session:
        candidates.mark_unresolved(session, ["quill24.com"], now=T0 + timedelta(hours=2))
        assert [c.domain for c in candidates.deferred(session)] == ["old-reject.info"]


def test_many_names_are_deferred_and_marked_in_chunks_in_their_order(store: Store) -> None:
    """A sweep at 10⁴ domains defers thousands of names: read one query a chunk (storage.inlist), the same
    outcome as one at a time — new rows in the hunt's order, a clone kept, a rejection deferred again, a
    name twice recorded once; then the deferred ones no longer resolving marked, the others left."""
    _decided(store, "n5.info", "fp", "clone", T0)
    _decided(store, "n7.info", "fp", "rejected", T0)
    names = [f"n{i}.info" for i in range(1200)]
    with store.transaction() as session:
        assert candidates.defer(session, [Candidate(n, "lookalike", "omission", "quill.info") for n in
                                          [*names, "n3.info"]], now=T0) == 1201
    with store.transaction() as session:
        waiting = [c.domain for c in candidates.deferred(session)]
    assert waiting == ["n7.info", *(n for n in names if n not in ("n5.info", "n7.info"))]
    with store.transaction() as session:
        candidates.mark_unresolved(session, [*names[:1000], "never.seen"], now=T0 + timedelta(hours=1))
        assert [c.domain for c in candidates.deferred(session)] == names[1000:]
