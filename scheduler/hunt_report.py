"""What one hunt did, for the cycle's stats and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScoredClone:
    """A candidate scored a clone, as its score batch recorded it (scheduler/score_jobs.py)."""

    candidate: str
    predecessor: str
    relation: str  # detect.model.Relation's value
    confidence: float


@dataclass
class HuntReport:
    generated: int = 0          # candidate names generated or read (before de-duplication)
    resolved: int = 0           # names that resolve (a wildcard's answer does not count)
    observed: int = 0           # crawled, RDAP'd and scored this hunt
    scored: int = 0             # candidates scored (from the score batches' records)
    clones: list[ScoredClone] = field(default_factory=list)
    new_edges: int = 0
    source_errors: list[str] = field(default_factory=list)
    source_notes: list[str] = field(default_factory=list)  # what each source did: cached, not modified …
    truncated: int = 0          # NRD names past discovery.max_candidates, not checked against infrastructure
    deferred: int = 0           # resolving, past the observation cap: stored, observed first next sweep
    unchanged: int = 0          # rejected before on the same DNS answer: not crawled again
    wildcard_tlds: list[str] = field(default_factory=list)  # suffixes found answering every name
    lost_observed: int = 0      # of ``observed``: lookalikes of the domains just lost (observed first)
    # registry lookups other processes made for this hunt's candidates (cluster batches), as
    # ObserveReport.registry: added to the job's own counts in the cycle log
    registry: dict[str, int] = field(default_factory=dict)
