"""Scoring rules that must hold on worlds nobody tuned them to (issue 13): the look of a page is never
substantive, a link to a site that writes its own text is no tie, the imitated outlet is judged robustly,
a stranger on a shared host or a popular theme stays a stranger, timing starts at the takedown's first
sign, and more positive evidence never lowers a whole verdict's confidence.

Same base network as test_scoring (scoring_world.doppelganger_network)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime

from detect.evidence_kinds import Family, combine
from detect.model import Relation, Status
from detect.scoring import SiteProfile, Verdict
from tests.detect.scoring_world import (
    OPERATOR_IP,
    OPERATOR_NS,
    SEIZURE,
    at,
    doppelganger_network,
    html_hash,
    page,
    score,
    site,
    stats,
    with_links,
)

NETWORK = doppelganger_network()


def same_look(profile: SiteProfile, like: SiteProfile) -> SiteProfile:
    """The candidate copies ``like``'s markup (TLSH equal) but keeps its own writing."""
    return replace(profile, tlsh=like.tlsh)


def kinds(v: Verdict) -> set[str]:
    return {e.kind for e in v.evidence if e.weight != 0 or e.kind in ("own_writing",)}


# --- the outlet a network imitates --------------------------------------------------------------------

def test_imitated_outlet_with_its_own_writing_and_no_registration_date_is_never_a_clone() -> None:
    """spiegel.de-like: same label as the seized spoof, the spoof's look, no RDAP (a ccTLD without it),
    linked from network sites, its own articles."""
    spoof = next(p for p in NETWORK if p.domain == "spiegel.ltd")
    network = with_links(NETWORK, "spiegel.eu", "welt.pm", "rrn.media")
    outlet = same_look(site("spiegel.eu", text=page("spiegel-nav", "outlet-1", "outlet-2", "outlet-3")), spoof)
    v = score(outlet, network)
    assert not v.is_clone and v.confidence == 0.0, v.reason
    assert "imitated_outlet" in kinds(v)


def test_outlet_found_by_tld_swap_alone_is_not_a_clone_on_name_and_look() -> None:
    """Nobody links to it: a same label and a copied look are two families, neither substantive."""
    spoof = next(p for p in NETWORK if p.domain == "spiegel.ltd")
    outlet = same_look(site("spiegel.eu", text=page("outlet-nav", "outlet-1", "outlet-2", "outlet-3")), spoof)
    v = score(outlet)
    assert not v.is_clone and v.confidence <= 0.45, v.reason


def test_an_aged_seed_does_not_make_a_decade_old_outlet_look_young() -> None:
    """One operator bought a domain registered in 2005; the outlet is from 2010: the network still began
    in 2023 (lower quartile of its dates), so the outlet predates it."""
    aged = site("old-brand.info", network=True, registered=at(1, month=1, year=2005),
                text=page("aged-1", "aged-2"))
    network = with_links([*NETWORK, aged], "welt.net", "welt.pm")
    outlet = site("welt.net", registered=at(1, month=1, year=2010), text=page("welt-own-1", "welt-own-2"))
    outlet = same_look(outlet, next(p for p in NETWORK if p.domain == "welt.pm"))
    v = score(outlet, network)
    assert not v.is_clone
    assert {"imitated_outlet", "registered_before_network"} & kinds(v), v.reason


# --- strangers --------------------------------------------------------------------------------------

def test_a_site_a_hub_merely_links_to_is_not_a_clone_even_on_a_popular_theme() -> None:
    network = with_links(NETWORK, "garden-shop.com", "rrn.media")
    rrn = next(p for p in NETWORK if p.domain == "rrn.media")
    shop = same_look(site("garden-shop.com", registered=at(5, 2), text=page("shop-1", "shop-2", "shop-3")), rrn)
    crowd = {f"theme-user-{i}.com": rrn.tlsh or "" for i in range(40)}
    v = score(shop, network, source="outlink", via="rrn.media",
              store=replace(stats(*network, shop), page_templates=crowd))
    assert not v.is_clone, v.reason
    html = [e for e in v.evidence if e.kind == "html_similarity"]
    assert html and html[0].weight < 0.2, html  # 40 stored strangers share that look


