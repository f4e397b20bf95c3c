"""A replacement found only through a zipped, dated NRD feed (WhoisDS's layout: the base64 of
"YYYY-MM-DD.zip" in the address), through the real CLI on the sandbox: its name is unrelated to the
network's, it has no certificate, nothing links to it, CT search is off; it shares the network's name
servers. The feed's day already read is asked again with its ETag: unchanged, it costs a 304."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, ok, site, world_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SEEDS = {
    "quillcourier.info": ("Farm subsidies quietly cut", "185.44.12.21"),
    "quilltribune.org": ("Hospitals close wards", "185.44.12.23"),
}
LOST = "quillcourier.info"
REPLACEMENT = "morning-ledger.press"  # no lookalike, no link, no certificate: the NRD feed only


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {
        name: {**HOSTING, "a": [ip], "nrd": False, "web": {"pages": {"/": {"html": site(name, story)}}}}
        for name, (story, ip) in SEEDS.items()}
    domains[REPLACEMENT] = {**HOSTING, "a": ["185.44.12.35"], "appears": "takedown", "ct": False,
                            "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                            "web": {"pages": {"/": {"html": site(REPLACEMENT, SEEDS[LOST][0])}}}}
    return {"world": {"name": "nrd-route", "campaign": "quill", "seeds": sorted(SEEDS)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z", "nrd_generated": 300},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "nrd_generated": 300, "domains": {LOST: {
                           "ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                           "web": {"catch_all": {"builtin": "seizure-banner"}}}}}},
            "domains": domains}


def test_a_replacement_found_only_through_a_dated_zipped_feed_and_an_unchanged_day_costs_a_304(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    feed = f"{sb.url('nrd')}whoisds/{{date_base64:%Y-%m-%d.zip}}/nrd"
    db = tmp_path / "store.db"
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{db}",
                          discovery={"ct_search_url": "", "nrd_feeds": [feed]})
    ok(config, "init")
    ok(config, "seed", "add", *SEEDS, "--campaign", "quill")
    before = ok(config, "run", "--once", "--format", "json")
    assert before["new_edges"] == 0 and before["source_errors"] == [], before
    assert before["source_notes"] == [f"nrd {feed}: 2 read, 0 not modified; 600 names, 0 lines skipped"]

    sb.set_phase("takedown")
    found = ok(config, "run", "--once", "--format", "json")
    assert [(c["to"], c["from"]) for c in found["clones"]] == [(REPLACEMENT, LOST)], found["clones"]
    assert found["source_errors"] == [] and found["source_notes"][0].startswith(f"nrd {feed}: 1 read, 0 not modified")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT source FROM candidates WHERE name = ?", (REPLACEMENT,)).fetchall() == [("nrd",)]

    again = ok(config, "run", "--once", "--format", "json")
    assert again["source_notes"] == [f"nrd {feed}: 0 read, 1 not modified; 0 names, 0 lines skipped"], again
    assert again["new_edges"] == 0
