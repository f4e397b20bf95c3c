"""Evidence as a reader takes it in: grouped by family, the families that decided first, repeats of one
kind collapsed into a line ("text 95–100 % like rrn.media and 3 more"), and items too light to matter
marked minor so views hide them unless asked.

The one grouping the CLI tables, the alert mails and the web page (through the API) all show. It only
reads an edge's stored evidence list; the raw list stays what exports and JSON carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detect.evidence_kinds import (
    SHARED_PREFIX,
    combine,
    family_of,
    family_strengths,
)
from detect.model import Evidence

# An item lighter than this either way moves a confidence by a point or two at most (a commodity value
# such as a shared `nginx` header, a note such as how the candidate was found): hidden unless asked.
MINOR_WEIGHT = 0.05
AGAINST = "against"  # negative evidence and vetoes: they multiply the confidence down
NOTES = "notes"  # weightless remarks (how it was found, own writing)
OTHER = "other"  # kinds this version does not know (older stores)

# How an indicator kind reads after "same" (the rest: underscores become spaces).
_INDICATOR_LABELS = {
    "ga": "analytics id", "gtm": "tag manager id", "google_ads": "Google Ads id", "adsense": "AdSense id",
    "yandex_metrica": "Yandex Metrica id", "facebook_pixel": "Facebook pixel", "site_verification":
    "site verification", "wp_theme": "WordPress theme", "wp_theme_generic": "WordPress theme",
    "social": "social account", "cert_sha256": "certificate", "cert_san": "certificate name",
    "favicon_mmh3": "favicon", "dom_hash": "DOM hash", "canonical_host": "canonical host",
    "script_src": "script", "og_locale": "locale", "ns": "name server", "rdap_ns": "RDAP name server",
    "ns_domain": "name-server domain", "mx": "mail server", "mx_domain": "mail domain", "ip_prefix": "/24",
    "ip": "IP", "hhhash": "HTTP header hash", "server": "server header", "cert_issuer": "certificate issuer",
    "spf_include": "SPF include",
}
_LEXICAL = {"same_label": "same label as ", "typo_distance": "typo of ", "contains_label": "name contains the label of "}
_PEER = re.compile(r"\b(?:with|to|after) ([a-z0-9][a-z0-9.-]*\.[a-z0-9-]+)")
_HOURS = re.compile(r"registered ([+-]\d+) h")


@dataclass(frozen=True)
class EvidenceLine:
    """One kind of evidence within a family: its items collapsed into one sentence."""

    kind: str
    text: str  # plain text, crawled values verbatim (each view makes it inert)
    weight: float  # the strongest item's weight
    count: int  # how many stored items this line stands for
    counted: bool  # carries the weight its correlation group adds to the confidence
    minor: bool  # every item lighter than MINOR_WEIGHT either way: hidden unless asked
    items: tuple[Evidence, ...]  # the stored items, strongest first


@dataclass(frozen=True)
class EvidenceGroup:
    """A family of evidence (or the negative items, or the notes) and its lines, deciding lines first."""

    family: str
    strength: float  # a family: its capped strength; against: the confidence lost, as a negative number
    deciding: bool  # the family supports the verdict (or the negative items lowered it)
    lines: tuple[EvidenceLine, ...]

    @property
    def minor(self) -> bool:
        return all(line.minor for line in self.lines)


def _safe_family(kind: str) -> tuple[str, str]:
    try:
        family, group = family_of(kind)
    except KeyError:
        return OTHER, kind
    if family is None:
        return (NOTES, group) if group == "note" else (AGAINST, group)
    return family.value, group


def _short(value: str, limit: int = 40) -> str:
    """A value fit for a line: a long token (hash, URL) keeps both ends, long prose its start."""
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    if " " not in value:
        return value[: limit - 10] + "…" + value[-9:]
    return value[: limit - 1] + "…"


def _peer(ev: Evidence) -> str:
    found = _PEER.search(ev.detail)
    return found.group(1) if found else ev.value


def _span(numbers: Sequence[float], fmt: str) -> str:
    low, high = min(numbers), max(numbers)
    return fmt.format(low) if low == high else f"{fmt.format(low)}–{fmt.format(high)}"


def _more(names: Sequence[str]) -> str:
    distinct = list(dict.fromkeys(names))
    return _short(distinct[0]) + (f" and {len(distinct) - 1} more" if len(distinct) > 1 else "")


def _numbers(items: Sequence[Evidence], scale: float = 1.0) -> list[float]:
    out = []
    for ev in items:
        try:
            out.append(float(ev.value) * scale)
        except ValueError:
            continue
    return out


def describe(kind: str, items: Sequence[Evidence]) -> str:
    """The sentence for ``items`` (all of ``kind``, strongest first)."""
    if kind == "text_similarity" and (shares := _numbers(items, 100)):
        return f"text {_span(shares, '{:.0f}')} % like {_more([_peer(e) for e in items])}"
    if kind == "html_similarity" and (dist := _numbers(items)):
        return f"HTML TLSH distance {_span(dist, '{:.0f}')} to {_more([_peer(e) for e in items])}"
    if kind == "registered_after_takedown":
        hours = [float(m.group(1)) for e in items if (m := _HOURS.search(e.detail))]
        when = f"{_span(hours, '{:+.0f}')} h " if hours else ""
        return f"registered {when}after the loss of {_more([e.value for e in items])}"
    if kind in _LEXICAL:
        return _LEXICAL[kind] + _more([e.value for e in items])
    if kind == "registered_after_network_loss":
        return f"registered within the takedown window of {items[0].value} other network losses"
    if kind.startswith(SHARED_PREFIX):
        indicator = kind[len(SHARED_PREFIX):]
        label = _INDICATOR_LABELS.get(indicator, indicator.replace("_", " "))
        return f"same {label} {_more([e.value for e in items])}"
    first = items[0]
    text = first.detail if first.detail and len(first.detail) <= 60 else f"{kind.replace('_', ' ')} {first.value}"
    text = _short(text, 60)
    return text + (f" (and {len(items) - 1} more)" if len(items) > 1 else "")


def group_evidence(evidence: Iterable[Evidence], *, predecessor: str = "") -> tuple[EvidenceGroup, ...]:
    """``evidence`` grouped by family: deciding families first (strongest first), then the negative
    items, then weaker families, then notes; within a family the lines that count first.
    ``predecessor`` (the edge's other end) is named first where several network sites are named."""
    items = list(evidence)
    known = [ev for ev in items if _safe_family(ev.kind)[0] not in (OTHER, AGAINST, NOTES)]
    strengths = {f.value: s for f, s in family_strengths(known).items()}
    # the families that decided: supporting, and independent (a page's look is not, beside its writing)
    decided = {f.value for f in combine(known).supporting}
    best: dict[tuple[str, str], float] = {}
    for ev in items:
        key = _safe_family(ev.kind)
        best[key] = max(best.get(key, 0.0), ev.weight)
    by_kind: dict[tuple[str, str], list[Evidence]] = {}
    for ev in items:
        by_kind.setdefault((_safe_family(ev.kind)[0], ev.kind), []).append(ev)
    lines: dict[str, list[EvidenceLine]] = {}
    for (family, kind), evs in by_kind.items():
        evs.sort(key=lambda e: (-abs(e.weight), _peer(e) != predecessor and e.value != predecessor))
        group = _safe_family(kind)
        counted = (evs[0].weight < 0 if family == AGAINST
                   else evs[0].weight > 0 and evs[0].weight >= best[group] and family not in (NOTES, OTHER))
        lines.setdefault(family, []).append(EvidenceLine(
            kind=kind, text=describe(kind, evs), weight=evs[0].weight, count=len(evs), counted=counted,
            minor=all(abs(e.weight) < MINOR_WEIGHT for e in evs), items=tuple(evs)))
    penalty = 1.0
    for ev in items:
        if ev.weight < 0:
            penalty *= 1.0 + max(ev.weight, -1.0)
    groups = []
    for family, found in lines.items():
        found.sort(key=lambda line: (not line.counted, -abs(line.weight), line.kind))
        if family == AGAINST:
            strength, deciding = penalty - 1.0, penalty < 1.0
        else:
            strength = strengths.get(family, 0.0)
            deciding = family in decided
        groups.append(EvidenceGroup(family, round(strength, 4), deciding, tuple(found)))
    rank = {AGAINST: 1, NOTES: 4, OTHER: 3}
    groups.sort(key=lambda g: (0 if g.deciding and g.family != AGAINST else rank.get(g.family, 2), -abs(g.strength),
                               g.family))
    return tuple(groups)


def visible(groups: Sequence[EvidenceGroup], *, include_minor: bool = False,
            ) -> tuple[tuple[EvidenceGroup, ...], int]:
    """The groups a view shows (minor lines left out unless ``include_minor``) and how many stored items
    it left out."""
    if include_minor:
        return tuple(groups), 0
    shown, hidden = [], 0
    for group in groups:
        kept = tuple(line for line in group.lines if not line.minor)
        hidden += sum(line.count for line in group.lines if line.minor)
        if kept:
            shown.append(EvidenceGroup(group.family, group.strength, group.deciding, kept))
    return tuple(shown), hidden
