"""Cluster mode (issue 17): a round's or a sweep's job retried after its worker was killed resumes its
first attempt (same cycle-log row, same ``now``) and runs only the batches and parts not done yet, or,
past [cluster] resume_max_age, abandons it and runs a fresh cycle;
`hydrawatch worker` subprocesses on a real PostgreSQL store and the sandbox internet serving the routes
world (tests/worlds/routes: 6 seeds, 4 of them lost in phase "seizure", one replacement mailed), compared
with one embedded process (run once for the three scenarios: the same phase on the same fresh store and config)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

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
from tests.support.pg import fresh_schema

pytest.importorskip("procrastinate")

from scheduler.cluster import ALERTS_LOCK, STAGE_TASK
from scheduler.cluster_plan import DEFER

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

ROUTES = Path(__file__).resolve().parents[1] / "worlds" / "routes"


@pytest.fixture(scope="module")
def routes_world() -> Iterator[Sandbox]:
    with Sandbox.start(ROUTES, "before") as sb:
        yield sb


@pytest.fixture
def sandbox(routes_world: Sandbox) -> Iterator[Sandbox]:
    """This module's sandbox: the routes world (a cycle a third of the doppelganger world's), started once
    for the module (the twin's summary names the sandbox's NRD feed URL, so both scenarios share one),
    back to phase "before" with no mail around each scenario."""
    routes_world.reset("before")
    yield routes_world
    routes_world.reset("before")


# the watchlist's round (a hunt's candidates are rounds of their own: "lost", "sweep")
WATCHED_JOBS = "args->>'kind' = 'observe' AND args->>'round' = 'watched'"
WATCHED_ROWS = "kind = 'batch' AND stats->>'round' = 'watched'"
OK_BATCHES = f"SELECT count(*) FROM cycles WHERE {WATCHED_ROWS} AND outcome = 'ok'"
# the discovery sweep's parts (a takedown hunt's parts, numbered first, have no live domains)
SWEEP_JOBS = "args->>'kind' = 'sweep_part' AND jsonb_array_length(args->'live') > 0"
SWEPT = (f"SELECT count(*) FROM sweep_parts p JOIN procrastinate_jobs j ON {SWEEP_JOBS} "
         "AND (j.args->>'sweep')::int = p.sweep AND (j.args->>'index')::int = p.part")


@dataclass(frozen=True)
class Twin:
    """What one uninterrupted embedded cycle of phase "seizure" gave, on a fresh store watching the
    world's seeds (the config of `common`): what a resumed cluster cycle must match."""
    stats: dict[str, Any]
    statuses: dict[str, str]
    edges: list[tuple[str, str, str]]
    subjects: list[str]
    decisions: list[tuple[Any, ...]]  # every candidate's (name, decision)
    scores: list[tuple[Any, ...]]  # every scored candidate's (name, score)


def embedded_twin(sandbox: Sandbox) -> Twin:
    """Run the twin (the sandbox in phase "seizure") on a schema of its own, dropped afterwards."""
    with fresh_schema() as url, tempfile.TemporaryDirectory() as tmp:
        embedded = prepare(sandbox, url, Path(tmp), schedule=QUIET, alerts={"mail_to": ["embedded@sandbox.test"]},
                           **common(sandbox))
        try:
            stats = once(embedded.config)  # its mails are in the sandbox once it has exited
            return Twin(stats, statuses(embedded.config), embedded.view.edges(),
                        sorted(str(m["Subject"]) for m in mails_to(sandbox, "embedded@")), decisions(embedded),
                        scores(embedded))
        finally:
            embedded.view.close()


@dataclass
class TwinRun:
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))
    future: Future[Twin] | None = None


@pytest.fixture(scope="module")
def twin_run() -> Iterator[TwinRun]:
    run = TwinRun()
    yield run
    run.pool.shutdown(wait=True)


@pytest.fixture
def twin(twin_run: TwinRun, sandbox: Sandbox) -> Iterator[TwinRun]:
    """The module's twin: the first scenario starts it beside its own cluster cycle (the sandbox already
    in phase "seizure"); a later one (in the same xdist worker) reuses it, or runs it again if it failed.
    A scenario ends only after the twin it started (the sandbox goes back to phase "before" after it)."""
    yield twin_run
    if twin_run.future is not None:
        wait([twin_run.future])


def start_twin(run: TwinRun, sandbox: Sandbox) -> Future[Twin]:
    assert sandbox.phase == "seizure"
    if run.future is None or (run.future.done() and run.future.exception() is not None):
        run.future = run.pool.submit(embedded_twin, sandbox)
    return run.future


