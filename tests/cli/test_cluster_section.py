"""The [cluster] section of CONTRACT.md: a config written to the contract is read; cluster mode needs
PostgreSQL; with it on, `run` (the embedded daemon) is refused in one line and a worker that cannot
reach PostgreSQL stops with one line."""

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


def test_the_embedded_daemon_is_refused_in_cluster_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, write(tmp_path, PG, "true"), "run")
    assert code == 2 and err.count("\n") == 1
    assert "`hydrawatch worker` processes keep the schedule" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["worker"], ["worker", "--concurrency", "4"], ["run", "--once"]])
def test_a_worker_without_postgresql_stops_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         command: list[str]) -> None:
    cfg = write(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/test", "true")  # nothing listens on port 1
    code, err = run(capsys, cfg, *command)
    assert code != 0 and err.count("\n") == 1, err
    assert "database unavailable" in err and "Traceback" not in err


def test_cluster_section_rejects_unknown_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "hw.toml"
    cfg.write_text('[cluster]\nenabled = false\nworkers = 3\n')
    code, err = run(capsys, cfg, "status")
    assert code == 2 and "cluster.workers: unknown key" in err
