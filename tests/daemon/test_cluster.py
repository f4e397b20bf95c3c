"""Cluster mode end to end (issue 17): `hydrawatch worker` subprocesses on a real PostgreSQL store and
the sandbox internet, compared with the embedded process; a worker killed mid-job; the embedded daemon
and workers excluding each other; a malformed job kept, not retried."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from detect.names import split
from sandbox.net import Sandbox
from scheduler.sweep_parts import plan_lost_parts
from tests.daemon.conftest import QUICK_SWEEP, Setup, prepare
from tests.daemon.proc import REPO, DaemonProcess, wait_until
from tests.daemon.proc import cli_subprocess as cli
from tests.support.cli import clean_env as _env

pytest.importorskip("procrastinate")

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

# The workers queue no periodic stage (`cluster.periodic = false`: a daily tick at 00:00 UTC, which
# procrastinate still queues up to 10 minutes late, raced the tests run just after midnight); `run --once`
# queues the cycles the tests compare. The reaper still runs every 10 s. Long intervals for the embedded twins.
QUIET = {"dns_interval": 86400, "crawl_interval": 86400, "discovery_interval": 86400, "alert_interval": 86400}


class Worker(DaemonProcess):
    """`hydrawatch worker` in a subprocess, its output in a file."""

    def __init__(self, config: Path, log_path: Path, *extra: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()/kill()
        self.proc = subprocess.Popen([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), "worker", *extra],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO, env=_env())


def own_tlds(sandbox: Sandbox) -> list[str]:
    """The world's own suffixes: the sweeps stay short (every cycle here runs twice, on a shared machine)."""
    return sorted({split(d).suffix for view in sandbox.world.views.values() for d in view.domains})


def cluster_setup(sandbox: Sandbox, url: str, tmp: Path, *, quick_sweep: bool = False, **cluster: Any) -> Setup:
    """A cluster store and its config (``quick_sweep``: see :func:`common`). The workers look for a job no
    notification announced (one the reaper queued again, one that waited for another's lock: a killed
    worker's queued hunts) every 0.5 s rather than procrastinate's 5 s, which the tests would otherwise
    wait out once per such job."""
    tmp.mkdir(exist_ok=True)
    return prepare(sandbox, url, tmp, schedule=QUIET,
                   cluster={"enabled": True, "periodic": False, "poll_seconds": 0.5, **cluster},
                   alerts={"mail_to": ["cluster@sandbox.test"]}, **common(sandbox, quick_sweep=quick_sweep))


def common(sandbox: Sandbox, *, quick_sweep: bool = False) -> dict[str, dict[str, Any]]:
    """Both stores' settings: the world's suffixes only (``quick_sweep``: tld-swap only, QUICK_SWEEP), and
    no RDAP answer cache: a worker lives across the sandbox's phases (which jump months at once) while
    each `run --once` is a new process, so a 24-hour cache would hand the worker the previous phase's
    registration."""
    return {"discovery": {"tlds": own_tlds(sandbox), **(QUICK_SWEEP if quick_sweep else {})},
            "rdap": {"cache_hours": 0}}


def started(worker: Worker) -> None:
    wait_until(lambda: "worker started" in worker.log, 60, "the worker to start", worker)


