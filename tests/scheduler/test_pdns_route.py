"""The passive-DNS route end to end, through the real CLI on the sandbox: a replacement whose name is
nothing like the network's, in no feed and no certificate log, is found only because pDNS saw it on the
lost site's address; the shared host next door, with thirty strangers on it, floods nothing; a broken pDNS
server the cycle before is reported and costs nothing else. The CLI runs in process (the process is
not the point here). (Without ``pdns_url`` the same world yields
no edge to the replacement: checked by hand when this test was written.)"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, ok, site, world_config
from tests.support import cli

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SEEDS = {
    "quill-courier.info": ("Farm subsidies quietly cut", "185.44.12.21"),
    "quill-gazette.net": ("Power prices rise again", "185.44.12.22"),
}
LOST = "quill-courier.info"
REPLACEMENT = "morning-ledger.org"  # no lookalike of any network name
SHARED = "185.44.12.22"             # the other network site's host, shared with 30 strangers
TENANTS = [f"tenant{i:02d}-shop.com" for i in range(30)]
BULK = {"ns": ["ns1.bulkhost.example", "ns2.bulkhost.example"],
        "rdap": {"registrar": "Bulk Registrar Inc", "registered": "2019-05-01"}}


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {
        name: {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": site(name, story)}}}}
        for name, (story, ip) in SEEDS.items()}
    for tenant in TENANTS:
        domains[tenant] = {**BULK, "a": [SHARED], "nrd": False, "ct": False,
                           "web": {"pages": {"/": {"html": f"<html><title>{tenant}</title>shop</html>"}}}}
    domains[REPLACEMENT] = {**HOSTING, "a": [SEEDS[LOST][1]], "appears": "takedown", "nrd": False, "ct": False,
                            "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                            "web": {"pages": {"/": {"html": site(REPLACEMENT, SEEDS[LOST][0])}}}}
    return {"world": {"name": "pdns-route", "campaign": "quill", "seeds": sorted(SEEDS)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "domains": {LOST: {
                           "a": ["66.212.148.117"], "ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                           "web": {"catch_all": {"builtin": "seizure-banner"}}}}}},
            "domains": domains}


def test_a_replacement_seen_only_by_passive_dns_is_found_and_shared_hosting_floods_nothing(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    db = tmp_path / "store.db"
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{db}",
                          discovery={**sb.pdns_settings(), "pdns_max_per_query": 20, "nrd_feeds": [],
                                     "ct_search_url": ""})
    ok(config, "init")
    ok(config, "seed", "add", *SEEDS, "--campaign", "quill")
    sb.set_service_behaviour("pdns", "pdns-500")  # a broken pDNS server costs its route, not the cycle
    done = cli(config, "run", "--once", "--format", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    broken = [e for e in json.loads(done.stdout)["source_errors"] if e.startswith("pdns ")]
    assert broken and all("http" in e and "500" in e for e in broken), broken

    sb.set_service_behaviour("pdns", None)
    sb.set_phase("takedown")
    done = cli(config, "run", "--once", "--format", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads(done.stdout)
    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    assert edges[REPLACEMENT]["from"] == LOST, (sorted(edges), stats)
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT name, source FROM candidates").fetchall())
        via = conn.execute("SELECT via FROM candidates WHERE name = ?", (REPLACEMENT,)).fetchone()[0]
    assert rows[REPLACEMENT] == "pdns" and "pDNS" in via, (rows, via)
    # the shared address was asked, counted as shared hosting and skipped whole: no tenant was a candidate
    assert SHARED in sb.pdns_queries and "185.44.12.21" in sb.pdns_queries
    assert not set(TENANTS) & set(rows), sorted(set(TENANTS) & set(rows))
    assert any(SHARED in n and "shared hosting" in n for n in stats["source_notes"]), stats["source_notes"]
    assert not [e for e in stats["source_errors"] if "pdns" in e], stats["source_errors"]
    assert not set(TENANTS) & set(edges)
