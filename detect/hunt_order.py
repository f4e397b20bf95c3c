"""Which resolving candidates a hunt observes (crawls, RDAP, scores) now, and which wait for the next sweep.

A hunt may find more live names than it can crawl. Some must never wait: the lookalikes of a domain just
lost (its replacement is most likely among them, and the takedown window is short) and the sites a
network site redirects or links to. After them come candidates an earlier hunt deferred (so a backlog
drains instead of being pushed out every time), then the rest by source priority.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from detect.model import Candidate

SOURCE_PRIORITY: dict[str, int] = {"redirect": 0, "outlink": 1, "similar": 1, "lookalike-tld": 2, "ct": 3,
                                   "nrd": 4, "zone": 4, "pdns": 4, "lookalike": 5}
"""Lower goes first. ``lookalike-tld`` is a lookalike made by ``tld-swap``; unknown sources go last."""

ALWAYS_OBSERVED: frozenset[str] = frozenset({"redirect", "outlink"})
"""Sources whose candidates are observed whatever the cap: a network site pointed at them."""


def priority(c: Candidate) -> int:
    key = "lookalike-tld" if c.source == "lookalike" and c.via == "tld-swap" else c.source
    return SOURCE_PRIORITY.get(key, 9)


def better(a: Candidate, b: Candidate) -> Candidate:
    """Of two discoveries of one name, the one with the higher priority (``a`` on a tie)."""
    return b if priority(b) < priority(a) else a


def must_observe(c: Candidate, lost_seeds: Collection[str]) -> bool:
    """A lookalike of a just-lost domain, or a redirect/outlink target: never pushed out by a cap."""
    return (c.source == "lookalike" and c.seed in lost_seeds) or c.source in ALWAYS_OBSERVED


@dataclass(frozen=True)
class ObservationPlan:
    observe: tuple[Candidate, ...]
    deferred: tuple[Candidate, ...]


def plan_observation(candidates: Iterable[Candidate], limit: int, *, lost_seeds: Collection[str] = (),
                     deferred_before: Collection[str] = ()) -> ObservationPlan:
    """Order and cap: every must-observe candidate (even past ``limit``), then names deferred by an
    earlier hunt, then the rest by priority; the others up to ``limit`` in all, the remainder deferred.
    Within a group: priority, then name (a stable, reproducible order)."""

    def key(c: Candidate) -> tuple[int, int, str]:
        group = 0 if must_observe(c, lost_seeds) else 1 if c.domain in deferred_before else 2
        return group, priority(c), c.domain

    ordered = sorted(candidates, key=key)
    must = [c for c in ordered if must_observe(c, lost_seeds)]
    rest = [c for c in ordered if not must_observe(c, lost_seeds)]
    room = max(0, limit - len(must))
    return ObservationPlan(observe=(*must, *rest[:room]), deferred=tuple(rest[room:]))