@contextmanager
def killed_once(s: Setup, tmp: Path, done: str, at: int, what: str, *extra: str) -> Iterator[subprocess.Popen[str]]:
    """`run --once` queues a cycle on the cluster store ``s``; the worker that takes it (started with
    ``extra`` arguments) is killed (kill -9) once the query ``done`` counts ``at`` (``what``), just after a
    record: the next one it took has not written yet. Yields the waiting `run --once`; every process is
    ended and the store's view closed afterwards."""
    client = run_once(s.config)  # the cycle queued while the worker starts
    first = Worker(s.config, tmp / "first.log", *extra)
    try:
        started(first)
        wait_until(lambda: s.view.scalar(done) >= at, 600, what, first, every=0.02)
        os.kill(first.proc.pid, signal.SIGKILL)
        first.wait(10)
        yield client
    finally:
        first.kill()
        if client.poll() is None:
            client.kill()
        s.view.close()


def resumed(s: Setup, client: subprocess.Popen[str], tmp: Path, concurrency: int = 2,
            then: Callable[[Worker], None] | None = None) -> tuple[dict[str, Any], str]:
    """A second worker (``concurrency`` jobs at once) whose reaper queues the killed cycle again and runs
    it to the end: the summary `run --once` printed, and the second worker's log. ``then``: what the test
    waits for afterwards while that worker still runs."""
    with Worker(s.config, tmp / "second.log", "--concurrency", str(concurrency)) as second:
        out, err = client.communicate(timeout=600)
        assert client.returncode == 0, err[-3000:] + second.log[-3000:]
        if then is not None:
            then(second)
        second.signal(signal.SIGTERM)
        assert second.wait(30) == 0, second.log[-3000:]
    shared: dict[str, Any] = json.loads(out)
    shared.pop("seconds")
    return shared, second.log


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_round_whose_worker_is_killed_resumes_and_runs_only_the_missing_batches(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, twin: TwinRun) -> None:
    """kill -9 of the worker coordinating a cycle's round (a batch job per domain) once two batches are
    done: the survivor's reaper queues the cycle again, and the retried job keeps the killed attempt's
    cycle-log row and ``now``, queues no batch job of its own and waits for the ones still queued or
    running; each batch is recorded done once. The summary, statuses, edges and mails are those of one
    uninterrupted embedded cycle, and every loss the killed attempt's batches saw is hunted inline."""
    s = cluster_setup(sandbox, pg_url, tmp_path / "cluster", stalled_seconds=10, observe_batch=1)
    sandbox.set_phase("seizure")
    alone = start_twin(twin, sandbox)  # the uninterrupted twin, meanwhile
    with killed_once(s, tmp_path, OK_BATCHES, 2, "two batches done") as client:
        cycle_id, started_at = s.view.rows("SELECT id, started_at FROM cycles WHERE kind = 'cycle'")[0]
        planned = s.view.scalar(f"SELECT count(*) FROM procrastinate_jobs WHERE {WATCHED_JOBS}")
        done_before = s.view.rows(f"SELECT (stats->>'index')::int FROM cycles WHERE {WATCHED_ROWS} AND outcome = 'ok'")
        assert planned == len(sandbox.seeds) and 2 <= len(done_before) < planned  # the whole plan was queued at once
        shared, log = resumed(s, client, tmp_path)
        assert "stalled" in log and f"resumes cycle {cycle_id}" in log
        # the batches left queued ran on the second worker meanwhile: done or waited for, none queued again
        again = re.search(rf"round {cycle_id} \(watched\) resumed: {planned} batch\(s\) planned, (\d+) done before, (\d+) "
                          r"still queued or running, 0 queued again", log)
        assert again and int(again[1]) >= len(done_before) and int(again[1]) + int(again[2]) == planned
        shared["status_changes"] = sorted((c["domain"], c["from"], c["to"]) for c in shared["status_changes"])
        shared["clones"] = sorted(shared["clones"], key=lambda r: json.dumps(r, sort_keys=True))
        expected = alone.result()
        assert shared == expected.stats
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
        same_as_twin(sandbox, s, expected)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_sweep_whose_worker_is_killed_resumes_and_runs_only_the_missing_parts(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, twin: TwinRun) -> None:
    """kill -9 of the worker coordinating a cycle once one of its sweep's parts (one label each: the
    world's two live sites) is recorded: the retried job resumes the same sweep (its cycle-log id), runs no part or source job of its
    own, waits for the parts and sources still queued or running, and merges every part and source, each
    recorded once. The round, all done before the kill, is read back from the cycle log (the same takedowns, hunted inline); the
    statuses, edges and mails are those of one uninterrupted embedded cycle."""
    s = cluster_setup(sandbox, pg_url, tmp_path / "cluster", stalled_seconds=10, observe_batch=3, sweep_labels=1)
    sandbox.set_phase("seizure")
    alone = start_twin(twin, sandbox)
    with killed_once(s, tmp_path, SWEPT, 1, "a sweep part done") as client:
        cycle_id = s.view.scalar("SELECT id FROM cycles WHERE kind = 'cycle'")
        planned = s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' = 'sweep_part'")
        first_sweep_part = s.view.scalar(f"SELECT min((args->>'index')::int) FROM procrastinate_jobs WHERE {SWEEP_JOBS}")
        done_before = s.view.scalar(SWEPT)
        assert 1 <= done_before < planned - first_sweep_part  # the sweep's whole plan was queued at once
        shared, log = resumed(s, client, tmp_path)
        assert f"resumes cycle {cycle_id}" in log
        assert re.search(rf"round {cycle_id} \(watched\) resumed: (\d+) batch\(s\) planned, \1 done before, 0 still", log)
        # the takedowns' hunt's parts, all done, then the sweep's: done or waited for, none queued again
        again = re.findall(rf"sweep {cycle_id} resumed: (\d+) part\(s\) planned, (\d+) done before, (\d+) "
                           r"still queued or running, 0 queued again", log)
        assert [int(n) for n, _, _ in again] == [first_sweep_part, planned - first_sweep_part], log
        assert again[0][1] == again[0][0] and int(again[1][1]) >= done_before
        assert int(again[1][1]) + int(again[1][2]) == planned - first_sweep_part
        # the sweep's sources (queued with its parts): recorded ones not run again, none queued twice
        # (the hub links and similar pages it read from the store: one names slice)
        fed = re.search(rf"sweep {cycle_id} resumed: 3 source\(s\) planned, (\d+) done before, (\d+) "
                        r"still queued or running, 0 queued again", log)
        assert fed and int(fed[1]) + int(fed[2]) == 3, log
        expected = alone.result().stats
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
                           "ORDER BY (args->>'index')::int") == [("ct", "succeeded"), ("nrd", "succeeded"),
                                                                  ("names:0", "succeeded")]
        assert s.view.rows("SELECT sweep, source FROM sweep_sources ORDER BY source") == [
            (cycle_id, "ct"), (cycle_id, "names:0"), (cycle_id, "nrd")]
        assert s.view.scalar("SELECT count(*) FROM sweep_source_found") == 0
        hunted_inline(s, shared["lost"])
        same_as_twin(sandbox, s, alone.result())


