"""The real daemon (`hydrawatch run` in a subprocess, intervals of seconds) on the sandbox internet:
it sees the September 2024 seizure and mails one alert per replacement, once, cycle after cycle —
also when SMTP was down for a while."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from sandbox.net import Sandbox
from tests.daemon.conftest import QUICK_SWEEP, Answers, Setup, prepare
from tests.support import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture
def setup(sandbox: Sandbox, tmp_path: Path) -> Iterator[Setup]:
    """The daemon's store and config (tests/daemon/conftest.py), its sweeps tld-swap only: the
    doppelganger world's candidates are the same without the typo fuzzers (QUICK_SWEEP's comment), whose
    NXDOMAIN answers made each 20-second sweep several times the daemon's other jobs while these tests
    wait on mails and cycles."""
    s = prepare(sandbox, f"sqlite:///{tmp_path / 'store.db'}", tmp_path, discovery=QUICK_SWEEP)
    yield s
    s.view.close()

SUBJECT = re.compile(r"new clone (\S+) \((\w+) of (\S+),")


def mailed(messages: list[EmailMessage]) -> list[tuple[str, str, str]]:
    out = []
    for msg in messages:
        m = SUBJECT.search(str(msg["Subject"]))
        assert m is not None, msg["Subject"]
        out.append((m.group(3), m.group(1), m.group(2)))
    return sorted(out)


def assert_once_each(setup: Setup, answers: Answers) -> None:
    """Every required replacement (and any optional network site) found, and mailed exactly once."""
    edges = setup.view.edges()
    answers.check_edges(edges)
    messages = setup.sandbox.messages
    assert mailed(messages) == edges  # one mail per edge, no duplicate
    assert len({str(m["Message-ID"]) for m in messages}) == len(messages)
    assert len({str(m["X-Hydrawatch-Edge"]) for m in messages}) == len(messages)
    assert setup.view.rows("SELECT state, count(*) FROM alert_outbox GROUP BY state") == [("sent", len(edges))]


def all_sent(setup: Setup) -> bool:
    """Every edge's alert delivered (mails can only lag the outbox by the sandbox's own hand-off)."""
    edges = setup.view.scalar("SELECT count(*) FROM edges")
    return bool(edges) and setup.view.scalar(
        "SELECT count(*) FROM alert_outbox WHERE state = 'sent'") == edges and len(setup.sandbox.messages) >= edges


def test_daemon_sees_the_seizure_and_mails_each_replacement_once(setup: Setup,
                                                               answers: Answers) -> None:
    sb, view = setup.sandbox, setup.view
    with setup.daemon() as daemon:
        wait_until(lambda: view.cycles("cycle", "ok"), 180, "the first full cycle (phase before)", daemon)
        assert view.edges() == [] and sb.messages == []
        sb.set_phase("seizure")
        wait_until(lambda: len(view.edges()) >= len(answers.replacements), 180, "the replacements", daemon)
        wait_until(lambda: all_sent(setup), 30, "the alert e-mails", daemon)
        assert_once_each(setup, answers)
        # Cycle after cycle: more probe, crawl and discovery rounds find the same sites again and
        # must neither add an edge nor send a mail.
        jobs = view.cycles(outcome="ok")
        wait_until(lambda: view.cycles(outcome="ok") >= jobs + 4, 90, "four more jobs", daemon)
        wait_until(lambda: all_sent(setup), 30, "the alerts of edges found since", daemon)
        assert {k for (k,) in view.rows("SELECT DISTINCT kind FROM cycles WHERE outcome = 'ok'")} >= {
            "cycle", "probe", "crawl"}
        assert_once_each(setup, answers)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert "Traceback" not in daemon.log


def test_alerts_held_while_smtp_is_down_arrive_once_when_it_is_back(setup: Setup,
                                                                   answers: Answers) -> None:
    sb, view = setup.sandbox, setup.view
    with setup.daemon() as daemon:
        # The network's sites must be seen live once: a replacement is told from a namesake by the
        # content and infrastructure it shares with the seized site (a daemon started only after the
        # seizure has nothing but the name to go on, and rightly reports nothing).
        wait_until(lambda: view.cycles("cycle", "ok"), 180, "the first full cycle (phase before)", daemon)
        sb.smtp_down()
        sb.set_phase("seizure")
        wait_until(lambda: len(view.edges()) >= len(answers.replacements), 180, "the replacements", daemon)
        # Several delivery rounds fail (backoff 1 s, doubling) while more cycles run.
        jobs = view.cycles(outcome="ok")
        wait_until(lambda: view.scalar("SELECT min(attempts) FROM alert_outbox") >= 3, 60,
                   "three failed delivery attempts per alert", daemon)
        wait_until(lambda: view.cycles(outcome="ok") >= jobs + 2, 60, "two more jobs with SMTP down", daemon)
        assert sb.messages == []
        assert view.scalar("SELECT count(*) FROM alert_outbox WHERE state = 'sent'") == 0
        assert "alert delivery failed" in daemon.log
        sb.smtp_up()
        wait_until(lambda: all_sent(setup), 60, "the held alerts", daemon)
        jobs = view.cycles(outcome="ok")
        wait_until(lambda: view.cycles(outcome="ok") >= jobs + 2, 60, "two more jobs with SMTP up", daemon)
        wait_until(lambda: all_sent(setup), 30, "the alerts of edges found since", daemon)
        assert_once_each(setup, answers)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
