"""Positive evidence: what ties a candidate to the network, one rule per line of evidence.

Each rule returns Findings: an Evidence plus the network domains it points at (used to choose the
predecessor). Weights are documented in docs/scoring.md.
"""

from __future__ import annotations

import bisect
import ipaddress
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from detect.commodity import commodity_reason
from detect.discovery import label_keywords
from detect.evidence_kinds import (
    SHARED_PREFIX,
    SUBSTANTIVE,
    Family,
    crowd_factor,
    family_of,
    family_strengths,
    indicator_class,
    rarity,
    specificity,
    supports,
)
from detect.findings import Finding, pair_strengths
from detect.model import Evidence, Indicator, Status
from detect.similarity import TextCrowd, minhash_jaccard, minhash_overlap, osa_distance, tlsh_diff

if TYPE_CHECKING:
    from detect.scoring_inputs import Discovery, SiteProfile, StoreStats

# A candidate in these states serves nothing of its own: its page, host and certificate belong to
# law enforcement, a registry or a parking provider, so only its identity values and name count.
SERVING: frozenset[Status] = frozenset({Status.ACTIVE, Status.REDIRECTING, Status.UNKNOWN})

NEAR_COPY_JACCARD = 0.75
TEXT_UNRELATED = 0.1  # 3-word shingles of unrelated pages in one language overlap about this much
TEXT_COPIED = 0.5  # a copied template with new articles: nav, footer and some headlines in common
NEAR_COPY_TLSH = 30
# A seizure reaches resolvers with the TTL of the parent zone's NS records (an hour or two for most
# ccTLDs and new gTLDs), so the store's last sight of a site "still serving" may be up to that late.
TAKEDOWN_SLACK_HOURS = 2.0
# The registry's record of a seized or held domain changes first; resolvers that cached the old delegation
# keep reaching the site for up to the parent zone's NS TTL (172,800 s for .com and .net). A "last changed"
# date up to this long before the store last saw the site serving still dates its takedown.
REGISTRY_LEAD_HOURS = 48.0
TLSH_UNRELATED = 100  # HTML of one CMS alone brings unrelated sites this close


def lexical_relation(cand: str, net: str, lost: bool) -> tuple[str, float, str] | None:
    if cand == net:
        return "same_label", (0.55 if lost else 0.4), "same label on another suffix"
    shorter = min(len(cand), len(net))
    d = osa_distance(cand, net, 2)  # only one and two edits count: past two, 3
    factor = 1.0 if lost else 0.8
    if d == 1 and shorter >= 5:
        return "typo_distance", 0.35 * factor, "one edit away"
    if d == 2 and shorter >= 8:
        return "typo_distance", 0.25 * factor, "two edits away"
    if shorter >= 5 and (net in cand or cand in net):
        return "contains_label", 0.2 * factor, "one label contains the other"
    core = next((k for k in label_keywords(net)[1:] if "-" not in k and len(k) >= 5 and k in cand), "")
    if core:
        return "contains_label", 0.2 * factor, f"contains the brand word {core!r}"
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


def placeholder_of(profile: SiteProfile) -> str:
    """The stock page the domain shows instead of a site ("challenge", "server-default" …), or ""."""
    return next((i.value for i in profile.indicators if i.kind == "placeholder"), "")


def serves_own_pages(profile: SiteProfile) -> bool:
    """Whether what the domain serves is its operator's: not a takedown, parking or stock page."""
    return profile.status in SERVING and not profile.parked and not placeholder_of(profile)


def _candidate_values(candidate: SiteProfile) -> set[Indicator]:
    values = {i for i in candidate.indicators if i.value and i.kind != "placeholder"}
    if candidate.registrar:
        values.add(Indicator("registrar", candidate.registrar))
    if not serves_own_pages(candidate):
        values = {i for i in values
                  if indicator_class(i.kind).family in (Family.IDENTITY, Family.REGISTRATION)}
    return values


def _enclosing(ind: Indicator, values: Iterable[Indicator]) -> Indicator | None:
    """The candidate's value that contains ``ind``: an address's /24 (/48), a name server's domain.

    Shared hosting shows in its neighbours: the store meets a sample of a provider's tenants, rarely
    the very one on the network's address, so an address in a range full of strangers is shared too.
    """
    if ind.kind == "ip":
        try:
            address = ipaddress.ip_address(ind.value)
        except ValueError:
            return None
        for v in values:
            if v.kind == "ip_prefix":
                try:
                    if address in ipaddress.ip_network(v.value, strict=False):
                        return v
                except ValueError:
                    continue
    elif ind.kind in ("ns", "rdap_ns"):
        for v in values:
            if v.kind == "ns_domain" and (ind.value == v.value or ind.value.endswith("." + v.value)):
                return v
    return None


