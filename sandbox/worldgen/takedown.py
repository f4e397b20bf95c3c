"""The takedown: which seeds are lost and how (FBI seizure with banner, image banner or no A record;
registry/registrar hold; dead web server), which live seeds start redirecting, and the hub's links.

Styles follow the field notes: law-enforcement NS ns1/ns2.fbi.seized.gov, image-only banners, holds
with NXDOMAIN. RDAP `updated` of seized and suspended domains is the takedown moment T.
"""

from __future__ import annotations

import math
from typing import Any

from sandbox.worldgen.builder import Builder, iso
from sandbox.worldgen.network import Network, Seed

FBI_NS = ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"]
SEIZED_IPS = ("35.190.36.12", "198.41.96.10", "23.211.4.90")
LOCKS = ["client transfer prohibited", "server transfer prohibited", "server update prohibited",
         "server delete prohibited"]


def plan_takedown(b: Builder, net: Network) -> tuple[list[Seed], list[Seed]]:
    """Mark every seed's expected status and write the takedown-phase overrides.

    Returns (lost seeds, live seeds that redirect); the hub always stays active."""
    rng = b.rng
    others = [s for s in net.seeds if s is not net.hub]
    rng.shuffle(others)
    n_redirect = rng.randint(1, 2)
    floor = max(math.ceil(0.4 * len(net.seeds)), 10 - n_redirect)   # >= 40 % lost, >= 10 predecessors
    n_lost = min(len(others) - n_redirect, max(floor, round(len(others) * rng.uniform(0.45, 0.8))))
    lost, redirecting = others[:n_lost], others[n_lost:n_lost + n_redirect]
    for seed in net.seeds:
        b.status[seed.domain] = "active"
    for seed in lost:
        style = rng.choices(("seized", "suspended", "dead"), weights=(5, 4, 2))[0]
        b.status[seed.domain] = style
        if style == "seized":
            _seize(b, seed.domain)
        elif style == "suspended":
            hold = rng.choice((["client hold"], ["server hold"], ["server hold", "client transfer prohibited"]))
            b.override(seed.domain, resolves=False, rdap={"status": hold, "updated": iso(b.T)})
        else:
            b.override(seed.domain, web=False, **({"a": []} if rng.random() < 0.3 else {}))
    for seed in redirecting:
        b.status[seed.domain] = "redirecting"
    return lost, redirecting


def _seize(b: Builder, domain: str) -> None:
    rng = b.rng
    kind = rng.choices(("banner", "image", "no-a"), weights=(5, 3, 2))[0]
    changes: dict[str, Any] = {"ns": FBI_NS, "mx": [], "txt": [],
                               "rdap": {"status": LOCKS, "updated": iso(b.T), "nameservers": FBI_NS}}
    if kind == "no-a":
        changes.update(a=[], web=False)
    else:
        builtin = "seizure-banner" if kind == "banner" else "seizure-image"
        changes.update(a=[rng.choice(SEIZED_IPS)], web={"catch_all": {"builtin": builtin}})
    b.override(domain, **changes)


def redirect_to(b: Builder, seed: Seed, target: str) -> None:
    """A live network site that starts sending its visitors to its replacement."""
    status = b.rng.choice((301, 302))
    b.override(seed.domain, web={"pages": {"/": {"redirect": f"https://{target}/", "status": status}}})


def finish_hub(b: Builder, net: Network, before: list[tuple[str, str]], after: list[tuple[str, str]]) -> None:
    """The hub's partner list before the takedown and after it (new names appear there first)."""
    hub = net.hub
    doc = hub.doc.swapped(links=tuple(before))
    b.docs[hub.domain] = doc
    b.domains[hub.domain]["web"] = b.site(doc, hub.favicon)
    later = doc.swapped(links=tuple(after))
    b.override(hub.domain, web={"pages": b.site(later, hub.favicon)["pages"]})
