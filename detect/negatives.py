"""Negative evidence: why a candidate that resembles the network is not the network's.

Two vetoes (weight −1: confidence 0, never a clone) and graded penalties that multiply the
confidence by (1 + weight).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from detect.evidence_kinds import UNCORROBORATED_CAP, Family, combine, family_of, family_strengths, supports
from detect.evidence_rules import lexical_relation, placeholder_of, serves_own_pages, substantive_tie
from detect.findings import Finding
from detect.model import Evidence, Indicator, Status
from detect.similarity import minhash_jaccard

if TYPE_CHECKING:
    from detect.scoring_inputs import ScoringPolicy, SiteProfile

YEAR = timedelta(days=365.25)
PREDATES_MARGIN = YEAR  # registered at least this long before the network's first domain
OLD_WITHOUT_NETWORK_DATES = 5 * YEAR  # "old" when the network's own dates are unknown
PARKED_PENALTY = -0.6
PLACEHOLDER_PENALTY = -0.5
COMMODITY_PENALTY = -0.2
UNRELATED_CONTENT_PENALTY = -0.35
UNRELATED_TEXT = 0.05  # Jaccard below this between two pages with real text: different writing


def earliest_registration(network: Sequence[SiteProfile]) -> datetime | None:
    """When the network began, robustly: the lower quartile of its known registration dates (the
    earliest one when fewer than four are known). Operators buy aged domains and re-use old ones, so the
    single oldest date would make every decade-old outlet look younger than the network."""
    dates = sorted(p.registered for p in network if p.registered is not None)
    if len(dates) < 4:
        return dates[0] if dates else None
    return dates[len(dates) // 4]


def _pointers(candidate: SiteProfile, network: Sequence[SiteProfile]) -> tuple[list[str], bool]:
    """Network sites that link or canonicalise to the candidate; and whether any does so by a canonical
    tag or from a look-alike name (the spoof's way of pointing at what it imitates). Redirects are not
    pointers here: a network site sending its own visitors somewhere is the operator's act."""
    canonical = Indicator("canonical_host", candidate.domain)
    names: list[str] = []
    namesake = False
    for p in network:
        by_canonical = canonical in p.indicators
        if by_canonical or candidate.domain in p.outlinks:
            names.append(p.domain)
            if by_canonical or lexical_relation(candidate.label, p.label, lost=False) is not None:
                namesake = True
    return sorted(names), namesake


def imitated_outlet(candidate: SiteProfile, network: Sequence[SiteProfile], *,
                    now: datetime, own_writing: bool = False) -> Finding | None:
    """The outlet the network imitates: pointed at by network sites, not lost, and older than the
    network (or, with no registration date, pointed at by a canonical tag or by its namesake spoof).
    It is the most similar site of all, so similarity must never make it a clone."""
    if candidate.in_network or candidate.status.lost:
        return None
    pointers, namesake = _pointers(candidate, network)
    if not pointers:
        return None
    shown = ", ".join(pointers[:3]) + (" …" if len(pointers) > 3 else "")
    if own_writing:
        return Finding(Evidence("imitated_outlet", candidate.domain, -1.0,
                                f"a site the network links to that writes its own text (the outlet it imitates, "
                                f"a source or a platform): {len(pointers)} network site(s) point at it ({shown})"))
    first = earliest_registration(network)
    reg = candidate.registered
    if reg is not None and first is not None:
        old = reg <= first - PREDATES_MARGIN
        why = f"registered {reg.date()}, before the network's first domain ({first.date()})"
    elif reg is not None:
        old = now - reg >= OLD_WITHOUT_NETWORK_DATES
        why = f"registered {reg.date()}, years ago"
    else:
        old = namesake
        why = "no registration date, pointed at by its namesake or a canonical tag"
    if not old:
        return None
    return Finding(Evidence("imitated_outlet", candidate.domain, -1.0,
                            f"an old site the network points at (the outlet it imitates, or a platform): {len(pointers)} "
                            f"network site(s) point at it "
                            f"({shown}); {why}"))


def _registered_before(candidate: SiteProfile, network: Sequence[SiteProfile], *,
                       now: datetime) -> Finding | None:
    """Registered a year or more before the network's first domain (or, when no network date is
    known, five years or more before now): a replacement is new, and an old name is someone else's."""
    reg = candidate.registered
    if reg is None:
        return None
    first = earliest_registration(network)
    if first is not None:
        if reg > first - PREDATES_MARGIN:
            return None
        years = (first - reg) / YEAR
        weight = -min(0.9, 0.3 + 0.15 * years)
        detail = f"registered {years:.1f} years before the network's first domain ({first.date()})"
    else:
        if now - reg < OLD_WITHOUT_NETWORK_DATES:
            return None
        years = (now - reg) / YEAR
        weight = -min(0.9, 0.15 * years)
        detail = f"registered {years:.1f} years ago (no registration date known in the network)"
    if candidate.registered_via:
        detail += f" ({candidate.registered_via})"
    return Finding(Evidence("registered_before_network", reg.date().isoformat(), round(weight, 4), detail))


def thin_own_page(candidate: SiteProfile) -> bool:
    """The candidate serves a page of its own (markup sketched, not a stock page) with too little text
    for a sketch: fewer words than one network article's opening, so it cannot carry a network page's
    text. Its writing is its own as surely as a long page unlike every network page."""
    return candidate.minhash is None and candidate.tlsh is not None and serves_own_pages(candidate)


def _has_own_text(candidate: SiteProfile) -> bool:
    return candidate.minhash is not None or thin_own_page(candidate)


def _unlike_pages(candidate: SiteProfile, names: set[str], network: Sequence[SiteProfile], *,
                  missing_ok: bool) -> list[str]:
    """"name (Jaccard j)" for each of ``names`` whose page text is unlike the candidate's; [] as soon as
    one is alike, or (unless ``missing_ok``: skip it) one has no page to compare with. A thin page of the
    candidate's own is unlike every page that has text enough to sketch (Jaccard 0)."""
    assert _has_own_text(candidate)
    by_name = {p.domain: p for p in network}
    compared = []
    for name in sorted(names):
        other = by_name.get(name)
        if other is None or other.minhash is None:
            if missing_ok:
                continue  # a lost site with no page kept: nothing to compare with
            return []  # nothing to compare with: say nothing
        j = 0.0 if candidate.minhash is None else minhash_jaccard(candidate.minhash, other.minhash)
        if j is None or j >= UNRELATED_TEXT:
            return []
        compared.append(f"{name} (Jaccard {j:.2f})")
    return compared


def _unrelated_namesake(candidate: SiteProfile, network: Sequence[SiteProfile],
                        findings: Sequence[Finding]) -> Finding | None:
    """A name tie contradicted by what the candidate serves: it has real text, every namesake in the
    network had real text too, and none of it is alike (no content evidence at all). Old campaign
    names are re-registered by unrelated parties; "seen before" is not continuity (FIELD-NOTES)."""
    if not _has_own_text(candidate) or any(f.evidence.kind == "text_similarity"
                                           and f.evidence.weight > 0 for f in findings):
        return None
    namesakes = {t for f in findings if f.evidence.kind in ("same_label", "typo_distance", "contains_label")
                 for t in f.targets}
    if not namesakes:
        return None
    compared = _unlike_pages(candidate, namesakes, network, missing_ok=False)
    if not compared:
        return None
    return Finding(Evidence("unrelated_content", candidate.domain, UNRELATED_CONTENT_PENALTY,
                            "same or similar name, but its pages share no text or template with "
                            + ", ".join(compared[:3]) + ": a namesake, not a copy"))


def _host_neighbour(candidate: SiteProfile, network: Sequence[SiteProfile],
                    findings: Sequence[Finding]) -> Finding | None:
    """A shared host contradicted by what the candidate serves: its only substantive tie is
    infrastructure and it has real text of its own (no text of the network's strong enough to support a
    verdict). Shared hosting fills a /24 with strangers, who register domains every day: a neighbour on
    the host registered the same week is not the operator (FIELD-NOTES: co-hosted sites).

    The hosting is explained away, no more: the penalty takes the confidence to what the rest of the
    evidence gives without the hosting tie, and that is uncorroborated (no substantive family is left),
    so at most UNCORROBORATED_CAP. A fixed factor would let more hosting evidence lower a verdict below
    its level without any, or leave a neighbour with a network-like name and look above the threshold."""
    if not _has_own_text(candidate):
        return None
    positive = [f for f in findings if f.evidence.weight > 0]
    families = {f for f, strength in family_strengths(f.evidence for f in positive).items()
                if supports(strength)}
    if Family.INFRASTRUCTURE not in families or families & {Family.IDENTITY, Family.CONTENT, Family.LINKAGE}:
        return None
    hosts = sorted({t for f in positive if family_of(f.evidence.kind)[0] is Family.INFRASTRUCTURE
                    for t in f.targets})
    hosted = combine(f.evidence for f in positive).positive
    rest = min(UNCORROBORATED_CAP, combine(f.evidence for f in positive
                                           if family_of(f.evidence.kind)[0] is not Family.INFRASTRUCTURE).positive)
    weight = -(1.0 - rest / hosted) if hosted > 0 else 0.0
    best = max((float(f.evidence.value) for f in findings if f.evidence.kind == "text_similarity"), default=0.0)
    own = (f"writes its own text (at most Jaccard {best:.2f} with a network page)" if candidate.minhash is not None
           else "serves a page of its own too short to carry any network page's text")
    return Finding(Evidence("unrelated_neighbour", candidate.domain, round(weight, 6),
                            f"shares hosting with {', '.join(hosts[:3])}{' …' if len(hosts) > 3 else ''} but "
                            f"{own}: a neighbour on the host, not the operator's site"))


def collect(candidate: SiteProfile, network: Sequence[SiteProfile], findings: Sequence[Finding],
            shared: Sequence[Finding], policy: ScoringPolicy, *, now: datetime) -> list[Finding]:
    out: list[Finding] = []
    if candidate.domain.lower() in policy.legitimate:
        out.append(Finding(Evidence("legitimate_brand", candidate.domain, -1.0,
                                    "listed in [brands] legitimate: an official outlet, never a clone")))
    own = any(f.evidence.kind == "own_writing" for f in findings)
    outlet = imitated_outlet(candidate, network, now=now, own_writing=own)
    if outlet is not None:
        out.append(outlet)
    if candidate.parked or candidate.status is Status.PARKED:
        out.append(Finding(Evidence("parked", candidate.status.value, PARKED_PENALTY,
                                    "parked or for sale: serves nothing of an operator's")))
    elif stock := placeholder_of(candidate):
        out.append(Finding(Evidence("placeholder_page", stock, PLACEHOLDER_PENALTY,
                                    f"shows a stock {stock} page, as millions of unrelated domains do: "
                                    "nothing of an operator's to compare")))
    predates = _registered_before(candidate, network, now=now)
    if predates is not None:
        out.append(predates)
    namesake = _unrelated_namesake(candidate, network, findings)
    if namesake is not None:
        out.append(namesake)
    neighbour = _host_neighbour(candidate, network, findings)
    if neighbour is not None:
        out.append(neighbour)
    if shared and all(f.evidence.weight == 0 for f in shared) and not substantive_tie(findings):
        out.append(Finding(Evidence("commodity_only", str(len(shared)), COMMODITY_PENALTY,
                                    f"shares only commodity values ({len(shared)}) with the network: "
                                    "co-hosting, not common hands")))
    return out