def _theme_kind(theme: str, carriers: Iterable[SiteProfile]) -> str:
    """A theme folder named after a site it is on (``/themes/lavirgule/`` on lavirgule.news) is the
    operator's own and identifies them; any other theme is a look that strangers can share."""
    name = theme.replace("-", "").replace("_", "")
    for p in carriers:
        label = p.label.replace("-", "")
        if len(name) >= 4 and len(label) >= 4 and (name in label or label in name or osa_distance(name, label, 1) <= 1):
            return "wp_theme"
    return "wp_theme_generic"


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
    by_name = {p.domain: p for p in network}
    out: list[Finding] = []
    values = _candidate_values(candidate)
    for ind in sorted(values, key=lambda i: (i.kind, i.value)):
        nets = carriers.get(ind)
        if not nets:
            continue
        kind = ind.kind
        if kind == "wp_theme":
            kind = _theme_kind(ind.value, [candidate, *(by_name[n] for n in nets)])
        count = max(stats.share_counts.get(ind, 0), len(nets) + 1)
        # Rarity counts the strangers that carry the value (the candidate among them): the network's own
        # name server carried by its forty sites is rare out there, not commodity. A value inside a range
        # or a DNS provider is no rarer than what encloses it, as far as the store can tell.
        strangers = count - len(nets)
        enclosing = _enclosing(ind, values)
        crowd_note = ""
        if enclosing is not None:
            around = stats.share_counts.get(enclosing, 0) - len(carriers.get(enclosing, ()))
            if around > strangers:
                strangers = around
                crowd_note = f"; in {enclosing.value}, which {around} stranger(s) in the store share"
        r = rarity(strangers, stats.total_domains, commodity_share)
        s = specificity(len(nets), count - 1)
        weight = round(indicator_class(kind).base * r * math.sqrt(s), 4)
        names = sorted(nets)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        note = " — commodity, weight 0" if count > commodity_share else ""
        if why := commodity_reason(ind):
            weight, note = 0.0, f" — {why}: commodity, weight 0"
        detail = f"{ind.kind} {ind.value} shared with {shown}; {count} store domains carry it{crowd_note}{note}"
        out.append(Finding(Evidence(SHARED_PREFIX + kind, ind.value, weight, detail), frozenset(nets)))
    return out


def _template_distances(candidate: SiteProfile, network: Sequence[SiteProfile],
                        templates: Mapping[str, str]) -> list[int]:
    """Sorted TLSH distances from the candidate's markup to every stored domain outside the network:
    ``bisect`` on it counts the crowd that shares a look that closely (one popular theme puts hundreds
    of unrelated sites near each other)."""
    skip = {candidate.domain, *(p.domain for p in network)}
    return sorted(d for name, other in templates.items()
                  if name not in skip and (d := tlsh_diff(candidate.tlsh, other)) is not None)


