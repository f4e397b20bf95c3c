"""Property-style checks of the confidence model, on seeded random evidence (no extra dependency)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

from detect.evidence_kinds import (
    EVIDENCE_KINDS,
    FAMILY_CAP,
    INDICATOR_CLASSES,
    SHARED_PREFIX,
    combine,
    rarity,
)
from detect.model import Evidence, Indicator
from detect.scoring import score_candidate
from tests.detect.scoring_world import NOW, POLICY, at, doppelganger_network, found, site, stats

POSITIVE_KINDS = [k for k, (family, _) in EVIDENCE_KINDS.items() if family is not None] + [
    SHARED_PREFIX + k for k in INDICATOR_CLASSES]


def random_evidence(rng: random.Random, n: int) -> list[Evidence]:
    out = [Evidence(rng.choice(POSITIVE_KINDS), str(i), round(rng.uniform(0.01, 0.6), 3)) for i in range(n)]
    if rng.random() < 0.5:
        out.append(Evidence("parked", "x", -round(rng.uniform(0.1, 0.9), 3)))
    return out


def test_confidence_never_falls_when_positive_evidence_is_added() -> None:
    rng = random.Random(5)
    for _ in range(500):
        base = random_evidence(rng, rng.randint(0, 6))
        extra = Evidence(rng.choice(POSITIVE_KINDS), "extra", round(rng.uniform(0.01, 0.6), 3))
        assert combine([*base, extra]).confidence >= combine(base).confidence - 1e-12


def test_confidence_stays_in_unit_interval_and_one_family_stays_under_its_cap() -> None:
    rng = random.Random(7)
    for _ in range(300):
        evidence = random_evidence(rng, rng.randint(0, 12))
        c = combine(evidence)
        assert 0.0 <= c.confidence <= 1.0
        assert all(0.0 <= s <= FAMILY_CAP for s in c.families.values())
        if len(c.families) == 1:
            assert c.positive <= FAMILY_CAP


def test_rarity_falls_with_share_count_and_is_zero_above_commodity() -> None:
    values = [rarity(c, 10_000, 50) for c in range(1, 60)]
    assert all(a > b for a, b in itertools.pairwise(values[:50]))
    assert all(v == 0.0 for v in values[50:])


def test_scoring_is_monotone_in_added_shared_values() -> None:
    network = doppelganger_network()
    rare = [("ga", "G-RRN0001"), ("social", "t.me/rrn_world"), ("ns", "ns1.quiet-hosting.example"),
            ("ip", "203.0.113.10"), ("og_locale", "ru_RU"), ("wp_theme", "welt-pm")]
    network = [replace(p, indicators=p.indicators | {Indicator("wp_theme", "welt-pm")})
               if p.domain == "welt.pm" else p for p in network]
    rng = random.Random(11)
    for _ in range(30):
        order = rng.sample(rare, len(rare))
        last = -1.0
        for n in range(len(order) + 1):
            candidate = site("washingtonpost.so", registered=at(5, 3), ind=order[:n])
            v = score_candidate(candidate, network, stats(*network, candidate), found(), POLICY, now=NOW)
            assert v.confidence >= last - 1e-9, (order[:n], v.reason)
            last = v.confidence
