"""The store as a STIX 2.1 bundle (built with the ``stix2`` library).

- every domain → a ``domain-name`` SCO carrying x_hydrawatch_* status, campaign, origin and history;
- every domain → an ``indicator`` (pattern ``[domain-name:value = '…']``, valid_from = first seen)
  linked to its SCO by a ``based-on`` relationship;
- every lineage edge → a ``relationship`` from predecessor to successor: relationship_type
  ``replaced-by`` / ``mirrored-by`` / ``related-to``, x_hydrawatch_relation (the contract's word),
  confidence 0–100, the evidence in ``description`` and as x_hydrawatch_evidence.

Ids of SDOs are UUIDv5 of their content key, so exporting twice yields the same objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import stix2  # type: ignore[import-untyped]

from detect.model import Evidence, Relation
from storage.codec import evidence_to_raw
from storage.snapshot import Snapshot, iso

_NS = uuid.UUID("6f1e5a52-3c38-4c0a-9d7e-9a2f0d6b7c11")  # hydrawatch's namespace for STIX ids

RELATIONSHIP_TYPES = {Relation.REPLACEMENT: "replaced-by", Relation.MIRROR: "mirrored-by", Relation.NETWORK: "related-to"}


def _id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(_NS, f'{kind}:{key}')}"


def _quote(value: str) -> str:
    """A STIX pattern string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _evidence_text(relation: str, src: str, dst: str, confidence: float, evidence: Sequence[Evidence]) -> str:
    lines = [f"{dst} is a {relation} of {src} (confidence {confidence:.2f}) per hydrawatch. Evidence:"]
    lines += [f"- {e.kind} = {e.value!r} (weight {e.weight:+.2f})" for e in evidence]
    return "\n".join(lines)


def bundle(snap: Snapshot, generated_at: datetime) -> Any:
    """A stix2.Bundle of the snapshot (parses back with ``stix2.parse(..., allow_custom=True)``)."""
    identity = stix2.Identity(id=_id("identity", "hydrawatch"), name="hydrawatch", identity_class="system",
                              created="2024-01-01T00:00:00Z", modified="2024-01-01T00:00:00Z")
    objects: list[Any] = [identity]
    scos: dict[str, str] = {}
    for rec in snap.domains:
        d = rec.domain
        sco = stix2.DomainName(
            value=d.name, allow_custom=True,
            x_hydrawatch_status=d.status, x_hydrawatch_campaign=d.campaign, x_hydrawatch_origin=d.origin,
            x_hydrawatch_first_seen=iso(d.first_seen), x_hydrawatch_last_seen=iso(d.last_seen),
            x_hydrawatch_status_history=[{"status": h.status, "since": iso(h.since)} for h in rec.history],
        )
        scos[d.name] = sco.id
        indicator = stix2.Indicator(
            id=_id("indicator", d.name), created_by_ref=identity.id, created=d.first_seen, modified=max(d.first_seen, d.last_seen),
            name=f"{d.name} ({d.status})", pattern_type="stix",
            pattern=f"[domain-name:value = {_quote(d.name)}]", valid_from=d.first_seen,
            indicator_types=["malicious-activity"], labels=[d.status] + ([d.campaign] if d.campaign else []),
            description=f"{d.origin} domain of campaign {d.campaign or '(none)'}, status {d.status}",
            allow_custom=True,
        )
        based_on = stix2.Relationship(id=_id("relationship", f"based-on:{d.name}"), created_by_ref=identity.id,
                                      created=d.first_seen, modified=d.first_seen, relationship_type="based-on",
                                      source_ref=indicator.id, target_ref=sco.id)
        objects += [sco, indicator, based_on]
    for edge in snap.edges:
        evidence = evidence_to_raw(edge.evidence)
        objects.append(stix2.Relationship(
            id=_id("relationship", f"{edge.from_domain}>{edge.to_domain}>{edge.relation}"),
            created_by_ref=identity.id, created=edge.detected_at, modified=edge.detected_at,
            relationship_type=RELATIONSHIP_TYPES[edge.relation],
            source_ref=scos[edge.from_domain], target_ref=scos[edge.to_domain],
            confidence=max(0, min(100, round(edge.confidence * 100))), start_time=edge.detected_at,
            description=_evidence_text(edge.relation, edge.from_domain, edge.to_domain, edge.confidence, edge.evidence),
            x_hydrawatch_relation=edge.relation, x_hydrawatch_evidence=evidence, allow_custom=True,
        ))
    return stix2.Bundle(objects=objects, allow_custom=True,
                        id=_id("bundle", f"{iso(generated_at)}:{len(objects)}"))
