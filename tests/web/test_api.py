"""The HTTP API over a filled store: endpoints, 404s, read-only, token, headers, hostile text inert."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import networkx as nx
import pytest
import stix2

from hydrawatch.web.app import create_app
from hydrawatch.web.security import CSP
from hydrawatch.web.server import start_background
from storage.store import Store
from tests.storage.world import HOSTILE_TITLE, HOSTILE_VALUE, fill


@pytest.fixture
def filled(store: Store) -> Store:
    with store.transaction() as session:
        fill(session)
    return store


def served(app, **kwargs) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """The app on a real loopback server (ephemeral port) and a client for it."""
    running = start_background(app)
    try:
        with httpx.Client(base_url=running.url, timeout=10, **kwargs) as c:
            yield c
    finally:
        running.stop()


@pytest.fixture
def client(filled: Store) -> Iterator[httpx.Client]:
    yield from served(create_app(filled.sessions))


def test_domains_lists_filters_and_searches(client: httpx.Client) -> None:
    everything = client.get("/api/domains").json()
    assert everything["total"] == 5 and [d["domain"] for d in everything["domains"]][:2] == ["a.ltd", "b.pm"]
    assert [d["domain"] for d in client.get("/api/domains", params={"status": "seized"}).json()["domains"]] == [
        "a.ltd", "b.pm"]
    assert [d["domain"] for d in client.get("/api/domains", params={"q": "c.s"}).json()["domains"]] == ["c.so"]
    found = client.get("/api/domains", params={"origin": "discovered", "since": "2024-10-01T00:00:00Z"}).json()
    assert [d["domain"] for d in found["domains"]] == ["b.pm", "c.so"]
    assert client.get("/api/domains", params={"status": "bogus"}).status_code == 422


def test_domain_detail_has_history_indicators_and_edges(client: httpx.Client) -> None:
    detail = client.get("/api/domains/b.pm").json()
    assert detail["status"] == "seized" and [h["status"] for h in detail["status_history"]] == ["active", "seized"]
    assert {(i["kind"], i["value"], i["domains"]) for i in detail["indicators"]} == {
        ("ga", "G-SHARED1", 2), ("ns", "ns1.host.example", 2)}
    assert [(e["from"], e["to"]) for e in detail["edges"]] == [("a.ltd", "b.pm"), ("b.pm", "c.so")]
    assert detail["last_page"]["title"] == HOSTILE_TITLE  # verbatim data, JSON-escaped on the wire


def test_lineage_has_members_edges_with_evidence_and_timeline(client: httpx.Client) -> None:
    fam = client.get("/api/lineage/c.so").json()
    assert [(m["domain"], m["role"], m["depth"]) for m in fam["members"]] == [
        ("a.ltd", "predecessor", -2), ("b.pm", "predecessor", -1), ("c.so", "self", 0)]
    ab = next(e for e in fam["edges"] if e["to"] == "b.pm")
    assert ab["relation"] == "replacement" and ab["evidence"][2]["value"] == HOSTILE_VALUE
    assert [t["event"] for t in fam["timeline"]].count("edge") == 2


def test_edges_carry_the_grouped_evidence_as_an_extra_field_the_export_does_not(client: httpx.Client) -> None:
    fam = client.get("/api/lineage/c.so").json()
    ab = next(e for e in fam["edges"] if e["to"] == "b.pm")
    assert [(g["family"], g["deciding"]) for g in ab["evidence_groups"]] == [("infrastructure", True), ("other", False)]
    line = ab["evidence_groups"][0]["lines"][0]
    assert line == {"kind": "shared_ns", "text": "same name server ns1.host.example", "weight": 0.2, "count": 1,
                    "counted": True, "minor": False}
    assert sum(ln["count"] for g in ab["evidence_groups"] for ln in g["lines"]) == len(ab["evidence"])
    exported = client.get("/api/export/json").json()["edges"]
    assert all(set(e) == {"from", "to", "relation", "confidence", "detected_at", "evidence"} for e in exported)


def test_pivot_and_unknowns_are_404(client: httpx.Client) -> None:
    hit = client.get("/api/pivot/ga/G-SHARED1").json()
    assert [d["domain"] for d in hit["domains"]] == ["b.pm", "c.so"]
    assert hit["domains"][1]["indicator_first_seen"] == "2024-10-30T00:00:00Z"
    for path in ("/api/domains/ghost.ltd", "/api/lineage/ghost.ltd", "/api/pivot/ga/G-NEVER", "/api/export/yaml"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["detail"]


def test_exports_over_http_open_in_their_tools(client: httpx.Client) -> None:
    doc = client.get("/api/export/json").json()
    assert list(doc) == ["generated_at", "domains", "edges"] and len(doc["edges"]) == 3
    stix = client.get("/api/export/stix")
    assert stix.headers["content-type"].startswith("application/stix+json")
    assert stix2.parse(stix.text, allow_custom=True).type == "bundle"
    graphml = client.get("/api/export/graphml")
    import io

    assert set(nx.read_graphml(io.BytesIO(graphml.content)).nodes) >= {"a.ltd", "b.pm", "c.so"}
    assert client.get("/api/export/csv").text.startswith("record,domain,")


def test_api_is_read_only(client: httpx.Client) -> None:
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/api/domains/a.ltd").status_code == 405


def test_every_response_carries_the_security_headers(client: httpx.Client) -> None:
    for path in ("/", "/api/domains", "/api/domains/ghost.ltd", "/static/app.js", "/api/openapi.json"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CSP, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP


def test_page_has_no_inline_script_and_no_external_resource(client: httpx.Client) -> None:
    page = client.get("/").text
    assert "<script src=\"/static/app.js\" defer></script>" in page
    assert "<script>" not in page and "http://" not in page and "https://" not in page
    js = client.get("/static/app.js").text
    assert "innerHTML" not in js.replace("never innerHTML", "") and "eval(" not in js
    openapi = client.get("/api/openapi.json").json()
    assert {"/api/domains", "/api/domains/{name}", "/api/lineage/{name}", "/api/pivot/{kind}/{value}",
            "/api/export/{fmt}"} <= set(openapi["paths"])


def test_hostile_text_is_escaped_in_json(client: httpx.Client) -> None:
    raw = client.get("/api/domains/b.pm").content
    assert b"\x1b" not in raw and b"\r\n" not in raw
    assert json.loads(raw)["last_page"]["title"] == HOSTILE_TITLE
    assert client.get("/api/domains/b.pm").headers["content-type"] == "application/json"


@pytest.fixture
def locked(filled: Store) -> Iterator[httpx.Client]:
    yield from served(create_app(filled.sessions, token="s3cret"))


def test_token_is_required_on_every_request(locked: httpx.Client) -> None:
    for path in ("/", "/api/domains", "/static/app.js", "/api/openapi.json", "/api/export/json"):
        response = locked.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-security-policy"] == CSP
    assert locked.get("/api/domains", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert locked.get("/api/domains", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    # a ?token= link sets the cookie and sends the browser to the same address without the token
    assert locked.get("/api/domains?token=s3cret").status_code == 303


def test_page_never_carries_the_token(filled: Store) -> None:
    for c in served(create_app(filled.sessions, token='a"b<c')):
        moved = c.get("/", params={"token": 'a"b<c'})
        assert moved.status_code == 303 and moved.headers["location"] == "/"
        page = c.get("/")  # the client kept the cookie
    assert page.status_code == 200
    assert 'src="/static/app.js"' in page.text and "token" not in page.text


def test_foreign_host_header_is_refused_when_bound_to_loopback(filled: Store) -> None:
    for c in served(create_app(filled.sessions, allowed_hosts=["127.0.0.1", "localhost"])):
        assert c.get("/api/domains").status_code == 200
        assert c.get("/api/domains", headers={"Host": "localhost:1"}).status_code == 200
        assert c.get("/api/domains", headers={"Host": "attacker.example"}).status_code == 400
