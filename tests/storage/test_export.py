"""Exports: JSON in the contract's exact shape, CSV, GraphML readable by networkx, STIX 2.1 that parses."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import networkx as nx
import pytest
import stix2

from storage import export
from storage.store import Store
from tests.storage.world import HOSTILE_VALUE, fill

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def snap(store: Store) -> export.Snapshot:
    with store.transaction() as session:
        fill(session)
    with store.transaction() as session:
        return export.snapshot(session)


def test_json_has_exactly_the_contract_shape(snap: export.Snapshot) -> None:
    doc = json.loads(export.export_json(snap, NOW))
    assert list(doc) == ["generated_at", "domains", "edges"] and doc["generated_at"] == "2026-11-22T10:00:00Z"
    assert [d["domain"] for d in doc["domains"]] == ["a.ltd", "b.pm", "c.so", "lone.fun", "n.info"]
    a = doc["domains"][0]
    assert set(a) == {"domain", "status", "campaign", "origin", "first_seen", "last_seen", "status_history"}
    assert a["status"] == "seized" and a["origin"] == "seed" and a["campaign"] == "doppelganger"
    assert a["status_history"] == [{"status": "active", "since": "2024-07-01T00:00:00Z"},
                                   {"status": "seized", "since": "2024-08-30T00:00:00Z"}]
    edge = next(e for e in doc["edges"] if e["to"] == "b.pm")
    assert {"from", "to", "relation", "confidence", "detected_at", "evidence"} <= set(edge)
    assert edge["from"] == "a.ltd" and edge["relation"] == "replacement" and edge["confidence"] == 0.93
    assert edge["detected_at"] == "2024-08-31T02:00:00Z"
    assert edge["evidence"][0] == {"kind": "same_label_tld_swap", "value": "a", "weight": 0.35,
                                   "detail": "label kept, TLD .ltd → .pm"}
    assert edge["evidence"][2]["value"] == HOSTILE_VALUE  # kept verbatim, escaped by JSON
    every_time = [a["first_seen"], a["last_seen"], edge["detected_at"]] + [h["since"] for h in a["status_history"]]
    assert all(t.endswith("Z") and len(t) == 20 for t in every_time)


def test_json_bytes_carry_no_raw_control_characters(snap: export.Snapshot) -> None:
    raw = export.export_json(snap, NOW)
    assert b"\x1b" not in raw and b"\r" not in raw and b"\\u001b" in raw


def test_csv_has_a_row_per_domain_and_edge_and_hostile_text_is_inert(snap: export.Snapshot) -> None:
    raw = export.export_csv(snap, NOW)
    assert b"\x1b" not in raw and b"\x07" not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    assert [r["record"] for r in rows] == ["domain"] * 5 + ["edge"] * 3
    assert rows[0]["domain"] == "a.ltd" and json.loads(rows[0]["status_history"])[1]["status"] == "seized"
    edge = next(r for r in rows if r["record"] == "edge" and r["to"] == "b.pm")
    assert edge["relation"] == "replacement" and edge["confidence"] == "0.93"
    evidence = json.loads(edge["evidence"])
    assert evidence[2]["value"] == HOSTILE_VALUE


@pytest.mark.parametrize("text, cell", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("@SUM(1)", "'@SUM(1)"),
    ("a\x1b[31mb\r\n", "a\\x1b[31mb\\x0d\\x0a"),
    ("plain", "plain"),
])
def test_csv_cells_never_run_as_formulas_or_escapes(text: str, cell: str) -> None:
    assert export.csv_cell(text) == cell


def test_graphml_reads_back_with_networkx(snap: export.Snapshot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "lineage.graphml"
    path.write_bytes(export.export_graphml(snap, NOW))
    graph = nx.read_graphml(path)
    assert set(graph.nodes) == {"a.ltd", "b.pm", "c.so", "lone.fun", "n.info"}
    assert graph.nodes["a.ltd"]["status"] == "seized" and graph.nodes["b.pm"]["origin"] == "discovered"
    assert graph.nodes["c.so"]["campaign"] == "doppelganger"
    edges = {(u, v): d for u, v, d in graph.edges(data=True)}
    ab = edges[("a.ltd", "b.pm")]
    assert ab["relation"] == "replacement" and ab["confidence"] == pytest.approx(0.93)
    assert json.loads(ab["evidence"])[2]["value"] == HOSTILE_VALUE
    assert len(edges) == 3


def test_stix_bundle_parses_back_and_carries_lineage(snap: export.Snapshot) -> None:
    raw = export.export_stix(snap, NOW)
    bundle = stix2.parse(raw.decode(), allow_custom=True)
    assert bundle.type == "bundle"
    by_type: dict[str, list] = {}  # type: ignore[type-arg]
    for obj in bundle.objects:
        by_type.setdefault(obj.type, []).append(obj)
        assert obj.get("spec_version", "2.1") == "2.1"
        stix2.parse(obj.serialize(), allow_custom=True)  # every object validates on its own
    names = {o.id: o.value for o in by_type["domain-name"]}
    assert set(names.values()) == {"a.ltd", "b.pm", "c.so", "lone.fun", "n.info"}
    patterns = {i.pattern for i in by_type["indicator"]}
    assert "[domain-name:value = 'b.pm']" in patterns
    lineage = [r for r in by_type["relationship"] if r.relationship_type != "based-on"]
    assert len(lineage) == 3
    ab = next(r for r in lineage if names[r.source_ref] == "a.ltd" and names[r.target_ref] == "b.pm")
    assert ab.relationship_type == "replaced-by" and ab.x_hydrawatch_relation == "replacement"
    assert ab.confidence == 93 and isinstance(ab.confidence, int)
    assert ab.x_hydrawatch_evidence[2]["value"] == HOSTILE_VALUE and "shared_ns" in ab.description
    assert b"\x1b" not in raw


def test_stix_ids_are_stable_across_exports(snap: export.Snapshot) -> None:
    first = json.loads(export.export_stix(snap, NOW))
    second = json.loads(export.export_stix(snap, NOW))
    assert [o["id"] for o in first["objects"]] == [o["id"] for o in second["objects"]]


def test_unknown_format_is_an_error(store: Store) -> None:
    with store.transaction() as session, pytest.raises(KeyError):
        export.render(session, "yaml", NOW)


def test_hostile_evidence_is_inert_in_every_export(snap: export.Snapshot) -> None:
    for fmt, (exporter, _) in export.EXPORTERS.items():
        raw = exporter(snap, NOW)
        assert b"\x1b" not in raw and b"\x07" not in raw and b"\r\nline2" not in raw, fmt
    graphml = export.export_graphml(snap, NOW)
    assert b"<img" not in graphml and b"<script" not in graphml  # markup only as escaped data
