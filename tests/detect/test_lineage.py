"""Lineage decisions: which network domain an edge comes from, and what it means.

Each clone gets its own edge, several per predecessor included: the store keeps edges unique per
from/to/relation, and tests/scheduler/test_generated_worlds.py checks every planted replacement gets its
edge and its mail."""

from __future__ import annotations

from dataclasses import replace

from detect.findings import Finding
from detect.lineage import choose
from detect.model import Evidence, Relation, Status
from detect.scoring import score_candidate
from tests.detect.scoring_world import POLICY, SEIZURE, at, doppelganger_network, found, page, site, stats

NETWORK = doppelganger_network()


def test_succession_by_name_beats_a_live_near_copy() -> None:
    # same label as a seized domain, and a near copy of a live sibling: it replaces the seized one
    findings = [Finding(Evidence("same_label", "spiegel.ltd", 0.55), frozenset({"spiegel.ltd"})),
                Finding(Evidence("text_similarity", "0.95", 0.55), frozenset({"welt.pm"}), near_copy=True)]
    assert choose(site("spiegel.pw"), NETWORK, findings) == (Relation.REPLACEMENT, "spiegel.ltd")


def test_a_live_near_copy_without_succession_is_a_mirror() -> None:
    findings = [Finding(Evidence("text_similarity", "0.95", 0.55), frozenset({"welt.pm"}), near_copy=True),
                Finding(Evidence("shared_social", "t.me/x", 0.4), frozenset({d.domain for d in NETWORK}))]
    assert choose(site("welt-copy.click"), NETWORK, findings) == (Relation.MIRROR, "welt.pm")


def test_a_copy_of_a_lost_site_beats_a_template_shared_with_a_live_one() -> None:
    # No name tie: the text is a copy of a seized site, the markup also matches a live sibling's
    # template. The strongest pair decides: it stands in for the seized site.
    findings = [Finding(Evidence("text_similarity", "1.00", 0.55), frozenset({"fox-news.in"}), near_copy=True),
                Finding(Evidence("shared_favicon_mmh3", "123", 0.34), frozenset({"fox-news.in"})),
                Finding(Evidence("html_similarity", "3", 0.45), frozenset({"welt.pm"}), near_copy=True)]
    assert choose(site("newname.org"), NETWORK, findings) == (Relation.REPLACEMENT, "fox-news.in")


def test_best_match_lost_without_name_tie_is_still_a_replacement() -> None:
    findings = [Finding(Evidence("text_similarity", "0.6", 0.5), frozenset({"fox-news.in"})),
                Finding(Evidence("shared_ns", "ns1.x", 0.3), frozenset({"rrn.media"}))]
    assert choose(site("truth.so"), NETWORK, findings) == (Relation.REPLACEMENT, "fox-news.in")


def test_same_hands_without_succession_or_copy_is_network() -> None:
    findings = [Finding(Evidence("linked_from_network", "rrn.media", 0.45), frozenset({"rrn.media"}))]
    assert choose(site("hub.news"), NETWORK, findings) == (Relation.NETWORK, "rrn.media")


def test_equal_ties_prefer_the_most_recent_loss() -> None:
    network = [replace(p, status_since=SEIZURE.replace(day=1)) if p.domain == "fox-news.in" else p for p in NETWORK]
    both = frozenset({"fox-news.in", "spiegel.ltd"})
    findings = [Finding(Evidence("shared_ip", "203.0.113.10", 0.3), both),
                Finding(Evidence("registered_after_takedown", "x", 0.4), both)]
    assert choose(site("new.so"), network, findings) == (Relation.REPLACEMENT, "spiegel.ltd")


def test_timing_breaks_ties_but_never_outweighs_a_stronger_tie_to_another_lost_site() -> None:
    """A registration right after a takedown is credited to every lost site it is tied to whose takedown
    is dated before it (not every registry dates one): it does not name the predecessor over the site the
    candidate copies most."""
    findings = [Finding(Evidence("text_similarity", "0.51", 0.55), frozenset({"fox-news.in"})),
                Finding(Evidence("text_similarity", "0.20", 0.35), frozenset({"spiegel.ltd"})),
                Finding(Evidence("registered_after_takedown", "spiegel.ltd", 0.4), frozenset({"spiegel.ltd"}))]
    assert choose(site("new.so"), NETWORK, findings) == (Relation.REPLACEMENT, "fox-news.in")
    level = [Finding(Evidence("text_similarity", "0.30", 0.4), frozenset({"fox-news.in", "spiegel.ltd"})),
             Finding(Evidence("registered_after_takedown", "spiegel.ltd", 0.4), frozenset({"spiegel.ltd"}))]
    assert choose(site("new.so"), NETWORK, level) == (Relation.REPLACEMENT, "spiegel.ltd")


def test_no_evidence_toward_any_network_domain_gives_no_edge() -> None:
    assert choose(site("x.so"), NETWORK, [Finding(Evidence("discovered_by", "ct", 0.0))]) is None


def test_a_chain_a_to_b_to_c_links_each_generation_to_the_one_before() -> None:
    # generation 2 (spiegel.pw, linked last cycle and now seized itself) is replaced by spiegel.to
    gen2 = site("spiegel.pw", status=Status.SEIZED, since=at(1, 12, month=11), network=True, registered=at(5, 9),
                text=page("spiegel-nav", "spiegel-footer", "fake-5", "fake-20"))
    network = NETWORK + [gen2]
    gen3 = site("spiegel.to", registered=at(2, 8, month=11), text=page("spiegel-nav", "spiegel-footer", "fake-20", "g3"))
    v = score_candidate(gen3, network, stats(*network, gen3), found(), POLICY, now=at(3, month=11))
    assert v.is_clone and v.relation is Relation.REPLACEMENT and v.predecessor == "spiegel.pw"
