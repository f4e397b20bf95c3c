"""Clone scoring, as specifications: small networks declared inline, one behaviour per test.

The base network (scoring_world.doppelganger_network): washingtonpost.pm, fox-news.in and spiegel.ltd
seized on 2024-09-04 12:00 UTC (profiles hold their last pre-seizure pages); welt.pm (a live spoof on
a commodity Cloudflare address) and rrn.media (a live brand) still up. All share the operator's
social handle and an og:locale of ru_RU; the seized three sit on the operator's own rare host.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from detect.evidence_kinds import FAMILY_CAP, combine
from detect.model import Indicator, Relation, Status
from detect.scoring import ScoringPolicy, SiteProfile, Verdict, score_candidate
from tests.detect.scoring_world import (
    CLOUDFLARE_IP,
    CLOUDFLARE_NS,
    NOW,
    OPERATOR_IP,
    OPERATOR_NS,
    OPERATOR_TELLS,
    POLICY,
    SEIZURE,
    at,
    doppelganger_network,
    found,
    page,
    score,
    site,
    stats,
    with_links,
)

NETWORK = doppelganger_network()


def kinds(verdict: Verdict) -> set[str]:
    return {e.kind for e in verdict.evidence}


# --- real replacements --------------------------------------------------------------------------------

def test_same_label_replacement_the_day_after_a_seizure_names_the_right_lost_predecessor() -> None:
    clone = site("washingtonpost.so", registered=at(5, 3), registrar="Aktiv Domains GmbH",
                 text=page("wapo-nav", "wapo-footer", "fake-9", "fake-2"),
                 ind=OPERATOR_TELLS + (("wp_theme", "washingtonpost-pm"),))
    v = score(clone)
    assert v.is_clone and v.confidence >= POLICY.threshold
    assert v.relation is Relation.REPLACEMENT
    assert v.predecessor == "washingtonpost.pm"  # not fox-news.in or spiegel.ltd, also lost that day
    assert {"same_label", "registered_after_takedown", "text_similarity", "shared_wp_theme"} <= kinds(v)


def test_copied_template_alone_with_same_label_and_timing_is_enough() -> None:
    clone = site("spiegel.pw", registered=at(5, 9), registrar="Aktiv Domains GmbH",
                 text=page("spiegel-nav", "spiegel-footer", "fake-5", "fake-20"))
    v = score(clone)
    assert v.is_clone and v.relation is Relation.REPLACEMENT and v.predecessor == "spiegel.ltd"


def test_typo_variant_of_a_seized_domain_with_copied_content_is_its_replacement() -> None:
    clone = site("washingtonpostt.com", registered=at(5, 9),
                 text=page("wapo-nav", "wapo-footer", "fake-1", "fake-13"))
    v = score(clone, via="addition")
    assert v.is_clone and v.relation is Relation.REPLACEMENT and v.predecessor == "washingtonpost.pm"
    assert "typo_distance" in kinds(v)


def test_nrd_only_replacement_with_new_label_is_linked_by_rare_hosting_and_copied_content() -> None:
    clone = site("truthdaily.so", registered=at(5, 8), ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS)),
                 text=page("fox-nav", "fox-footer", "fake-3", "fake-11"))
    v = score(clone, source="nrd", via="feed")
    assert v.is_clone
    assert v.relation in (Relation.REPLACEMENT, Relation.NETWORK)
    assert v.predecessor == "fox-news.in"  # the lost site whose pages it copies


def test_hub_site_linked_from_live_network_sites_with_own_content_is_network() -> None:
    network = with_links(NETWORK, "freedom-voice.news", "welt.pm", "rrn.media")
    hub = site("freedom-voice.news", registered=at(20, month=8), text=page("fv-1", "fv-2", "fv-3"),
               ind=(("ns", OPERATOR_NS), ("ip", CLOUDFLARE_IP)))
    v = score(hub, network, source="outlink", via="welt.pm")
    assert v.is_clone and v.relation is Relation.NETWORK
    assert v.predecessor in ("welt.pm", "rrn.media")


def test_redirect_target_of_a_live_network_site_serving_its_pages_is_linked() -> None:
    network = [replace(p, redirects_to="welt-aktuell.click", status=Status.REDIRECTING)
               if p.domain == "welt.pm" else p for p in NETWORK]
    target = site("welt-aktuell.click", registered=at(2), text=page("welt-nav", "welt-footer", "fake-7", "x"))
    v = score(target, network, source="redirect", via="welt.pm")
    assert v.is_clone and v.predecessor == "welt.pm"
    assert "redirected_from_network" in kinds(v)


def test_redirect_target_of_a_lost_network_site_is_its_replacement() -> None:
    network = NETWORK + [site("fox-news.top", status=Status.DEAD, since=SEIZURE, network=True,
                              registered=at(13, 10, month=7, year=2023), redirects_to="fxn-today.com",
                              ind=OPERATOR_TELLS)]
    target = site("fxn-today.com", registered=at(5, 1), ind=OPERATOR_TELLS, text=page("fxn-1", "fxn-2"))
    v = score(target, network, source="redirect", via="fox-news.top")
    assert v.is_clone and v.relation is Relation.REPLACEMENT and v.predecessor == "fox-news.top"


def test_live_copy_of_a_live_site_is_a_mirror() -> None:
    copy = site("weltnews.click", registered=at(1, month=8),
                text=page("welt-nav", "welt-footer", "fake-7", "fake-8"),
                ind=OPERATOR_TELLS + (("wp_theme", "welt-pm"),))
    v = score(copy, source="nrd", via="feed")
    assert v.is_clone and v.relation is Relation.MIRROR and v.predecessor == "welt.pm"


def test_several_replacements_may_claim_one_predecessor() -> None:
    a = score(site("washingtonpost.so", registered=at(5, 3), text=page("wapo-nav", "wapo-footer", "n-1")))
    b = score(site("washingtonpost.cc", registered=at(5, 4), text=page("wapo-nav", "wapo-footer", "n-2")))
    assert a.is_clone and b.is_clone and a.predecessor == b.predecessor == "washingtonpost.pm"


# --- decoys ---------------------------------------------------------------------------------------------

OUTLET_REGISTERED = at(13, month=1, year=1996)


def imitated_outlet(registered: datetime | None = OUTLET_REGISTERED) -> SiteProfile:
    return site("washingtonpost.com", registered=registered, registrar="CSC Corporate Domains",
                text=page("wapo-nav", "wapo-footer", "fake-1", "real-2"), ind=(("ga", "G-WAPO"),))


def test_the_imitated_outlet_is_never_a_clone_even_without_a_brands_list() -> None:
    v = score(imitated_outlet())
    assert not v.is_clone and v.confidence == 0.0
    assert {"imitated_outlet", "registered_before_network"} <= kinds(v)
    assert "text_similarity" in kinds(v)  # the resemblance is kept as evidence, and overruled


def test_the_imitated_outlet_without_registration_date_is_recognised_by_its_namesake_links() -> None:
    v = score(imitated_outlet(registered=None))
    assert not v.is_clone and "imitated_outlet" in kinds(v)


def test_brands_legitimate_vetoes_whatever_the_evidence() -> None:
    policy = replace(POLICY, legitimate=frozenset({"weltnews.click"}))
    copy = site("weltnews.click", registered=at(1, month=8), text=page("welt-nav", "welt-footer", "fake-7", "fake-8"),
                ind=OPERATOR_TELLS + (("wp_theme", "welt-pm"),))
    v = score(copy, policy=policy)
    assert not v.is_clone and v.confidence == 0.0 and "legitimate_brand" in kinds(v)


def test_old_parked_lookalike_on_another_tld_is_not_a_clone() -> None:
    v = score(site("washingtonpost.xyz", status=Status.PARKED, parked=True, registered=at(1, month=3, year=2015),
                   ind=(("ns", "ns1.sedoparking.com"),)))
    assert not v.is_clone and {"parked", "registered_before_network"} <= kinds(v)


def test_co_hosted_unrelated_site_sharing_a_commodity_ip_is_not_a_clone() -> None:
    v = score(site("gardening-tips.com", registered=at(5, 8), text=page("garden-1", "garden-2"),
                   ind=(("ip", CLOUDFLARE_IP), ("ns", CLOUDFLARE_NS), ("og_locale", "en_US"))),
              source="nrd", via="feed")
    assert not v.is_clone
    assert all(e.weight == 0 for e in v.evidence if e.kind in ("shared_ip", "shared_ns"))


def test_co_hosted_site_in_a_small_store_where_the_shared_ip_is_below_commodity_is_not_a_clone() -> None:
    # A small store: the Cloudflare address is carried by only a dozen domains, under commodity_share.
    neighbours = [site(f"neighbour{i}.com", ind=(("ip", CLOUDFLARE_IP), ("ns", CLOUDFLARE_NS)))
                  for i in range(10)]
    candidate = site("gardening-tips.com", registered=at(5, 8), text=page("garden-1", "garden-2"),
                     ind=(("ip", CLOUDFLARE_IP), ("ns", CLOUDFLARE_NS)))
    st = stats(*NETWORK, candidate, *neighbours, background=0)
    st = replace(st, share_counts={k: (v - 80 if k.value in (CLOUDFLARE_IP, CLOUDFLARE_NS) else v)
                                   for k, v in st.share_counts.items()})
    v = score_candidate(candidate, NETWORK, st, found("nrd", "feed"), POLICY, now=NOW)
    assert not v.is_clone and v.confidence < 0.3


def test_ct_keyword_lookalike_with_unrelated_content_is_not_a_clone() -> None:
    v = score(site("washingtonpost-deals.shop", registered=at(5, 8), text=page("shop-1", "shop-2"),
                   ind=(("ip", CLOUDFLARE_IP),)), source="ct", via="washingtonpost")
    assert not v.is_clone


def test_nrd_name_lexically_close_but_unrelated_bakery_is_not_a_clone() -> None:
    v = score(site("fox-newz.in", registered=at(5, 8), text=page("bakery-1", "bakery-2"),
                   ind=(("ip", "198.51.100.99"), ("ns", "ns1.bakery-hosting.example"))), source="nrd", via="feed")
    # its penalties (commodity hosting, unrelated writing) take it below the cap already: no cap evidence
    assert not v.is_clone and "uncorroborated" in v.reason and v.confidence <= 0.45, v.reason


def test_re_registered_old_campaign_domain_serving_unrelated_content_is_not_a_clone() -> None:
    network = [replace(p, status=Status.SEIZED, status_since=SEIZURE) if p.domain == "rrn.media" else p
               for p in NETWORK]
    for registered in (at(10, month=3), at(5, 2)):  # months before, and right after, the takedown
        v = score(site("rrn.world", registered=registered, registrar="Gandi SAS", outlinks={"rrn.media"},
                       text=page("about-doppelganger-1", "about-doppelganger-2"), ind=(("ip", CLOUDFLARE_IP),)),
                  network)
        assert not v.is_clone, v.reason


def test_registration_years_before_the_network_is_strong_negative_evidence() -> None:
    fresh = site("weltnews.click", registered=at(1, month=8), text=page("welt-nav", "welt-footer", "fake-7", "q"),
                 ind=(("wp_theme", "welt-pm"),))
    old = replace(fresh, registered=at(1, month=8, year=2012))
    v_fresh, v_old = score(fresh), score(old)
    negative = [e for e in v_old.evidence if e.kind == "registered_before_network"]
    assert negative and negative[0].weight <= -0.8
    assert v_old.confidence < 0.5 * v_fresh.confidence


# --- the shape of the evidence ------------------------------------------------------------------------

def test_one_family_alone_never_makes_a_clone_whatever_the_threshold() -> None:
    low = replace(POLICY, threshold=0.1)
    singles = [
        site("washingtonpost.top", registered=at(1, month=1, year=2024)),  # same label only
        site("unrelated-news.com", registered=at(1, month=1, year=2024), ind=(("ip", OPERATOR_IP),)),  # one host
        site("lookalike-text.com", registered=at(1, month=1, year=2024),
             text=page("wapo-nav", "wapo-footer", "fake-1", "fake-2")),  # similar text only
    ]
    for candidate in singles:
        v = score(candidate, policy=low)
        assert not v.is_clone, candidate.domain
        assert v.confidence <= FAMILY_CAP + 1e-9


def test_shared_value_weight_falls_as_more_store_domains_carry_it() -> None:
    candidate = site("weltnews.click", registered=at(1, month=8), ind=(("ga", "G-RRN0001"),))
    weights = []
    for count in (2, 5, 20, 50, 52, 500):  # the network carries it once: 52 = 51 strangers
        st = stats(*NETWORK, candidate)
        st = replace(st, share_counts={**st.share_counts, **{i: count for i in candidate.indicators}})
        v = score_candidate(candidate, NETWORK, st, found(), POLICY, now=NOW)
        weights.append(next(e.weight for e in v.evidence if e.kind == "shared_ga"))
    assert weights == sorted(weights, reverse=True) and weights[0] > weights[3] > 0
    assert weights[4] == weights[5] == 0.0  # more strangers than commodity_share carry it


def test_every_verdicts_confidence_is_recomputable_from_its_evidence() -> None:
    candidates = [
        site("washingtonpost.so", registered=at(5, 3), text=page("wapo-nav", "wapo-footer", "fake-9")),
        imitated_outlet(),
        site("fox-newz.in", registered=at(5, 8), text=page("bakery-1")),
        site("gardening-tips.com", registered=at(5, 8), ind=(("ip", CLOUDFLARE_IP),)),
        site("truthdaily.so", registered=at(5, 8), ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS)),
             text=page("fox-nav", "fox-footer", "fake-3", "fake-11")),
    ]
    for candidate in candidates:
        v = score(candidate)
        assert combine(v.evidence).confidence == pytest.approx(v.confidence, abs=1e-3), candidate.domain
        assert v.reason and "\n" not in v.reason


def test_unknown_indicator_kinds_count_as_weak_evidence_instead_of_failing() -> None:
    network = [replace(p, indicators=p.indicators | {Indicator("payment_id", "acct-991")}) if p.domain == "welt.pm" else p
               for p in NETWORK]
    v = score(site("welt.cc", registered=at(1, month=8), ind=(("payment_id", "acct-991"),)), network)
    shared = [e for e in v.evidence if e.kind == "shared_payment_id"]
    assert shared and 0 < shared[0].weight < 0.2


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive = site("spiegel.pw", registered=datetime(2024, 9, 5, 9), text=page("spiegel-nav", "spiegel-footer", "z"))
    network = [replace(p, status_since=p.status_since.replace(tzinfo=None) if p.status_since else None)
               for p in NETWORK]
    v = score_candidate(naive, network, stats(*network, naive), found(), POLICY, now=NOW.replace(tzinfo=None))
    assert v.is_clone and v.predecessor == "spiegel.ltd"


def test_empty_network_gives_nothing_to_link_to() -> None:
    v = score(site("washingtonpost.so", registered=at(5, 3)), network=[])
    assert not v.is_clone and v.confidence == 0.0


def test_an_old_registration_counts_against_even_when_the_network_dates_are_unknown() -> None:
    undated = [replace(p, registered=None) for p in NETWORK]
    v = score(site("washingtonpost.com", registered=at(13, month=1, year=1996),
                   text=page("wapo-nav", "wapo-footer", "fake-1", "real-2")), undated)
    assert not v.is_clone
    assert any(e.kind == "registered_before_network" and e.weight <= -0.8 for e in v.evidence)


def test_namesake_serving_unrelated_writing_is_not_a_clone() -> None:
    """An old campaign label re-registered by a third party that writes *about* the campaign and even
    shows its logo: same label and the favicon, but no shared text or template (FIELD-NOTES, rrn.world)."""
    from datetime import datetime

    from detect.model import Indicator, Status
    from detect.scoring import Discovery, SiteProfile, StoreStats, score_candidate
    from detect.similarity import minhash_of_text

    now = datetime(2024, 9, 6, tzinfo=UTC)
    words = " ".join(f"propaganda{i} story{i * 7} claims{i * 3}" for i in range(200))
    other = " ".join(f"research{i} note{i * 5} source{i * 11}" for i in range(200))
    fav = Indicator("favicon_mmh3", "70444752")
    net = SiteProfile(domain="rrn.media", label="rrn", status=Status.ACTIVE, status_since=None, in_network=True,
                      indicators=frozenset({fav, Indicator("ga", "G-NET")}), minhash=minhash_of_text(words),
                      tlsh=None, registered=datetime(2023, 7, 26, tzinfo=UTC), registrar="A",
                      outlinks=frozenset(), redirects_to=None, parked=False, title="RRN")
    cand = SiteProfile(domain="rrn.world", label="rrn", status=Status.ACTIVE, status_since=None, in_network=False,
                       indicators=frozenset({fav, Indicator("ga", "G-OTHER")}), minhash=minhash_of_text(other),
                       tlsh=None, registered=datetime(2023, 8, 14, tzinfo=UTC), registrar="B",
                       outlinks=frozenset(), redirects_to=None, parked=False, title="Watch")
    stats = StoreStats(total_domains=40, share_counts={fav: 2, Indicator("ga", "G-NET"): 1})
    verdict = score_candidate(cand, [net], stats, Discovery("lookalike", "tld-swap", "rrn.media"),
                              ScoringPolicy(), now=now)
    assert not verdict.is_clone
    assert any(e.kind == "unrelated_content" and e.weight < 0 for e in verdict.evidence)


def test_neighbour_on_the_network_host_registered_in_the_same_burst_is_not_a_clone() -> None:
    """Shared hosting puts strangers on the operator's rare address and name servers, and they register
    domains every day: rare infrastructure plus a same-day registration is not the operator when the
    neighbour's own writing shares nothing with the sites on that host."""
    burst = [site(f"new-outlet{i}.site", network=True, registered=at(5, 8), text=page(f"new-{i}", f"new-{i}b"),
                  ind=(("ip", "203.0.113.50"),)) for i in range(3)]
    network = [*NETWORK, *burst]
    cafe = site("cafe-aurora.es", registered=at(5, 9), text=page("cafe-1", "cafe-2"),
                ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS)), registrar="Hostzona Registrar LLC")
    v = score(cafe, network, source="nrd", via="feed (infrastructure)")
    assert not v.is_clone, v.reason
    assert "unrelated_neighbour" in kinds(v)
    # the same neighbour serving a network site's pages is the operator's
    copy = replace(cafe, minhash=NETWORK[1].minhash, tlsh=NETWORK[1].tlsh)
    assert "unrelated_neighbour" not in kinds(score(copy, network, source="nrd", via="feed"))


