"""Hostile data sources (CT search, NRD feeds) through the real cycle, and a 10^6-line feed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.net import Sandbox
from tests.hostile.harness import assert_batch_intact, cli, run_cycle, seed_store, write_config

SEED = ["malformed.info"]  # a second healthy-ish domain so the hunt has two network labels


@pytest.mark.parametrize(("behaviour", "kind"), [("ct-garbage", "malformed"), ("ct-500", "http")])
def test_ct_failure_is_reported_and_the_hunt_goes_on(hsb: Sandbox, tmp_path: Path, behaviour: str,
                                                     kind: str) -> None:
    hsb.set_service_behaviour("ct", behaviour)
    out = run_cycle(hsb, tmp_path, SEED)
    assert_batch_intact(out)
    errors = out.stats["source_errors"]
    assert errors and all(e.startswith("ct ") and f": {kind}: " in e for e in errors), errors
    assert out.stats["candidates_generated"] > 0  # lookalikes and NRD still ran
    stored = out.rows("SELECT stats FROM cycles")[0][0]
    assert "source_errors" in stored and kind in stored  # the failure is on the cycle's record


def test_nrd_feed_down_is_reported(hsb: Sandbox, tmp_path: Path) -> None:
    hsb.set_service_behaviour("nrd", "nrd-500")
    out = run_cycle(hsb, tmp_path, SEED)
    assert_batch_intact(out)
    assert any(e.startswith("nrd ") and "500" in e for e in out.stats["source_errors"]), out.stats


def test_nrd_garbage_lines_are_skipped(hsb: Sandbox, tmp_path: Path) -> None:
    hsb.set_service_behaviour("nrd", "nrd-garbage")
    out = run_cycle(hsb, tmp_path, SEED)
    assert_batch_intact(out)
    assert out.stats["source_errors"] == []
    names = [r[0] for r in out.rows("SELECT name FROM domains")]
    assert all(n.isascii() and " " not in n and "<" not in n and "\x1b" not in n and len(n) < 254
               for n in names), names


def test_million_line_feed_in_bounded_memory(hsb: Sandbox, tmp_path: Path) -> None:
    """`hydrawatch run --once` with a 10^6-line NRD feed (~30 MB): completes, and peak RSS grows by
    less than 80 MB over the same cycle with the ordinary feed (holding the names would cost ~150 MB)."""
    rss = {}
    for label, behaviour in (("baseline", None), ("huge", "nrd-huge")):
        db = tmp_path / f"{label}.db"
        conf = write_config(hsb, db, tmp_path / f"{label}.toml",
                            discovery={"max_candidates": 1000, "fuzzers": ["tld-swap"], "tlds": ["info"]})
        seed_store(conf_db=db, names=["good-news.info", "malformed.info"])
        hsb.set_service_behaviour("nrd", behaviour)
        code, out, err, peak = cli(conf, "run", "--once", "--format", "json", timeout=150)
        assert code == 0, err[-3000:]
        rss[label] = peak
        if label == "huge":
            import json

            stats = json.loads(out)
            assert stats["source_errors"] == [], stats
            assert stats["candidates_truncated"] > 900_000, stats
    growth_mb = (rss["huge"] - rss["baseline"]) / 1024
    print(f"peak RSS baseline {rss['baseline'] / 1024:.0f} MB, 10^6-line feed {rss['huge'] / 1024:.0f} MB")
    assert growth_mb < 80, rss
