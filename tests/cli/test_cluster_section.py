"""The [cluster] section of CONTRACT.md: a config written to the contract is read; cluster mode itself is
not available yet, and whoever turns it on is told so in one line instead of getting a daemon that
silently ignores the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from hydrawatch.cli import main

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> tuple[int, str]:
    code = main(["--config", str(cfg), *args])
    return code, capsys.readouterr().err


def write(tmp_path: Path, url: str, enabled: str) -> Path:
    path = tmp_path / "hw.toml"
    path.write_text(f'[storage]\nurl = "{url}"\n\n[cluster]\nenabled = {enabled}\n')
    return path


def test_cluster_disabled_is_an_ordinary_embedded_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write(tmp_path, f"sqlite:///{tmp_path / 'hw.db'}", "false")
    code, err = run(capsys, cfg, "init")
    assert code == 0, err
    code, err = run(capsys, cfg, "worker")
    assert code == 2 and err.count("\n") == 1 and "cluster mode is off" in err


def test_cluster_needs_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write(tmp_path, f"sqlite:///{tmp_path / 'hw.db'}", "true")
    code, err = run(capsys, cfg, "status")
    assert code == 2 and "cluster.enabled" in err and "PostgreSQL" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", [["worker"], ["worker", "--concurrency", "4"], ["run", "--once"], ["run"]])
def test_cluster_mode_is_refused_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         command: list[str]) -> None:
    cfg = write(tmp_path, PG, "true")
    code, err = run(capsys, cfg, *command)
    assert code == 2 and err.count("\n") == 1
    assert "not available in this version" in err and "Traceback" not in err


def test_cluster_section_rejects_unknown_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "hw.toml"
    cfg.write_text('[cluster]\nenabled = false\nworkers = 3\n')
    code, err = run(capsys, cfg, "status")
    assert code == 2 and "cluster.workers: unknown key" in err
