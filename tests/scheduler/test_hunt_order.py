"""The hunt a takedown triggers finds the lost domain's typo replacements first and in full, through the
real CLI on the sandbox with the default discovery settings (every TLD, the ten default fuzzers):

- a typo of the lost domain on its own TLD (``quill-gazete.net`` for ``quill-gazette.net``) is found even
  with a small ``max_candidates``: the cap never drops the lost domains' lookalikes (issue 13, item 4);
- a typo on another TLD the network uses (``quil-courier.net`` for ``quill-courier.info``) is generated
  and found: typo labels are crossed with the network's TLDs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hydrawatch.config import DiscoveryConfig
from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, ok, site
from tests.support import write_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SEEDS = {  # seed → (story, address)
    "quill-courier.info": ("Farm subsidies quietly cut", "185.44.12.21"),
    "quill-gazette.net": ("Power prices rise again", "185.44.12.22"),
    "quill-tribune.org": ("Hospitals close wards", "185.44.12.23"),
}
REPLACEMENTS = {  # typo replacement → the seized seed it replaces
    "quil-courier.net": "quill-courier.info",   # omission, on a TLD another network site uses
    "quill-gazete.net": "quill-gazette.net",    # omission, on the seed's own TLD
}


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {}
    takedown: dict[str, Any] = {}
    for name, (story, ip) in SEEDS.items():
        domains[name] = {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": site(name, story)}}}}
    for i, (name, lost) in enumerate(REPLACEMENTS.items()):
        takedown[lost] = {"ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                          "web": {"catch_all": {"builtin": "seizure-banner"}}}
        domains[name] = {**HOSTING, "a": [f"185.44.12.{31 + i}"], "appears": "takedown",
                         "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                         "web": {"pages": {"/": {"html": site(name, SEEDS[lost][0])}}}}
    return {"world": {"name": "typo-replacements", "campaign": "quill", "seeds": sorted(SEEDS)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "domains": takedown}},
            "domains": domains}


def test_lost_domains_typo_replacements_are_found_first_whatever_the_cap(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    defaults = DiscoveryConfig()
    config = write_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}",
                          log={"level": "WARNING"},
                          discovery={"tlds": defaults.tlds, "fuzzers": defaults.fuzzers, "max_candidates": 2000})
    ok(config, "init")
    ok(config, "seed", "add", *SEEDS, "--campaign", "quill")
    ok(config, "run", "--once", "--format", "json")

    sb.set_phase("takedown")
    stats = ok(config, "run", "--once", "--format", "json")
    assert sorted(stats["lost"]) == sorted(REPLACEMENTS.values()), stats
    assert stats["candidates_generated"] > 10_000  # every TLD, ten fuzzers, typos × network TLDs: none dropped
    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    for name, lost in REPLACEMENTS.items():
        assert name in edges, (name, sorted(edges), stats)
        assert edges[name]["from"] == lost and edges[name]["relation"] == "replacement"
        found_by = {e["value"] for e in edges[name]["evidence"] if e["kind"] == "discovered_by"}
        assert found_by == {"lookalike:omission"}, edges[name]["evidence"]  # the lost stage, not CT
    assert stats.get("candidates_lost_observed", 0) >= len(REPLACEMENTS), stats
