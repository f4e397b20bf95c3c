"""The store's seams: Store opened from a URL, statuses and relations out as enums (the stored and
exported words unchanged), alert queues named by an enum, and one evidence codec."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from detect.model import Evidence, Relation, Status
from storage import export, lineage, outbox, views, watchlist
from storage.codec import evidence_from_raw, evidence_to_raw
from storage.db import StoreError
from storage.models import OutboxRow, StatusChangeRow
from storage.store import Store, open_store
from tests.storage.world import T0, fill

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("detect", "crawler", "storage", "scheduler", "hydrawatch", "sandbox", "bench")
CODEC = ROOT / "storage" / "codec.py"


def test_a_store_opens_from_its_url_and_refuses_an_uninitialised_schema(store_url: str) -> None:
    with pytest.raises(StoreError, match="not initialised: run `hydrawatch init`"), open_store(store_url):
        pass
    with open_store(store_url, check=False) as fresh:
        fresh.init()
    with open_store(store_url) as store, store.transaction() as session:
        assert watchlist.list_domains(session) == []


def test_statuses_and_relations_leave_the_store_as_enums(store: Store) -> None:
    with store.transaction() as session:
        fill(session)
    with store.transaction() as session:
        domain = watchlist.get_domain(session, "b.pm")
        history = watchlist.status_history(session, "b.pm")
        seized = watchlist.list_domains(session, status=Status.SEIZED)
        found, _ = views.search_domains(session, status=Status.ACTIVE)
        edges = lineage.edges(session)
        family = lineage.family(session, "b.pm")
        snap = export.snapshot(session)
    assert domain is not None and type(domain.status) is Status and domain.status is Status.SEIZED
    assert [(h.previous, h.status) for h in history] == [(Status.UNKNOWN, Status.ACTIVE), (Status.ACTIVE, Status.SEIZED)]
    assert all(type(h.status) is Status and type(h.previous) is Status for h in history)
    assert [d.name for d in seized] == ["a.ltd", "b.pm"] and all(d.status is Status.SEIZED for d in seized)
    assert {d.name for d in found} == {"c.so", "n.info", "lone.fun"}
    assert {(e.to_domain, e.relation) for e in edges} == {("b.pm", Relation.REPLACEMENT),
                                                          ("c.so", Relation.REPLACEMENT), ("n.info", Relation.NETWORK)}
    assert all(type(e.relation) is Relation for e in (*edges, *family.edges))
    assert all(type(m.domain.status) is Status for m in family.members)
    assert all(type(h.status) is Status for rec in snap.domains for h in rec.history)


def test_the_stored_words_are_the_enum_values(store: Store) -> None:
    """Str-valued enums: the database and the exports keep the contract's words."""
    with store.transaction() as session:
        fill(session)
    with store.engine.connect() as conn:
        statuses = set(conn.execute(text("SELECT status FROM domains")).scalars())
        changes = set(conn.execute(text("SELECT previous FROM status_changes")).scalars())
        relations = set(conn.execute(text("SELECT relation FROM edges")).scalars())
    assert statuses == {"seized", "active"} and changes == {"unknown", "active"}
    assert relations == {"replacement", "network"}
    assert all(type(v) is str for v in statuses | relations)
    with store.transaction() as session:  # a change recorded without a previous status reads back as None
        a = watchlist.domain_row(session, "lone.fun")
        assert a is not None
        session.add(StatusChangeRow(domain_id=a.id, status="dead", previous=None, reason="", changed_at=T0 + timedelta(days=999)))
    with store.transaction() as session:
        assert watchlist.status_history(session, "lone.fun")[-1].previous is None
    with store.transaction() as session:
        doc = export.to_json(export.snapshot(session), T0)
    assert {d["status"] for d in doc["domains"]} == {"seized", "active"}
    assert {e["relation"] for e in doc["edges"]} == {"replacement", "network"}


