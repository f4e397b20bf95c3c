"""What the hunt does not spend its crawls on, through the real CLI on the sandbox:

- a TLD with wildcard DNS (``[world] wildcard_tlds``): every lookalike under it resolves to the parking
  address, and none is observed; a real replacement under it (another address) still is;
- a candidate rejected once is not crawled again while its DNS answer is unchanged, and is as soon as it
  changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, ok, site, world_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SEEDS = {
    "quill-courier.info": ("Farm subsidies quietly cut", "185.44.12.21"),
    "quill-digest.ws": ("Rail fares climb", "185.44.12.22"),
    "quill-tribune.org": ("Hospitals close wards", "185.44.12.23"),
}
LOST = "quill-courier.info"
REPLACEMENT = "quil-courier.ws"  # a typo of the lost seed, under the wildcard TLD, on its own address
BYSTANDER = "quill-tribune.com"  # a TLD swap of a seed that resolves to someone else's shop
SHOP = ("<html><head><title>Garden furniture</title></head><body><h1>Teak benches on sale</h1>"
        "<p>Free delivery for orders over 200 euros. Visit our showroom.</p></body></html>")


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {
        name: {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": site(name, story)}}}}
        for name, (story, ip) in SEEDS.items()}
    domains[BYSTANDER] = {"a": ["198.51.100.7"], "ns": ["ns1.shophost.com"], "web": {"catch_all": {"html": SHOP}}}
    domains[REPLACEMENT] = {**HOSTING, "a": ["185.44.12.35"], "appears": "takedown",
                            "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                            "web": {"pages": {"/": {"html": site(REPLACEMENT, SEEDS[LOST][0])}}}}
    return {"world": {"name": "wildcard-hunt", "campaign": "quill", "seeds": sorted(SEEDS), "wildcard_tlds": ["ws"]},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "domains": {LOST: {
                           "ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                           "web": {"catch_all": {"builtin": "seizure-banner"}}}}},
                       "moved": {"clock": "2025-03-14T12:00:00Z",
                                 "domains": {BYSTANDER: {"a": ["198.51.100.8"]}}}},
            "domains": domains}


def test_wildcard_tld_does_not_flood_the_hunt_and_rejections_hold_until_dns_changes(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}", extra_tlds=("ws",),
                          discovery={"fuzzers": ["tld-swap", "omission", "addition"]})
    ok(config, "init")
    ok(config, "seed", "add", *SEEDS, "--campaign", "quill")
    first = ok(config, "run", "--once", "--format", "json")
    # Hundreds of .ws lookalikes answer (the wildcard); only the bystander is worth a crawl.
    assert first["wildcard_tlds"] == ["ws"], first
    assert first["candidates_observed"] == 1 and first["candidates_resolved"] == 1, first

    sb.set_phase("takedown")
    second = ok(config, "run", "--once", "--format", "json")
    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    assert edges[REPLACEMENT]["from"] == LOST, (sorted(edges), second)
    assert second["candidates_unchanged"] == 1 and second["candidates_observed"] == 1, second  # the replacement

    sb.set_phase("moved")  # the bystander moves: a new answer is looked at again
    third = ok(config, "run", "--once", "--format", "json")
    assert third["candidates_unchanged"] == 0 and third["candidates_observed"] == 1, third
