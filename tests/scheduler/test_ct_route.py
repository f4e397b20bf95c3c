"""A replacement found only through certificate transparency, through the real CLI on the sandbox:
its name is no lookalike of the network's, nothing links to it and no NRD feed is configured; the CT
search is busy (429 with Retry-After) on the first ask of each query and is waited out. The next sweep
within ``ct_cache_hours`` reads the answers from the store instead of asking again (and asks only the
keywords the grown network brought)."""

from __future__ import annotations

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
    "quillcourier.info": ("Farm subsidies quietly cut", "185.44.12.21"),
    "quilltribune.org": ("Hospitals close wards", "185.44.12.23"),
}
LOST = "quillcourier.info"
REPLACEMENT = "quillcourier-daily.press"  # not a TLD swap, not linked, not in any feed: CT only


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {
        name: {**HOSTING, "a": [ip], "nrd": False, "web": {"pages": {"/": {"html": site(name, story)}}}}
        for name, (story, ip) in SEEDS.items()}
    domains[REPLACEMENT] = {**HOSTING, "a": ["185.44.12.35"], "appears": "takedown", "nrd": False,
                            "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                            "web": {"pages": {"/": {"html": site(REPLACEMENT, SEEDS[LOST][0])}}}}
    return {"world": {"name": "ct-route", "campaign": "quill", "seeds": sorted(SEEDS)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "domains": {LOST: {
                           "ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                           "web": {"catch_all": {"builtin": "seizure-banner"}}}}}},
            "domains": domains}


def test_a_replacement_found_only_through_a_busy_ct_search_then_answers_come_from_the_cache(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    db = tmp_path / "store.db"
    no_cache = world_config(tmp_path / "first.toml", sb, f"sqlite:///{db}", discovery={"nrd_feeds": []})
    cached = world_config(tmp_path / "cached.toml", sb, f"sqlite:///{db}",
                          discovery={"nrd_feeds": [], "ct_cache_hours": 12.0})
    ok(no_cache, "init")
    ok(no_cache, "seed", "add", *SEEDS, "--campaign", "quill")
    before = ok(no_cache, "run", "--once", "--format", "json")
    assert before["new_edges"] == 0 and before["source_errors"] == [], before

    sb.set_phase("takedown")
    sb.set_service_behaviour("ct", "ct-429")
    found = ok(cached, "run", "--once", "--format", "json")
    assert [(c["to"], c["from"]) for c in found["clones"]] == [(REPLACEMENT, LOST)], found["clones"]
    assert found["source_errors"] == [], found["source_errors"]  # every 429 was waited out
    keywords = int(found["source_notes"][0].split()[1])
    assert found["source_notes"] == [f"ct: {keywords} keywords, {keywords} queried, 0 from cache"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT source FROM candidates WHERE name = ?", (REPLACEMENT,)).fetchall() == [("ct",)]

    # the replacement is in the network now: its name may bring a keyword of its own (``daily``, a generic
    # word searched over recent certificates), asked once; the first run's keywords all come from the cache
    again = ok(cached, "run", "--once", "--format", "json")
    grown = int(again["source_notes"][0].split()[1])
    assert grown >= keywords, again["source_notes"]
    assert again["source_notes"] == [f"ct: {grown} keywords, {grown - keywords} queried, {keywords} from cache"], again
    assert again["new_edges"] == 0

    text = cli(cached, "run", "--once", timeout=300)  # the text summary goes to stderr
    assert text.returncode == 0, text.stderr[-3000:]
    assert f"source: ct: {grown} keywords, 0 queried, {grown} from cache" in text.stderr
