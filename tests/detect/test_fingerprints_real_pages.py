"""Fingerprints of the real archived Doppelganger/RRN pages (PPN dataset, CC BY-NC 4.0; see pages/README.md)."""

from __future__ import annotations

import itertools
import statistics
from functools import cache
from importlib import resources
from pathlib import Path

import pytest

from detect.fingerprints import PageFingerprint, fingerprint_page, minhash_similarity, tlsh_distance
from detect.model import HttpFetch, Indicator

PAGES = Path(str(resources.files("sandbox.worlds").joinpath("doppelganger-2024/pages")))
SITES = ("lavirgule.news", "notrepays.today", "rrn.media", "tribunalukraine.info", "waronfakes.com")


def fetch_of(path: Path, domain: str | None = None) -> HttpFetch:
    site = domain or path.parent.name
    return HttpFetch(domain=site, url=f"https://{site}/", final_url=f"https://{site}/", status=200,
                     headers=(("Content-Type", "text/html; charset=UTF-8"),), body=path.read_bytes())


@cache
def fingerprints() -> dict[Path, PageFingerprint]:
    return {p: fingerprint_page(fetch_of(p)) for p in sorted(PAGES.glob("*/*.html"))}


def of_site(site: str) -> list[PageFingerprint]:
    return [fp for p, fp in fingerprints().items() if p.parent.name == site]


def test_every_site_has_six_archived_pages() -> None:
    assert all(len(of_site(site)) == 6 for site in SITES)


@pytest.mark.parametrize("site, expected", [
    ("lavirgule.news", {Indicator("ga", "G-M3820N2CFD"), Indicator("wp_theme", "lavirgule"),
                        Indicator("site_verification", "google-site-verification:NPxxVIqGyx5wHGHIKLBGv8CbEmj4M6QdBWQOLSYl7Gw"),
                        Indicator("generator", "WordPress 6.4.1"), Indicator("og_locale", "en_US"),
                        Indicator("canonical_host", "lavirgule.news"),
                        Indicator("push_service", "webpushs.com/js/push/57585a324b0bb45e61067b655c90759d")}),
    ("notrepays.today", {Indicator("ga", "G-03EVJX15WG"), Indicator("wp_theme", "notrepays"),
                         Indicator("site_verification", "google-site-verification:ZPSnbV4xlr7LW9Hx8XCV2iHJ5YdD9fhGHiHSsh08nJk"),
                         Indicator("script_src", "self/wp-content/themes/notrepays/scripts/ticker.js")}),
    ("rrn.media", {Indicator("ga", "G-9XV905XLDW"), Indicator("wp_theme", "exp"), Indicator("og_locale", "ru_RU"),
                   Indicator("script_src", "self/wp-content/themes/exp/dist/script.js")}),
    ("tribunalukraine.info", {Indicator("ga", "G-2C2VM7ESH9"), Indicator("matomo", "tribunalukraine.matomo.cloud#1"),
                              Indicator("script_src", "self/js/lightpick.js")}),
    ("waronfakes.com", {Indicator("yandex_metrica", "87676419"), Indicator("wp_theme", "enjoyblogfix")}),
])
def test_real_ids_and_tells_are_found_on_every_page_of_the_site(site: str, expected: set[Indicator]) -> None:
    for fp in of_site(site):
        assert expected <= set(fp.indicators)


def test_rrn_declares_a_russian_og_locale_on_english_pages() -> None:
    about = fingerprints()[PAGES / "rrn.media" / "__1694618402.html"]
    assert about.language == "en-US"
    assert Indicator("og_locale", "ru_RU") in about.indicators


def test_social_handles_are_the_sites_profiles_not_share_buttons() -> None:
    rrn = fingerprints()[PAGES / "rrn.media" / "__1694608541.html"]
    social = {i.value for i in rrn.indicators if i.kind == "social"}
    assert social == {"t.me/reliablerecentnews", "x.com/rrnworld"}  # t.me/share, twitter.com/intent skipped
    home = fingerprints()[PAGES / "waronfakes.com" / "_waronfakes_1699521200.html"]
    assert Indicator("social", "t.me/waronfakesen") in home.indicators
    german = fingerprints()[PAGES / "waronfakes.com" / "de_common-de__1699521202.html"]
    assert Indicator("social", "t.me/warfakes") in german.indicators


