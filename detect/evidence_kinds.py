"""The registry of evidence: which family each kind of evidence belongs to, the base weight of every
indicator kind, the rarity weighting of shared values, and the one function that turns a list of
evidence into a confidence.

Scoring and its tests both go through :func:`combine`, so a verdict's confidence can always be
recomputed from its evidence list alone (docs/scoring.md has the formula).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from detect.model import Evidence


class Family(enum.StrEnum):
    """Independent lines of evidence. Corroboration means two of them, one substantive."""

    IDENTITY = "identity"  # unique ids: analytics, verification tags, theme folder, social handles, certs
    CONTENT = "content"  # what the pages say: the writing (page-text shingles)
    TEMPLATE = "template"  # what the pages look like: markup, DOM structure, favicon, title, scripts
    INFRASTRUCTURE = "infrastructure"  # where it is hosted: IP, nameservers, mail, server headers
    LINKAGE = "linkage"  # network sites point at it: outlinks, redirects
    REGISTRATION = "registration"  # when and how it was registered: takedown timing, bursts, registrar
    LEXICAL = "lexical"  # what it is called: same label, typo distance, contains a network label


# Observed from what the candidate serves or where it lives; the other families are not: a name and a
# date are chosen by a registrant at no cost and are shared by newly-registered-domain noise, and a
# look (markup, favicon, title) is copied by every spoof of an outlet, by the outlet itself and by
# every site built on one popular theme. A look supports a verdict; it never makes one substantive.
SUBSTANTIVE: frozenset[Family] = frozenset(
    {Family.IDENTITY, Family.CONTENT, Family.INFRASTRUCTURE, Family.LINKAGE})

FAMILY_CAP = 0.55  # one family alone never exceeds this: below the default threshold of 0.6
MIN_SUPPORT = 0.2  # a family supports a verdict only from this strength up
UNCORROBORATED_CAP = 0.45  # confidence ceiling without two supporting families, one substantive
N_FLOOR_FACTOR = 2
_EPS = 1e-9  # noisy-OR of one weight w gives w − 1 ulp: a weight of exactly MIN_SUPPORT must support


def supports(strength: float) -> bool:
    """Whether a family (or a pair) this strong supports a verdict."""
    return strength >= MIN_SUPPORT - _EPS  # rarity needs a store of at least N_FLOOR_FACTOR × commodity_share domains


@dataclass(frozen=True)
class IndicatorClass:
    """How much a value of one indicator kind proves when a candidate shares it with the network."""

    family: Family
    base: float
    group: str  # kinds in one group measure the same thing (ip and its /24): only the best counts


def _classes() -> dict[str, IndicatorClass]:
    ident, look, infra, reg = Family.IDENTITY, Family.TEMPLATE, Family.INFRASTRUCTURE, Family.REGISTRATION
    table: dict[str, IndicatorClass] = {}
    # the names detect.indicator_kinds emits (every "unique" kind chosen by an operator)
    for kind in ("ga", "gtm", "google_ads", "adsense", "yandex_metrica", "facebook_pixel", "hotjar", "clarity",
                 "matomo", "liveinternet", "mailru_top", "site_verification", "push_service", "wp_theme",
                 "social", "cert_sha256"):
        table[kind] = IndicatorClass(ident, 0.6, kind)
    table["cert_san"] = IndicatorClass(ident, 0.5, "cert_san")
    table.update({
        # a theme folder that is not named after any network site it is on: someone's theme, a look
        "wp_theme_generic": IndicatorClass(look, 0.25, "template"),
        "favicon_mmh3": IndicatorClass(look, 0.45, "favicon_mmh3"),
        "dom_hash": IndicatorClass(look, 0.35, "template"),
        "canonical_host": IndicatorClass(look, 0.25, "canonical_host"),
        "script_src": IndicatorClass(look, 0.2, "script_src"),
        "title": IndicatorClass(look, 0.15, "title"),
        "og_locale": IndicatorClass(look, 0.1, "og_locale"),
        "cookie": IndicatorClass(look, 0.1, "cookie"),
        "generator": IndicatorClass(look, 0.05, "generator"),
        "placeholder": IndicatorClass(look, 0.0, "placeholder"),
        "spf_include": IndicatorClass(infra, 0.2, "mx"),
        "ip": IndicatorClass(infra, 0.4, "ip"),
        "ip_prefix": IndicatorClass(infra, 0.25, "ip"),
        "ns": IndicatorClass(infra, 0.4, "ns"),
        "rdap_ns": IndicatorClass(infra, 0.4, "ns"),
        "ns_domain": IndicatorClass(infra, 0.25, "ns"),
        "mx": IndicatorClass(infra, 0.3, "mx"),
        "mx_domain": IndicatorClass(infra, 0.2, "mx"),
        "hhhash": IndicatorClass(infra, 0.1, "hhhash"),
        "server": IndicatorClass(infra, 0.05, "server"),
        "cert_issuer": IndicatorClass(infra, 0.03, "cert_issuer"),
        "registrar": IndicatorClass(reg, 0.15, "registrar"),
    })
    return table


INDICATOR_CLASSES: dict[str, IndicatorClass] = _classes()
# A kind nobody classified yet (the fingerprint list grows) is a weak look until someone does.
DEFAULT_CLASS = IndicatorClass(Family.TEMPLATE, 0.15, "other")


def indicator_class(kind: str) -> IndicatorClass:
    return INDICATOR_CLASSES.get(kind, DEFAULT_CLASS)


SHARED_PREFIX = "shared_"

# Evidence that names no tie to any network domain ("registered within the window of some network loss it
# shows no other tie to": newly-registered noise has it by the thousand). It adds to the confidence like
# any other, but never makes its family support a verdict: corroboration means independent *ties*.
UNTIED_KINDS: frozenset[str] = frozenset({"registered_after_network_loss"})

# Every evidence kind that is not a shared indicator value: kind -> (family, group). Negative kinds have
# family None: they multiply the confidence down instead of adding to a family.
EVIDENCE_KINDS: dict[str, tuple[Family | None, str]] = {
    "same_label": (Family.LEXICAL, "lexical"),
    "typo_distance": (Family.LEXICAL, "lexical"),
    "contains_label": (Family.LEXICAL, "lexical"),
    "registered_after_takedown": (Family.REGISTRATION, "takedown"),
    "registered_after_network_loss": (Family.REGISTRATION, "takedown"),
    "registration_burst": (Family.REGISTRATION, "burst"),
    "text_similarity": (Family.CONTENT, "text"),
    "html_similarity": (Family.TEMPLATE, "template"),
    "linked_from_network": (Family.LINKAGE, "outlink"),
    "redirected_from_network": (Family.LINKAGE, "redirect"),
    "discovered_by": (None, "note"),
    "legitimate_brand": (None, "veto"),
    "imitated_outlet": (None, "veto"),
    "parked": (None, "negative"),
    "placeholder_page": (None, "negative"),
    "own_writing": (None, "note"),
    "registered_before_network": (None, "negative"),
    "commodity_only": (None, "negative"),
    "unrelated_content": (None, "negative"),
    "unrelated_neighbour": (None, "negative"),
    "uncorroborated": (None, "negative"),
}
VETO_KINDS: frozenset[str] = frozenset({"legitimate_brand", "imitated_outlet"})


def family_of(kind: str) -> tuple[Family | None, str]:
    """The family and correlation group of an evidence kind (unknown shared_* kinds: default class)."""
    if kind.startswith(SHARED_PREFIX):
        cls = indicator_class(kind[len(SHARED_PREFIX):])
        return cls.family, cls.group
    if kind not in EVIDENCE_KINDS:
        raise KeyError(f"unknown evidence kind {kind!r}")
    return EVIDENCE_KINDS[kind]


def rarity(count: int, total: int, commodity_share: int) -> float:
    """DomainCAT's weight of a value shared by ``count`` store domains: 1 − log(1+count)/log(1+N).

    Zero above ``commodity_share``. N is floored at N_FLOOR_FACTOR × commodity_share, because a store
    smaller than that cannot tell a rare value from a common one (everything would look common).
    """
    if count > commodity_share:
        return 0.0
    n = max(total, N_FLOOR_FACTOR * commodity_share, count, 2)
    return max(0.0, 1.0 - math.log1p(max(count, 1)) / math.log1p(n))


def crowd_factor(crowd: int, total: int, commodity_share: int) -> float:
    """How much a resemblance still proves when ``crowd`` stored sites outside the network resemble the
    candidate as closely: 1 with no crowd, falling as DomainCAT's rarity does, 0 past commodity_share."""
    if crowd > commodity_share:
        return 0.0
    n = max(total, N_FLOOR_FACTOR * commodity_share, crowd, 2)
    return max(0.0, 1.0 - math.log1p(crowd) / math.log1p(n))


