"""The researcher's views as JSON-ready dicts: one shape for `--format json` and for the HTTP API.

Crawled text is kept verbatim here (JSON escapes it); the terminal and the page make it inert.
"""

from __future__ import annotations

from typing import Any

from detect.evidence_summary import group_evidence
from storage.export import edge_json, iso
from storage.lineage import Family
from storage.values import DomainInfo, EdgeInfo, StatusChange
from storage.views import DomainDetail, Pivot


def domain_summary(d: DomainInfo) -> dict[str, Any]:
    return {"domain": d.name, "status": d.status, "reason": d.status_reason, "since": iso(d.status_since),
            "campaign": d.campaign, "origin": d.origin, "first_seen": iso(d.first_seen),
            "last_seen": iso(d.last_seen), "tags": list(d.tags)}


def history_json(history: tuple[StatusChange, ...] | list[StatusChange]) -> list[dict[str, Any]]:
    return [{"status": h.status, "previous": h.previous, "since": iso(h.since), "reason": h.reason} for h in history]


def evidence_groups(edge: EdgeInfo) -> list[dict[str, Any]]:
    """The edge's evidence as detect.evidence_summary groups it (every line; ``minor`` ones a view hides
    unless asked), the same grouping the terminal and the mails show."""
    return [{"family": g.family, "strength": g.strength, "deciding": g.deciding,
             "lines": [{"kind": line.kind, "text": line.text, "weight": line.weight, "count": line.count,
                        "counted": line.counted, "minor": line.minor} for line in g.lines]}
            for g in group_evidence(edge.evidence, predecessor=edge.from_domain)]


def edge_full(edge: EdgeInfo) -> dict[str, Any]:
    """An edge in the export's shape, plus its id and the grouped evidence (extra fields only)."""
    return {"id": edge.id, **edge_json(edge), "evidence_groups": evidence_groups(edge)}


def detail_json(detail: DomainDetail) -> dict[str, Any]:
    page = detail.last_page
    return {
        **domain_summary(detail.domain),
        "status_history": history_json(detail.history),
        "indicators": [{"kind": i.kind, "value": i.value, "first_seen": iso(i.first_seen),
                        "last_seen": iso(i.last_seen), "observations": i.observations, "domains": i.domains}
                       for i in detail.indicators],
        "edges": [edge_full(e) for e in detail.edges],
        "last_page": None if page is None else {
            "url": page.url, "final_url": page.final_url, "http_status": page.http_status, "title": page.title,
            "observed_at": iso(page.observed_at)},
    }


def timeline(family: Family) -> list[dict[str, Any]]:
    """Status changes of every member and the detection of every edge, oldest first."""
    events: list[tuple[Any, int, dict[str, Any]]] = []
    for m in family.members:
        for h in m.history:
            events.append((h.since, 0, {"at": iso(h.since), "event": "status", "domain": m.domain.name,
                                        "status": h.status, "previous": h.previous, "reason": h.reason}))
    for e in family.edges:
        events.append((e.detected_at, 1, {"at": iso(e.detected_at), "event": "edge", "from": e.from_domain,
                                          "to": e.to_domain, "relation": e.relation, "confidence": e.confidence}))
    events.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in events]


def family_json(family: Family) -> dict[str, Any]:
    return {
        "domain": family.root,
        "members": [{**domain_summary(m.domain), "role": m.role, "depth": m.depth,
                     "status_history": history_json(m.history)} for m in family.members],
        "edges": [edge_full(e) for e in family.edges],
        "timeline": timeline(family),
    }


def pivot_json(found: Pivot) -> dict[str, Any]:
    return {"kind": found.kind, "value": found.value,
            "domains": [{**domain_summary(h.domain), "indicator_first_seen": iso(h.first_seen),
                         "indicator_last_seen": iso(h.last_seen), "observations": h.observations}
                        for h in found.hits]}
