"""The whole store's domains and lineage as JSON (CONTRACT.md's shape), CSV, GraphML or STIX 2.1.

``snapshot`` (storage/snapshot.py) reads the store once; each exporter turns a Snapshot into bytes.
Crawled text is hostile: JSON and STIX escape control, bidi and line-separator characters
(``\\uXXXX``); CSV and GraphML cells are made inert (``\\xNN``). Both through detect.textsafe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from detect import textsafe
from detect.textsafe import csv_cell, inert
from storage.codec import evidence_to_raw
from storage.snapshot import DomainRecord, Snapshot, iso, snapshot
from storage.values import EdgeInfo


def edge_json(edge: EdgeInfo) -> dict[str, Any]:
    """One edge in the contract's shape (plus the detail of each piece of evidence)."""
    return {"from": edge.from_domain, "to": edge.to_domain, "relation": edge.relation,
            "confidence": edge.confidence, "detected_at": iso(edge.detected_at),
            "evidence": evidence_to_raw(edge.evidence)}


def domain_json(record: DomainRecord) -> dict[str, Any]:
    d = record.domain
    return {"domain": d.name, "status": d.status, "campaign": d.campaign, "origin": d.origin,
            "first_seen": iso(d.first_seen), "last_seen": iso(d.last_seen),
            "status_history": [{"status": h.status, "since": iso(h.since)} for h in record.history]}


def to_json(snap: Snapshot, generated_at: datetime) -> dict[str, Any]:
    return {"generated_at": iso(generated_at), "domains": [domain_json(r) for r in snap.domains],
            "edges": [edge_json(e) for e in snap.edges]}


def export_json(snap: Snapshot, generated_at: datetime) -> bytes:
    return (textsafe.json_dumps(to_json(snap, generated_at), indent=2) + "\n").encode()


CSV_COLUMNS = ("record", "domain", "status", "campaign", "origin", "first_seen", "last_seen", "status_history",
               "from", "to", "relation", "confidence", "detected_at", "evidence")


def export_csv(snap: Snapshot, generated_at: datetime) -> bytes:
    """One CSV, one row per domain (record=domain) then one per edge (record=edge); history and
    evidence are JSON in their cell."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for rec in snap.domains:
        d = domain_json(rec)
        writer.writerow({"record": "domain", **{k: csv_cell(str(d[k] or "")) for k in
                                                 ("domain", "status", "campaign", "origin", "first_seen",
                                                  "last_seen")},
                         "status_history": csv_cell(json.dumps(d["status_history"]))})
    for edge in snap.edges:
        e = edge_json(edge)
        writer.writerow({"record": "edge", "from": e["from"], "to": e["to"], "relation": e["relation"],
                         "confidence": f"{edge.confidence:.4g}", "detected_at": e["detected_at"],
                         "evidence": csv_cell(json.dumps(e["evidence"]))})
    return buf.getvalue().encode()


def to_graph(snap: Snapshot) -> Any:
    """A networkx MultiDiGraph: a node per domain, an edge per lineage edge (key = relation)."""
    import networkx as nx  # type: ignore[import-untyped]  # here: `lineage` and `status` never draw a graph

    graph = nx.MultiDiGraph(name="hydrawatch lineage")
    for rec in snap.domains:
        d = rec.domain
        graph.add_node(d.name, status=d.status.value, campaign=inert(d.campaign), origin=d.origin,
                       first_seen=iso(d.first_seen) or "", last_seen=iso(d.last_seen) or "",
                       status_since=iso(d.status_since) or "",
                       status_history=json.dumps([{"status": h.status.value, "since": iso(h.since)} for h in rec.history]))
    for edge in snap.edges:
        graph.add_edge(edge.from_domain, edge.to_domain, key=edge.relation.value, relation=edge.relation.value,
                       confidence=float(edge.confidence), detected_at=iso(edge.detected_at) or "",
                       evidence=json.dumps(edge_json(edge)["evidence"]))
    return graph


def export_graphml(snap: Snapshot, generated_at: datetime) -> bytes:
    import networkx as nx

    buf = io.BytesIO()
    nx.write_graphml(to_graph(snap), buf, encoding="utf-8")
    return buf.getvalue()


def export_stix(snap: Snapshot, generated_at: datetime) -> bytes:
    from storage.stix import bundle

    text: str = bundle(snap, generated_at).serialize(pretty=True)
    return (textsafe.json_escape(text) + "\n").encode()


Exporter = Callable[[Snapshot, datetime], bytes]

# format name → (exporter, media type). An unknown name is an error (KeyError from ``exporter``).
EXPORTERS: dict[str, tuple[Exporter, str]] = {
    "json": (export_json, "application/json"),
    "csv": (export_csv, "text/csv; charset=utf-8"),
    "graphml": (export_graphml, "application/graphml+xml"),
    "stix": (export_stix, "application/stix+json;version=2.1"),
}


def render(session: Session, fmt: str, generated_at: datetime) -> bytes:
    """The store exported as ``fmt`` (a key of EXPORTERS; KeyError otherwise)."""
    exporter, _ = EXPORTERS[fmt]
    return exporter(snapshot(session), generated_at)
