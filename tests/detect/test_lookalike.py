"""Lookalike generation: dnstwist's fuzzers as a library plus our TLD swap over every ICANN TLD."""

from __future__ import annotations

import dnstwist  # type: ignore[import-untyped]
import idna
import pytest

from detect.lookalike import (
    DNSTWIST_FUZZERS,
    GENERATORS,
    FuzzTarget,
    UnknownFuzzer,
    _a_label,
    _idna_ascii,
    lookalikes,
    network_suffixes,
)
from detect.names import InvalidDomain, registrable_domain, split

# The 2024-09-05/06 Doppelganger replacements and the predecessors they kept the label of
# (Meta's threat-research indicator file, facebook/threat-research, Q2_2023 Doppelganger updated CSV).
REPLACEMENTS = [
    ("artichoc.io", "artichoc.cc"), ("rrn.media", "rrn.so"), ("truthgate.us", "truthgate.so"),
    ("lexomnium.com", "lexomnium.pw"), ("ukrlm.info", "ukrlm.so"), ("50statesoflie.com", "50statesoflie.so"),
    ("holylandherald.com", "holylandherald.pw"), ("acrosstheline.press", "acrosstheline.cc"),
    ("honeymoney.info", "honeymoney.to"), ("mypride.press", "mypride.pw"), ("uschina.press", "uschina.cc"),
    ("warfareinsider.us", "warfareinsider.cc"), ("grenzezank.com", "grenzezank.to"),
    ("meisterurian.io", "meisterurian.to"),
]


def names(domain: str, **kwargs: object) -> dict[str, str]:
    return {c.domain: c.via for c in lookalikes(domain, **kwargs)}  # type: ignore[arg-type]


@pytest.mark.parametrize("predecessor, replacement", REPLACEMENTS)
def test_real_2024_replacements_are_generated_from_their_predecessors(predecessor: str, replacement: str) -> None:
    found = names(predecessor, fuzzers=["tld-swap"])
    assert found[replacement] == "tld-swap"


def test_tld_swap_covers_every_icann_tld_including_pm() -> None:
    found = names("washingtonpost.pm", fuzzers=["tld-swap"])
    assert {"washingtonpost.com", "washingtonpost.so", "washingtonpost.cc", "washingtonpost.to",
            "washingtonpost.pw", "washingtonpost.ltd"} <= set(found)
    assert "washingtonpost.pm" not in found  # never the seed itself
    assert len(found) > 1400
    assert "washingtonpost.pm" in names("washingtonpost.com", fuzzers=["tld-swap"])


def test_candidates_carry_source_fuzzer_and_seed() -> None:
    cand = next(lookalikes("WWW.Artichoc.IO", fuzzers=["tld-swap"], tlds=["cc"]))
    assert (cand.domain, cand.source, cand.via, cand.seed) == ("artichoc.cc", "lookalike", "tld-swap", "artichoc.io")


def test_tld_list_restricts_the_swap_and_accepts_multi_label_suffixes() -> None:
    found = names("rrn.media", fuzzers=["tld-swap"], tlds=[".SO", "pw", "media", "co.uk"])
    assert found == {"rrn.so": "tld-swap", "rrn.pw": "tld-swap", "rrn.co.uk": "tld-swap"}


def test_multi_label_suffix_keeps_the_label_and_swaps_the_whole_suffix() -> None:
    found = names("bild.eu.com", fuzzers=["tld-swap", "omission"], tlds=["de", "pm"])
    assert {"bild.de", "bild.pm", "bid.eu.com", "bil.eu.com", "bld.eu.com", "ild.eu.com"} == set(found)
    uk = names("x-news.co.uk", fuzzers=["omission"])
    assert "xnews.co.uk" in uk and all(d.endswith(".co.uk") for d in uk)


def test_fuzzer_selection_only_runs_the_named_fuzzers_in_order() -> None:
    found = list(lookalikes("fox-news.in", fuzzers=["omission", "transposition"]))
    assert {c.via for c in found} == {"omission", "transposition"}
    assert found[0].via == "omission"
    assert "foxnews.in" in {c.domain for c in found}
    assert "ofx-news.in" in {c.domain for c in found}