def content(candidate: SiteProfile, network: Sequence[SiteProfile], stats: StoreStats,
            commodity_share: int) -> list[Finding]:
    """Text (MinHash Jaccard: the writing) and HTML (TLSH distance: the look) similarity to each network
    domain. The look is weighed by how many stored sites outside the network share it that closely."""
    if not serves_own_pages(candidate):
        return []
    out: list[Finding] = []
    looks: list[tuple[SiteProfile, int, float | None]] = []
    strangers: np.ndarray | None = None
    for net in network:
        j = minhash_jaccard(candidate.minhash, net.minhash)
        if j is not None and j > TEXT_UNRELATED:
            # how much of the smaller text the other holds: a page that keeps some of its predecessor's
            # articles and adds its own is a copy of that part, though the added text lowers the Jaccard
            shared = minhash_overlap(candidate.minhash, net.minhash) or j
            if strangers is None:
                strangers = (stats.text_crowd.overlaps(candidate.minhash, {candidate.domain, *(p.domain for p in network)})
                             if stats.text_crowd is not None else np.zeros(0))
            near = TextCrowd.count_at_least(strangers, shared)
            f = crowd_factor(near, stats.total_domains, commodity_share)
            w = 0.55 * min(1.0, (shared - TEXT_UNRELATED) / (TEXT_COPIED - TEXT_UNRELATED)) * f
            crowd_note = f"; {near} other stored site(s) write as alike" if near else ""
            part = f" ({shared:.0%} of the smaller page's text in common)" if shared >= j + 0.05 else ""
            out.append(Finding(Evidence("text_similarity", f"{j:.2f}", round(w, 4),
                                        f"page text Jaccard {j:.2f} with {net.domain}{part}{crowd_note}"),
                               frozenset({net.domain}), near_copy=j >= NEAR_COPY_JACCARD))
        d = tlsh_diff(candidate.tlsh, net.tlsh)
        if d is not None and d < TLSH_UNRELATED:
            looks.append((net, d, j))
    if not looks:
        return out
    distances = _template_distances(candidate, network, stats.page_templates)
    for net, d, j in looks:
        near = bisect.bisect_right(distances, d)
        r = crowd_factor(near, stats.total_domains, commodity_share)
        w = 0.45 * min(1.0, (TLSH_UNRELATED - d) / (TLSH_UNRELATED - NEAR_COPY_TLSH)) * r
        # One template filled with other writing is the same hands, not a copy of that site.
        copy = d <= NEAR_COPY_TLSH and (j is None or j >= NEAR_COPY_JACCARD)
        crowd_note = f"; {near} other stored site(s) as close" if near else ""
        out.append(Finding(Evidence("html_similarity", str(d), round(w, 4),
                                    f"HTML TLSH distance {d} to {net.domain}{crowd_note}"),
                           frozenset({net.domain}), near_copy=copy))
    return out


def own_writing(candidate: SiteProfile, network: Sequence[SiteProfile],
                findings: Sequence[Finding]) -> Finding | None:
    """A note when the candidate writes its own text: it has real text, too little of it is like any
    network page's to support a verdict (text similarity below MIN_SUPPORT: a copied menu or footer at
    most), and neither an operator-chosen value (analytics,
    handles, a theme named after a network site) nor rare hosting is shared. Such a site is one the
    network links to (the outlet it imitates, a source, a shop), not one of its copies."""
    if candidate.minhash is None or not serves_own_pages(candidate):
        return None
    strengths = family_strengths(f.evidence for f in findings)
    if any(supports(strengths.get(f, 0.0)) for f in (Family.CONTENT, Family.INFRASTRUCTURE)):
        return None
    if any(f.evidence.weight > 0 and family_of(f.evidence.kind)[0] is Family.IDENTITY for f in findings):
        return None
    compared = [(p.domain, j) for p in network
                if (j := minhash_jaccard(candidate.minhash, p.minhash)) is not None]
    if not compared:
        return None
    best = max(j for _, j in compared)
    return Finding(Evidence("own_writing", f"{best:.2f}", 0.0,
                            f"writes its own text: at most Jaccard {best:.2f} with {len(compared)} network page(s), "
                            "and no operator id shared"))


def linkage(candidate: SiteProfile, network: Sequence[SiteProfile], discovery: Discovery, *,
            own_writing: bool = False) -> list[Finding]:
    """Network sites that link to the candidate (outlinks) or send their visitors to it (redirects).

    A link to a site that writes its own text is no tie: network sites link to the outlets they imitate,
    the sources they cite and any shop or friend (hubs link to anything). A redirect still is."""
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
    if linking and own_writing:
        out.append(Finding(Evidence("linked_from_network", ",".join(sorted(linking)), 0.0,
                                    f"linked from {len(linking)} network site(s), but it writes its own text: "
                                    "a site they point at, not one of theirs"), frozenset(linking)))
    elif linking:
        w = 0.45 if len(linking) == 1 else 0.55
        shown = ", ".join(sorted(linking)[:3]) + (" …" if len(linking) > 3 else "")
        out.append(Finding(Evidence("linked_from_network", ",".join(sorted(linking)), w,
                                    f"linked from {len(linking)} network site(s): {shown}"),
                           frozenset(linking)))
    return out


# What makes a registration right after a takedown point at that takedown: the candidate's name, or what
# its operator put on it (ids, writing, links to it). Not its hosting: a newly-registered-domain feed is
# read for names on the network's name servers and addresses, so a stranger on the network's shared host
# registered since the takedown is that feed's everyday catch, and its hosting and its date are one tie.
TIMING_TIES: frozenset[Family] = frozenset({Family.LEXICAL, Family.IDENTITY, Family.CONTENT, Family.LINKAGE})


