"""Evidence grouped for reading (detect/evidence_summary.py): by family, deciding first, repeats collapsed,
minor items hidden unless asked — the one grouping the CLI, the mails and the web page show."""

from __future__ import annotations

from detect.evidence_summary import AGAINST, MINOR_WEIGHT, NOTES, OTHER, group_evidence, visible
from detect.model import Evidence

HHHASH = "hhh:1:5b29dcee9a2e735a7cff1a7e86b96c1722c4e6d5397c5bdcf8b4683134c33e12"

RRN_SO = [  # what scoring stored for rrn.so in the demo, abridged
    Evidence("discovered_by", "lookalike:tld-swap", 0.0, "found by lookalike from rrn.media"),
    Evidence("same_label", "rrn.media", 0.55, "same label on another suffix as rrn.media (seized)"),
    Evidence("shared_ga", "G-9XV905XLDW", 0.5099, "ga G-9XV905XLDW shared with rrn.media; 2 store domains carry it"),
    Evidence("shared_social", "t.me/reliablerecentnews", 0.5099, "social … shared with rrn.media"),
    Evidence("shared_social", "x.com/rrnworld", 0.5099, "social … shared with rrn.media"),
    Evidence("shared_hhhash", HHHASH, 0.0195, "hhhash … 52 store domains carry it — commodity, weight 0"),
    Evidence("shared_server", "nginx", 0.0097, "server nginx … commodity, weight 0"),
    Evidence("shared_ns", "ns1.dnsnode-eu.net", 0.1542, ""),
    Evidence("shared_ns", "ns2.dnsnode-eu.net", 0.1542, ""),
    Evidence("shared_ns_domain", "dnsnode-eu.net", 0.0964, ""),
    Evidence("text_similarity", "0.62", 0.4191, "page text Jaccard 0.62 with warfareinsider.us; 2 other stored site(s) write as alike"),
    Evidence("text_similarity", "0.95", 0.55, "page text Jaccard 0.95 with rrn.media"),
    Evidence("text_similarity", "0.55", 0.3365, "page text Jaccard 0.55 with mypride.press; 5 other stored site(s) write as alike"),
    Evidence("text_similarity", "1.00", 0.55, "page text Jaccard 1.00 with truthgate.us"),
    Evidence("html_similarity", "0", 0.45, "HTML TLSH distance 0 to rrn.media"),
    Evidence("shared_dom_hash", "471e5aee7731b89312d7120e16551bfb6fcd245af03c5f55cb4121f70179b8ac", 0.2974, ""),
    Evidence("registered_after_takedown", "truthgate.us", 0.3656, "registered +36 h after truthgate.us turned seized"),
    Evidence("registered_after_takedown", "rrn.media", 0.3656, "registered +36 h after rrn.media turned seized"),
]


def _families(groups: tuple) -> list[str]:  # type: ignore[type-arg]
    return [g.family for g in groups]


def test_repeats_of_one_kind_collapse_into_one_line_naming_the_predecessor_first() -> None:
    groups = group_evidence(RRN_SO, predecessor="rrn.media")
    content = next(g for g in groups if g.family == "content")
    (text,) = content.lines
    assert text.text == "text 55–100 % like rrn.media and 3 more" and text.count == 4 and text.weight == 0.55
    assert [e.value for e in text.items][:2] == ["0.95", "1.00"]  # strongest first, the predecessor before a tie
    identity = next(g for g in groups if g.family == "identity")
    assert [line.text for line in identity.lines] == ["same analytics id G-9XV905XLDW",
                                                      "same social account t.me/reliablerecentnews and 1 more"]
    timing = next(g for g in groups if g.family == "registration")
    assert timing.lines[0].text == "registered +36 h after the loss of rrn.media and 1 more"


def test_deciding_families_come_first_and_a_look_beside_the_writing_does_not_decide() -> None:
    groups = group_evidence(RRN_SO, predecessor="rrn.media")
    deciding = [g.family for g in groups if g.deciding]
    assert set(deciding) == {"content", "identity", "lexical", "registration"}
    assert _families(groups)[: len(deciding)] == deciding  # all of them before any other
    assert [g.strength for g in groups[: len(deciding)]] == sorted((g.strength for g in groups[: len(deciding)]),
                                                                   reverse=True)
    template = next(g for g in groups if g.family == "template")
    assert not template.deciding  # copying a page copies its look: it is not a second line of evidence
    assert _families(groups)[-1] == NOTES


def test_within_a_family_the_item_that_counted_comes_before_its_correlated_repeats() -> None:
    infra = next(g for g in group_evidence(RRN_SO) if g.family == "infrastructure")
    assert infra.lines[0].kind == "shared_ns" and infra.lines[0].counted
    assert not next(line for line in infra.lines if line.kind == "shared_ns_domain").counted  # same group as ns


def test_minor_items_are_hidden_unless_asked_and_counted() -> None:
    groups = group_evidence(RRN_SO)
    shown, hidden = visible(groups)
    texts = [line.text for g in shown for line in g.lines]
    assert hidden == 3  # hhhash, server header, discovered_by
    assert not any("nginx" in t or "hhh:" in t or "lookalike" in t for t in texts)
    assert NOTES not in _families(shown)
    every, none_hidden = visible(groups, include_minor=True)
    assert none_hidden == 0 and sum(line.count for g in every for line in g.lines) == len(RRN_SO)
    assert all(abs(e.weight) < MINOR_WEIGHT for g in groups for line in g.lines if line.minor for e in line.items)


def test_long_values_keep_both_ends_on_the_line_and_whole_in_the_items() -> None:
    infra = next(g for g in group_evidence(RRN_SO) if g.family == "infrastructure")
    hh = next(line for line in infra.lines if line.kind == "shared_hhhash")
    assert HHHASH not in hh.text and hh.text.startswith("same HTTP header hash hhh:1:") and hh.text.endswith("134c33e12")
    assert len(hh.text) < 70 and hh.items[0].value == HHHASH


def test_negative_evidence_is_its_own_group_after_the_deciding_families() -> None:
    evidence = [Evidence("same_label", "a.ltd", 0.55, "same label on another suffix as a.ltd (seized)"),
                Evidence("shared_ga", "G-1", 0.5, ""),
                Evidence("parked", "parked", -0.6, "a parking page"),
                Evidence("uncorroborated", "lexical", -0.2, "only one family of evidence")]
    groups = group_evidence(evidence)
    assert _families(groups) == ["lexical", "identity", AGAINST]  # strongest first
    against = groups[-1]
    assert against.deciding and against.strength == round((1 - 0.6) * (1 - 0.2) - 1, 4)
    assert [line.kind for line in against.lines] == ["parked", "uncorroborated"]


def test_kinds_this_version_does_not_know_are_grouped_as_other_not_an_error() -> None:
    evidence = [Evidence("same_label_tld_swap", "a", 0.35, "label kept, TLD .ltd → .pm"),
                Evidence("page_title", "<script>", 0.1, ""), Evidence("shared_ns", "ns1.host.example", 0.2)]
    groups = group_evidence(evidence)
    other = next(g for g in groups if g.family == OTHER)
    assert {line.kind for line in other.lines} == {"same_label_tld_swap", "page_title"} and not other.deciding
    assert other.lines[0].text == "label kept, TLD .ltd → .pm"
    assert group_evidence([]) == ()