def test_dnstwist_fuzzers_produce_their_typical_variants() -> None:
    found = names("spiegel.de", fuzzers=["addition", "repetition", "hyphenation", "vowel-swap", "homoglyph",
                                         "bitsquatting", "replacement", "insertion", "various"])
    assert found["spiegell.de"] in ("addition", "repetition")
    assert found["spie-gel.de"] == "hyphenation"
    assert found["spiagel.de"] == "vowel-swap"
    assert any(d.startswith("xn--") for d, via in found.items() if via == "homoglyph")
    assert "spiegelde.com" in found or "spiegel-de.com" in found


def test_results_are_unique_registrable_and_never_the_seed() -> None:
    out = [c.domain for c in lookalikes("lexomnium.com")]
    assert len(out) == len(set(out)) and "lexomnium.com" not in out
    assert all(registrable_domain(d) == d for d in out)


def test_subdomain_fuzzer_yields_the_name_that_would_be_registered() -> None:
    found = names("lemonde.fr", fuzzers=["subdomain"])
    assert "onde.fr" in found  # l.emonde.fr … lemo.nde.fr → the registrable part


def test_idn_seed_is_fuzzed_in_unicode_and_returned_as_punycode() -> None:
    found = names("bücher.de", fuzzers=["tld-swap", "omission"], tlds=["pm"])
    assert "xn--bcher-kva.pm" in found
    assert "bcher.de" in found and "xn--bher-0ra.de" in found  # "bücher" minus "ü", minus "c"
    assert all(d.isascii() for d in found)
    cyr = names("paypal.com", fuzzers=["cyrillic"])
    assert len(cyr) == 1 and next(iter(cyr)).startswith("xn--")


def test_unknown_fuzzer_is_an_error_before_anything_is_generated() -> None:
    with pytest.raises(UnknownFuzzer, match="frobnicate"):
        lookalikes("rrn.media", fuzzers=["tld-swap", "frobnicate"])


def test_bad_seed_is_an_error() -> None:
    with pytest.raises(InvalidDomain):
        lookalikes("not a domain")


def test_output_is_streamed_lazily() -> None:
    stream = lookalikes("holylandherald.com")
    first = [next(stream) for _ in range(3)]
    assert [c.via for c in first] == ["tld-swap"] * 3


def test_typo_labels_are_crossed_with_the_network_suffixes() -> None:
    """A typo replacement may be registered on another TLD the network uses (quil-courier.net for
    quill-courier.info): each typo label comes on the seed's suffix and on every typo_tlds suffix."""
    found = names("quill-courier.info", fuzzers=["omission"], typo_tlds=["net", "info", "co.uk"])
    for label in ("quil-courier", "qill-courier", "quillcourier"):
        assert {f"{label}.info", f"{label}.net", f"{label}.co.uk"} <= set(found)
    assert set(found.values()) == {"omission"}
    assert not any(n.endswith(".com") for n in found)  # not every TLD: only the ones asked for


def test_without_typo_tlds_typos_stay_on_the_seed_suffix() -> None:
    assert {n.split(".", 1)[1] for n in names("quill-courier.info", fuzzers=["omission", "addition"])} == {"info"}


def test_tld_swap_is_not_crossed_again_and_names_stay_unique() -> None:
    found = list(lookalikes("quill-courier.info", fuzzers=["tld-swap", "omission"], tlds=["net", "org"],
                            typo_tlds=["net", "org"]))
    assert len({c.domain for c in found}) == len(found)
    swaps = {c.domain for c in found if c.via == "tld-swap"}
    assert swaps == {"quill-courier.net", "quill-courier.org"}
    assert "quill-courier.info" not in {c.domain for c in found}


def test_network_suffixes_are_the_suffixes_the_network_uses() -> None:
    assert network_suffixes(["a.info", "B.NET", "c.co.uk", "d.info", "not a domain", "bild.eu.com"]) == (
        "co.uk", "eu.com", "info", "net")


