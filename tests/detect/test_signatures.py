"""Signature data: parsed strictly (detect), loaded from the bundled files (the shell), caveats kept as data."""

from __future__ import annotations

import pytest

from detect.signatures import SignatureError, parse_signatures
from hydrawatch.bundled import load_signatures


def test_bundled_signatures_load_with_their_kinds() -> None:
    sig = load_signatures()
    fbi = sig.nameserver("NS1.FBI.SEIZED.GOV.")
    assert fbi is not None and fbi.kind == "seizure" and fbi.agency == "FBI"
    cloudflare = sig.nameserver("jocelyn.ns.cloudflare.com")
    assert cloudflare is not None and cloudflare.kind == "seizure_weak"
    assert len([ns for ns in sig.nameservers if ns.kind == "sinkhole"]) == 59
    assert {p.strength for p in sig.phrases_of("keyword")} == {"strong", "weak"}
    assert [p.agency.startswith("CUII") for p in sig.phrases_of("block_notice")] == [True]
    sedo = sig.parking("ns1.sedoparking.com")
    assert sedo is not None and sedo.provider == "Sedo"
    assert sig.parking("sedoparking.com.evil.example") is None
    assert "this domain is for sale" in {p.text for p in sig.parking_phrases}
    assert "account suspended" in {p.text for p in sig.suspension_phrases}
    assert all(p.text == p.text.lower() and p.source for p in (*sig.parking_phrases, *sig.suspension_phrases))


def test_parse_merges_documents() -> None:
    sig = parse_signatures([
        '[[nameserver]]\npattern = "NS1.X.GOV."\nkind = "seizure"\nagency = "X"\nsource = "s"\n',
        '[[parking_nameserver]]\npattern = "ns.park.example"\nprovider = "P"\nsource = "s"\n',
        '[[suspension_phrase]]\ntext = "Gone Fishing"\nsource = "s"\n',
    ])
    assert [p.text for p in sig.suspension_phrases] == ["gone fishing"]
    assert sig.nameserver("ns1.x.gov") is not None and sig.parking("ns.park.example") is not None
    assert sig.parking("a.ns.park.example") is None  # exact by default


@pytest.mark.parametrize("text, message", [
    ('[[nameserver]]\npattern = "a"\nkind = "maybe"\nsource = "s"\n', "'kind' = 'maybe'"),
    ('[[banner_phrase]]\ntext = "x"\nkind = "banner"\nsource = "s"\n', "'strength'"),
    ('[[nameserver]]\npattern = "a"\nkind = "seizure"\nmatch = "regex"\nsource = "s"\n', "only match"),
    ("nameserver = 3\n", "array of tables"),
    ("[[nameserver\n", "not valid TOML"),
])
def test_malformed_signatures_are_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(SignatureError, match="bad.toml") as err:
        parse_signatures([("bad.toml", text)])
    assert message in str(err.value)
