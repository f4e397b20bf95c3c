from __future__ import annotations

import pytest

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
