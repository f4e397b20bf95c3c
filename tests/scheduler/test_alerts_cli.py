"""`hydrawatch alerts list|retry|send` through the CLI on the sandbox: an alert that used up its
attempts while SMTP was down stays `failed`; once SMTP is back, `retry` and `send` deliver it, once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.net import Sandbox
from tests.daemon.test_daemon_reload import REPLACEMENT, SEED, world
from tests.scheduler.inline_world import ok, world_config
from tests.support import cli

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_failed_alerts_are_listed_retried_and_sent_once(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}",
                          alerts={"max_attempts": 1})
    ok(config, "init")
    ok(config, "seed", "add", SEED)
    ok(config, "run", "--once", "--format", "json")
    sb.smtp_down()
    sb.set_phase("seizure")
    report = ok(config, "run", "--once", "--format", "json")
    assert report["new_edges"] == 1 and report["alerts_failed"] == 1

    failed = ok(config, "alerts", "list", "--state", "failed", "--format", "json")
    assert [(a["kind"], a["about"], a["detail"], a["attempts"]) for a in failed] == [
        ("clone", REPLACEMENT, f"replacement of {SEED}", 1)]
    assert failed[0]["last_error"]
    ref = failed[0]["ref"]

    sb.smtp_up()
    done = cli(config, "alerts", "send")
    assert done.returncode == 0 and "sent 0" in done.stderr  # a failed alert is not due by itself
    assert sb.messages == []
    done = cli(config, "alerts", "retry", ref)
    assert done.returncode == 0 and "1 failed alert(s) queued again" in done.stderr
    done = cli(config, "alerts", "send")
    assert done.returncode == 0 and "sent 1" in done.stderr
    assert [REPLACEMENT in str(m["Subject"]) for m in sb.wait_for_messages(1, timeout=10)] == [True]
    assert [a["state"] for a in ok(config, "alerts", "list", "--format", "json")] == ["sent"]
    assert cli(config, "alerts", "send").returncode == 0 and len(sb.messages) == 1  # nothing twice

    for bad in (["retry", "clone:x"], ["retry", "edge:1"], ["list", "--state", "lost"]):
        done = cli(config, "alerts", *bad)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (bad, done.stderr)
