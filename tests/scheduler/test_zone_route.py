"""End to end through the real CLI on the sandbox: a takedown's replacements are found only through the
.net zone's day-to-day difference, downloaded from a CZDS-layout server with a bearer token.

The replacements are in no NRD feed and no CT log, and the configured fuzzers (tld-swap) cannot make
them: one is lexically close to a network label (``the-quill-courier.net``), the other has an unrelated
name on the lost site's address (``morning-ledger.net``), so both paths of the name screen are used.
A second zone (.org) is served truncated: one line in ``source_errors``, and the hunt goes on.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from sandbox.nrd import generated_names
from sandbox.zones import ZoneServer, gz, truncated, zone_text
from tests.scheduler.inline_world import HOSTING, ok, site, world_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

REFRESH_HOURS = 0.0001  # a zone URL is read again after this long on the wall clock
TOKEN = "zone-route-token-5f0e9c2a71b44d0c"
SEEDS = {
    "quill-courier.info": ("Farm subsidies quietly cut", "185.44.12.21"),
    "quill-gazette.net": ("Power prices rise again", "185.44.12.22"),
}
LOST = "quill-courier.info"
LEXICAL = "the-quill-courier.net"   # contains a network label
ON_HOSTING = "morning-ledger.net"    # unrelated name, on the lost site's address
NOISE = sorted({n.rsplit(".", 1)[0] + ".net" for n in generated_names(3000, "zone-route")})[:2000]


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {
        name: {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": site(name, story)}}}}
        for name, (story, ip) in SEEDS.items()}
    for name, ip in ((LEXICAL, "185.44.12.35"), (ON_HOSTING, SEEDS[LOST][1])):
        domains[name] = {**HOSTING, "a": [ip], "appears": "takedown", "nrd": False, "ct": False,
                         "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                         "web": {"pages": {"/": {"html": site(name, SEEDS[LOST][0])}}}}
    return {"world": {"name": "zone-route", "campaign": "quill", "seeds": sorted(SEEDS)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "domains": {LOST: {
                           "ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                           "web": {"catch_all": {"builtin": "seizure-banner"}}}}}},
            "domains": domains}


def candidate(store: Path, name: str) -> tuple[str, str, str]:
    with sqlite3.connect(store) as db:
        row = db.execute("SELECT source, via, decision FROM candidates WHERE name = ?", (name,)).fetchone()
    assert row is not None, f"{name} never became a candidate"
    return row[0], row[1], row[2]


def test_replacements_found_only_through_the_zone_difference(make_sandbox: Callable[..., Sandbox],
                                                             tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    store = tmp_path / "store.db"
    with ZoneServer(TOKEN) as zones:
        base = ["quill-gazette.net", *NOISE[:1500]]
        zones.publish("net", gz(zone_text("net", base)))
        zones.publish("org", gz(zone_text("org", ["some-org-site.org"])))
        config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{store}", discovery={
            "nrd_feeds": [], "zone_token": TOKEN, "zone_state_dir": str(tmp_path / "zones"),
            "zone_refresh_hours": REFRESH_HOURS,
            "zone_files": [{"tld": "net", "url": zones.url("net")}, {"tld": "org", "url": zones.url("org")}]})
        ok(config, "init")
        ok(config, "seed", "add", *SEEDS, "--campaign", "quill")
        first = ok(config, "run", "--once", "--format", "json")
        assert [n for n in first["source_notes"] if n.startswith("zone net: 1501 names read (the base")], first

        # in process the second run can start within the refresh window (0.36 s): wait it out
        time.sleep(REFRESH_HOURS * 3600 + 0.1)
        sb.set_phase("takedown")
        zones.publish("net", gz(zone_text("net", [*base[100:], *NOISE[1500:], LEXICAL, ON_HOSTING])))
        zones.publish("org", truncated(gz(zone_text("org", [f"o{i}.org" for i in range(5000)]))))
        stats = ok(config, "run", "--once", "--format", "json")

    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    assert edges[LEXICAL]["from"] == LOST and edges[ON_HOSTING]["from"] == LOST, (sorted(edges), stats)
    assert candidate(store, LEXICAL)[:2] == ("zone", ".net zone (lexical: quill-courier)")
    assert candidate(store, ON_HOSTING)[:2] == ("zone", f".net zone (infrastructure: {SEEDS[LOST][1]})")
    new = len(NOISE) - 1500 + 2
    assert f"zone net: {len(base) - 100 + new} names read, {new} new, 2 screened in" in stats["source_notes"], stats
    errors = [e for e in stats["source_errors"] if e.startswith("zone org")]
    assert len(errors) == 1 and zones.url("org") in errors[0] and "truncated" in errors[0], stats["source_errors"]
    assert json.dumps(stats).count(TOKEN) == 0
