"""A sweep's hub links and redirect targets (scheduler/hunt_sources.py ``link_candidates``): the skip list
(watched domains, [brands] legitimate) is reduced to registrable domains once per sweep, not once per
network site (quadratic in the watchlist: minutes at 10⁴ domains, bench/coordinator.py), and the
candidates are exactly those of reading each site's links against the list as given."""

from __future__ import annotations

import random

import pytest

from detect import discovery
from detect.model import Candidate, Status
from detect.scoring_inputs import SiteProfile
from scheduler.hunt_sources import link_candidates


def _site(name: str, status: Status, outlinks: set[str], redirect: str | None) -> SiteProfile:
    return SiteProfile(domain=name, label=name.split(".")[0], status=status, status_since=None, in_network=True,
                       indicators=frozenset(), minhash=None, tlsh=None, registered=None, registrar="",
                       outlinks=frozenset(outlinks), redirects_to=redirect, parked=False, title="")


def _per_site(network: list[SiteProfile], legit: set[str]) -> list[Candidate]:
    """The reading before: each site's links against ``legit`` as given."""
    known = {p.domain for p in network}
    out: list[Candidate] = []
    for p in network:
        if p.status.lost:
            continue
        out.extend(discovery.outlink_candidates(p.domain, sorted(p.outlinks), known, legit))
        if p.redirects_to:
            out.extend(discovery.redirect_candidates(p.domain, p.redirects_to, known, legit))
    return out


@pytest.mark.fast
@pytest.mark.parametrize("seed", range(5))
def test_the_links_found_are_those_of_reading_each_site_against_the_list(seed: int) -> None:
    rng = random.Random(seed)
    pool = [f"hub{i}.com" for i in range(30)] + [f"www.hub{i}.com" for i in range(5)] + ["youtube.com",
            "https://news.example.org/a", "bad..name", "site3.net"]
    network = [_site(f"site{i}.net", rng.choice([Status.ACTIVE, Status.SEIZED, Status.ACTIVE]),
                     set(rng.sample(pool, 6)), rng.choice([None, "hub3.com", "site4.net", "https://www.hub9.com/x"]))
               for i in range(20)]
    legit = {rng.choice(pool) for _ in range(8)} | {"www.hub1.com", "https://hub2.com/path", "site5.net"}
    got = link_candidates(network, legit)
    assert got == _per_site(network, legit)
    assert got  # the test reads links at all
