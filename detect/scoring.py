"""Clone scoring: is this candidate domain run by the network's hands, how sure are we, and why.

Pure: values in, a Verdict out; the clock is passed in. The store builds the inputs (SiteProfile per
domain, StoreStats for rarity) and records the verdicts. docs/scoring.md explains the model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from detect import evidence_rules, lineage, negatives
from detect.evidence_kinds import (
    SUBSTANTIVE,
    UNCORROBORATED_CAP,
    VETO_KINDS,
    Combination,
    combine,
)
from detect.findings import Finding
from detect.model import Evidence, Indicator, Relation, Status
from detect.similarity import TextCrowd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiteProfile:
    """One domain as last observed.

    ``indicators``, ``minhash`` and ``tlsh`` should describe the site while it served its operator's
    pages: for a lost (seized, suspended, dead) domain pass the last fingerprints observed *before*
    the loss where the store has them — a seizure banner says nothing about the operator.
    """

    domain: str
    label: str  # registrable label (detect.names.split)
    status: Status
    status_since: datetime | None
    in_network: bool  # True for watched network domains (seed or previously linked)
    indicators: frozenset[Indicator]  # latest indicators of every kind
    minhash: bytes | None  # serialised datasketch LeanMinHash (num_perm=128) of page-text shingles
    tlsh: str | None  # TLSH of normalised HTML
    registered: datetime | None  # RDAP registration date
    registrar: str
    outlinks: frozenset[str]  # registrable domains its pages link to
    redirects_to: str | None  # registrable domain its home page redirects to, if any
    parked: bool  # parking NS / for-sale page seen
    title: str
    # lost domains: when it was last observed still serving (before the loss); the takedown happened
    # after this, so a registration before it is no reaction to the takedown. None: not known.
    lost_after: datetime | None = None
    seeded: bool = False  # a seed of the watchlist (not a domain discovered by an earlier hunt)


@dataclass(frozen=True)
class Discovery:
    """How the candidate was found (recorded as a zero-weight note: finding is not proving)."""

    source: str  # lookalike | outlink | redirect | ct | nrd
    via: str  # fuzzer name / linking site / CT keyword / feed
    seed: str  # network domain it was derived from ("" if none)


@dataclass(frozen=True)
class StoreStats:
    """Rarity of values across the whole store."""

    total_domains: int  # N
    share_counts: Mapping[Indicator, int]  # how many distinct store domains carry each value
    # TLSH of the latest page of every stored domain that has one: how many stored sites sit as close
    # to a candidate's markup as the network does (a popular theme puts hundreds that close)
    page_templates: Mapping[str, str] = field(default_factory=dict)
    # the MinHash of the latest page of every stored domain: how many strangers write that alike
    text_crowd: TextCrowd | None = None


@dataclass(frozen=True)
class ScoringPolicy:
    """From config [scoring] and [brands]."""

    threshold: float = 0.6
    takedown_window_hours: float = 96.0
    commodity_share: int = 50
    legitimate: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, cfg: Any) -> ScoringPolicy:
        """Build from a hydrawatch Config (typed loosely so detect/ does not import the shell)."""
        scoring, brands = cfg.scoring, cfg.brands
        return cls(threshold=float(scoring.threshold),
                   takedown_window_hours=float(scoring.takedown_window_hours),
                   commodity_share=int(scoring.commodity_share),
                   legitimate=frozenset(d.strip().lower() for d in brands.legitimate if d.strip()))


@dataclass(frozen=True)
class Verdict:
    candidate: str
    confidence: float  # 0..1, recomputable from ``evidence`` with detect.evidence_kinds.combine
    evidence: tuple[Evidence, ...]  # every piece, negative weights for negative evidence
    is_clone: bool  # confidence >= threshold, corroborated, and no veto
    relation: Relation | None
    predecessor: str | None  # the network domain the edge comes FROM
    reason: str  # one line


def score_candidate(candidate: SiteProfile, network: Sequence[SiteProfile], stats: StoreStats,
                    discovery: Discovery, policy: ScoringPolicy, *, now: datetime) -> Verdict:
    """Weigh everything that ties ``candidate`` to the network and everything against it."""
    candidate = _utc_profile(candidate)
    others = [_utc_profile(p) for p in network if p.domain != candidate.domain]
    now = _utc(now) or now
    findings: list[Finding] = [Finding(Evidence(
        "discovered_by", f"{discovery.source}:{discovery.via}" if discovery.via else discovery.source,
        0.0, f"found by {discovery.source}" + (f" from {discovery.seed}" if discovery.seed else "")))]
    findings += evidence_rules.lexical(candidate, others)
    shared = evidence_rules.shared_values(candidate, others, stats, policy.commodity_share)
    findings += shared
    findings += evidence_rules.content(candidate, others, stats, policy.commodity_share)
    own = evidence_rules.own_writing(candidate, others, findings)
    if own is not None:
        findings.append(own)
    findings += evidence_rules.linkage(candidate, others, discovery, own_writing=own is not None)
    findings += evidence_rules.timing(candidate, others, findings, policy.takedown_window_hours)
    findings += negatives.collect(candidate, others, findings, shared, policy, now=now)

    result = combine(f.evidence for f in findings)
    cap = _corroboration_cap(result)
    if cap is not None:
        findings.append(cap)
        result = combine(f.evidence for f in findings)
    vetoed = [f.evidence for f in findings if f.evidence.kind in VETO_KINDS]
    confidence = round(result.confidence, 4)
    is_clone = confidence >= policy.threshold and result.corroborated and not vetoed
    relation: Relation | None = None
    predecessor: str | None = None
    if is_clone:
        decision = lineage.choose(candidate, others, findings)
        if decision is None:  # nothing points at one network domain: cannot draw an edge
            is_clone = False
        else:
            relation, predecessor = decision
    evidence = tuple(f.evidence for f in findings)
    reason = _reason(confidence, result, findings, vetoed, is_clone, relation, predecessor, policy)
    log.debug("scored %s: %.3f %s", candidate.domain, confidence, reason)
    return Verdict(candidate.domain, confidence, evidence, is_clone, relation, predecessor, reason)


def _utc(moment: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC so that every comparison is between aware values."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _utc_profile(profile: SiteProfile) -> SiteProfile:
    return replace(profile, registered=_utc(profile.registered), status_since=_utc(profile.status_since),
                   lost_after=_utc(profile.lost_after))


def _corroboration_cap(result: Combination) -> Finding | None:
    """Without two supporting families, one of them substantive, confidence stops at the cap."""
    if result.corroborated or result.positive <= UNCORROBORATED_CAP:
        return None
    families = "+".join(sorted(result.supporting)) or "none"
    weight = -(1.0 - UNCORROBORATED_CAP / result.positive)
    has_substantive = any(f in SUBSTANTIVE for f in result.supporting)
    why = ("only one family of evidence" if len(result.supporting) < 2
           else "no substantive evidence (identity, content, infrastructure, linkage)")
    if not has_substantive and len(result.supporting) < 2:
        why = "only one family of evidence, and it is not substantive"
    return Finding(Evidence("uncorroborated", families, round(weight, 6),
                            f"{why}: confidence capped at {UNCORROBORATED_CAP}"))


def _reason(confidence: float, result: Combination, findings: Sequence[Finding],
            vetoed: list[Evidence], is_clone: bool, relation: Relation | None,
            predecessor: str | None, policy: ScoringPolicy) -> str:
    """One line: the verdict and its three strongest reasons (those naming the predecessor first)."""
    ranked = sorted((f for f in findings if f.evidence.weight > 0),
                    key=lambda f: (predecessor not in f.targets, -f.evidence.weight))
    top = [f.evidence for f in ranked[:3]]
    because = "; ".join(e.detail or f"{e.kind} {e.value}" for e in top)
    if is_clone:
        return f"{relation} of {predecessor} ({confidence:.2f}): {because}"
    if vetoed:
        return f"not a clone: {vetoed[0].detail or vetoed[0].kind}"
    if not result.corroborated and result.positive > 0:
        fams = "+".join(sorted(result.supporting)) or "weak evidence only"
        return f"not a clone ({confidence:.2f}): uncorroborated ({fams})"
    if confidence >= policy.threshold:
        return f"not a clone ({confidence:.2f}): no network domain to link it to"
    if not top:
        return "not a clone (0.00): nothing ties it to the network"
    return f"not a clone ({confidence:.2f} < {policy.threshold:.2f}): {because}"
