"""`hydrawatch run --once` end to end, JSON logs, and one instance per store (SQLite file lock,
PostgreSQL advisory lock)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.net import Sandbox
from tests.daemon.conftest import QUICK_SWEEP, Answers, Setup, prepare
from tests.support import cli, wait_until

pytestmark = [pytest.mark.sandbox]


@pytest.fixture
def setup(sandbox: Sandbox, tmp_path: Path) -> Iterator[Setup]:
    """The store and config of tests/daemon/conftest.py, the sweep tld-swap only (QUICK_SWEEP): the
    cycle's statuses and JSON logs are the point, not the sweep's length."""
    s = prepare(sandbox, f"sqlite:///{tmp_path / 'store.db'}", tmp_path, discovery=QUICK_SWEEP)
    yield s
    s.view.close()


@pytest.mark.slow
def test_run_once_on_the_sandbox_then_status_shows_the_classified_domains(setup: Setup, answers: Answers) -> None:
    """One full cycle on the seizure phase with JSON logs: exit 0, a JSON summary on stdout, one JSON
    object per log line on stderr; `status` then shows every seed classified."""
    sb = setup.sandbox
    sb.set_phase("seizure")
    config = setup.config
    config.write_text(config.read_text(encoding="utf-8") + '\n[log]\nformat = "json"\nlevel = "INFO"\n',
                      encoding="utf-8")
    done = cli(config, "run", "--once", "--format", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads(done.stdout)
    assert stats["probed"] == len(sb.seeds)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)  # one JSON object per line, nothing else on stderr
        assert {"time", "level", "logger", "message"} <= set(record)
    assert any(json.loads(line)["logger"] == "scheduler.observe" for line in lines)

    status = cli(config, "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    shown = {row["domain"]: row["status"] for row in json.loads(status.stdout)}
    import tomllib

    from sandbox.world import packaged_world

    expected = tomllib.loads((packaged_world("doppelganger-2024") / "answers.toml").read_text())
    assert {d: shown.get(d) for d in sb.seeds} == expected["phases"]["seizure"]["status"]


def _second_instance_refused(setup: Setup) -> None:
    with setup.daemon() as first:
        wait_until(lambda: "daemon started" in first.log, 60, "the first daemon to start", first)
        for args in (("run",), ("run", "--once")):
            second = cli(setup.config, *args)
            assert second.returncode == 3, (second.returncode, second.stderr)
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "already running" in lines[0], second.stderr
        assert first.proc.poll() is None
        first.signal(signal.SIGTERM)
        assert first.wait(20) == 0
    # Released on exit: the next instance starts.
    again = cli(setup.config, "run", "--once")
    assert again.returncode == 0, again.stderr


def test_second_instance_on_a_sqlite_store_exits_with_already_running(sandbox: Sandbox, tmp_path: Path) -> None:
    s = prepare(sandbox, f"sqlite:///{tmp_path / 'store.db'}", tmp_path, seeds=False)
    try:
        _second_instance_refused(s)
    finally:
        s.view.close()


@pytest.mark.postgres
def test_second_instance_on_a_postgresql_store_exits_with_already_running(sandbox: Sandbox, tmp_path: Path,
                                                                          pg_url: str) -> None:
    s = prepare(sandbox, pg_url, tmp_path, seeds=False)
    try:
        _second_instance_refused(s)
    finally:
        s.view.close()
