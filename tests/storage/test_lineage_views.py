"""Lineage edges, families, domain detail and pivots on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detect.model import Evidence, Relation
from storage import lineage, views, watchlist
from storage.store import Store
from tests.storage.world import HOSTILE_TITLE, HOSTILE_VALUE, T0, fill


@pytest.fixture
def world(store: Store) -> dict[str, int]:
    with store.transaction() as session:
        return fill(session)


def test_edge_is_created_once_and_never_overwritten(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        edge_id, created = lineage.add_edge(
            session, from_domain="a.ltd", to_domain="b.pm", relation=Relation.REPLACEMENT, confidence=0.1,
            evidence=[Evidence("other", "x", 0.1)], now=T0 + timedelta(days=400))
    assert (edge_id, created) == (world["a.ltd>b.pm"], False)
    with store.transaction() as session:
        [edge] = [e for e in lineage.edges(session, "b.pm") if e.from_domain == "a.ltd"]
    assert edge.confidence == 0.93 and edge.detected_at == T0 + timedelta(days=61, hours=2)
    assert [e.kind for e in edge.evidence] == ["same_label_tld_swap", "shared_ns", "page_title"]
    assert edge.evidence[2].value == HOSTILE_VALUE and edge.evidence[2].detail == HOSTILE_TITLE


def test_same_pair_with_another_relation_is_a_second_edge(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        edge_id, created = lineage.add_edge(session, from_domain="a.ltd", to_domain="b.pm", relation=Relation.NETWORK,
                                            confidence=0.5, evidence=(), now=T0)
    assert created and edge_id not in world.values()


def test_edge_needs_both_domains_in_the_store(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session, pytest.raises(KeyError, match="ghost.ltd"):
        lineage.add_edge(session, from_domain="a.ltd", to_domain="ghost.ltd", relation=Relation.MIRROR,
                         confidence=0.5, evidence=(), now=T0)


def test_edges_of_a_domain_touch_it_on_either_side(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        pairs = [(e.from_domain, e.to_domain) for e in lineage.edges(session, "b.pm")]
        everything = lineage.edges(session)
        assert lineage.edges(session, "nowhere.ltd") == []
    assert pairs == [("a.ltd", "b.pm"), ("b.pm", "c.so")]
    assert [e.detected_at for e in everything] == sorted(e.detected_at for e in everything) and len(everything) == 3


def test_family_follows_chains_both_ways(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        fam = lineage.family(session, "b.pm")
        from_c = lineage.family(session, "c.so")
        from_a = lineage.family(session, "a.ltd")
    assert [(m.domain.name, m.role, m.depth) for m in fam.members] == [
        ("a.ltd", "predecessor", -1), ("b.pm", "self", 0), ("c.so", "successor", 1)]
    assert {(e.from_domain, e.to_domain) for e in fam.edges} == {("a.ltd", "b.pm"), ("b.pm", "c.so")}
    assert [m.domain.name for m in from_c.predecessors] == ["a.ltd", "b.pm"] and from_c.member("a.ltd").depth == -2
    assert {m.domain.name for m in from_a.successors} == {"b.pm", "c.so", "n.info"}
    assert [h.status for h in fam.member("b.pm").history] == ["active", "seized"]
    assert len(from_a.edges) == 3


def test_family_of_a_lone_domain_is_itself_and_unknown_is_keyerror(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        fam = lineage.family(session, "lone.fun")
        assert [m.domain.name for m in fam.members] == ["lone.fun"] and fam.edges == ()
        with pytest.raises(KeyError):
            lineage.family(session, "ghost.ltd")


def test_family_survives_a_cycle(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        lineage.add_edge(session, from_domain="c.so", to_domain="a.ltd", relation=Relation.MIRROR, confidence=0.5,
                         evidence=(), now=T0 + timedelta(days=200))
        fam = lineage.family(session, "b.pm")
    # a.ltd is now upstream and downstream of b.pm (kept once, as predecessor); n.info hangs off it
    assert sorted(m.domain.name for m in fam.members) == ["a.ltd", "b.pm", "c.so", "n.info"]
    assert fam.member("a.ltd").role == "predecessor" and len(fam.edges) == 4


def test_domain_detail_has_history_indicators_edges_and_last_page(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        detail = views.domain_detail(session, "c.so")
        b = views.domain_detail(session, "b.pm")
        assert views.domain_detail(session, "ghost.ltd") is None
    assert detail is not None and b is not None
    [ga] = detail.indicators
    assert (ga.kind, ga.value, ga.observations, ga.domains) == ("ga", "G-SHARED1", 2, 2)
    assert ga.first_seen == T0 + timedelta(days=121) and ga.last_seen == T0 + timedelta(days=130)
    assert [h.status for h in detail.history] == ["active"] and len(detail.edges) == 1
    assert b.last_page is not None and b.last_page.title == HOSTILE_TITLE
    assert {(i.kind, i.domains) for i in b.indicators} == {("ga", 2), ("ns", 2)}


def test_pivot_lists_every_domain_that_shared_the_indicator(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        hit = views.pivot(session, "ga", "G-SHARED1")
        ns = views.pivot(session, "ns", "ns1.host.example")
        assert views.pivot(session, "ga", "G-NEVER") is None
        assert views.pivot(session, "ns", "G-SHARED1") is None  # kind matters
        kinds = views.indicator_kinds(session)
    assert hit is not None and ns is not None
    assert [(h.domain.name, h.observations) for h in hit.hits] == [("b.pm", 1), ("c.so", 2)]
    assert hit.hits[1].first_seen == T0 + timedelta(days=121) and hit.hits[1].last_seen == T0 + timedelta(days=130)
    assert [h.domain.name for h in ns.hits] == ["a.ltd", "b.pm"]
    assert kinds == [("ga", 2), ("ns", 1)]


def test_search_filters_and_counts(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        found, total = views.search_domains(session, q=".PM")
        seized, _ = views.search_domains(session, status="seized")
        disc, _ = views.search_domains(session, origin="discovered", limit=1)
        underscore, _ = views.search_domains(session, q="_")
        recent, _ = views.search_domains(session, changed_since=T0 + timedelta(days=100))
        assert len(watchlist.list_domains(session)) == 5
    assert [d.name for d in found] == ["b.pm"] and total == 1
    assert [d.name for d in seized] == ["a.ltd", "b.pm"] and len(disc) == 1 and underscore == []
    assert {d.name for d in recent} == {"b.pm", "c.so"}


def test_self_edge_and_out_of_range_confidence_are_refused(store: Store, world: dict[str, int]) -> None:
    with store.transaction() as session:
        with pytest.raises(ValueError):
            lineage.add_edge(session, from_domain="a.ltd", to_domain="a.ltd", relation=Relation.MIRROR,
                             confidence=0.5, evidence=(), now=T0)
        with pytest.raises(ValueError):
            lineage.add_edge(session, from_domain="a.ltd", to_domain="c.so", relation=Relation.MIRROR,
                             confidence=1.5, evidence=(), now=T0)


def test_edge_written_in_a_failed_transaction_is_gone(store: Store, world: dict[str, int]) -> None:
    with pytest.raises(RuntimeError), store.transaction() as session:
        lineage.edges(session)  # only reads before the edge: the edge must still belong to this transaction
        lineage.add_edge(session, from_domain="lone.fun", to_domain="c.so", relation=Relation.MIRROR,
                         confidence=0.5, evidence=(), now=T0)
        raise RuntimeError("the cycle failed after recording the edge")
    with store.transaction() as session:
        assert lineage.edges(session, "lone.fun") == []