def test_strangers_on_the_operators_host_registered_the_takedown_day_are_not_clones() -> None:
    for i in range(10):
        name = f"washingtonpost-deals{i}.com" if i % 2 else f"bakery-{i}.net"
        stranger = site(name, registered=at(4, 18), text=page(f"shop-{i}-a", f"shop-{i}-b"),
                        ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS)))
        v = score(stranger, source="nrd", via="feed")
        assert not v.is_clone, (name, v.reason)


def test_a_placeholder_page_on_a_lookalike_name_is_not_a_clone() -> None:
    for stock in ("challenge", "server-default", "coming-soon"):
        cand = site("washingtonpost.so", registered=at(5, 3), text=page("nginx-default"),
                    ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS), ("placeholder", stock)))
        v = score(cand)
        assert not v.is_clone, (stock, v.reason)
        assert "placeholder_page" in kinds(v)


def test_a_verbatim_copy_with_nothing_else_is_one_observation_not_two_families() -> None:
    wapo = next(p for p in NETWORK if p.domain == "washingtonpost.pm")
    copy = replace(site("daily-mirror-copy.com", registered=at(1, month=1, year=2024)),
                   minhash=wapo.minhash, tlsh=wapo.tlsh)
    v = score(copy)
    assert not v.is_clone and v.confidence <= 0.45, v.reason


# --- replacements that are not verbatim copies ---------------------------------------------------------

def test_typo_replacement_with_rewritten_text_on_a_new_host_is_found_with_its_predecessor() -> None:
    clone = site("washingtonpostt.pm", registered=at(5, 9), registrar="Other Registrar SA",
                 text=page("wapo-nav", "wapo-footer", "fake-1", "new-a", "new-b"))
    v = score(clone, source="lookalike", via="repetition")
    assert v.is_clone, v.reason
    assert v.relation is Relation.REPLACEMENT and v.predecessor == "washingtonpost.pm"


def test_hub_outlink_replacement_with_new_writing_but_the_operators_handle_is_found() -> None:
    network = with_links(NETWORK, "voice-of-truth.org", "rrn.media")
    clone = site("voice-of-truth.org", registered=at(5, 9), text=page("vot-1", "vot-2", "vot-3"),
                 ind=(("social", "t.me/rrn_world"),))
    v = score(clone, network, source="outlink", via="rrn.media")
    assert v.is_clone, v.reason


# --- timing -------------------------------------------------------------------------------------------

def test_registration_before_the_takedowns_first_sign_is_not_after_the_takedown() -> None:
    last_seen = SEIZURE.replace(hour=10)
    network = [replace(p, lost_after=last_seen) if p.status.lost else p for p in NETWORK]
    early = site("washingtonpost.so", registered=SEIZURE.replace(hour=0), text=page("wapo-nav", "x-1", "x-2"))
    late = replace(early, registered=SEIZURE.replace(hour=15))
    assert "registered_after_takedown" not in kinds(score(early, network))
    assert "registered_after_takedown" in kinds(score(late, network))


def test_a_takedown_the_registry_dated_starts_before_the_stores_last_sight_of_the_site() -> None:
    """The store saw the seized sites serving at 10:00 (a cached delegation); the registry changed their
    records at 01:00. A lookalike registered at 05:00 came after the takedown: its "last changed" says so,
    up to REGISTRY_LEAD_HOURS before the last sight, and not when the change came after the registration
    (less TAKEDOWN_SLACK_HOURS)."""
    from datetime import timedelta

    from detect.evidence_rules import REGISTRY_LEAD_HOURS

    last_seen = SEIZURE.replace(hour=10)

    def network(changed: datetime | None) -> list[SiteProfile]:
        return [replace(p, lost_after=last_seen, registry_changed=changed) if p.status.lost else p for p in NETWORK]

    cand = site("washingtonpost.so", registered=SEIZURE.replace(hour=5), text=page("wapo-nav", "x-1", "x-2"))
    assert "registered_after_takedown" not in kinds(score(cand, network(None)))
    dated = score(cand, network(SEIZURE.replace(hour=1)))
    assert "registered_after_takedown" in kinds(dated)
    assert any("the registry changed washingtonpost.pm's record" in e.detail for e in dated.evidence)
    too_old = last_seen - timedelta(hours=REGISTRY_LEAD_HOURS + 1)  # no cached delegation lasts that long
    assert "registered_after_takedown" not in kinds(score(cand, network(too_old)))
    # the registry changed the records at 09:00, four hours after the registration: it came before
    assert "registered_after_takedown" not in kinds(score(cand, network(SEIZURE.replace(hour=9))))


