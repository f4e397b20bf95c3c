"""Detection on generated worlds nobody tuned the rules to (issue 13), through the public interface only:
a fresh store, `seed add`, `run --once` before and after the takedown, `export --format json` and the
mails the sandbox received; the default discovery config (every TLD, all fuzzers); RDAP only for the TLDs
IANA's bootstrap lists, as on the real internet. `bench/detection.py` runs the same on 30+ seeds and
reports the figures (bench/RESULTS.md); CI runs two seeds here with the same bar per seed: two small worlds
(20 and 23 seeded domains) that each draw every discovery route and every class of decoy."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.rdap import load_bootstrap
from sandbox.net import Sandbox
from sandbox.worldgen import generate
from sandbox.worldgen.replacements import ROUTES
from tests.support import cli, write_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

# Every class of decoy sandbox.worldgen draws (sandbox/worldgen/decoys.py).
DECOY_CLASSES = {"nrd-shop", "shared-host", "cms-template", "legit-outlet", "aged", "challenge", "hub-outlink-unrelated",
                 "ct-fan", "typo-squat-old", "old-parked", "cctld-no-rdap"}


def _ok(config: Path, *args: str) -> Any:
    done = cli(config, *args)
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return json.loads(done.stdout) if "json" in args else done.stdout


def _realistic_rdap(sb: Sandbox) -> dict[str, str]:
    bootstrap = load_bootstrap()
    servers = sb.config_overrides()["rdap"]["servers"]
    return {s: url for s, url in servers.items() if s != "*" and s.rsplit(".", 1)[-1] in bootstrap}


# Seeds 1 and 9 (20 and 23 seeded domains; seed 3, here before, has 56 and no old typo-squat decoy, and took
# 1.6x seed 1's time side by side): the same kinds of positives and decoys in smaller networks.
@pytest.mark.parametrize("seed", [1, 9])
def test_a_generated_world_finds_its_replacements_and_reports_no_decoy(
        seed: int, make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    gw = generate(seed, datetime.now(UTC))
    key = gw.answers
    # the world holds a replacement by every discovery route and a decoy of every class
    assert {r["route"] for r in key["replacements"]} == set(ROUTES)
    assert {d["class"] for d in key["decoys"]} == DECOY_CLASSES
    sb = make_sandbox(gw.world, "before")
    config = write_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}",
                          log={"level": "WARNING"}, brands={"legitimate": key["brands_legitimate"]},
                          rdap={"servers": _realistic_rdap(sb)})
    _ok(config, "init")
    _ok(config, "seed", "add", *key["seeds"], "--campaign", key["campaign"])
    before = _ok(config, "run", "--once", "--format", "json")
    assert before["new_edges"] == 0, before["clones"]
    sb.set_phase("takedown")
    _ok(config, "run", "--once", "--format", "json")

    edges: dict[str, list[dict[str, Any]]] = {}
    for e in _ok(config, "export", "--format", "json")["edges"]:
        edges.setdefault(e["to"], []).append(e)
    want = {r["to"]: r for r in key["replacements"]}
    reported = set(edges) - set(key["seeds"])
    decoys = {d["domain"]: d["class"] for d in key["decoys"]}
    assert not reported - set(want), {d: decoys.get(d, "undeclared") for d in reported - set(want)}
    found = reported & set(want)
    assert len(found) >= 0.8 * len(want), sorted((d, want[d]["route"]) for d in set(want) - found)
    for to in found:
        assert any(e["from"] == want[to]["from"] and e["relation"] in want[to]["relations"] for e in edges[to]), \
            (to, edges[to], want[to]["from"])
    subjects = [str(m.get("Subject", "")) for m in sb.wait_for_messages(len(found), timeout=10)]
    for to in found:
        assert sum(to in s for s in subjects) == 1, (to, subjects)