def test_unicode_lookalikes_are_not_crossed_with_other_suffixes() -> None:
    found = names("holylandherald.com", fuzzers=["homoglyph", "omission"], typo_tlds=["net", "org"])
    assert {n.rsplit(".", 1)[1] for n, via in found.items() if via == "homoglyph"} == {"com"}
    assert "holylandheral.net" in found


def _dnstwist_reference(name: str, target: FuzzTarget) -> list[str]:
    """dnstwist's own Fuzzer.generate for one fuzzer, as detect.lookalike called it before it skipped
    idna for plain-ASCII names."""
    parts = target.split
    fuzzer = dnstwist.Fuzzer(parts.registrable, dictionary=list(target.dictionary), tld_dictionary=[])
    fuzzer.domain = idna.decode(parts.label)
    fuzzer.subdomain, fuzzer.tld = "", parts.suffix
    fuzzer.generate(fuzzers=[name])
    return sorted(str(p["domain"]) for p in fuzzer.permutations() if p["fuzzer"] == name)


@pytest.mark.parametrize("seed", ["holylandherald.com", "quill-courier.info", "bild.de", "ab-cd.net", "x1-2.pm",
                                  "xn--bcher-kva.de", "le-monde.eu.com", "ria.ru", "a.co.uk", "dnstwist-test.xn--p1ai"])
def test_each_dnstwist_fuzzer_gives_exactly_dnstwists_own_names(seed: str) -> None:
    target = FuzzTarget(split(registrable_domain(seed)), ("com",), ("news", "live", "x--y"))
    for name in DNSTWIST_FUZZERS:
        assert GENERATORS[name](target) == _dnstwist_reference(name, target), (seed, name)


@pytest.mark.parametrize("name", ["ab--cd.com", "xn--bcher-kva.de", "xn--zz.com", "-a.com", "a-.com", "A.com", "a..com",
                                  "a" * 63 + ".com", "a" * 64 + ".com", ".".join(["a" * 60] * 5), "bücher.de", "a_b.com",
                                  "a.com.", "1.2", "hоlу.com", "ҺоⅼуⅼаոԁҺегаⅼԁ.info", "bu\u0308cher.de",
                                  "\u0301abc.com", "שלום.com", "abcשלום.com", "مرحبا.com", "Bücher.de", "straße.de",
                                  "a\u200db.com", "l\u00b7l.cat", "a\u00b7b.cat", "ü" * 60 + ".com", "ü" * 20 + ".com",
                                  "a\u3002com", "a\uff0ecom", "a\U0001f600.com", "\u0378a.com", "ab--ü.com", "-ü.com",
                                  "ü-.com", "ü.ü", "ü..com", "xn--ü.com", "ü.xn--p1ai", "ü." + "a" * 250])
def test_the_ascii_shortcut_encodes_as_idna_does(name: str) -> None:
    try:
        expected = idna.encode(name).decode()
    except Exception:  # noqa: BLE001 - as dnstwist does
        expected = ""
    assert _idna_ascii(name) == expected


def _glyphs() -> set[str]:
    tables = [dnstwist.Fuzzer.glyphs_ascii, dnstwist.Fuzzer.glyphs_unicode, *dnstwist.Fuzzer.glyphs_idn_by_tld.values(),
              dnstwist.Fuzzer.latin_to_cyrillic]
    return {g for table in tables for values in table.values() for g in values}


def test_every_glyph_dnstwist_can_put_in_a_label_encodes_as_idna_does() -> None:
    glyphs = _glyphs()
    assert len(glyphs) > 100
    for g in sorted(glyphs):
        for name in (f"ab{g}cd.com", f"{g}abc.info", f"abc{g}.de", f"{g}{g}.pm", f"a-{g}-b.com"):
            try:
                expected = idna.encode(name).decode()
            except Exception:  # noqa: BLE001 - as dnstwist does
                expected = ""
            assert _idna_ascii(name) == expected, name
    # the point: idna is left out for nearly all of them
    shortcut = sum(_a_label(f"ab{g}cd") is not None for g in glyphs if not g.isascii())
    assert shortcut > 0.9 * sum(not g.isascii() for g in glyphs)
