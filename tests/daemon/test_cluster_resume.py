"""Cluster mode (issue 17): a round's or a sweep's job retried after its worker was killed resumes its
first attempt (same cycle-log row, same ``now``) and runs only the batches and parts not done yet;
`hydrawatch worker` subprocesses on a real PostgreSQL store and the sandbox internet, compared with one
embedded process."""

from __future__ import annotations

import json
import os
import re
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from sandbox.net import Sandbox
from tests.daemon.conftest import Setup, prepare
from tests.daemon.proc import wait_until
from tests.daemon.test_cluster import (
    QUIET,
    Worker,
    cluster_setup,
    common,
    hunted_inline,
    mails_to,
    once,
    started,
    statuses,
)
from tests.daemon.test_cluster_faults import nothing_twice, run_once

pytest.importorskip("procrastinate")

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]


# the watchlist's round (a hunt's candidates are rounds of their own: "lost", "sweep")
WATCHED_JOBS = "args->>'kind' = 'observe' AND args->>'round' = 'watched'"
WATCHED_ROWS = "kind = 'batch' AND stats->>'round' = 'watched'"
OK_BATCHES = f"SELECT count(*) FROM cycles WHERE {WATCHED_ROWS} AND outcome = 'ok'"
# the discovery sweep's parts (a takedown hunt's parts, numbered first, have no live domains)
SWEEP_JOBS = "args->>'kind' = 'sweep_part' AND jsonb_array_length(args->'live') > 0"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_round_whose_worker_is_killed_resumes_and_runs_only_the_missing_batches(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, other_pg_url: str) -> None:
    """kill -9 of the worker coordinating a cycle's round (batch jobs of 3 domains) once two batches are
    done: the survivor's reaper queues the cycle again, and the retried job keeps the killed attempt's
    cycle-log row and ``now``, queues no batch job of its own and waits for the ones still queued or
    running; each batch is recorded done once. The summary, statuses, edges and mails are those of one
    uninterrupted embedded cycle, and every loss the killed attempt's batches saw is hunted inline."""
    (tmp_path / "embedded").mkdir()
    embedded = prepare(sandbox, other_pg_url, tmp_path / "embedded", schedule=QUIET,
                       alerts={"mail_to": ["embedded@sandbox.test"]}, **common(sandbox))
    s = cluster_setup(sandbox, pg_url, tmp_path / "cluster", stalled_seconds=10, observe_batch=3)
    sandbox.set_phase("seizure")
    first = Worker(s.config, tmp_path / "first.log")
    client = None
    try:
        with ThreadPoolExecutor(1) as pool:
            alone = pool.submit(once, embedded.config)  # the uninterrupted twin, meanwhile
            started(first)
            client = run_once(s.config)
            # killed just after a batch was recorded: the next one it takes has not written yet
            wait_until(lambda: s.view.scalar(OK_BATCHES) >= 2, 300, "two batches done", first, every=0.02)
            os.kill(first.proc.pid, signal.SIGKILL)
            first.wait(10)
            cycle_id, started_at = s.view.rows("SELECT id, started_at FROM cycles WHERE kind = 'cycle'")[0]
            planned = s.view.scalar(f"SELECT count(*) FROM procrastinate_jobs WHERE {WATCHED_JOBS}")
            done_before = s.view.rows(f"SELECT (stats->>'index')::int FROM cycles WHERE {WATCHED_ROWS} AND outcome = 'ok'")
            assert planned >= 8 and 2 <= len(done_before) < planned  # the whole plan was queued at once
            with Worker(s.config, tmp_path / "second.log", "--concurrency", "2") as second:
                out, err = client.communicate(timeout=600)
                assert client.returncode == 0, err[-3000:] + second.log[-3000:]
                assert "stalled" in second.log and f"resumes cycle {cycle_id}" in second.log
                # the batches left queued ran on this worker meanwhile: done or waited for, none queued again
                resumed = re.search(rf"round {cycle_id} \(watched\) resumed: {planned} batch\(s\) planned, (\d+) done before, (\d+) "
                                    r"still queued or running, 0 queued again", second.log)
                assert resumed and int(resumed[1]) >= len(done_before) and int(resumed[1]) + int(resumed[2]) == planned
                expected = alone.result()
                second.signal(signal.SIGTERM)
                assert second.wait(30) == 0, second.log[-3000:]
        shared = json.loads(out)
        shared.pop("seconds")
        shared["status_changes"] = sorted((c["domain"], c["from"], c["to"]) for c in shared["status_changes"])
        shared["clones"] = sorted(shared["clones"], key=lambda r: json.dumps(r, sort_keys=True))
        assert shared == expected
        assert shared["status_changes"] and shared["lost"]
        # one cycle-log row, resumed: its id and start are the killed attempt's
        assert s.view.rows("SELECT id, started_at, outcome FROM cycles WHERE kind = 'cycle'") == [
            (cycle_id, started_at, "ok")]
        assert s.view.scalar("SELECT attempts FROM procrastinate_jobs WHERE args->>'kind' = 'cycle'") == 2
        # no batch job queued twice, each batch recorded done once, at the first attempt's `now`
        batches = s.view.rows("SELECT (args->>'index')::int, status, args->>'at' FROM procrastinate_jobs "
                              f"WHERE {WATCHED_JOBS} ORDER BY 1")
        assert [(i, st) for i, st, _ in batches] == [(i, "succeeded") for i in range(planned)]
        assert {datetime.fromisoformat(at) for _, _, at in batches} == {started_at}
        assert s.view.rows(f"SELECT (stats->>'index')::int, count(*) FROM cycles WHERE {WATCHED_ROWS} "
                           "AND outcome = 'ok' GROUP BY 1 ORDER BY 1") == [(i, 1) for i in range(planned)]
        # and every batch of every round of the cycle (its hunt's candidates too): one record each
        assert s.view.rows("SELECT stats->>'round', (stats->>'index')::int, (stats->>'parent')::int FROM cycles "
                           "WHERE kind = 'batch' AND outcome = 'ok' GROUP BY 1, 2, 3 HAVING count(*) > 1") == []
        assert s.view.rows("SELECT DISTINCT (stats->>'parent')::int FROM cycles WHERE kind = 'batch'") == [(cycle_id,)]
        hunted_inline(s, shared["lost"])  # the killed attempt's losses too: hunted by the retried job, once
        same_as_embedded(sandbox, s, embedded)
    finally:
        first.kill()
        if client is not None and client.poll() is None:
            client.kill()
        s.view.close()
        embedded.view.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_sweep_whose_worker_is_killed_resumes_and_runs_only_the_missing_parts(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, other_pg_url: str) -> None:
    """kill -9 of the worker coordinating a cycle once two of its sweep's parts (2 labels each) are
    recorded: the retried job resumes the same sweep (its cycle-log id), runs no part or source job of its
    own, waits for the parts and sources still queued or running, and merges every part and source, each
    recorded once. The round,
    all done before the kill, is read back from the cycle log (the same takedowns, hunted inline); the
    statuses, edges and mails are those of one uninterrupted embedded cycle."""
    (tmp_path / "embedded").mkdir()
    embedded = prepare(sandbox, other_pg_url, tmp_path / "embedded", schedule=QUIET,
                       alerts={"mail_to": ["embedded@sandbox.test"]}, **common(sandbox))
    s = cluster_setup(sandbox, pg_url, tmp_path / "cluster", stalled_seconds=10, observe_batch=3, sweep_labels=2)
    sandbox.set_phase("seizure")
    first = Worker(s.config, tmp_path / "first.log")
    client = None
    try:
        with ThreadPoolExecutor(1) as pool:
            alone = pool.submit(once, embedded.config)
            started(first)
            client = run_once(s.config)
            swept = (f"SELECT count(*) FROM sweep_parts p JOIN procrastinate_jobs j ON {SWEEP_JOBS} "
                     "AND (j.args->>'sweep')::int = p.sweep AND (j.args->>'index')::int = p.part")
            wait_until(lambda: s.view.scalar(swept) >= 2, 600, "two sweep parts done", first, every=0.02)
            os.kill(first.proc.pid, signal.SIGKILL)
            first.wait(10)
            cycle_id = s.view.scalar("SELECT id FROM cycles WHERE kind = 'cycle'")
            planned = s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' = 'sweep_part'")
            first_sweep_part = s.view.scalar(f"SELECT min((args->>'index')::int) FROM procrastinate_jobs WHERE {SWEEP_JOBS}")
            done_before = s.view.scalar(swept)
            assert 2 <= done_before < planned - first_sweep_part  # the sweep's whole plan was queued at once
            with Worker(s.config, tmp_path / "second.log", "--concurrency", "2") as second:
                out, err = client.communicate(timeout=600)
                assert client.returncode == 0, err[-3000:] + second.log[-3000:]
                assert f"resumes cycle {cycle_id}" in second.log
                assert re.search(rf"round {cycle_id} \(watched\) resumed: (\d+) batch\(s\) planned, \1 done before, 0 still",
                                 second.log)
                # the takedowns' hunt's parts, all done, then the sweep's: done or waited for, none queued again
                resumed = re.findall(rf"sweep {cycle_id} resumed: (\d+) part\(s\) planned, (\d+) done before, (\d+) "
                                     r"still queued or running, 0 queued again", second.log)
                assert [int(n) for n, _, _ in resumed] == [first_sweep_part, planned - first_sweep_part], second.log
                assert resumed[0][1] == resumed[0][0] and int(resumed[1][1]) >= done_before
                assert int(resumed[1][1]) + int(resumed[1][2]) == planned - first_sweep_part
                # the sweep's sources (queued with its parts): recorded ones not run again, none queued twice
                fed = re.search(rf"sweep {cycle_id} resumed: 2 source\(s\) planned, (\d+) done before, (\d+) "
                                r"still queued or running, 0 queued again", second.log)
                assert fed and int(fed[1]) + int(fed[2]) == 2, second.log
                expected = alone.result()
                second.signal(signal.SIGTERM)
                assert second.wait(30) == 0, second.log[-3000:]
        shared = json.loads(out)
        # the round's part of the summary, read back from the batches' records; the hunt ran again at the
        # same `now` over a store that already holds what the killed attempt found (see the README)
        for key in ("probed", "crawled", "lost"):
            assert shared[key] == expected[key], key
        assert sorted((c["domain"], c["from"], c["to"]) for c in shared["status_changes"]) == expected["status_changes"]
        assert s.view.scalar("SELECT count(*) FROM cycles WHERE kind = 'cycle'") == 1
        assert s.view.scalar("SELECT attempts FROM procrastinate_jobs WHERE args->>'kind' = 'cycle'") == 2
        # no part queued twice, each recorded once under the cycle's id, read and then dropped
        jobs = s.view.rows("SELECT (args->>'index')::int, status FROM procrastinate_jobs "
                           "WHERE args->>'kind' = 'sweep_part' ORDER BY 1")
        assert jobs == [(i, "succeeded") for i in range(planned)]
        assert s.view.rows("SELECT sweep, part FROM sweep_parts ORDER BY part") == [(cycle_id, i) for i in range(planned)]
        assert s.view.scalar("SELECT count(*) FROM sweep_found") == 0
        # each source job queued once, recorded once (its cursors with it), read and then dropped
        assert s.view.rows("SELECT args->>'source', status FROM procrastinate_jobs WHERE args->>'kind' = 'source' "
                           "ORDER BY (args->>'index')::int") == [("ct", "succeeded"), ("nrd", "succeeded")]
        assert s.view.rows("SELECT sweep, source FROM sweep_sources ORDER BY source") == [(cycle_id, "ct"), (cycle_id, "nrd")]
        assert s.view.scalar("SELECT count(*) FROM sweep_source_found") == 0
        hunted_inline(s, shared["lost"])
        same_as_embedded(sandbox, s, embedded)
    finally:
        first.kill()
        if client is not None and client.poll() is None:
            client.kill()
        s.view.close()
        embedded.view.close()


def same_as_embedded(sandbox: Sandbox, s: Setup, embedded: Setup) -> None:
    """Nothing recorded twice in the cluster's store, and the same statuses, edges and mails (each
    Message-ID once) as the embedded twin's."""
    nothing_twice(s.view)
    assert statuses(s.config) == statuses(embedded.config)
    assert s.view.edges() == embedded.view.edges()
    sandbox.wait_for_messages(2 * len(mails_to(sandbox, "embedded@")), timeout=10)
    ours, theirs = mails_to(sandbox, "cluster@"), mails_to(sandbox, "embedded@")
    assert sorted(str(m["Subject"]) for m in ours) == sorted(str(m["Subject"]) for m in theirs)
    assert len({m["Message-ID"] for m in ours}) == len(ours)
