from __future__ import annotations

from collections.abc import Callable

import pytest

from detect import lookalike, names
from detect.names import InvalidDomain, icann_tlds, registrable_domain


@pytest.mark.parametrize("text, expected", [
    ("https://WWW.Spiegel.ltd:443/x?y", "spiegel.ltd"),
    ("spiegel[.]fun", "spiegel.fun"),
    ("a.b.co.uk", "b.co.uk"),
    ("bild.eu.com", "bild.eu.com"),  # private-section suffix: its own registrable domain
    ("bücher.de", "xn--bcher-kva.de"),
    ("washingtonpost.pm.", "washingtonpost.pm"),
])
def test_names_are_normalised_to_registrable_domains(text: str, expected: str) -> None:
    assert registrable_domain(text) == expected


@pytest.mark.parametrize("text", ["", "co.uk", "localhost", "1.2.3.4", "a b.com", "-x.com", "x" * 64 + ".com"])
def test_non_registrable_names_are_rejected_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidDomain):
        registrable_domain(text)


def test_icann_tlds_come_from_the_bundled_list_and_include_pm() -> None:
    tlds = icann_tlds()
    assert len(tlds) > 1000 and {"pm", "so", "pw", "cc", "to", "ltd", "com"} <= set(tlds)
    assert "eu.com" not in tlds


def _outcome(fn: Callable[[str], object], text: str) -> object:
    try:
        return fn(text)
    except InvalidDomain as exc:
        return ("InvalidDomain", str(exc))


def _corpus() -> list[str]:
    """Raw generator output (before any normalisation) for seeds on suffixes of every shape the suffix
    list has: with many private rules below (com), multi-label (co.uk), private (eu.com), IDN (рф),
    under a wildcard (ck, kawasaki.jp), plus rule labels themselves and hostile spellings."""
    tlds = names.icann_tlds()
    out: list[str] = []
    for seed in ("holylandherald.com", "bild.co.uk", "spiegel.eu.com", "xn--80ak6aa92e.xn--p1ai", "a.news.ck",
                 "quill-courier.info", "aftenposten.no"):
        target = lookalike.FuzzTarget(names.split(names.registrable_domain(seed)), tlds)
        for fuzzer in lookalike.GENERATORS.values():
            out.extend(fuzzer(target))
    trie = names.extractor()._get_tld_extractor().tlds_incl_private_trie
    for tld in ("com", "jp", "uk", "ck", "io", "pm"):
        below = sorted(trie.matches[tld].matches)
        out += [f"{label}.{tld}" for label in below] + [f"a.{label}.{tld}" for label in below]
    out += ["www.ck", "a.www.ck", "a.!www.ck", "a.*.ck", "city.kawasaki.jp", "x.city.kawasaki.jp",
            "xn--blogspot.com", "xn--asky-ira.no", "a.xn--asky-ira.no", "xn--zz.no", "xn--w4r85el8fhu5dnra.hk", "xn--ggle-55da.com", "xn--zz.com", "xn--80ak6aa92e.com", "blogspot.xn--p1ai",
            "A.pm", "a.PM", "a.pm.", ".a.pm", "a..pm", "-a.pm", "a-.pm", "a_b.pm", "1.2.3.4", "123.pm", "a.123",
            "http://a.pm/x", "a.pm:443", "a.pm/x", "user@a.pm", " a.pm", "a.pm ", "a[.]pm", "a.pm\n", "a\n.pm", "a.p\nm", "ä.pm",
            "a.xn--p1ai", "a.xn--zz", "a." + "b" * 300, "com", "pm", "", ".", "a", "x" * 64 + ".pm"]
    return out


def test_the_fast_split_agrees_with_the_suffix_list_walk_on_every_name() -> None:
    corpus = _corpus()
    assert len(corpus) > 25_000
    for text in corpus:
        assert _outcome(names.registrable_domain, text) == _outcome(names._registrable_slow, text), text
        expected = names.extractor()(text)
        assert names.split(text) == names.Split(expected.subdomain, expected.domain, expected.suffix), text
    fast = sum(names._fast_split(text) is not None for text in corpus)
    assert fast > 0.9 * len(corpus)  # the point: nearly every lookalike skips the walk
