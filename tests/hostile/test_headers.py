"""Response heads are capped like bodies: a site (or a data source) answering with endless header
lines, or with 100 MB of them before a page, costs at most ``[crawler] max_headers`` lines /
``max_header_bytes`` bytes; the fetch is ``too_large`` with a bounded subset of the headers kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.net import Sandbox
from tests.hostile.harness import GOOD, Outcome, assert_batch_intact, cli, run_cycle, seed_store, write_config

STORED_HEAD_BOUND = 65_536 + 8_192  # max_header_bytes (default) + one line of JSON overhead slack


def _assert_capped(out: Outcome, name: str) -> None:
    http = out.observations(name, "http")
    assert len(http) >= 2, http  # https and http home fetches, each recorded
    assert {o["error_kind"] for o in http} == {"too_large"}, [(o["url"], o["error"]) for o in http]
    for o in http:
        assert o["http_status"] == 200, o["error"]  # the status line was read before the flood
        assert "response head too large" in o["error"]
        raw = json.loads(o["raw"])
        headers = raw["headers"]
        assert 0 < len(headers) <= 200, len(headers)
        assert sum(len(k) + len(v) for k, v in headers) <= STORED_HEAD_BOUND
        assert len(o["raw"]) < 2 * STORED_HEAD_BOUND, len(o["raw"])
        assert any(k.lower().startswith("x-filler-") for k, _ in headers)  # evidence kept
    assert out.status(name) == "dead"


@pytest.mark.parametrize("name", ["headers.info", "headerflood.info"])
def test_header_flood_is_too_large_with_a_bounded_subset(hsb: Sandbox, tmp_path: Path, name: str) -> None:
    out = run_cycle(hsb, tmp_path, [name])
    assert_batch_intact(out)
    _assert_capped(out, name)


def test_endless_header_lines_cost_bounded_memory(hsb: Sandbox, tmp_path: Path) -> None:
    """`hydrawatch run --once` on a site sending 8 kB header lines forever: completes in bounded memory
    (it took 12.9 GB before the cap) and records the fetch as too_large.

    Memory is judged against the same run without the floods, in the same test: what the floods add
    must stay within a few times the header cap, whatever the machine's baseline is (CI once measured
    a 504 MB absolute peak where this machine measures 211 MB)."""
    base_db = tmp_path / "baseline.db"
    base_conf = write_config(hsb, base_db, tmp_path / "baseline.toml")
    seed_store(conf_db=base_db, names=[GOOD])
    code, _out, err, baseline = cli(base_conf, "run", "--once", "--format", "json", timeout=150)
    assert code == 0, err[-3000:]

    db = tmp_path / "endless.db"
    conf = write_config(hsb, db, tmp_path / "endless.toml")
    seed_store(conf_db=db, names=[GOOD, "headers.info", "headerflood.info"])
    code, _out, err, peak = cli(conf, "run", "--once", "--format", "json", timeout=150)
    assert code == 0, err[-3000:]
    print(f"peak RSS {baseline / 1024:.0f} MB without floods, {peak / 1024:.0f} MB with endless and 100 MB floods")
    assert peak - baseline < 150 * 1024, f"the floods added {(peak - baseline) / 1024:.0f} MB"
    out = Outcome(db=db, stats={}, seconds=0.0)
    assert_batch_intact(out)
    _assert_capped(out, "headers.info")
    _assert_capped(out, "headerflood.info")


def test_rdap_header_flood_is_recorded_too_large(hsb: Sandbox, tmp_path: Path) -> None:
    out = run_cycle(hsb, tmp_path, ["rdapheaders.info"])
    assert_batch_intact(out)
    rdap = out.observations("rdapheaders.info", "rdap")
    assert rdap and rdap[0]["error_kind"] == "too_large", rdap
    assert "response head too large" in (rdap[0]["error"] or "")