# score jobs taken and not recorded: the batches a worker was scoring (or had queued) when it died
UNSCORED = ("SELECT (j.args->>'parent')::int, (j.args->>'index')::int FROM procrastinate_jobs j "
            "WHERE j.args->>'kind' = 'score' AND j.status = 'doing' AND NOT EXISTS (SELECT 1 FROM cycles c "
            "WHERE c.kind = 'score' AND (c.stats->>'parent')::int = (j.args->>'parent')::int "
            "AND (c.stats->>'index')::int = (j.args->>'index')::int) ORDER BY 1, 2")


def decisions(s: Setup) -> list[tuple[Any, ...]]:
    """Every candidate's (name, decision)."""
    return s.view.rows("SELECT name, decision FROM candidates ORDER BY name")


def scores(s: Setup) -> list[tuple[Any, ...]]:
    """Every scored candidate's (name, score)."""
    return s.view.rows("SELECT name, score FROM candidates WHERE score IS NOT NULL ORDER BY name")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_worker_killed_mid_score_batch_leaves_the_batch_to_the_retry_and_nothing_twice(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, twin: TwinRun) -> None:
    """kill -9 of a worker (eight jobs at once) while it scores a hunt's candidates as score jobs of one
    candidate each (scheduler/score_jobs.py), just after one batch recorded: the batches it had taken and
    not recorded are left running; the survivor's reaper queues them (and the cycle) again, and each batch
    is recorded once. The decisions, statuses, edges and mails (each Message-ID once, with its confidence)
    are those of one uninterrupted embedded cycle; no edge or outbox row twice."""
    s = cluster_setup(sandbox, pg_url, tmp_path / "cluster", stalled_seconds=10, score_batch=1)
    sandbox.set_phase("seizure")
    alone = start_twin(twin, sandbox)
    with killed_once(s, tmp_path, "SELECT count(*) FROM cycles WHERE kind = 'score'", 1, "a score batch recorded",
                     "--concurrency", "8") as client:
        cut = s.view.rows(UNSCORED)  # killed mid-batch: taken, not recorded
        assert cut, s.view.rows("SELECT args->>'index', status FROM procrastinate_jobs WHERE args->>'kind' = 'score'")
        cycle_id = s.view.scalar("SELECT id FROM cycles WHERE kind = 'cycle'")
        shared, log = resumed(s, client, tmp_path, then=lambda w: deliver_now(s, w))
        assert "stalled" in log and f"resumes cycle {cycle_id}" in log
        # the resumed attempt observed its round again at the killed attempt's now and reported that
        # attempt's status changes (recorded once) as its own: it hunted the losses inline and cancelled
        # the hunts the killed attempt had queued with them, so none ran after it (with the clone promoted)
        expected = alone.result()
        assert sorted(shared["lost"]) == sorted(expected.stats["lost"]) and shared["lost"]
        assert sorted((c["domain"], c["from"], c["to"]) for c in shared["status_changes"]) == expected.stats[
            "status_changes"]
        hunts = dict(s.view.rows("SELECT args->'domains'->>0, status FROM procrastinate_jobs WHERE args->>'kind' = 'hunt'"))
        assert hunts == dict.fromkeys(expected.stats["lost"], "cancelled") and s.view.cycles("hunt") == 0, hunts
        # every score batch queued recorded exactly once, those cut short included, and none left undone (a
        # hunt of one batch scores it in its own job: recorded, never queued)
        planned = s.view.rows("SELECT DISTINCT (args->>'parent')::int, (args->>'index')::int FROM procrastinate_jobs "
                              "WHERE args->>'kind' = 'score' ORDER BY 1, 2")
        records = s.view.rows("SELECT (stats->>'parent')::int, (stats->>'index')::int, count(*) FROM cycles "
                              "WHERE kind = 'score' GROUP BY 1, 2 ORDER BY 1, 2")
        assert [(p, i) for p, i, n in records if n > 1] == [] and set(planned) <= {(p, i) for p, i, _ in records}
        assert set(cut) <= set(planned) and s.view.rows(UNSCORED) == []
        assert s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' = 'score' "
                             "AND status NOT IN ('succeeded', 'cancelled')") == 0
        assert s.view.rows("SELECT id, outcome FROM cycles WHERE kind = 'cycle'") == [(cycle_id, "ok")]
        # every candidate decided and scored as the twin did: the resumed attempt did not observe its rounds
        # again (their batch records), so the score batches cut short read the store the others read, and
        # no hunt of the killed attempt ran after the cycle against the network with the clone in it
        assert decisions(s) == expected.decisions
        assert scores(s) == expected.scores
        same_as_twin(sandbox, s, expected)


