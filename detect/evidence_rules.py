"""Positive evidence: what ties a candidate to the network, one rule per line of evidence.

Each rule returns Findings: an Evidence plus the network domains it points at (used to choose the
predecessor). Weights are documented in docs/scoring.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from detect.evidence_kinds import (
    MIN_SUPPORT,
    SHARED_PREFIX,
    SUBSTANTIVE,
    Family,
    family_of,
    indicator_class,
    rarity,
    specificity,
)
from detect.findings import Finding, pair_strengths
from detect.model import Evidence, Indicator, Status
from detect.similarity import edit_distance, minhash_jaccard, tlsh_diff

if TYPE_CHECKING:
    from detect.scoring import Discovery, SiteProfile, StoreStats

# A candidate in these states serves nothing of its own: its page, host and certificate belong to
# law enforcement, a registry or a parking provider, so only its identity values and name count.
SERVING: frozenset[Status] = frozenset({Status.ACTIVE, Status.REDIRECTING, Status.UNKNOWN})

NEAR_COPY_JACCARD = 0.75
TEXT_UNRELATED = 0.1  # 3-word shingles of unrelated pages in one language overlap about this much
TEXT_COPIED = 0.5  # a copied template with new articles: nav, footer and some headlines in common
NEAR_COPY_TLSH = 30
TLSH_UNRELATED = 100  # HTML of one CMS alone brings unrelated sites this close


def lexical_relation(cand: str, net: str, lost: bool) -> tuple[str, float, str] | None:
    if cand == net:
        return "same_label", (0.55 if lost else 0.4), "same label on another suffix"
    shorter = min(len(cand), len(net))
    d = edit_distance(cand, net)
    factor = 1.0 if lost else 0.8
    if d == 1 and shorter >= 5:
        return "typo_distance", 0.35 * factor, "one edit away"
    if d == 2 and shorter >= 8:
        return "typo_distance", 0.25 * factor, "two edits away"
    if shorter >= 5 and (net in cand or cand in net):
        return "contains_label", 0.2 * factor, "one label contains the other"
    return None


def lexical(candidate: SiteProfile, network: Sequence[SiteProfile]) -> list[Finding]:
    """Same label on a new suffix (strongest toward a lost domain), small typo distance, containment."""
    out: list[Finding] = []
    for net in network:
        if not candidate.label or not net.label:
            continue
        hit = lexical_relation(candidate.label, net.label, net.status.lost)
        if hit is None:
            continue
        kind, weight, how = hit
        out.append(Finding(Evidence(kind, net.domain, round(weight, 4),
                                    f"{how} as {net.domain} ({net.status})"), frozenset({net.domain})))
    return out


def _candidate_values(candidate: SiteProfile) -> set[Indicator]:
    values = {i for i in candidate.indicators if i.value}
    if candidate.registrar:
        values.add(Indicator("registrar", candidate.registrar))
    if candidate.status not in SERVING or candidate.parked:
        values = {i for i in values
                  if indicator_class(i.kind).family in (Family.IDENTITY, Family.REGISTRATION)}
    return values


def shared_values(candidate: SiteProfile, network: Sequence[SiteProfile], stats: StoreStats,
                  commodity_share: int) -> list[Finding]:
    """Every indicator value the candidate shares with any network domain, weighted by rarity:
    base(kind) × (1 − log(1+count)/log(1+N)) × √(network share of its other carriers)."""
    carriers: dict[Indicator, set[str]] = {}
    for net in network:
        values = set(net.indicators)
        if net.registrar:
            values.add(Indicator("registrar", net.registrar))
        for ind in values:
            carriers.setdefault(ind, set()).add(net.domain)
    out: list[Finding] = []
    for ind in sorted(_candidate_values(candidate), key=lambda i: (i.kind, i.value)):
        nets = carriers.get(ind)
        if not nets:
            continue
        count = max(stats.share_counts.get(ind, 0), len(nets) + 1)
        r = rarity(count, stats.total_domains, commodity_share)
        s = specificity(len(nets), count - 1)
        weight = round(indicator_class(ind.kind).base * r * math.sqrt(s), 4)
        names = sorted(nets)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        note = " — commodity, weight 0" if count > commodity_share else ""
        detail = f"{ind.kind} {ind.value} shared with {shown}; {count} store domains carry it{note}"
        out.append(Finding(Evidence(SHARED_PREFIX + ind.kind, ind.value, weight, detail), frozenset(nets)))
    return out


def content(candidate: SiteProfile, network: Sequence[SiteProfile]) -> list[Finding]:
    """Text (MinHash Jaccard) and HTML (TLSH distance) similarity to each network domain."""
    if candidate.status not in SERVING or candidate.parked:
        return []
    out: list[Finding] = []
    for net in network:
        j = minhash_jaccard(candidate.minhash, net.minhash)
        if j is not None and j > TEXT_UNRELATED:
            w = 0.55 * min(1.0, (j - TEXT_UNRELATED) / (TEXT_COPIED - TEXT_UNRELATED))
            out.append(Finding(Evidence("text_similarity", f"{j:.2f}", round(w, 4),
                                        f"page text Jaccard {j:.2f} with {net.domain}"),
                               frozenset({net.domain}), near_copy=j >= NEAR_COPY_JACCARD))
        d = tlsh_diff(candidate.tlsh, net.tlsh)
        if d is not None and d < TLSH_UNRELATED:
            w = 0.45 * min(1.0, (TLSH_UNRELATED - d) / (TLSH_UNRELATED - NEAR_COPY_TLSH))
            # One template filled with other writing is the same hands, not a copy of that site.
            copy = d <= NEAR_COPY_TLSH and (j is None or j >= NEAR_COPY_JACCARD)
            out.append(Finding(Evidence("html_similarity", str(d), round(w, 4),
                                        f"HTML TLSH distance {d} to {net.domain}"),
                               frozenset({net.domain}), near_copy=copy))
    return out


def linkage(candidate: SiteProfile, network: Sequence[SiteProfile], discovery: Discovery) -> list[Finding]:
    """Network sites that link to the candidate (outlinks) or send their visitors to it (redirects)."""
    names = {p.domain for p in network}
    linking = {p.domain for p in network if candidate.domain in p.outlinks}
    redirecting = {p.domain for p in network if p.redirects_to == candidate.domain}
    if discovery.source == "outlink" and discovery.via in names:
        linking.add(discovery.via)
    if discovery.source == "redirect" and discovery.via in names:
        redirecting.add(discovery.via)
    out: list[Finding] = []
    if redirecting:
        out.append(Finding(Evidence("redirected_from_network", ",".join(sorted(redirecting)), 0.55,
                                    f"{', '.join(sorted(redirecting))} redirects to it"),
                           frozenset(redirecting)))
    if linking:
        w = 0.45 if len(linking) == 1 else 0.55
        shown = ", ".join(sorted(linking)[:3]) + (" …" if len(linking) > 3 else "")
        out.append(Finding(Evidence("linked_from_network", ",".join(sorted(linking)), w,
                                    f"linked from {len(linking)} network site(s): {shown}"),
                           frozenset(linking)))
    return out


def _tied_lost(findings: Iterable[Finding], lost_in_window: set[str]) -> set[str]:
    """The lost domains (among those lost just before the registration) the candidate is tied to by
    name or substance with at least MIN_SUPPORT of strength. Every such domain is credited (not only
    the closest) so that adding evidence can never take timing evidence away."""
    ties = [f for f in findings
            if f.evidence.weight > 0 and (family_of(f.evidence.kind)[0] is Family.LEXICAL
                                          or family_of(f.evidence.kind)[0] in SUBSTANTIVE)]
    return {d for d, s in pair_strengths(ties).items() if d in lost_in_window and s >= MIN_SUPPORT}


def timing(candidate: SiteProfile, network: Sequence[SiteProfile], findings: Sequence[Finding],
           window_hours: float) -> list[Finding]:
    """Registered within the takedown window after a network loss; registered in a network burst.

    A registration right after a takedown is strong only toward a lost domain the candidate already
    relates to by name or substance: thousands of unrelated names are registered every hour.
    """
    reg = candidate.registered
    if reg is None:
        return []
    in_window: dict[str, tuple[SiteProfile, float]] = {}
    for net in network:
        if not net.status.lost or net.status_since is None:
            continue
        hours = (reg - net.status_since).total_seconds() / 3600
        if -24.0 <= hours <= window_hours:  # the store may notice a loss up to a probe late
            in_window[net.domain] = (net, hours)
    related = _tied_lost(findings, set(in_window))
    out: list[Finding] = []
    unspecific: list[str] = []
    for net, hours in in_window.values():
        if net.domain in related:
            w = 0.45 * (1 - 0.5 * max(hours, 0.0) / window_hours)
            out.append(Finding(Evidence("registered_after_takedown", net.domain, round(w, 4),
                                        f"registered {hours:+.0f} h after {net.domain} turned {net.status}"),
                               frozenset({net.domain})))
        else:
            unspecific.append(net.domain)
    if unspecific:
        out.append(Finding(Evidence("registered_after_network_loss", str(len(unspecific)), 0.1,
                                    f"registered within {window_hours:.0f} h of {len(unspecific)} "
                                    "network loss(es) it shows no other tie to"),
                           frozenset(unspecific)))
    mates = sorted(p.domain for p in network if p.registered is not None and p.registered.date() == reg.date())
    if mates:
        w = min(0.3, 0.15 * len(mates))
        out.append(Finding(Evidence("registration_burst", reg.date().isoformat(), w,
                                    f"registered the same day as {len(mates)} network domain(s): "
                                    + ", ".join(mates[:3])), frozenset(mates)))
    return out


def substantive_tie(findings: Iterable[Finding]) -> bool:
    """Whether any positive evidence is substantive (identity, content, infrastructure, linkage)."""
    return any(f.evidence.weight > 0 and family_of(f.evidence.kind)[0] in SUBSTANTIVE for f in findings)