def test_a_stranger_on_the_networks_host_registered_after_the_takedown_is_not_dated_to_it() -> None:
    """Its hosting is what put it in the newly-registered feed's catch: hosting and date are one tie, and
    the stranger, with its own writing and a dated takedown just before it, stays a stranger."""
    network = [replace(p, lost_after=SEIZURE, registry_changed=SEIZURE.replace(hour=1)) if p.status.lost else p
               for p in NETWORK]
    stranger = site("garden-shop.com", registered=SEIZURE.replace(hour=20), text=page("shop-1", "shop-2", "shop-3"),
                    ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS)))
    v = score(stranger, network, source="nrd", via="feed")
    assert "registered_after_takedown" not in kinds(v) and "unrelated_neighbour" in kinds(v)
    assert not v.is_clone and v.confidence <= 0.45, v.reason


def test_a_registration_after_some_network_loss_it_has_no_tie_to_corroborates_nothing() -> None:
    """A stranger on the network's host and at its registrar (one reseller: one tie), registered since the
    takedowns, with a page too thin to say whose it is: "registered within the window of a loss it shows no
    other tie to" adds to the confidence but is no tie, so it never makes its family support a verdict."""
    network = [replace(p, lost_after=SEIZURE, registry_changed=SEIZURE.replace(hour=1), registrar="Vesta Registry")
               if p.status.lost else p for p in NETWORK]
    stranger = replace(site("dutrem-bakery.blog", registered=SEIZURE.replace(hour=20), registrar="Vesta Registry",
                            ind=(("ip", OPERATOR_IP), ("ns", OPERATOR_NS))), minhash=None)
    v = score(stranger, network, source="nrd", via="feed")
    assert "registered_after_network_loss" in kinds(v) and "shared_registrar" in kinds(v)
    assert combine(v.evidence).families.get(Family.REGISTRATION, 0.0) >= 0.2  # strong enough, were it a tie
    assert not combine(v.evidence).corroborated and v.confidence <= 0.45, v.reason


# --- monotonicity of whole verdicts --------------------------------------------------------------------

TELLS = [("ga", "G-RRN0001"), ("social", "t.me/rrn_world"), ("ns", OPERATOR_NS), ("ip", OPERATOR_IP),
         ("og_locale", "ru_RU"), ("wp_theme", "washingtonpost-pm")]


def test_more_positive_evidence_never_lowers_a_verdict_for_candidates_with_text() -> None:
    wapo = next(p for p in NETWORK if p.domain == "washingtonpost.pm")
    texts = {
        "own writing": page("own-1", "own-2", "own-3"),
        "partial copy": page("wapo-nav", "own-4", "own-5", "own-6"),
        "rewritten": page("wapo-nav", "wapo-footer", "fake-1", "own-7"),
    }
    rng = random.Random(13)
    for label, text in texts.items():
        for linked, looks_alike in ((False, False), (False, True), (True, False), (True, True)):
            network = with_links(NETWORK, "wpost-daily.com", "rrn.media") if linked else NETWORK
            for _ in range(8):
                order = rng.sample(TELLS, len(TELLS))
                last = -1.0
                for n in range(len(order) + 1):
                    cand = site("wpost-daily.com", registered=at(5, 3), text=text, ind=order[:n])
                    cand = replace(cand, tlsh=wapo.tlsh) if looks_alike else cand
                    v = score(cand, network, source="outlink" if linked else "nrd", via="rrn.media")
                    assert v.confidence >= last - 1e-9, (label, linked, looks_alike, order[:n], v.reason)
                    assert abs(combine(v.evidence).confidence - v.confidence) < 1e-3
                    last = v.confidence


def test_writing_and_look_of_one_page_count_once() -> None:
    text = page("wapo-nav", "wapo-footer", "fake-1", "fake-2")
    cand = replace(site("x-news.com"), minhash=None, tlsh=html_hash(text))
    assert not score(cand).is_clone
    assert all(p.status in (Status.ACTIVE, Status.SEIZED) for p in NETWORK)