def specificity(network_carriers: int, other_carriers: int) -> float:
    """Share of the other store domains carrying a value that belong to the network: a value mostly
    carried by unrelated domains (a shared host's IP) says little about the network's hands."""
    if network_carriers <= 0:
        return 0.0
    return min(1.0, network_carriers / max(other_carriers, network_carriers, 1))


def noisy_or(weights: Iterable[float]) -> float:
    prod = 1.0
    for w in weights:
        prod *= 1.0 - min(max(w, 0.0), 1.0)
    return 1.0 - prod


@dataclass(frozen=True)
class Combination:
    """A confidence and how it was reached."""

    positive: float  # noisy-OR over the capped family strengths
    penalty: float  # product of (1 + w) over negative evidence, in [0, 1]
    families: dict[Family, float]  # strength per family, capped at FAMILY_CAP
    ties: dict[Family, float]  # strength per family from its ties only (UNTIED_KINDS apart): what supports
    corroborated: bool

    @property
    def confidence(self) -> float:
        return max(0.0, min(1.0, self.positive * self.penalty))

    @property
    def supporting(self) -> tuple[Family, ...]:
        return independent(f for f, s in self.ties.items() if supports(s))


def family_strengths(evidence: Iterable[Evidence]) -> dict[Family, float]:
    """Per family: best weight in each correlation group, noisy-OR across groups, capped."""
    groups: dict[tuple[Family, str], float] = {}
    for ev in evidence:
        family, group = family_of(ev.kind)
        if family is None or ev.weight <= 0:
            continue
        key = (family, group)
        groups[key] = max(groups.get(key, 0.0), ev.weight)
    per_family: dict[Family, list[float]] = {}
    for (family, _), w in groups.items():
        per_family.setdefault(family, []).append(w)
    return {f: min(FAMILY_CAP, noisy_or(ws)) for f, ws in sorted(per_family.items())}