def _tied_lost(findings: Iterable[Finding], lost_in_window: set[str]) -> set[str]:
    """The lost domains (among those lost just before the registration) the candidate is tied to by
    name or by what its operator put on it (TIMING_TIES) with at least MIN_SUPPORT of strength. Every
    such domain is credited (not only the closest) so that adding evidence can never take timing
    evidence away."""
    ties = [f for f in findings if f.evidence.weight > 0 and family_of(f.evidence.kind)[0] in TIMING_TIES]
    return {d for d, s in pair_strengths(ties).items() if d in lost_in_window and supports(s)}


def takedown_start(net: SiteProfile) -> datetime:
    """The earliest moment the takedown of the lost ``net`` can have happened (see :func:`timing`)."""
    assert net.status_since is not None
    start = net.lost_after if net.lost_after is not None and net.lost_after <= net.status_since else net.status_since
    changed = net.registry_changed
    if changed is not None and start - timedelta(hours=REGISTRY_LEAD_HOURS) <= changed < start:
        return changed
    return start


def _takedown_seen(net: SiteProfile) -> str:
    if net.registry_changed is not None and takedown_start(net) == net.registry_changed:
        return f"the registry changed {net.domain}'s record (it turned {net.status})"
    return f"{net.domain} turned {net.status}"


def timing(candidate: SiteProfile, network: Sequence[SiteProfile], findings: Sequence[Finding],
           window_hours: float) -> list[Finding]:
    """Registered within the takedown window after a network loss; registered in a network burst.

    A registration right after a takedown is strong only toward a lost domain the candidate already
    relates to by name or substance: thousands of unrelated names are registered every hour.

    "After the takedown" starts at the first sign of it: the takedown happened after the store last saw
    the site serving (``lost_after``; when unknown, the time the loss was seen), or when the registry
    changed the domain's record (``registry_changed``, read after the loss), if that is earlier by at most
    REGISTRY_LEAD_HOURS: a cached delegation hides a seizure that long. A registration earlier than the
    start, less TAKEDOWN_SLACK_HOURS, came before the takedown and is no reaction to it.
    """
    reg = candidate.registered
    if reg is None:
        return []
    via = f" ({candidate.registered_via})" if candidate.registered_via else ""
    in_window: dict[str, tuple[SiteProfile, float]] = {}
    for net in network:
        if not net.status.lost or net.status_since is None:
            continue
        hours = (reg - takedown_start(net)).total_seconds() / 3600
        if -TAKEDOWN_SLACK_HOURS <= hours <= window_hours:
            in_window[net.domain] = (net, hours)
    related = _tied_lost(findings, set(in_window))
    out: list[Finding] = []
    unspecific: list[str] = []
    for net, hours in in_window.values():
        if net.domain in related:
            w = 0.45 * (1 - 0.5 * max(hours, 0.0) / window_hours)
            out.append(Finding(Evidence("registered_after_takedown", net.domain, round(w, 4),
                                        f"registered {hours:+.0f} h after {_takedown_seen(net)}{via}"),
                               frozenset({net.domain})))
        else:
            unspecific.append(net.domain)
    if unspecific:
        out.append(Finding(Evidence("registered_after_network_loss", str(len(unspecific)), 0.1,
                                    f"registered within {window_hours:.0f} h of {len(unspecific)} "
                                    f"network loss(es) it shows no other tie to{via}"),
                           frozenset(unspecific)))
    # the seeds' own bursts only: same-day registrations are everywhere in a newly-registered feed, and a
    # burst shared with domains this tool accepted earlier would let one wrong verdict pull in others
    mates = sorted(p.domain for p in network
                   if p.seeded and p.registered is not None and p.registered.date() == reg.date())
    if mates:
        w = min(0.3, 0.15 * len(mates))
        out.append(Finding(Evidence("registration_burst", reg.date().isoformat(), w,
                                    f"registered the same day as {len(mates)} network domain(s): "
                                    + ", ".join(mates[:3]) + via), frozenset(mates)))
    return out


def substantive_tie(findings: Iterable[Finding]) -> bool:
    """Whether any positive evidence is substantive (identity, content, infrastructure, linkage)."""
    return any(f.evidence.weight > 0 and family_of(f.evidence.kind)[0] in SUBSTANTIVE for f in findings)

