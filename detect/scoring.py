"""Clone scoring: is this candidate domain run by the network's hands, how sure are we, and why.

Pure: values in, a Verdict out; the clock is passed in. The store builds the inputs (SiteProfile per
domain, StoreStats for rarity) and records the verdicts. docs/scoring.md explains the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from detect import evidence_rules, lineage, negatives
from detect.evidence_kinds import (
    SUBSTANTIVE,
    UNCORROBORATED_CAP,
    VETO_KINDS,
    Combination,
    combine,
)
from detect.findings import Finding
from detect.model import Evidence, Relation
from detect.scoring_inputs import Discovery, ScoringPolicy, SiteProfile, StoreStats, Verdict

__all__ = ["Discovery", "ScoringPolicy", "SiteProfile", "StoreStats", "Verdict", "score_candidate"]

log = logging.getLogger(__name__)


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
    if all(m is None or m.tzinfo is not None for m in (profile.registered, profile.status_since, profile.lost_after,
                                                        profile.registry_changed)):
        return profile  # already aware (the store's profiles are): no copy per network site and candidate
    return replace(profile, registered=_utc(profile.registered), status_since=_utc(profile.status_since),
                   lost_after=_utc(profile.lost_after), registry_changed=_utc(profile.registry_changed))


def _corroboration_cap(result: Combination) -> Finding | None:
    """Without two supporting families, one of them substantive, confidence stops at the cap: the
    confidence the penalties left, not the positive evidence before them (a penalty that already took it
    below the cap is not applied twice)."""
    if result.corroborated or result.confidence <= UNCORROBORATED_CAP:
        return None
    families = "+".join(sorted(result.supporting)) or "none"
    weight = -(1.0 - UNCORROBORATED_CAP / result.confidence)
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