def independent(families: Iterable[Family]) -> tuple[Family, ...]:
    """The families that are independent lines of evidence: a page's look is not independent of its
    writing (copying a page copies both), so TEMPLATE counts only where CONTENT does not."""
    fams = tuple(families)
    return tuple(f for f in fams if not (f is Family.TEMPLATE and Family.CONTENT in fams))


def combine(evidence: Iterable[Evidence]) -> Combination:
    """The confidence an evidence list stands for (scoring's only formula; see docs/scoring.md)."""
    items = list(evidence)
    families = family_strengths(items)
    # the page's writing and look are one observation: together they count as one capped family
    merged = dict(families)
    if Family.CONTENT in merged and Family.TEMPLATE in merged:
        merged[Family.CONTENT] = min(FAMILY_CAP, noisy_or([merged[Family.CONTENT], merged.pop(Family.TEMPLATE)]))
    positive = noisy_or(merged.values())
    penalty = 1.0
    for ev in items:
        if ev.weight < 0:
            penalty *= 1.0 + max(ev.weight, -1.0)
    ties = family_strengths(ev for ev in items if ev.kind not in UNTIED_KINDS)
    supporting = independent(f for f, s in ties.items() if supports(s))
    corroborated = len(supporting) >= 2 and any(f in SUBSTANTIVE for f in supporting)
    return Combination(positive, penalty, families, ties, corroborated)
