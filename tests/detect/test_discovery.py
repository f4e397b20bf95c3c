"""CT keywords and CT/outlink/redirect candidates: streamed, de-duplicated, garbage dropped."""

from __future__ import annotations

from detect import discovery
from detect.discovery import (
    ct_candidates,
    ct_generic_keywords,
    ct_keywords,
    label_keywords,
    outlink_candidates,
    redirect_candidates,
)


def test_ct_keywords_come_from_distinctive_labels() -> None:
    keys = ct_keywords(["washingtonpost.pm", "rrn.media", "50statesoflie.com", "fox-news.in", "news.ltd",
                        "70-putin-freunde.de", "not a domain", "holylandherald.com"])
    # brand cores: generic news words peeled off compound labels (holylandherald → holyland)
    assert keys == ("fox-news", "freunde", "holyland", "putin", "statesoflie", "washington")


def test_a_compound_label_gives_its_brand_core_as_a_keyword() -> None:
    assert label_keywords("dadristruth") == ["dadristruth", "dadris"]
    assert label_keywords("thelensvoice") == ["thelensvoice", "lens"]
    assert label_keywords("thetruthdaily") == ["thetruthdaily"]  # nothing but generic words underneath


def test_remembered_keywords_are_a_fresh_list_each_time() -> None:
    """label_keywords is remembered per label (scoring asks it per network label and candidate); a
    caller changing the list it got does not change what the next caller gets."""
    first = label_keywords("dadristruth")
    first.append("poison")
    first[0] = "changed"
    assert label_keywords("dadristruth") == ["dadristruth", "dadris"]


def test_generic_words_are_peeled_in_one_fixed_order() -> None:
    """Longest first, then alphabetical: not a set's order, which changes with the hash seed, so a
    label's brand core is the same in every process."""
    order = list(discovery._GENERIC_LONGEST_FIRST)
    assert sorted(order, key=lambda w: (-len(w), w)) == order
    assert set(order) == discovery.GENERIC_WORDS


def test_ct_keywords_drop_words_already_covered_by_a_shorter_keyword() -> None:
    assert ct_keywords(["spiegel.ltd", "tagesspiegel.ltd", "spiegell.com", "welt.pm", "weltt.ltd"]) == (
        "spiegel", "welt")


def test_generic_words_the_network_is_built_from_are_the_recent_only_ct_words() -> None:
    network = ["vox-sentinel.org", "sentinel-gazette.co", "insiderreport.pw", "washingtonpost.pm", "news.ltd",
               "ledgervox.live", "dispatch24-nation.pm", "spiegel.ltd", "not a domain"]
    # hyphenated parts that are generic words, the generic words peeled off a label's ends and what is
    # left when that is one too; under 6 letters (post, news, vox) they are too common even for a week
    assert ct_generic_keywords(network, 6) == ("dispatch", "gazette", "insider", "nation", "report", "sentinel")
    assert ct_generic_keywords(network, 8) == ("dispatch", "sentinel")
    # none of them is a keyword of its own (all-time search)
    assert not set(ct_generic_keywords(network, 6)) & set(ct_keywords(network))
    assert ct_generic_keywords(["spiegel.ltd", "putin-freunde.de"], 6) == ()


def test_generic_and_short_parts_never_make_keywords() -> None:
    assert label_keywords("the-daily-news") == ["the-daily-news"]
    assert label_keywords("t-online") == ["t-online"]
    assert label_keywords("info") == [] and label_keywords("faz") == [] and label_keywords("2024") == []


def test_ct_candidates_strip_wildcards_split_entries_and_drop_garbage() -> None:
    answer = ["*.spiegel.pro", "spiegel.pro\nwww.spiegel-news.xyz", "<script>", "192.0.2.1", "", "SPIEGEL.PRO"]
    out = list(ct_candidates(answer, "spiegel"))
    assert [c.domain for c in out] == ["spiegel.pro", "spiegel-news.xyz"]
    assert all(c.source == "ct" and c.via == "spiegel" for c in out)


def test_outlinks_skip_the_site_known_legit_and_platforms() -> None:
    links = ["https://www.washingtonpost.com/politics/x", "/relative", "https://rrn.so/a", "https://rrn.so/b",
             "https://t.me/rrn", "javascript:void(0)", "mailto:x@y.z", "https://sub.artichoc.io/",
             "https://known.example.com/", "http://[::1]/"]
    out = list(outlink_candidates("artichoc.io", links, known_domains={"example.com"},
                                  legit=["washingtonpost.com"]))
    assert [(c.domain, c.source, c.via, c.seed) for c in out] == [("rrn.so", "outlink", "artichoc.io", "artichoc.io")]


def test_redirects_yield_the_final_host_and_intermediate_hops() -> None:
    out = list(redirect_candidates("rrn.media", "https://rrn.so/", known_domains=set(), legit=[],
                                   hops=["http://rrn.media/", "https://tds.example.net/go?x=1"]))
    assert [(c.domain, c.source, c.via) for c in out] == [("example.net", "redirect", "rrn.media"),
                                                          ("rrn.so", "redirect", "rrn.media")]
    assert list(redirect_candidates("rrn.media", "https://www.rrn.media/x", set(), [])) == []