def test_the_outbox_hands_out_statuses_and_relations_as_enums(store: Store) -> None:
    with store.transaction() as session:
        ids = fill(session)
        outbox.enqueue(session, ids["a.ltd>b.pm"], now=T0, message_id="<m1>")
        change = watchlist.latest_change_id(session, "b.pm")
        assert change is not None
        outbox.enqueue_takedown(session, change, now=T0, message_id="<m2>")
    later = T0 + timedelta(days=400)
    with store.transaction() as session:
        (item,) = outbox.due(session, now=later)
        (down,) = outbox.due_takedowns(session, now=later)
    assert item.predecessor_status is Status.SEIZED and item.edge.relation is Relation.REPLACEMENT
    assert down.status is Status.SEIZED and down.previous is Status.ACTIVE


def test_alert_queues_are_named_by_an_enum(store: Store) -> None:
    assert [q.value for q in outbox.Queue] == ["clone", "takedown"]
    with store.transaction() as session:
        ids = fill(session)
        clone = outbox.enqueue(session, ids["b.pm>c.so"], now=T0, message_id="<c>")
        change = watchlist.latest_change_id(session, "b.pm")
        assert change is not None
        down = outbox.enqueue_takedown(session, change, now=T0, message_id="<t>")
    with store.transaction() as session:
        outbox.claim(session, down, now=T0, queue=outbox.Queue.TAKEDOWN)
        outbox.mark_failed(session, [down], "refused", now=T0, max_attempts=1, queue=outbox.Queue.TAKEDOWN)
        outbox.claim(session, clone, now=T0, queue=outbox.Queue.CLONE)
        outbox.mark_sent(session, [clone], now=T0, queue=outbox.Queue.CLONE)
    with store.transaction() as session:
        assert outbox.counts(session, outbox.Queue.TAKEDOWN) == {"failed": 1}
        assert outbox.counts(session, outbox.Queue.CLONE) == {"sent": 1}
        assert [(a.kind, a.state) for a in outbox.queued(session)] == [
            (outbox.Queue.CLONE, "sent"), (outbox.Queue.TAKEDOWN, "failed")]
        assert outbox.retry(session, outbox.Queue.TAKEDOWN, None, now=T0) == 1
        with pytest.raises(ValueError):
            outbox.counts(session, OutboxRow)  # type: ignore[arg-type]  # an ORM class is not a queue name


@pytest.mark.parametrize("evidence", [
    (),
    (Evidence("shared_ns", "ns1.host.example", 0.2),),
    (Evidence("page_title", "\x1b[2J\"><img>", -0.15, "hostile\r\ndetail"), Evidence("k", "", 1.0, "")),
])
def test_evidence_round_trips_through_the_codec(evidence: tuple[Evidence, ...]) -> None:
    raw = evidence_to_raw(evidence)
    assert all(list(item) == ["kind", "value", "weight", "detail"] for item in raw)
    assert evidence_from_raw(raw) == evidence


def test_the_codec_rounds_on_request_and_reads_damaged_json_leniently() -> None:
    assert evidence_to_raw([Evidence("k", "v", 0.123456789)], digits=4)[0]["weight"] == 0.1235
    assert evidence_to_raw([Evidence("k", "v", 1)])[0]["weight"] == 1.0
    assert evidence_from_raw([{"kind": "k", "value": 7, "weight": "0.5"}, "junk", None]) == (
        Evidence("k", "7", 0.5, ""),)
    assert evidence_from_raw(None) == ()


def _reads_weight(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "weight"
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "weight")


def _evidence_codings(tree: ast.AST) -> list[int]:
    """Lines that build an evidence object (a dict literal with kind, value and weight) or read one
    (a ``["weight"]`` subscript or ``.get("weight", …)``)."""
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"kind", "value", "weight"} <= keys:
                lines.append(node.lineno)
        elif _reads_weight(node):
            lines.append(node.lineno)
    return lines


def test_evidence_is_encoded_and_decoded_only_by_the_codec() -> None:
    found = {str(path.relative_to(ROOT)): lines
             for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if path != CODEC and (lines := _evidence_codings(ast.parse(path.read_text(), str(path))))}
    assert found == {}, "evidence JSON built or read outside storage/codec.py"
    assert _evidence_codings(ast.parse(CODEC.read_text())), "the check no longer recognises the codec itself"
