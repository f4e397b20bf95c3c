"""What scoring takes and gives: the profiles, the store's rarity statistics, how a candidate was found,
the policy, and the verdict. A module of its own so the rule modules (evidence_rules, negatives,
lineage) and their caller scoring.py all import it, and none of them imports its caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from detect.model import Evidence, Indicator, Relation, Status
from detect.settings import BrandsSettings, ScoringSettings
from detect.similarity import TextCrowd

__all__ = ["Discovery", "ScoringPolicy", "SiteProfile", "StoreStats", "Verdict"]


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
    registered: datetime | None  # registration date (RDAP, or WHOIS: registered_via)
    registrar: str
    outlinks: frozenset[str]  # registrable domains its pages link to
    redirects_to: str | None  # registrable domain its home page redirects to, if any
    parked: bool  # parking NS / for-sale page seen
    title: str
    # lost domains: when it was last observed still serving (before the loss); the takedown happened
    # after this, so a registration before it is no reaction to the takedown. None: not known.
    lost_after: datetime | None = None
    seeded: bool = False  # a seed of the watchlist (not a domain discovered by an earlier hunt)
    registered_via: str = ""  # "" = RDAP; detect.model.WHOIS_MARK when the date came from port-43 WHOIS
    # lost domains: the registry's "last changed" date in the RDAP (or WHOIS) record read after the loss.
    # A seizure or a hold is a change of the registry's record, so this dates the takedown where the
    # store's own observations cannot (cached delegations keep a seized site reachable for a while).
    registry_changed: datetime | None = None


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
    """From the [scoring] and [brands] sections."""

    threshold: float = 0.6
    takedown_window_hours: float = 96.0
    commodity_share: int = 50
    legitimate: frozenset[str] = frozenset()

    @classmethod
    def from_sections(cls, scoring: ScoringSettings, brands: BrandsSettings) -> ScoringPolicy:
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
