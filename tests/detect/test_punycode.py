"""detect.punycode against the standard library's codec."""

from __future__ import annotations

import random

import dnstwist  # type: ignore[import-untyped]
import pytest

from detect import punycode


@pytest.mark.parametrize("label", ["", "abc", "bücher", "ü", "üü", "münchen-ost", "ҺоⅼуⅼаոԁҺегаⅼԁ", "日本語", "ab-ü-",
                                   "\U0001f600x", "ÀÁÂ", "Bücher", "-", "a" * 63 + "é", "é" * 200, "\u0080\uffff\U0010ffff"])
def test_the_encoder_gives_the_codecs_output(label: str) -> None:
    assert punycode.encode(label) == label.encode("punycode").decode("ascii")


def test_random_labels_of_lookalike_alphabets_encode_as_the_codec_does() -> None:
    tables = [dnstwist.Fuzzer.glyphs_unicode, *dnstwist.Fuzzer.glyphs_idn_by_tld.values(), dnstwist.Fuzzer.latin_to_cyrillic]
    alphabet = sorted({g for table in tables for values in table.values() for g in values} | set("abcxyz019-"))
    rng = random.Random(3492)
    for _ in range(5000):
        label = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        assert punycode.encode(label) == label.encode("punycode").decode("ascii"), label
    for _ in range(500):
        label = "".join(chr(rng.randint(0x20, 0x2FFFF)) for _ in range(rng.randint(1, 12)))
        if not any(0xD800 <= ord(c) <= 0xDFFF for c in label):
            assert punycode.encode(label) == label.encode("punycode").decode("ascii"), label