def test_embedded_tweets_are_not_the_sites_handles() -> None:
    page = fingerprints()[PAGES / "notrepays.today" / "_12eme-journee-de-mobilisation_1699516928.html"]
    assert not [i for i in page.indicators if i.kind == "social"]


def test_boilerplate_scripts_are_ignored() -> None:
    scripts = {i.value for fp in fingerprints().values() for i in fp.indicators if i.kind == "script_src"}
    assert not [s for s in scripts if "jquery" in s or "wp-includes" in s or "googletagmanager" in s]
    assert not [s for s in scripts if s.startswith(("cdnjs.cloudflare.com", "ajax.googleapis.com", "cdn.jsdelivr.net"))]


def test_outlinks_are_registrable_domains_without_the_sites_own() -> None:
    fp = fingerprints()[PAGES / "rrn.media" / "__1694608541.html"]
    assert "theguardian.com" in fp.outlinks and "t.me" in fp.outlinks
    assert "rrn.media" not in fp.outlinks
    assert all("/" not in d and not d.startswith("www.") for d in fp.outlinks)


def test_titles_languages_and_text_are_read() -> None:
    fp = fingerprints()[PAGES / "rrn.media" / "ru__1694608561.html"]
    assert fp.title == "Папу Римского хотят убить - Новости"
    assert Indicator("title", "папу римского хотят убить - новости") in fp.indicators
    assert fp.language == "ru-RU" and fp.canonical == "rrn.media"
    assert fp.text_length > 1000 and fp.minhash is not None and fp.tlsh is not None


def test_pages_of_one_site_are_far_more_similar_than_pages_of_different_sites() -> None:
    items = [(p.parent.name, fp) for p, fp in fingerprints().items()]
    same_m, diff_m, same_t, diff_t = [], [], [], []
    for (sa, a), (sb, b) in itertools.combinations(items, 2):
        assert a.minhash is not None and b.minhash is not None and a.tlsh and b.tlsh
        (same_m if sa == sb else diff_m).append(minhash_similarity(a.minhash, b.minhash))
        (same_t if sa == sb else diff_t).append(tlsh_distance(a.tlsh, b.tlsh))
    assert statistics.mean(same_m) > 10 * statistics.mean(diff_m) and max(diff_m) < 0.05
    assert statistics.median(same_t) * 3 < statistics.median(diff_t)
    # same-language pages of one site share menus and footers: always above any cross-site pair
    for site in ("lavirgule.news", "notrepays.today"):
        pairs = itertools.combinations(of_site(site), 2)
        assert min(minhash_similarity(a.minhash or b"", b.minhash or b"") for a, b in pairs) > max(diff_m)


def test_the_same_page_on_two_domains_has_the_same_dom_hash_and_text_signature() -> None:
    path = PAGES / "lavirgule.news" / "__1699515318.html"
    original = fingerprint_page(fetch_of(path))
    moved = fetch_of(path, domain="lavirgule.cc")  # the site moved by a TLD swap: its own URLs rewritten
    clone = fingerprint_page(HttpFetch(domain="lavirgule.cc", url=moved.url, final_url=moved.final_url, status=200,
                                       body=moved.body.replace(b"lavirgule.news", b"lavirgule.cc")))
    dom = {i.value for i in original.indicators if i.kind == "dom_hash"}
    assert dom and dom == {i.value for i in clone.indicators if i.kind == "dom_hash"}
    assert minhash_similarity(original.minhash or b"", clone.minhash or b"") > 0.9
    assert tlsh_distance(original.tlsh or "", clone.tlsh or "") < 10
    assert Indicator("canonical_host", "lavirgule.cc") in clone.indicators
    # a TLD swap keeps the site's own scripts: they are recorded as self/…, not as the host
    assert {i for i in original.indicators if i.kind == "script_src"} == {
        i for i in clone.indicators if i.kind == "script_src"}
    other_sites = {i.value for p, fp in fingerprints().items() if p.parent.name != "lavirgule.news"
                   for i in fp.indicators if i.kind == "dom_hash"}
    assert not dom & other_sites
