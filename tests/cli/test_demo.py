"""`hydrawatch demo` as a newcomer runs it: the installed command, no setup, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_demo_json_is_the_export_plus_the_mails_the_sandbox_received(tmp_path: Path) -> None:
    answers = tomllib.loads(resources.files("sandbox.worlds").joinpath("doppelganger-2024/answers.toml")
                            .read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    proc = subprocess.run([sys.executable, "-m", "hydrawatch.cli", "demo", "--format", "json"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert set(out) >= {"generated_at", "domains", "edges", "emails"}
    expected = {(r["from"], r["to"]) for r in answers["phases"]["seizure"]["replacements"]}
    assert {(e["from"], e["to"]) for e in out["edges"] if e["relation"] == "replacement"} == expected
    assert not {e["to"] for e in out["edges"]} & set(answers["decoys"])
    edge = out["edges"][0]
    assert set(edge) >= {"from", "to", "relation", "confidence", "detected_at", "evidence"}
    assert set(edge["evidence"][0]) >= {"kind", "value", "weight"}
    domain = out["domains"][0]
    assert set(domain) >= {"domain", "status", "campaign", "origin", "first_seen", "last_seen", "status_history"}
    assert len(out["emails"]) == len(out["edges"])
    assert all(m["subject"] and "predecessor" in m["body"] for m in out["emails"])
    assert not list(tmp_path.iterdir()), "the demo must not write into the working directory"