# the killed attempt's children: its rounds' and hunts' batches, its sweeps' parts and sources, under its id
CHILDREN_OF = ("((args->>'kind' IN ('observe', 'score') AND (args->>'parent')::int = :c) OR "
               "(args->>'kind' IN ('sweep_part', 'source') AND (args->>'sweep')::int = :c))")


def deliver_now(s: Setup, worker: Worker) -> None:
    """Once every queued hunt has run, queue an alert delivery (the stage `alerts`) and wait for it: the
    hunts' edges are mailed (the workers queue no periodic stage here)."""
    wait_until(lambda: s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' = 'hunt' "
                                     "AND status IN ('todo', 'doing')") == 0, 180, "the queued hunts", worker)
    with create_engine(s.url).begin() as conn:
        job = conn.execute(DEFER, {"task": STAGE_TASK, "lock": ALERTS_LOCK,
                                   "args": json.dumps({"kind": "alerts"})}).scalar_one()
    wait_until(lambda: s.view.scalar("SELECT status FROM procrastinate_jobs WHERE id = :j", j=job) == "succeeded",
               120, "the alert delivery", worker)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_job_whose_killed_attempt_is_too_old_starts_a_fresh_cycle_and_loses_nothing(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, twin: TwinRun) -> None:
    """[cluster] resume_max_age = 2 s, end to end: the worker coordinating a cycle (its batches all taken at
    once, one domain each) is killed (kill -9) once two batches are done; the reaper queues the cycle
    again after stalled_seconds (10 s), so its first attempt is too old to resume: the retried job marks
    the old cycle-log row abandoned, cancels its children still queued, and runs a fresh cycle at its own
    time. The losses the killed attempt recorded are not lost: their hunts, queued with the status
    changes, run after the fresh cycle. The statuses, edges and mails (each Message-ID once) are those of
    one uninterrupted embedded cycle; no status change, edge or outbox row twice."""
    s = cluster_setup(sandbox, pg_url, tmp_path / "cluster", stalled_seconds=10, observe_batch=1, resume_max_age=2)
    sandbox.set_phase("seizure")
    alone = start_twin(twin, sandbox)
    with killed_once(s, tmp_path, OK_BATCHES, 2, "two batches done", "--concurrency", "8") as client:
        old, old_start = s.view.rows("SELECT id, started_at FROM cycles WHERE kind = 'cycle'")[0]
        # the losses its batches recorded: their hunts queued with the status changes, waiting
        hunted_later = {d for (d,) in s.view.rows("SELECT args->'domains'->>0 FROM procrastinate_jobs "
                                                  "WHERE args->>'kind' = 'hunt'")}
        shared, log = resumed(s, client, tmp_path, concurrency=1, then=lambda w: deliver_now(s, w))
        assert "stalled" in log and f"resumes cycle {old}" not in log
        cancelled = re.search(rf"its earlier attempt \(cycle {old}\) began \d+ s ago, more than cluster.resume_max_age "
                              rf"\(2 s\): cycle {old} abandoned, (\d+) of its queued job\(s\) cancelled; a fresh cycle starts",
                              log)
        assert cancelled, log[-3000:]
        # the old row abandoned, a fresh one (a later start) that ended well, both logged by the one job
        rows = s.view.rows("SELECT id, started_at, outcome, (stats->>'job')::int FROM cycles WHERE kind = 'cycle' "
                           "ORDER BY id")
        assert [(r[0], r[2]) for r in rows] == [(old, "abandoned"), (rows[1][0], "ok")] and rows[1][1] > old_start
        assert rows[0][3] == rows[1][3] == s.view.scalar("SELECT id FROM procrastinate_jobs WHERE args->>'kind' = 'cycle'")
        assert s.view.scalar("SELECT attempts FROM procrastinate_jobs WHERE args->>'kind' = 'cycle'") == 2
        # the killed attempt's children: each cancelled (as many as the log says) or run, none left queued
        children = dict(s.view.rows(f"SELECT status, count(*) FROM procrastinate_jobs WHERE {CHILDREN_OF} GROUP BY 1",
                                    c=old))
        assert set(children) <= {"cancelled", "succeeded"} and children.get("cancelled", 0) == int(cancelled[1]), children
        # the fresh cycle's batches: its own, under its id, at its own `now`
        fresh_at = {datetime.fromisoformat(a) for (a,) in s.view.rows(
            "SELECT DISTINCT args->>'at' FROM procrastinate_jobs WHERE args->>'kind' = 'observe' "
            "AND (args->>'parent')::int = :c", c=rows[1][0])}
        assert fresh_at == {rows[1][1]}
        # every takedown hunted once: the killed attempt's by their queued hunt jobs (after the fresh cycle,
        # which saw those domains lost already), the fresh cycle's own inline (their queued hunts cancelled)
        hunts = dict(s.view.rows("SELECT args->'domains'->>0, status FROM procrastinate_jobs WHERE args->>'kind' = 'hunt'"))
        assert hunted_later and not hunted_later & set(shared["lost"]), (hunted_later, shared["lost"])
        assert hunts == {**{d: "succeeded" for d in hunted_later}, **{d: "cancelled" for d in shared["lost"]}}
        assert s.view.cycles("hunt") == len(hunted_later)
        expected = alone.result()
        assert sorted(hunts) == sorted(expected.stats["lost"])
        # The clone's confidence is compared too: the killed attempt's batch of the redirecting
        # frontline-digest.com may have committed its crawl (the redirect followed: the clone's own page)
        # before its status change, which the fresh cycle then recorded later, so that crawl falls before
        # the status_since the site is described by; its pages are marked off_site (another registered
        # domain) and no profile reads them (storage/profiles.py), so the clone is scored as the twin scores it.
        same_as_twin(sandbox, s, expected)


def same_as_twin(sandbox: Sandbox, s: Setup, twin: Twin) -> None:
    """Nothing recorded twice in the cluster's store, and the same statuses, edges and mails (each
    Message-ID once, their subjects with the clone's confidence) as the embedded twin's."""
    nothing_twice(s.view)
    assert statuses(s.config) == twin.statuses
    assert s.view.edges() == twin.edges
    if twin.subjects:  # the cluster's may still be on their way
        wait_until(lambda: len(mails_to(sandbox, "cluster@")) >= len(twin.subjects), 10, "the cluster's mails")
    ours = mails_to(sandbox, "cluster@")
    assert sorted(str(m["Subject"]) for m in ours) == sorted(twin.subjects)
    assert len({m["Message-ID"] for m in ours}) == len(ours)
