"""SIGHUP: a running daemon re-reads its config file. A broken file is reported in one line and the
running config stays; a good one takes effect for the next jobs (here: who the alert mails go to, and
the probe interval) without a restart or a lost cycle."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, site, world_config
from tests.support import DaemonProcess, StoreView, cli, wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SEED, REPLACEMENT = "heron-daily.info", "heron-daily.press"


def world() -> dict[str, Any]:
    fbi = {"ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"], "web": {"catch_all": {"builtin": "seizure-banner"}}}
    page = site(SEED, "Bread prices double in a year")
    return {
        "world": {"name": "reload", "campaign": "heron", "seeds": [SEED]},
        "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                   "seizure": {"clock": "2025-03-13T12:00:00Z", "domains": {SEED: fbi}}},
        "domains": {
            SEED: {**HOSTING, "a": ["185.61.8.11"], "web": {"pages": {"/": {"html": page}}}},
            REPLACEMENT: {**HOSTING, "a": ["185.61.8.12"], "appears": "seizure",
                          "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                          "web": {"pages": {"/": {"html": page.replace(SEED, REPLACEMENT)}}}},
        },
    }


def test_sighup_reloads_a_good_config_and_keeps_running_on_a_bad_one(make_sandbox: Callable[..., Sandbox],
                                                                     tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    path = tmp_path / "hydrawatch.toml"

    def config(**sections: dict[str, Any]) -> Path:
        return world_config(path, sb, url, level="INFO", **sections)

    config(alerts={"mail_to": ["desk-a@example.org"]})
    assert cli(path, "init").returncode == 0
    assert cli(path, "seed", "add", SEED, "--campaign", "heron").returncode == 0
    view = StoreView(url)
    try:
        with DaemonProcess(path, tmp_path / "daemon.log") as daemon:
            wait_until(lambda: view.cycles("cycle", "ok"), 120, "the first full cycle", daemon)

            path.write_text(path.read_text() + '\n[bogus]\nkey = 1\n')  # an unknown section
            daemon.signal(signal.SIGHUP)
            wait_until(lambda: "config reload failed" in daemon.log, 30, "the reload error", daemon)
            line = next(ln for ln in daemon.log.splitlines() if "config reload failed" in ln)
            assert "bogus" in line and "keeping the running config" in line
            jobs = view.cycles(outcome="ok")
            wait_until(lambda: view.cycles(outcome="ok") >= jobs + 2, 60, "two more jobs after a bad reload", daemon)

            config(alerts={"mail_to": ["desk-b@example.org"]}, schedule={"dns_interval": 3})
            daemon.signal(signal.SIGHUP)
            wait_until(lambda: "config reloaded" in daemon.log, 60, "the reload", daemon)
            line = next(ln for ln in daemon.log.splitlines() if "config reloaded" in ln)
            assert "alerts" in line and "schedule" in line, line

            sb.set_phase("seizure")
            wait_until(lambda: view.edges(), 120, "the replacement", daemon)
            assert view.edges() == [(SEED, REPLACEMENT, "replacement")]
            wait_until(lambda: sb.messages, 60, "the alert mail", daemon)
            assert [str(m["To"]) for m in sb.messages] == ["desk-b@example.org"]
            daemon.signal(signal.SIGTERM)
            assert daemon.wait(30) == 0
        assert "Traceback" not in daemon.log
    finally:
        view.close()
