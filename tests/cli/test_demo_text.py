"""`hydrawatch demo` in text mode as a newcomer reads it on an 80-column terminal: the closing hint is a
command that works when pasted into a shell, and the lineage table stays readable (issue 14)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

FAMILIES = ("identity", "content", "template", "infrastructure", "linkage", "registration", "lexical")


@dataclass(frozen=True)
class DemoRun:
    stdout: str
    env: dict[str, str]
    home: Path


@pytest.fixture(scope="module")
def demo_text(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One text demo at COLUMNS=80, with a temporary directory whose path needs shell quoting and a PATH
    that does not hold the `hydrawatch` script (as after `pip install` in a virtualenv not activated)."""
    home = tmp_path_factory.mktemp("demo")
    tmpdir = home / "tmp dir with 'quotes' & spaces"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    env.update(COLUMNS="80", TMPDIR=str(tmpdir), PATH="/usr/bin:/bin")
    proc = subprocess.run([sys.executable, "-m", "hydrawatch.cli", "demo"], check=False, cwd=home, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return DemoRun(proc.stdout, env, home)


def _hint(stdout: str) -> str:
    lines = stdout.splitlines()
    marker = next(i for i, line in enumerate(lines) if "look at it with" in line)
    return lines[marker + 1].strip()


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
def test_the_closing_hint_runs_when_pasted_into_a_shell(demo_text: DemoRun, shell: str, tmp_path: Path) -> None:
    hint = _hint(demo_text.stdout)
    assert hint.endswith("lineage rrn.so"), hint
    elsewhere = tmp_path / "elsewhere"  # pasted in another directory: no relative path may matter
    elsewhere.mkdir()
    proc = subprocess.run([shell, "-c", hint], cwd=elsewhere, env=demo_text.env, check=False, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, (hint, proc.stderr)
    assert "rrn.media" in proc.stdout and "replacement" in proc.stdout


def _wide(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) > 80]


def test_demo_lineage_table_fits_80_columns_with_family_names_whole(demo_text: DemoRun) -> None:
    out = demo_text.stdout
    table = out[out.index("replacements and other lineage found"):out.index("alert e-mails received")]
    assert not _wide(table), _wide(table)
    assert "text_similari…" not in table and "…" not in re.sub(r"\S+…\S*", "", table)  # no cell cut short
    for family in ("content", "identity", "lexical"):  # what decides every demo clone
        assert re.search(rf"\b{family}\b", table), family
    # four network sites write alike: one line, not four
    assert table.count("text_similarity") == 0 and len(re.findall(r"\btext \d+", table)) <= 12


def test_lineage_at_80_columns_groups_evidence_by_family(demo_text: DemoRun, tmp_path: Path) -> None:
    hint = _hint(demo_text.stdout)
    env = {**demo_text.env, "COLUMNS": "80"}
    proc = subprocess.run(["/bin/sh", "-c", hint], cwd=tmp_path, env=env, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert not _wide(out), _wide(out)
    shown = [f for f in FAMILIES if re.search(rf"^[│├└─ ]*{f} \d\.\d\d", out, re.MULTILINE)]
    assert {"content", "identity", "lexical"} <= set(shown), out
    assert "hhh:1:5b29dcee9a2e735a7cff1a7e86b96c1722c4e6d5397c5bdcf8b4683134c33e12" not in out  # minor, hidden
    assert re.search(r"\d+ minor items? hidden", out), out
    full = subprocess.run(["/bin/sh", "-c", hint + " --all"], cwd=tmp_path, env=env, check=False, capture_output=True, text=True,
                          timeout=120)
    assert full.returncode == 0, full.stderr
    assert not _wide(full.stdout)
    assert "shared_hhhash" in full.stdout and "discovered_by" in full.stdout  # --all shows every item


def test_the_hint_names_the_installed_script_by_absolute_path_when_it_is_not_on_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hydrawatch.commands.demo import self_command

    script = tmp_path / "venv bin" / "hydrawatch"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "argv", [str(script.relative_to(tmp_path)), "demo"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert self_command() == [str(script)]
    monkeypatch.setattr(sys, "argv", ["/somewhere/hydrawatch/cli.py", "demo"])  # python -m hydrawatch.cli
    assert self_command() == [sys.executable, "-m", "hydrawatch.cli"]
