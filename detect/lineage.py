"""Lineage decisions: which network domain a clone's edge comes from, and what the edge means.

``replacement``: the clone stands in for a lost (seized, suspended, dead) network domain;
``mirror``: a live near-copy of a live network site; ``network``: same hands, no succession.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from detect.findings import Finding, pair_strengths
from detect.model import Relation

if TYPE_CHECKING:
    from detect.scoring_inputs import SiteProfile

# Evidence that a candidate succeeds one particular domain: its name, or that domain sending visitors to it.
SUCCESSION_KINDS: frozenset[str] = frozenset({"same_label", "typo_distance", "contains_label", "redirected_from_network"})
# A registration right after a loss is credited to every lost domain the candidate is tied to whose
# takedown it follows (detect.evidence_rules.timing), and a takedown is dated only where the registry says
# when (not every TLD's RDAP or WHOIS does): it tells those domains apart from older losses, never
# one of them from another. It breaks ties; it does not outweigh the ties that name one domain.
TIMING_KINDS: frozenset[str] = frozenset({"registered_after_takedown"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rank(domain: str, strengths: dict[str, float], by_name: dict[str, SiteProfile],
          timed: frozenset[str]) -> tuple[float, bool, datetime, str]:
    since = by_name[domain].status_since or _EPOCH
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    # strongest first; then registered right after its takedown; then the most recent loss (a successor
    # follows the latest takedown); then name
    return (strengths.get(domain, 0.0), domain in timed, since, domain)


def choose(candidate: SiteProfile, network: Sequence[SiteProfile],
           findings: Sequence[Finding]) -> tuple[Relation, str] | None:
    """The relation and the predecessor (a network domain) for a candidate judged a clone."""
    by_name = {p.domain: p for p in network}
    # how strongly each network domain is tied to the candidate, timing apart (see TIMING_KINDS)
    strengths = {d: s for d, s in pair_strengths(f for f in findings if f.evidence.kind not in TIMING_KINDS).items()
                 if d in by_name}
    timed = frozenset(d for f in findings if f.evidence.kind in TIMING_KINDS and f.evidence.weight > 0
                      for d in f.targets if d in by_name)
    if not strengths:
        return None
    # A network site that sends its visitors to the candidate has moved there: it is the predecessor,
    # and a redirect is a move, whether the old name is lost or kept redirecting.
    movers = {d for f in findings if f.evidence.kind == "redirected_from_network" and f.evidence.weight > 0
              for d in f.targets if d in by_name}
    if movers:
        return Relation.REPLACEMENT, max(movers, key=lambda d: _rank(d, strengths, by_name, timed))
    lost = {d for d in strengths if by_name[d].status.lost}
    succession = {d for f in findings if f.evidence.kind in SUCCESSION_KINDS and f.evidence.weight > 0
                  for d in f.targets if d in lost}
    if succession:
        return Relation.REPLACEMENT, max(succession, key=lambda d: _rank(d, strengths, by_name, timed))
    # Without a tie of succession the strongest pair decides: a clone most like a lost site stands in
    # for it, even when it shares a template with a live one.
    best = max(strengths, key=lambda d: _rank(d, strengths, by_name, timed))
    if best in lost:
        return Relation.REPLACEMENT, best
    copies = {d for f in findings if f.near_copy for d in f.targets
              if d in by_name and not by_name[d].status.lost}
    if copies:
        return Relation.MIRROR, best if best in copies else max(copies, key=lambda d: _rank(d, strengths, by_name, timed))
    return Relation.NETWORK, best
