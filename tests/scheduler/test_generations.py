"""Several generations, through the CLI on the sandbox with the real clock: a network site is seized and
replaced; the replacement, now on the watchlist, is suspended in turn and replaced again. Lineage must
chain each generation to the one before (not all to the first), with one alert per edge."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, ok, site, world_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

FIRST, SECOND, THIRD = "tallow-ledger.info", "tallow-ledger.press", "tallow-ledger.pw"
SIBLING = "tallow-review.net"
STORY = "Grain exports stall at the border"


def world() -> dict[str, Any]:
    def news(name: str, ip: str, **more: Any) -> dict[str, Any]:
        return {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": site(name, STORY)}}}, **more}

    fbi = {"ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"], "web": {"catch_all": {"builtin": "seizure-banner"}}}
    return {
        "world": {"name": "generations", "campaign": "tallow", "seeds": [FIRST, SIBLING]},
        "phases": {
            "before": {"clock": "2025-03-10T12:00:00Z"},
            "first": {"clock": "2025-03-13T12:00:00Z", "domains": {FIRST: fbi}},
            "second": {"clock": "2025-05-02T12:00:00Z", "domains": {
                SECOND: {"resolves": False, "rdap": {"status": ["client hold"], "updated": "2025-05-01T08:00:00Z"}}}},
        },
        "domains": {
            FIRST: news(FIRST, "185.61.7.11"),
            SIBLING: {**news(SIBLING, "185.61.7.12"),
                      "web": {"pages": {"/": {"html": site(SIBLING, "Fuel queues return to the capital")}}}},
            SECOND: news(SECOND, "185.61.7.13", appears="first",
                         rdap={"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"}),
            THIRD: news(THIRD, "185.61.7.14", appears="second",
                        rdap={"registrar": "Quill Registrar Ltd", "registered": "2025-05-01"}),
        },
    }


def test_each_generation_is_linked_to_the_one_it_replaced(make_sandbox: Callable[..., Sandbox],
                                                          tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}", extra_tlds=("pw",))
    ok(config, "init")
    ok(config, "seed", "add", FIRST, SIBLING, "--campaign", "tallow")
    assert ok(config, "run", "--once", "--format", "json")["new_edges"] == 0

    sb.set_phase("first")
    ok(config, "run", "--once", "--format", "json")
    sb.set_phase("second")
    ok(config, "run", "--once", "--format", "json")

    rows = {r["domain"]: r for r in ok(config, "status", "--format", "json")}
    assert rows[FIRST]["status"] == "seized"
    assert rows[SECOND]["status"] == "suspended"
    assert rows[THIRD]["status"] == "active"

    edges = {(e["from"], e["to"]): e for e in ok(config, "export", "--format", "json")["edges"]}
    assert set(edges) == {(FIRST, SECOND), (SECOND, THIRD)}, sorted(edges)
    assert all(e["relation"] == "replacement" for e in edges.values())
    exported = {d["domain"]: d for d in ok(config, "export", "--format", "json")["domains"]}
    assert exported[SECOND]["origin"] == exported[THIRD]["origin"] == "discovered"
    assert exported[THIRD]["campaign"] == "tallow"
    family = ok(config, "lineage", THIRD, "--format", "json")
    assert FIRST in str(family) and SECOND in str(family)
    assert len(sb.wait_for_messages(2, timeout=10)) == 2