def test_the_target_of_a_network_sites_redirect_replaces_the_site_that_moved() -> None:
    """A live network site starts redirecting to a new name: the operator moved it there. The edge comes
    from the redirecting site, even when another network domain has the same label."""
    rrn = next(p for p in NETWORK if p.domain == "rrn.media")
    moved = replace(rrn, status=Status.REDIRECTING, redirects_to="rrn-online.top")
    twin = site("rrn.info", status=Status.SEIZED, since=SEIZURE, network=True, text=page("rrn-nav", "rrn-x"))
    network = [moved if p.domain == "rrn.media" else p for p in NETWORK] + [twin]
    target = site("rrn-online.top", text=page("rrn-nav", "rrn-footer", "rrn-9", "rrn-10"))
    v = score(target, network, source="redirect", via="rrn.media")
    assert v.is_clone and v.relation is Relation.REPLACEMENT and v.predecessor == "rrn.media", v.reason


def test_writing_that_many_stored_strangers_share_as_closely_weighs_little() -> None:
    """Stock phrases of one language or one template's menus bring unrelated pages close together: when
    forty stored sites outside the network write as alike, the resemblance is commodity."""
    from detect.similarity import TextCrowd

    text = page("wapo-nav", "wapo-footer", "own-1", "own-2")
    cand = site("stockphrases.com", registered=at(5, 1), text=text)
    lone = score(cand)
    crowd = TextCrowd({f"stranger-{i}.com": cand.minhash or b"" for i in range(40)})
    crowded = score(cand, store=replace(stats(*NETWORK, cand), text_crowd=crowd))
    alone = max(e.weight for e in lone.evidence if e.kind == "text_similarity")
    shared = max(e.weight for e in crowded.evidence if e.kind == "text_similarity")
    assert alone > 0.2 and shared < alone / 2, (alone, shared)


def test_a_family_at_exactly_the_support_level_supports() -> None:
    """noisy-OR of a single 0.2 is 0.19999999999999996: the brand-word tie (0.2) with copied writing is
    two families, not one."""
    from detect.model import Evidence

    c = combine([Evidence("contains_label", "x.de", 0.2), Evidence("text_similarity", "0.62", 0.55)])
    assert c.corroborated and len(c.supporting) == 2


# --- partial copies ---------------------------------------------------------------------------------

def test_a_page_keeping_some_of_its_predecessors_articles_is_weighed_by_the_part_it_copied() -> None:
    """A replacement that keeps one of its predecessor's articles and adds three of its own shares a
    quarter of its text by Jaccard, but holds the copied article whole: the text tie is weighed by the
    share of the smaller page found in the other (overlap), not diluted by what was added."""
    whole = site("fox-newz.cc", registered=at(5, 1), text=page("fox-nav", "fox-footer", "fake-3", "fake-4"))
    partial = site("fox-newz.cc", registered=at(5, 1), text=page("fake-3", "fake-4", "own-a", "own-b", "own-c"))
    v = score(partial)
    text = max((e for e in v.evidence if e.kind == "text_similarity"), key=lambda e: e.weight)
    jaccard = float(text.value)
    assert jaccard < 0.4, text  # the added articles dilute the Jaccard …
    assert text.weight >= 0.2 and "of the smaller page's text in common" in text.detail, text  # … not the tie
    # a copy of the whole page is weighed at least as much as a copy of part of it
    assert max(e.weight for e in score(whole).evidence if e.kind == "text_similarity") >= text.weight


def test_a_page_sharing_no_articles_gains_nothing_from_the_overlap_measure() -> None:
    """Overlap is never below the Jaccard and equals it for unrelated text: a stranger stays at 0."""
    stranger = site("fox-newz.cc", registered=at(5, 1), text=page("own-a", "own-b", "own-c", "own-d"))
    assert not [e for e in score(stranger).evidence if e.kind == "text_similarity" and e.weight > 0]


def test_a_copied_part_many_stored_strangers_also_hold_is_commodity() -> None:
    """The crowd is asked in the same measure: forty stored pages that hold the same block (a shared
    menu and footer) make the overlap commodity."""
    from detect.similarity import TextCrowd

    cand = site("fox-newz.cc", registered=at(5, 1), text=page("fake-3", "fake-4", "own-a", "own-b", "own-c"))
    crowd = TextCrowd({f"stranger-{i}.com": site(f"stranger-{i}.com", text=page("fake-3", "fake-4", f"s-{i}")).minhash
                       or b"" for i in range(40)})
    alone = max(e.weight for e in score(cand).evidence if e.kind == "text_similarity")
    crowded = score(cand, store=replace(stats(*NETWORK, cand), text_crowd=crowd))
    shared = max(e.weight for e in crowded.evidence if e.kind == "text_similarity")
    assert shared < alone / 2, (alone, shared)
