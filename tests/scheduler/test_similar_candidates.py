"""A sweep's similar-pages source (scheduler/hunt_sources.py ``similar_candidates``): each network site's
best matches among pages *outside* the network. Found at 10⁵ domains (bench/RESULTS.md): the network's
own sites were ranked with the others and dropped after, so a network whose pages are near-copies of each
other got no similar candidates at all, and every lookup gathered and ranked the whole network."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest

from detect.minhash import minhash32
from detect.model import Status
from detect.scoring_inputs import SiteProfile
from scheduler.hunt_sources import SIMILAR_PER_SITE, similar_candidates
from scheduler.page_index import PageIndex


def _minhash(words: list[int]) -> bytes:
    return minhash32(words).serialize()


def _site(name: str, minhash: bytes | None) -> SiteProfile:
    return SiteProfile(domain=name, label=name.split(".")[0], status=Status.ACTIVE, status_since=None,
                       in_network=True, indicators=frozenset(), minhash=minhash, tlsh=None, registered=None,
                       registrar="", outlinks=frozenset(), redirects_to=None, parked=False, title="")


def _edit(rng: random.Random, words: list[int], keep: float) -> list[int]:
    return [w if rng.random() < keep else rng.randrange(2**32) for w in words]


@pytest.mark.fast
@pytest.mark.parametrize("seed", range(3))
def test_a_network_of_near_copies_still_finds_the_outside_copy_from_every_site(seed: int) -> None:
    rng = random.Random(seed)
    base = [rng.randrange(2**32) for _ in range(300)]
    size = SIMILAR_PER_SITE + rng.randrange(5, 30)  # more look-alike sites than a lookup returns
    network = [_site(f"net{i}.example", _minhash(_edit(rng, base, 0.98))) for i in range(size)]
    network.append(_site("textless.example", None))  # no page text: asks nothing
    pages = PageIndex()
    for p in network:
        if p.minhash is not None:
            pages.add(p.domain, p.minhash)
    pages.add("clone.example", _minhash(_edit(rng, base, 0.8)))
    for i in range(50):
        pages.add(f"unrelated{i}.example", _minhash([rng.randrange(2**32) for _ in range(300)]))
    parts: Any = SimpleNamespace(pages=pages)

    found = similar_candidates(parts, network)
    assert [(c.domain, c.seed) for c in found] == [("clone.example", "net0.example")]  # once, by the first site
    assert all(c.source == "similar" and c.via.startswith(f"{c.seed} (text Jaccard 0.") for c in found)
    # every site finds it (each alone), and two templates' outside copies are named by their own sites
    names = {p.domain for p in network}
    each = pages.query_each([p.minhash for p in network[:-1] if p.minhash], top=SIMILAR_PER_SITE, exclude=names)
    assert [[key for key, _ in hits] for hits in each] == [["clone.example"]] * (len(network) - 1)
    other = [rng.randrange(2**32) for _ in range(300)]
    pages.add("other-net.example", _minhash(_edit(rng, other, 0.98)))
    pages.add("other-clone.example", _minhash(_edit(rng, other, 0.8)))
    both = [*network, _site("other-net.example", _minhash(_edit(rng, other, 0.98)))]
    assert sorted((c.domain, c.seed) for c in similar_candidates(parts, both)) == [
        ("clone.example", "net0.example"), ("other-clone.example", "other-net.example")]
