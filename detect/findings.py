"""A piece of evidence together with the network domains it points at."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from detect.evidence_kinds import family_strengths, noisy_or
from detect.model import Evidence


@dataclass(frozen=True)
class Finding:
    evidence: Evidence
    targets: frozenset[str] = frozenset()  # network domains this evidence points at
    near_copy: bool = False  # the candidate serves a near copy of the target(s)


def pair_strengths(findings: Iterable[Finding]) -> dict[str, float]:
    """How strongly the positive evidence points at each network domain (the confidence formula,
    without corroboration, restricted to the evidence that names that domain)."""
    per_target: dict[str, list[Evidence]] = {}
    for f in findings:
        if f.evidence.weight <= 0:
            continue
        for target in f.targets:
            per_target.setdefault(target, []).append(f.evidence)
    return {d: noisy_or(family_strengths(evs).values()) for d, evs in per_target.items()}