THIN_PAGE_TLSH = "T183B09B16985404E74943869795B1B3E435211C80FA940806F9E5506455461344641541"


def thin(profile: SiteProfile) -> SiteProfile:
    """The same site serving a page of its own with a dozen words: markup sketched, too little text to."""
    return replace(profile, minhash=None, tlsh=THIN_PAGE_TLSH)


def test_typo_named_neighbour_with_a_page_too_short_to_compare_is_not_a_clone() -> None:
    """A page with too few words for a text sketch cannot carry a network page's text: a typo of a seized
    name on the operator's shared host, serving a short page of its own, is a neighbour, not a copy."""
    shop = thin(site("foxx-news.in", registered=at(5, 9), ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS)),
                     registrar="Hostzona Registrar LLC"))
    v = score(shop, source="lookalike", via="addition")
    assert not v.is_clone, v.reason
    assert {"unrelated_neighbour", "unrelated_content"} & kinds(v)
    assert any("too short" in e.detail for e in v.evidence if e.kind == "unrelated_neighbour")


def test_a_short_page_is_no_contradiction_when_it_is_not_the_sites_own() -> None:
    """No page at all (nothing fetched) or a stock page says nothing about whose site it is."""
    bare = site("foxx-news.in", registered=at(5, 9), ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS)))
    assert not {"unrelated_neighbour", "unrelated_content"} & kinds(score(bare, via="addition"))
    parked = replace(thin(bare), parked=True)
    assert not {"unrelated_neighbour", "unrelated_content"} & kinds(score(parked, via="addition"))


def test_an_address_inside_a_range_full_of_strangers_is_no_rarer_than_the_range() -> None:
    """Shared hosting shows in its neighbours: the store meets some of a provider's tenants, rarely the
    one on the network's very address. The same address in the network's own quiet range keeps its weight."""
    cand = site("fox-news.pw", registered=at(5, 9), ind=(("ip", OPERATOR_IP), ("ip_prefix", "203.0.113.0/24")))
    net = [replace(p, indicators=p.indicators | {Indicator("ip_prefix", "203.0.113.0/24")})
           if Indicator("ip", OPERATOR_IP) in p.indicators else p for p in NETWORK]
    quiet = stats(*net, cand)
    crowded = replace(quiet, share_counts={**quiet.share_counts,
                                           Indicator("ip_prefix", "203.0.113.0/24"): 3 + 25})

    def ip_weight(store: object) -> float:
        v = score(cand, net, store=store)  # type: ignore[arg-type]
        return next(e.weight for e in v.evidence if e.kind == "shared_ip")

    assert ip_weight(crowded) < ip_weight(quiet)
    v = score(cand, net, store=crowded)
    assert any("stranger" in e.detail for e in v.evidence if e.kind == "shared_ip")
