"""A second, invented world through the public interface only (CLI, config, `export --format json`),
with the real clock: one replacement per discovery route — typo lookalike, hub outlink, NRD feed on
network infrastructure, CT-only keyword name, redirect of a live site — and a decoy for each route.

The doppelganger world replays same-label replacements; this one checks that detection is not tuned
to them. With the real clock no registration is "within hours of the takedown", so every link here
stands on content, infrastructure, names and links alone."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.support import cli, write_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

WORLD = Path(__file__).resolve().parents[1] / "worlds" / "routes"


def _ok(config: Path, *args: str) -> Any:
    done = cli(config, *args)
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return json.loads(done.stdout) if "--format" in args and "json" in args else done.stdout


def _statuses(config: Path) -> dict[str, str]:
    return {row["domain"]: row["status"] for row in _ok(config, "status", "--format", "json")}


def test_every_discovery_route_finds_its_replacement_and_no_decoy(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    answers = tomllib.loads((WORLD / "answers.toml").read_text(encoding="utf-8"))
    sb = make_sandbox(WORLD, "before")
    config = write_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}",
                          log={"level": "WARNING"})
    _ok(config, "init")
    _ok(config, "seed", "add", *sb.seeds, "--campaign", sb.campaign)

    before = _ok(config, "run", "--once", "--format", "json")
    assert before["new_edges"] == 0, before["clones"]
    assert {d: s for d, s in _statuses(config).items() if d in sb.seeds} == answers["phases"]["before"]["status"]

    sb.set_phase("seizure")
    seizure = _ok(config, "run", "--once", "--format", "json")
    assert {d: s for d, s in _statuses(config).items() if d in sb.seeds} == answers["phases"]["seizure"]["status"]

    edges = {e["to"]: e for e in _ok(config, "export", "--format", "json")["edges"]}
    for want in answers["phases"]["seizure"]["found"]:
        got = edges.get(want["to"])
        assert got is not None, f"missed {want['to']} ({want['route']}); clones: {seizure['clones']}"
        assert got["from"] == want["from"] and got["relation"] in want["relations"], got
        assert got["evidence"] and 0.0 < got["confidence"] <= 1.0
    assert not set(edges) & set(answers["decoys"]), sorted(set(edges) & set(answers["decoys"]))
    assert set(edges) == {f["to"] for f in answers["phases"]["seizure"]["found"]}, sorted(edges)
    assert len(sb.wait_for_messages(len(edges), timeout=10)) == len(edges)

    again = _ok(config, "run", "--once", "--format", "json")
    assert again["new_edges"] == 0, again["clones"]
    assert len(sb.messages) == len(edges)
