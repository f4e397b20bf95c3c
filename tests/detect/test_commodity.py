"""Commodity infrastructure is commodity whatever the store has seen (detect.commodity)."""

from __future__ import annotations

from detect.commodity import cdn_of, commodity_reason
from detect.model import Indicator
from detect.scoring import score_candidate
from tests.detect.scoring_world import NOW, POLICY, at, doppelganger_network, found, page, site, stats


def test_published_cdn_ranges_and_shared_dns_providers_are_recognised() -> None:
    assert cdn_of("104.21.7.7") == "Cloudflare"
    assert cdn_of("151.101.1.69") == "Fastly"
    assert cdn_of("104.21.7.0/24") == "Cloudflare"
    assert cdn_of("203.0.113.10") == "" and cdn_of("not an address") == ""
    assert commodity_reason(Indicator("ns", "ns-123.awsdns-45.com"))
    assert commodity_reason(Indicator("ns", "pdns1.registrar-servers.com"))
    assert commodity_reason(Indicator("ns_domain", "domaincontrol.com"))
    assert not commodity_reason(Indicator("ns", "ns1.quiet-hosting.example"))
    assert not commodity_reason(Indicator("ga", "G-ABC"))


def test_a_cdn_address_seen_twice_in_a_small_store_still_weighs_nothing() -> None:
    network = doppelganger_network()
    welt = next(p for p in network if p.domain == "welt.pm")
    cand = site("some-shop.com", registered=at(5, 1), text=page("shop-x"), ind=(("ip", "104.21.7.7"),))
    counts = stats(*network, cand)
    counts = type(counts)(counts.total_domains, {**counts.share_counts, Indicator("ip", "104.21.7.7"): 2})
    v = score_candidate(cand, [welt], counts, found("nrd", "feed"), POLICY, now=NOW)
    shared = [e for e in v.evidence if e.kind == "shared_ip"]
    assert shared and shared[0].weight == 0.0 and "Cloudflare" in shared[0].detail
