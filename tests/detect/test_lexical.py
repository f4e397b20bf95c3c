"""NRD lexical matching: same label, containment, homoglyphs, and a length-scaled edit distance."""

from __future__ import annotations

import random

import pytest

from detect.lexical import LabelIndex, max_distance, nrd_lexical_match
from detect.similarity import osa_distance

NETWORK = ["artichoc", "rrn", "holylandherald", "washingtonpost", "spiegel", "fox-news", "lexomnium", "bild"]


@pytest.fixture(scope="module")
def index() -> LabelIndex:
    return LabelIndex(NETWORK)


@pytest.mark.parametrize("entry, label", [
    ("artichoc.cc", "artichoc"),            # same label, other suffix
    ("RRN.SO", "rrn"),                      # short labels still match exactly
    ("bild.eu.com", "bild"),
    ("spiegel-news24.xyz", "spiegel"),      # contains a label of >= 5 chars
    ("thewashingtonpost.today", "washingtonpost"),
    ("washingt0npost.com", "washingtonpost"),  # homoglyph skeleton
    ("xn--rtichoc-gwa.net", "artichoc"),   # "ártichoc": Unicode homoglyph
    ("xn--rtichoc-1fg.net", "artichoc"),   # Cyrillic "а"
    ("spiegl.de", "spiegel"),               # one deletion
    ("spigeel.de", "spiegel"),              # transposition
    ("lexomnuim.pw", "lexomnium"),         # transposition, length 9 → one edit allowed
    ("holylanhreald.com", "holylandherald"),  # two edits on a long label
    ("hollylandherold.net", "holylandherald"),
    ("fox-newz.top", "fox-news"),
])
def test_close_entries_match_their_network_label(index: LabelIndex, entry: str, label: str) -> None:
    assert index.match(entry) == label


@pytest.mark.parametrize("entry", [
    "rrm.so",          # one edit on a 3-letter label: far too common to mean anything
    "bilt.de",         # 4 letters: exact or homoglyph only
    "spagelo.de",      # two edits on a 7-letter label
    "lexomniam2.com",  # two edits on a 9-letter label
    "holy.com", "weather.com", "", "# comment", "artic.io",
])
def test_unrelated_or_too_distant_entries_do_not_match(index: LabelIndex, entry: str) -> None:
    assert index.match(entry) is None


def test_distance_allowance_scales_with_length() -> None:
    assert [max_distance("x" * n) for n in (3, 4, 5, 10, 11, 20)] == [0, 0, 1, 1, 2, 2]


def _reference_osa(a: str, b: str) -> int:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_the_bounded_distance_equals_the_full_table_on_every_short_pair() -> None:
    """Every pair of words up to four letters over a three-letter alphabet (swaps, repeats, shared
    prefixes and suffixes): the banded, stripped, early-stopping distance is the full OSA table's, cut
    at limit + 1, for the limits scoring and the NRD screen use."""
    words = [""]
    for _ in range(4):
        words += ["".join(w) + c for w in words if len(w) == max(map(len, words)) for c in "abc"]
    words = sorted(set(words))
    assert len(words) == 121
    for a in words:
        for b in words:
            full = _reference_osa(a, b)
            for limit in (1, 2, 3):
                assert osa_distance(a, b, limit) == min(full, limit + 1), (a, b, limit)


def _edit(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word))
    op = rng.choice("sidt")
    ch = rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-")
    if op == "s":
        return word[:i] + ch + word[i + 1:]
    if op == "i":
        return word[:i] + ch + word[i:]
    if op == "d":
        return word[:i] + word[i + 1:]
    return word[:i] + word[i + 1:i + 2] + word[i] + word[i + 2:] if i + 1 < len(word) else word


def test_the_fast_filters_never_miss_a_pair_within_the_allowed_distance() -> None:
    """Property: whatever two random edits do to a label, a result within k(label) is found."""
    rng = random.Random(7)
    labels = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 16)))
              for _ in range(60)]
    index = LabelIndex(labels)
    checked = 0
    for _ in range(4000):
        label = rng.choice(labels)
        variant = _edit(rng, _edit(rng, label)) if rng.random() < 0.7 else _edit(rng, label)
        dist = _reference_osa(variant, label)
        assert osa_distance(variant, label, 2) == min(dist, 3)
        if 0 < dist <= max_distance(label) and variant:
            checked += 1
            found = index.match(variant)
            assert found is not None, (variant, label)
            assert _reference_osa(variant, found) <= max_distance(found) or found in variant
    assert checked > 1000


def test_plain_label_lists_work_for_single_lookups() -> None:
    assert nrd_lexical_match("artichoc.cc", ["artichoc.io", "rrn.media"]) == "artichoc"
    assert nrd_lexical_match("other.cc", ["artichoc.io"]) is None
