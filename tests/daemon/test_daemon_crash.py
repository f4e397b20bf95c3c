"""SIGKILL in the middle of the seizure-phase hunt, then a restart: no committed observation lost, no
edge duplicated, no alert mailed twice. SIGTERM: a prompt, clean exit 0 with the store consistent."""

from __future__ import annotations

import signal
import time

import pytest

from tests.daemon.conftest import Answers, Setup
from tests.daemon.test_daemon_alerts import all_sent, assert_once_each
from tests.support import cli, wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def consistent(setup: Setup) -> None:
    view = setup.view
    assert view.rows("PRAGMA integrity_check") == [("ok",)]
    assert view.rows("PRAGMA foreign_key_check") == []
    assert view.rows("SELECT from_id, to_id, relation FROM edges GROUP BY 1, 2, 3 HAVING count(*) > 1") == []
    assert view.rows("SELECT edge_id FROM alert_outbox GROUP BY 1 HAVING count(*) > 1") == []
    assert view.rows("SELECT id FROM cycles WHERE outcome = 'running'") == []


def test_sigkill_mid_hunt_then_restart_loses_nothing_and_duplicates_nothing(setup: Setup, answers: Answers) -> None:
    sb, view = setup.sandbox, setup.view
    with setup.daemon(log="first.log") as daemon:
        wait_until(lambda: view.cycles("cycle", "ok"), 180, "the first full cycle (phase before)", daemon)
        # The first cycle's discovery has recorded candidates already: the hunt is known by new ones.
        before = view.scalar("SELECT count(*) FROM candidates")
        sb.set_phase("seizure")
        # The takedown is seen, the hunt starts: candidates are recorded, then observed and scored.
        wait_until(lambda: view.scalar("SELECT count(*) FROM candidates") > before
                   and view.rows("SELECT id FROM cycles WHERE outcome = 'running'"), 60,
                   "the hunt to record new candidates", daemon, every=0.05)
        daemon.proc.kill()
        daemon.wait(10)
    assert daemon.proc.returncode == -signal.SIGKILL
    assert view.rows("SELECT id FROM cycles WHERE outcome = 'running'"), "the kill did not land mid-job"
    committed = {r[0] for r in view.rows("SELECT id FROM observations")}
    edges_at_kill = len(view.edges())
    assert edges_at_kill < len(answers.replacements), "the kill came after the hunt had finished"

    with setup.daemon(log="second.log") as daemon:
        wait_until(lambda: "marked interrupted" in daemon.log, 30, "the interrupted cycle to be closed", daemon)
        wait_until(lambda: len(view.edges()) >= len(answers.replacements), 180, "the replacements", daemon)
        wait_until(lambda: all_sent(setup), 30, "the alert e-mails", daemon)
        jobs = view.cycles(outcome="ok")
        wait_until(lambda: view.cycles(outcome="ok") >= jobs + 2, 60, "two more jobs", daemon)
        wait_until(lambda: all_sent(setup), 30, "the alerts of edges found since", daemon)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert committed <= {r[0] for r in view.rows("SELECT id FROM observations")}
    assert_once_each(setup, answers)
    consistent(setup)
    assert view.scalar("SELECT count(*) FROM cycles WHERE outcome = 'interrupted'") >= 1


@pytest.mark.serial  # measures how fast a stop is honoured: not with another worker on the cores
def test_sigterm_mid_cycle_exits_zero_promptly_with_the_store_consistent(setup: Setup) -> None:
    view = setup.view
    with setup.daemon() as daemon:
        wait_until(lambda: view.scalar("SELECT count(*) FROM observations") >= 10, 60,
                   "the first cycle to be under way", daemon, every=0.05)
        assert view.cycles("cycle", "running") == 1
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
        took = time.monotonic() - started
    assert took < 10, took
    log = daemon.log
    assert "stopping" in log and "daemon stopped" in log and "Traceback" not in log
    consistent(setup)
    assert view.cycles("cycle", "interrupted") + view.cycles("cycle", "ok") == 1
    status = cli(setup.config, "status", "--format", "json")
    assert status.returncode == 0, status.stderr