def once(config: Path) -> dict[str, Any]:
    done = cli(config, "run", "--once", "--format", "json", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    stats: dict[str, Any] = json.loads(done.stdout)
    stats.pop("seconds")
    # The same records in any order; a reason naming one of several seizure name servers names the one
    # DNS listed first, which varies from answer to answer: the transition is compared, not the reason.
    stats["status_changes"] = sorted((c["domain"], c["from"], c["to"]) for c in stats["status_changes"])
    stats["clones"] = sorted(stats["clones"], key=lambda r: json.dumps(r, sort_keys=True))
    return stats


def both_once(embedded: Path, clustered: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """`run --once` on the embedded store and on the cluster store at the same time (two processes on
    the same sandbox phase, each with its own store and mail recipient): the comparison waits for the
    slower of the two cycles rather than for their sum."""
    with ThreadPoolExecutor(2) as pool:
        alone, shared = pool.map(once, (embedded, clustered))
    return alone, shared


def statuses(config: Path) -> dict[str, str]:
    done = cli(config, "status", "--format", "json")
    assert done.returncode == 0, done.stderr
    return {row["domain"]: row["status"] for row in json.loads(done.stdout)}


def mails_to(sandbox: Sandbox, rcpt: str) -> list[Any]:
    return [m for m in sandbox.messages if rcpt in str(m["To"])]


def batch_rounds(setup: Setup) -> list[dict[str, Any]]:
    """The stats of the batch jobs (kind "batch" in the cycle log) that ended well."""
    return [row[0] for row in setup.view.rows("SELECT stats FROM cycles WHERE kind = 'batch' AND outcome = 'ok'")]


def shared_in_batches(setup: Setup, *, rounds: int, per_round: int) -> None:
    """Every round ran as batch jobs (at least ``per_round`` each), taken by more than one worker."""
    batches = [b for b in batch_rounds(setup) if b.get("round", "watched") == "watched"]
    done = {(b["parent"], b["index"]) for b in batches}
    assert len({p for p, _ in done}) == rounds and len(done) >= rounds * per_round, batches
    assert len({b["worker"] for b in batches}) >= 2, batches


def lookups_of_last_cycle(setup: Setup) -> list[tuple[Any, ...]]:
    """For a summary that differs: the domains the store's last cycle asked RDAP about (RDAP is asked on
    a first look and when the DNS picture changed), each with its DNS answers (rcode, when) oldest first,
    so a mismatch in the `rdap` count says which domains and what their DNS did."""
    try:
        return _rdap_lookups(setup)
    except Exception as exc:  # noqa: BLE001 - only ever called to explain a failure: never hide it
        return [(f"(could not read them: {exc})",)]


def _rdap_lookups(setup: Setup) -> list[tuple[Any, ...]]:
    return setup.view.rows(
        "WITH last AS (SELECT max(observed_at) AS at FROM observations WHERE kind = 'rdap') "
        "SELECT d.name, (SELECT string_agg(coalesce(o2.rcode, o2.error_kind, '?') || '@' || o2.observed_at::text, ' ' "
        "ORDER BY o2.observed_at) FROM observations o2 WHERE o2.domain_id = d.id AND o2.kind = 'dns') "
        "FROM observations o JOIN domains d ON d.id = o.domain_id, last "
        "WHERE o.kind = 'rdap' AND o.observed_at >= last.at - interval '10 minutes' ORDER BY d.name")


def differing(phase: str, shared: dict[str, Any], alone: dict[str, Any], clustered: Setup, embedded: Setup) -> str:
    """Why a cycle's summaries differ, for the failure message (empty when they agree)."""
    differ = {k: (shared.get(k), alone.get(k)) for k in set(shared) | set(alone) if shared.get(k) != alone.get(k)}
    if not differ:
        return ""
    extra = ""
    if "rdap" in differ:
        extra = (f"\nRDAP lookups, cluster: {lookups_of_last_cycle(clustered)}"
                 f"\nRDAP lookups, embedded: {lookups_of_last_cycle(embedded)}")
    return f"{phase}: {json.dumps(differ, indent=1)}{extra}"


def last_cycle(setup: Setup) -> int:
    """The cycle-log id of the last full cycle (the id its sweep and hunt parts and batches are under)."""
    return int(setup.view.scalar("SELECT max(id) FROM cycles WHERE kind = 'cycle'"))


def hunt_shared(setup: Setup, summaries: list[tuple[int, dict[str, Any]]], *, labels: int, batch: int,
                slices: int = 4) -> dict[str, int]:
    """Each cycle's hunt (its cycle-log id and summary) shared its heavy work as jobs: a takedown's hunt
    generated and resolved the lost domains' lookalikes as sweep_part jobs, ``slices`` per label group of
    ``labels`` (numbered before the sweep's parts, each recorded once), and the candidates a hunt chose
    (round "lost": the lost domains' lookalikes; round "sweep": the sweep's pick) went out as `observe`
    jobs of at most ``batch`` names (a round of one batch as one job). The takedown hunts' parts ran on more
    than one worker, and so did the candidate batches. How many batches of each round ran."""
    part_workers: set[str] = set()
    batch_workers: set[str] = set()
    batches = batch_rounds(setup)
    ran = {"lost": 0, "sweep": 0}
    for cycle_id, summary in summaries:
        plan = plan_lost_parts(summary["lost"], labels, slices)
        jobs = setup.view.rows("SELECT DISTINCT (args->>'index')::int, args->>'gone', args->>'live', "
                               "coalesce(args->>'slice', '[0, 1]') FROM procrastinate_jobs "
                               "WHERE args->>'kind' = 'sweep_part' AND (args->>'sweep')::int = :c AND status = 'succeeded' "
                               "AND (args->>'index')::int < :n ORDER BY 1", c=cycle_id, n=len(plan))
        assert [(i, tuple(json.loads(g)), tuple(json.loads(v)), tuple(json.loads(c))) for i, g, v, c in jobs] == [
            (p.index, p.gone, (), (p.cut, p.cuts)) for p in plan]
        recorded_parts = setup.view.rows("SELECT part, worker FROM sweep_parts WHERE sweep = :c AND part < :n ORDER BY 1",
                                         c=cycle_id, n=len(plan))
        assert [p for p, _ in recorded_parts] == [p.index for p in plan]
        part_workers |= {w for _, w in recorded_parts}
        lost_observed = summary["candidates_lost_observed"]
        for round_name, count in (("lost", lost_observed), ("sweep", summary["candidates_observed"] - lost_observed)):
            mine = [b for b in batches if b["parent"] == cycle_id and b.get("round") == round_name]
            sizes = {b["index"]: b["probed"] for b in mine}  # a batch run twice: the same names
            if count <= batch:  # one batch, a job too (its report in the cycle log for a resumed hunt to read)
                assert sizes == ({0: count} if count else {}), (cycle_id, round_name, count, mine)
            else:  # every candidate in one batch of at most ``batch`` (one answer's names kept together)
                assert set(sizes) == set(range(len(sizes))) and sum(sizes.values()) == count, (cycle_id, round_name, mine)
                assert len(sizes) >= -(-count // batch) and max(sizes.values()) <= batch, mine
            batch_workers |= {b["worker"] for b in mine}
            ran[round_name] += len(sizes)
    assert any(s["lost"] for _, s in summaries) and len(part_workers) >= 2, (summaries, part_workers)
    assert sum(ran.values()) < 2 or len(batch_workers) >= 2, batch_workers
    return ran


def scored_in_batches(setup: Setup, summaries: list[tuple[int, dict[str, Any]]], *, batch: int) -> int:
    """Each cycle's hunt scored the candidates it observed in batches of at most ``batch`` (score jobs
    wherever they were more than one batch; else in the hunt's own job), each batch recorded once with its
    new edges, whose sum is the cycle's; the batches run as jobs were taken by more than one worker. How
    many ran as jobs."""
    rows = [r[0] for r in setup.view.rows("SELECT stats FROM cycles WHERE kind = 'score' AND outcome = 'ok'")]
    workers: set[int] = set()
    jobs = 0
    for cycle_id, summary in summaries:
        mine = [r for r in rows if r["parent"] == cycle_id]
        count = summary["candidates_observed"]
        assert sorted(r["index"] for r in mine) == list(range(len(mine))), mine  # each batch recorded once
        assert sum(r["scored"] for r in mine) == count and sum(r["new_edges"] for r in mine) == summary["new_edges"]
        if count > batch:
            assert len(mine) == -(-count // batch) and max(r["scored"] for r in mine) <= batch, mine
            jobs += len(mine)
            workers |= {r["worker"] for r in mine}
    ran = setup.view.scalar("SELECT count(DISTINCT (args->>'parent', args->>'index')) FROM procrastinate_jobs "
                            "WHERE args->>'kind' = 'score' AND status = 'succeeded'")
    assert ran == jobs and len(workers) >= 2, (rows, workers)
    return jobs


def hunted_inline(setup: Setup, lost: list[str]) -> None:
    """Every takedown of the cycles (``lost``, their summaries' lists) hunted once, inline by the round's
    job: each hunt queued with its status change was cancelled, none ran on its own."""
    hunts = setup.view.rows("SELECT args->'domains'->>0, status FROM procrastinate_jobs WHERE args->>'kind' = 'hunt'")
    assert hunts and {st for _, st in hunts} == {"cancelled"}, hunts
    assert sorted(d for d, _ in hunts) == sorted(lost)
    assert setup.view.cycles("hunt") == 0


def recorded(setup: Setup) -> dict[str, Any]:
    """What a job run twice must not add to: statuses, status changes, edges, both outboxes, queued hunts."""
    v = setup.view
    return {"statuses": v.rows("SELECT name, status, watched FROM domains ORDER BY name"),
            "changes": v.rows("SELECT id, domain_id, previous, status FROM status_changes ORDER BY id"),
            "edges": v.rows("SELECT id, from_id, to_id, relation FROM edges ORDER BY id"),
            "alerts": v.rows("SELECT id, edge_id, message_id FROM alert_outbox ORDER BY id"),
            "takedowns": v.rows("SELECT id, status_change_id, message_id FROM takedown_outbox ORDER BY id"),
            "hunts": v.rows("SELECT id, args FROM procrastinate_jobs WHERE args->>'kind' = 'hunt' ORDER BY id")}


def run_round_again(setup: Setup, workers: list[Worker], kind: str = "observe", key: str = "parent") -> int:
    """Queue every batch job (``kind`` "observe"; "sweep_part": every sweep part) of the last full cycle
    again, with its payload unchanged (its ``at`` too), and wait until the workers have run them all a
    second time: how many."""
    parent = setup.view.scalar("SELECT max(id) FROM cycles WHERE kind = 'cycle'")
    with create_engine(setup.url).begin() as conn:
        again = conn.execute(text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args) SELECT queue_name, task_name, args "
            f"FROM procrastinate_jobs WHERE args->>'kind' = :kind AND (args->>'{key}')::int = :p "
            "AND status = 'succeeded' RETURNING id"), {"p": parent, "kind": kind}).scalars().all()
    assert again
    wait_until(lambda: setup.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(:ids) "
                                         "AND status = 'succeeded'", ids=list(again)) == len(again),
               300, f"the {kind} jobs to run again", workers[0])
    return len(again)


def shared_in_sweep_parts(setup: Setup, *, sweeps: int, per_sweep: int) -> None:
    """Every cycle's discovery sweep ran its lookalikes as part jobs (at least ``per_sweep`` each, one
    record per part however often it ran), taken by more than one worker; the parts' names were read
    and dropped by each sweep's final step."""
    parts = setup.view.rows("SELECT sweep, part, worker FROM sweep_parts")
    jobs = setup.view.rows("SELECT DISTINCT (args->>'sweep')::int, (args->>'index')::int FROM procrastinate_jobs "
                           "WHERE args->>'kind' = 'sweep_part' AND status = 'succeeded'")
    assert sorted((sw, p) for sw, p, _ in parts) == sorted(jobs), (parts, jobs)
    per = {sw: sum(1 for s, _, _ in parts if s == sw) for sw, _, _ in parts}
    assert len(per) == sweeps and min(per.values()) >= per_sweep, parts
    assert len({w for _, _, w in parts}) >= 2, parts
    assert setup.view.scalar("SELECT count(*) FROM sweep_found") == 0


def shared_in_sources(setup: Setup, *, sweeps: int, sources: list[str], name_slices: int = 0) -> None:
    """Every cycle's discovery sweep ran each of its network-bound ``sources`` (scheduler/sweep_sources.py)
    as a ``source`` job, recorded once however often it ran; their names were read and dropped by each
    sweep's final step. ``name_slices``: some sweep resolved its names from the store (hub links, similar
    pages) in at least that many ``names:<k>`` jobs. Which worker took each is not asserted: a handful of
    short jobs all taken by the one worker that polled first is a fair schedule (it happened with a
    benchmark beside the suite); that the workers share jobs is asserted on the rounds' batches and the
    sweeps' parts."""
    done = setup.view.rows("SELECT sweep, source, worker FROM sweep_sources ORDER BY sweep, source")
    jobs = setup.view.rows("SELECT DISTINCT (args->>'sweep')::int, args->>'source' FROM procrastinate_jobs "
                           "WHERE args->>'kind' = 'source' AND status = 'succeeded'")
    assert sorted((sw, src) for sw, src, _ in done) == sorted(jobs), (done, jobs)
    per = {sw: sorted(src for s, src, _ in done if s == sw and not src.startswith("names:")) for sw, _, _ in done}
    assert len(per) == sweeps and all(got == sorted(sources) for got in per.values()), per
    slices = {sw: sum(1 for s, src, _ in done if s == sw and src.startswith("names:")) for sw, _, _ in done}
    assert max(slices.values()) >= name_slices, slices
    assert all(w for _, _, w in done), done  # each recorded with the worker that ran it
    assert setup.view.scalar("SELECT count(*) FROM sweep_source_found") == 0


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_three_workers_reach_what_one_embedded_process_reaches(sandbox: Sandbox, tmp_path: Path, pg_url: str,
                                                               other_pg_url: str) -> None:
    """The same phases through `run --once` on an embedded store and on a cluster store served by three
    workers that share each round as batch jobs of 3 domains: every cycle's summary, the statuses, the
    edges and the alert mails agree. The cluster's sweeps run their lookalikes as part jobs of 4 labels
    (the embedded process: one part); the seizure cycle's takedown hunt its lost domains' lookalikes as
    part jobs too, each label group cut in 3 slices by name (the embedded process: one part per group),
    and every hunt observes the candidates it chose as batch jobs of 3 and scores them as score jobs of 2
    (the embedded process: one batch each). The sweeps' CT search and NRD feed run as source jobs, and so do
    the names they read from the store (hub links, similar pages) in slices of 2 (embedded: one). Between
    the seizure cycles the cluster runs the first seizure round's batches (its candidate batches
    included), its sweep's and hunt's parts, its sweep's sources and its hunt's score batches a second
    time: nothing is recorded twice, and the next cycle still agrees."""
    (tmp_path / "embedded").mkdir()
    embedded = prepare(sandbox, other_pg_url, tmp_path / "embedded", schedule=QUIET,
                       alerts={"mail_to": ["embedded@sandbox.test"]}, **common(sandbox, quick_sweep=True))
    # batches of 3 domains: each probe-and-crawl round is split into jobs the three workers share
    clustered = cluster_setup(sandbox, pg_url, tmp_path / "cluster", quick_sweep=True, observe_batch=3, sweep_labels=4,
                              takedown_slices=3, score_batch=2, sweep_names=2, dns_budget=300)
    workers = [Worker(clustered.config, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        for w in workers:
            started(w)
        lost: list[str] = []
        summaries: list[tuple[int, dict[str, Any]]] = []
        for n, phase in enumerate(("before", "seizure", "seizure")):
            sandbox.set_phase(phase)
            alone, shared = both_once(embedded.config, clustered.config)
            lost += shared["lost"]
            summaries.append((last_cycle(clustered), shared))
            differ = differing(phase, shared, alone, clustered, embedded)
            if differ:
                pytest.fail(f"{differ}\n{clustered.view.rows('SELECT * FROM cycles')}")
            if n == 1:  # the round that saw the takedowns, its hunt's and its sweep's candidates, run again
                assert shared["status_changes"] and shared["lost"]
                before = recorded(clustered)
                assert run_round_again(clustered, workers) >= 3
                assert run_round_again(clustered, workers, "sweep_part", "sweep") >= 3  # the hunt's parts too
                # the sweep's CT and NRD sources, and its names from the store in slices of 2
                assert run_round_again(clustered, workers, "source", "sweep") >= 3
                assert run_round_again(clustered, workers, "score", "parent") >= 2  # its hunt's score batches
                assert recorded(clustered) == before
                assert clustered.view.scalar("SELECT count(*) FROM sweep_found") == 0
                assert clustered.view.scalar("SELECT count(*) FROM sweep_source_found") == 0
        assert statuses(clustered.config) == statuses(embedded.config)
        assert clustered.view.edges() == embedded.view.edges()
        sandbox.wait_for_messages(2 * len(mails_to(sandbox, "embedded@")), timeout=10)
        ours, theirs = mails_to(sandbox, "cluster@"), mails_to(sandbox, "embedded@")
        assert sorted(str(m["Subject"]) for m in ours) == sorted(str(m["Subject"]) for m in theirs)
        assert len({m["Message-ID"] for m in ours}) == len(ours)  # no mail sent twice
        shared_in_batches(clustered, rounds=3, per_round=3)
        shared_in_sweep_parts(clustered, sweeps=3, per_sweep=3)
        # the sandbox's CT search and NRD feed; the hub links and similar pages in slices of 2 names
        shared_in_sources(clustered, sweeps=3, sources=["ct", "nrd"], name_slices=2)
        assert min(hunt_shared(clustered, summaries, labels=4, batch=3, slices=3).values()) >= 2
        assert scored_in_batches(clustered, summaries, batch=2) >= 4
        hunted_inline(clustered, lost)
        # a DNS budget of 300 questions in flight shared by the workers at work: each that took a job took
        # its share as it started, an equal one (a worker alone at work the whole budget), and jobs did run
        # side by side on a divided budget (the results above are those of one embedded process at [dns]
        # concurrency)
        took = [w for w in workers if "Starting job" in w.log]
        shares = [[(int(x), int(n)) for x, n in re.findall(
            r"at most (\d+) question\(s\) in flight from this worker \(cluster\.dns_budget 300 over (\d+) busy", w.log)]
            for w in took]
        assert len(took) >= 2 and all(shares), [w.log[-2000:] for w in took]
        assert all(x == 300 // max(1, n) for mine in shares for x, n in mine), shares  # 0: its heartbeat late (a busy loop)
        assert any(n >= 2 for mine in shares for _x, n in mine), shares
    finally:
        for w in workers:
            w.signal(signal.SIGTERM)
        for w in workers:
            assert w.wait(30) == 0, w.log[-3000:]
        clustered.view.close()
        embedded.view.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_worker_killed_mid_cycle_has_its_job_finished_by_another(sandbox: Sandbox, tmp_path: Path,
                                                                   pg_url: str) -> None:
    """kill -9 of the worker running the queued cycle: the reaper of the surviving worker queues it
    again, `run --once` still returns its summary, and nothing is recorded twice. Then a third worker,
    taking the retried cycle's sweep parts (5 labels each), is killed mid-part: the survivor's reaper
    queues the part again and runs it, the cycle merges every part, each recorded once."""
    s = cluster_setup(sandbox, pg_url, tmp_path, stalled_seconds=10, sweep_labels=5)
    sandbox.set_phase("seizure")
    first = Worker(s.config, tmp_path / "first.log")
    third: Worker | None = None
    # the cycle queued while the worker starts (the two interpreters start side by side)
    client = subprocess.Popen([sys.executable, "-m", "hydrawatch.cli", "--config", str(s.config), "run", "--once",
                               "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, env=_env())
    try:
        started(first)
        wait_until(lambda: s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' = 'cycle' "
                                         "AND status = 'doing'"), 60, "the cycle to start", first)
        # killed once it recorded a takedown: its hunt, queued with the change, is the resumed cycle's to run
        wait_until(lambda: s.view.scalar("SELECT count(*) FROM status_changes WHERE status IN ('seized', 'suspended')"),
                   300, "the first takedown", first, every=0.05)
        os.kill(first.proc.pid, signal.SIGKILL)
        first.wait(10)
        with Worker(s.config, tmp_path / "second.log") as second:
            # the retried cycle on the second worker; a third one joins and is killed while it resolves a part
            wait_until(lambda: s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' = 'cycle' "
                                             "AND status = 'doing' AND attempts >= 1"), 120, "the cycle's retry", second)
            coordinator = s.view.scalar("SELECT worker_id FROM procrastinate_jobs WHERE args->>'kind' = 'cycle'")
            third = Worker(s.config, tmp_path / "third.log")
            started(third)
            doing = ("SELECT id FROM procrastinate_jobs WHERE args->>'kind' = 'sweep_part' AND status = 'doing' "
                     "AND worker_id <> :w ORDER BY id")
            wait_until(lambda: s.view.rows(doing, w=coordinator), 600, "a sweep part on the third worker", third,
                       every=0.05)
            third.kill()  # SIGKILL
            killed = [job for (job,) in s.view.rows(doing, w=coordinator)]
            assert killed  # still "doing": their worker died mid-part
            out, err = client.communicate(timeout=600)
            assert client.returncode == 0, err[-3000:]
            assert "stalled" in second.log and "queued again" in second.log
            stats = json.loads(out)
            assert stats["probed"] == len(sandbox.seeds)
            # the killed worker's queued hunts wait for the work lock the cycle held: let the survivor run them
            wait_until(lambda: not s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' = 'hunt' "
                                                 "AND status IN ('todo', 'doing')"), 300, "the queued hunts", second)
            second.signal(signal.SIGTERM)
            assert second.wait(30) == 0
        attempts = s.view.scalar("SELECT attempts FROM procrastinate_jobs WHERE args->>'kind' = 'cycle'")
        assert attempts == 2
        # the killed parts ran again on the survivor; every part of every sweep recorded once, read once
        again = s.view.rows("SELECT status, attempts FROM procrastinate_jobs WHERE id = ANY(:ids)", ids=killed)
        assert again and all(st == "succeeded" and n == 2 for st, n in again), again
        done = s.view.rows("SELECT sweep, part FROM sweep_parts ORDER BY 1, 2")
        assert done == s.view.rows("SELECT DISTINCT (args->>'sweep')::int, (args->>'index')::int FROM procrastinate_jobs "
                                   "WHERE args->>'kind' = 'sweep_part' ORDER BY 1, 2") and len(done) >= 3
        assert s.view.scalar("SELECT count(*) FROM sweep_found") == 0
        # nothing twice: one change per status transition, one outbox row per edge (unique keys hold)
        flips = s.view.rows("SELECT domain_id, previous, status, count(*) FROM status_changes "
                            "GROUP BY domain_id, previous, status HAVING count(*) > 1")
        assert flips == []
        assert s.view.scalar("SELECT count(*) FROM alert_outbox") == s.view.scalar("SELECT count(*) FROM edges")
        # one hunt queued per loss, in the loss's own transaction, and every one cancelled: the resumed cycle
        # read its round's losses (those the killed worker recorded included) from the round's batch records
        # or replayed them at the killed attempt's now, hunted them inline and cancelled their queued hunts
        losses = s.view.scalar("SELECT count(*) FROM status_changes WHERE status IN ('seized', 'suspended', 'dead') "
                               "AND (previous IS NULL OR previous NOT IN ('seized', 'suspended', 'dead'))")
        hunts = s.view.rows("SELECT args->'domains'->>0, status FROM procrastinate_jobs WHERE args->>'kind' = 'hunt'")
        assert losses and len(hunts) == len({d for d, _ in hunts}) == losses
        assert {st for _, st in hunts} == {"cancelled"} and s.view.cycles("hunt") == 0, hunts
    finally:
        first.kill()
        if third is not None:
            third.kill()
        if client.poll() is None:
            client.kill()
        s.view.close()


def test_embedded_daemon_and_workers_exclude_each_other_and_a_malformed_job_is_kept(
        sandbox: Sandbox, tmp_path: Path, pg_url: str) -> None:
    s = cluster_setup(sandbox, pg_url, tmp_path, quick_sweep=True, stalled_seconds=10)
    embedded_cfg = tmp_path / "embedded.toml"
    embedded_cfg.write_text(s.config.read_text(encoding="utf-8").replace("enabled = true", "enabled = false"),
                            encoding="utf-8")
    with Worker(s.config, tmp_path / "worker.log") as worker:
        started(worker)
        refused = cli(embedded_cfg, "run", "--once")
        assert refused.returncode == 3, refused.stderr
        assert refused.stderr.count("\n") == 1 and "cluster workers" in refused.stderr
        # a job hydrawatch never writes: refused once, kept as failed
        with create_engine(s.url).begin() as conn:
            conn.execute(text("INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args) VALUES "
                              "('default', 'hydrawatch.stage', 'x', '{\"kind\": \"rm -rf\"}')"))
        wait_until(lambda: s.view.scalar("SELECT status FROM procrastinate_jobs WHERE args->>'kind' = 'rm -rf'")
                   == "failed", 30, "the malformed job to fail", worker)
        assert s.view.scalar("SELECT attempts FROM procrastinate_jobs WHERE args->>'kind' = 'rm -rf'") == 1
        assert "refused (kept as failed for inspection)" in worker.log
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.log[-3000:]
    with DaemonProcess(embedded_cfg, tmp_path / "daemon.log") as daemon:
        wait_until(lambda: "daemon started" in daemon.log, 60, "the daemon to start", daemon)
        refused = cli(s.config, "worker")
        assert refused.returncode == 3, refused.stderr
        assert refused.stderr.count("\n") == 1 and "embedded daemon" in refused.stderr
    s.view.close()
