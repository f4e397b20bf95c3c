"""Bad input does not cost the lost domain its hunt, through the real CLI on the sandbox: during the
takedown cycle the NRD feed sends 10⁶ names (``nrd-huge``) and a second feed is missing. The lost domain's
typo replacement on another network TLD is still found, the missing feed is reported in ``source_errors``,
and peak memory grows by less than 80 MB over the ordinary cycle (holding 10⁶ names would cost ~150 MB)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.hostile.harness import cli
from tests.scheduler.inline_world import HOSTING, ok, site, world_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SEEDS = {
    "quill-courier.info": ("Farm subsidies quietly cut", "185.44.12.21"),
    "quill-gazette.net": ("Power prices rise again", "185.44.12.22"),
}
LOST = "quill-courier.info"
REPLACEMENT = "quil-courier.net"  # omission, on the TLD of the other network site


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {
        name: {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": site(name, story)}}}}
        for name, (story, ip) in SEEDS.items()}
    domains[REPLACEMENT] = {**HOSTING, "a": ["185.44.12.35"], "appears": "takedown",
                            "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                            "web": {"pages": {"/": {"html": site(REPLACEMENT, SEEDS[LOST][0])}}}}
    return {"world": {"name": "flood", "campaign": "quill", "seeds": sorted(SEEDS)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z", "nrd_generated": 2000},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "domains": {LOST: {
                           "ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                           "web": {"catch_all": {"builtin": "seizure-banner"}}}}}},
            "domains": domains}


def test_a_feed_flood_and_a_failing_feed_leave_the_lost_domains_hunt_intact(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    feeds = [*sb.config_overrides()["discovery"]["nrd_feeds"], str(tmp_path / "missing-feed.txt")]
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}",
                          discovery={"fuzzers": ["tld-swap", "omission", "addition"], "nrd_feeds": feeds,
                                     "max_candidates": 60_000})
    ok(config, "init")
    ok(config, "seed", "add", *SEEDS, "--campaign", "quill")
    code, out, err, baseline = cli(config, "run", "--once", "--format", "json", timeout=200)
    assert code == 0, err[-3000:]

    sb.set_phase("takedown")
    sb.set_service_behaviour("nrd", "nrd-huge")
    code, out, err, flooded = cli(config, "run", "--once", "--format", "json", timeout=250)
    assert code == 0, err[-3000:]
    stats = json.loads(out)
    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    assert edges[REPLACEMENT]["from"] == LOST, (sorted(edges), stats)
    assert [e for e in stats["source_errors"] if "missing-feed.txt" in e], stats["source_errors"]
    assert stats["candidates_truncated"] > 900_000, stats  # past max_candidates: counted, never held
    growth_mb = (flooded - baseline) / 1024
    assert growth_mb < 80, (baseline, flooded)
