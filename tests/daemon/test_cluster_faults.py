"""Cluster mode under faults (issue 17): the deliverer killed mid-SMTP, the database cut away from a
worker mid-cycle (through a TCP proxy the test controls: the machine's PostgreSQL is shared and is never
restarted here), a raising job's retry policy, and three workers against one embedded process on the
routes world. Workers are `hydrawatch worker` subprocesses on a real PostgreSQL and the sandbox internet."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import tomllib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import pytest
from sqlalchemy.engine import make_url

from sandbox.net import Sandbox
from tests.daemon.conftest import prepare
from tests.daemon.proc import REPO, StoreView, wait_until
from tests.daemon.test_cluster import (
    QUIET,
    Worker,
    both_once,
    cluster_setup,
    common,
    differing,
    hunt_shared,
    hunted_inline,
    last_cycle,
    mails_to,
    scored_in_batches,
    shared_in_batches,
    shared_in_sources,
    shared_in_sweep_parts,
    started,
    statuses,
)
from tests.support.cli import clean_env as _env

pytest.importorskip("procrastinate")

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]


ROUTES = Path(__file__).resolve().parents[1] / "worlds" / "routes"


def run_once(config: Path) -> subprocess.Popen[str]:
    """`run --once` in the background (it waits for the workers)."""
    return subprocess.Popen([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), "run", "--once",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=_env())


def nothing_twice(view: Any) -> None:
    """No status transition recorded twice, one outbox row per edge, one edge per pair."""
    flips = view.rows("SELECT domain_id, previous, status, count(*) FROM status_changes "
                      "GROUP BY domain_id, previous, status HAVING count(*) > 1")
    assert flips == []
    assert view.scalar("SELECT count(*) FROM alert_outbox") == view.scalar("SELECT count(DISTINCT edge_id) "
                                                                           "FROM alert_outbox")
    assert view.scalar("SELECT count(*) FROM alert_outbox") == view.scalar("SELECT count(*) FROM edges")
    assert view.rows("SELECT from_id, to_id, count(*) FROM edges GROUP BY from_id, to_id HAVING count(*) > 1") == []


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_deliverer_killed_mid_smtp_loses_no_mail_and_repeats_at_most_one(sandbox: Sandbox, tmp_path: Path,
                                                                           pg_url: str) -> None:
    """The SMTP server records the first alert and holds its reply; the worker delivering it is killed
    (kill -9) while it waits. A second worker re-runs the cycle: every alert arrives, the one in flight
    at most twice with the same Message-ID, and the outbox has one row per edge, all sent."""
    s = cluster_setup(sandbox, pg_url, tmp_path, quick_sweep=True, stalled_seconds=10)
    before = run_once(s.config)  # phase "before", queued while the worker starts
    first = Worker(s.config, tmp_path / "first.log")
    client: subprocess.Popen[str] | None = None
    try:
        started(first)
        out, err = before.communicate(timeout=600)
        assert before.returncode == 0, err[-3000:]
        assert json.loads(out)["new_edges"] == 0  # the sites as they were, no mail
        sandbox.set_phase("seizure")
        sandbox.smtp_hold(True)
        client = run_once(s.config)
        wait_until(lambda: sandbox.smtp_held >= 1, 600, "the first alert to reach the SMTP server", first, every=0.05)
        os.kill(first.proc.pid, signal.SIGKILL)  # mid-SMTP: the server has the mail, the worker no 250
        first.wait(10)
        sandbox.smtp_hold(False)
        in_flight = [str(m["Message-ID"]) for m in mails_to(sandbox, "cluster@")]
        assert len(in_flight) == 1, in_flight  # the deliverer sends one mail at a time
        assert s.view.scalar("SELECT count(*) FROM alert_outbox WHERE state = 'sending'")  # claimed, not sent
        with Worker(s.config, tmp_path / "second.log") as second:
            out, err = client.communicate(timeout=600)
            assert client.returncode == 0, err[-3000:]
            assert "stalled" in second.log and "queued again" in second.log
            # every seed, and the clones the killed attempt recorded (watched from then on)
            assert json.loads(out)["probed"] >= len(sandbox.seeds)
            second.signal(signal.SIGTERM)
            assert second.wait(30) == 0, second.log[-3000:]
        nothing_twice(s.view)
        rows = s.view.rows("SELECT message_id, state, attempts FROM alert_outbox")
        assert rows and {state for _, state, _ in rows} == {"sent"}, rows
        ids = Counter(str(m["Message-ID"]) for m in sandbox.wait_for_messages(len(rows) + 1, timeout=5)
                      if "cluster@" in str(m["To"]))
        assert set(ids) == {mid for mid, _, _ in rows}  # nothing lost, nothing foreign
        repeated = {mid: n for mid, n in ids.items() if n > 1}
        assert repeated == {in_flight[0]: 2}, repeated  # the mail in flight, once more, same Message-ID
        assert {mid: attempts for mid, _, attempts in rows}[in_flight[0]] == 2
    finally:
        sandbox.smtp_hold(False)
        first.kill()
        if before.poll() is None:
            before.kill()
        if client is not None and client.poll() is None:
            client.kill()
        s.view.close()


class CuttableProxy:
    """A TCP proxy in front of PostgreSQL, on its own event loop thread: ``cut()`` drops every
    connection and refuses new ones (as a restarting server does), ``restore()`` listens again on the
    same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.cuts = 0

    def __enter__(self) -> Self:
        self.thread.start()
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def _call(self, fn: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(10)

    def restore(self) -> None:
        async def listen() -> None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
            self.port = self.server.sockets[0].getsockname()[1]
        self._call(listen)

    def cut(self) -> None:
        async def drop() -> None:
            if self.server is not None:
                self.server.close()
                self.server = None
            for w in list(self.writers):
                w.transport.abort()
            self.writers.clear()
            self.cuts += 1
        self._call(drop)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()
                self.writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def through(url: str, port: int) -> str:
    """``url`` (the store's, schema option kept) sent to 127.0.0.1:``port``."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_worker_cut_from_postgresql_mid_cycle_exits_with_one_line_and_a_restart_finishes_the_cycle(
        sandbox: Sandbox, tmp_path: Path, pg_url: str) -> None:
    """The worker reaches PostgreSQL through a proxy; mid-cycle the proxy drops every connection and
    refuses new ones for a few seconds, as a restarting server does. The worker either exits non-zero with
    one `hydrawatch:` line (systemd would restart it) or carries on; restarted, it finishes the cycle:
    every seed probed, nothing recorded twice, every alert sent once."""
    parsed = make_url(pg_url)
    with CuttableProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
        sandbox.set_phase("seizure")
        s = cluster_setup(sandbox, through(pg_url, proxy.port), tmp_path, quick_sweep=True, stalled_seconds=10)
        direct = tmp_path / "direct.toml"  # `run --once` and the checks reach PostgreSQL past the proxy
        direct.write_text(s.config.read_text(encoding="utf-8").replace(f":{proxy.port}/", f":{parsed.port or 5432}/"),
                          encoding="utf-8")
        view = StoreView(pg_url)  # past the proxy too
        worker = Worker(s.config, tmp_path / "worker.log")
        client: subprocess.Popen[str] | None = None
        restarted: Worker | None = None
        try:
            client = run_once(direct)  # queued while the worker starts
            started(worker)
            wait_until(lambda: view.scalar("SELECT count(*) FROM observations"), 300, "the cycle to record", worker)
            proxy.cut()
            # as a restarting server: refused for a few seconds, then back
            deadline = datetime.now(UTC).timestamp() + 5
            while datetime.now(UTC).timestamp() < deadline and worker.proc.poll() is None:
                threading.Event().wait(0.1)
            proxy.restore()
            try:
                code = worker.proc.wait(90)
            except subprocess.TimeoutExpired:
                code = None  # it recovered by itself
            if code is not None:
                assert code != 0
                last = [line for line in worker.log.splitlines() if line.strip()][-1]
                assert last.startswith("hydrawatch: ") and "database" in last, worker.log[-3000:]
                # (the lines before it are the log: procrastinate logs the interrupted job's error there)
                restarted = Worker(s.config, tmp_path / "restarted.log")  # what systemd does
                started(restarted)
            out, err = client.communicate(timeout=900)
            assert client.returncode == 0, (err[-3000:], worker.log[-3000:])
            assert json.loads(out)["probed"] >= len(sandbox.seeds)
            wait_until(lambda: not view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE status IN "
                                                 "('todo', 'doing') AND args->>'kind' = 'hunt'"),
                       300, "the queued hunts", restarted or worker)
            nothing_twice(view)
            # every alert out once: the outbox drained, no Message-ID twice
            sent = view.rows("SELECT message_id, state FROM alert_outbox")
            assert {state for _, state in sent} <= {"sent"}, sent
            ids = Counter(str(m["Message-ID"]) for m in sandbox.wait_for_messages(len(sent), timeout=10)
                          if "cluster@" in str(m["To"]))
            assert set(ids) == {mid for mid, _ in sent} and all(n == 1 for n in ids.values()), ids
            assert all(st != "unknown" for d, st in statuses(direct).items() if d in sandbox.seeds)
        finally:
            for w in (worker, restarted):
                if w is not None and w.proc.poll() is None:
                    w.signal(signal.SIGTERM)
                    try:
                        w.wait(30)
                    except subprocess.TimeoutExpired:
                        w.kill()
            if client is not None and client.poll() is None:
                client.kill()
            view.close()
            s.view.close()
        assert proxy.cuts >= 1


def test_a_raising_job_is_retried_with_back_off_then_kept_failed() -> None:
    """The stage task's retry policy: an error is retried after a growing wait, five times (procrastinate
    counts a job's finished runs in ``attempts``: 0 during the first run), then the job is kept failed;
    a malformed payload is never retried."""
    from procrastinate.jobs import Job

    from scheduler.cluster import RETRY, MalformedJob

    def decision(attempts: int, exc: BaseException) -> Any:
        job = Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="hydrawatch.stage",
                  task_kwargs={"kind": "probe"}, attempts=attempts)
        return RETRY.get_retry_decision(exception=exc, job=job)

    now = datetime.now(UTC)
    waits = [(decision(n, RuntimeError("boom")).retry_at - now).total_seconds() for n in range(5)]
    assert all(b > a for a, b in itertools.pairwise(waits)), waits  # back-off grows
    assert decision(5, RuntimeError("boom")) is None  # the sixth run failed: kept as failed
    assert decision(0, MalformedJob("x")) is None


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_three_workers_reach_what_one_embedded_process_reaches_on_the_routes_world(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path, pg_url: str, other_pg_url: str) -> None:
    """The routes world (one replacement per discovery route, a decoy for each) through `run --once` on
    an embedded store and on a cluster store served by three workers sharing each round as batch jobs
    of 2 domains (a hunt's chosen candidates too, and their scoring as score jobs of 2) and the takedown
    hunt's lookalikes as part jobs of one label, its sweeps' CT, NRD and passive-DNS sources as source jobs: the same cycle summaries (decisions,
    the sources' notes and errors), statuses, edges and alert mails by Message-ID's edge."""
    answers = tomllib.loads((ROUTES / "answers.toml").read_text(encoding="utf-8"))
    sb = make_sandbox(ROUTES, "before")
    (tmp_path / "embedded").mkdir()
    # the passive-DNS route on as well: every network-bound source of the routes world finds candidates
    both = {**common(sb), "discovery": {**common(sb)["discovery"], **sb.pdns_settings()}}
    embedded = prepare(sb, other_pg_url, tmp_path / "embedded", schedule=QUIET,
                       alerts={"mail_to": ["embedded@sandbox.test"]}, **both)
    # batches of 2 domains: every round (6 seeds, then their replacements too) is several jobs; every
    # label its own sweep part
    (tmp_path / "cluster").mkdir()
    clustered = prepare(sb, pg_url, tmp_path / "cluster", schedule=QUIET, alerts={"mail_to": ["cluster@sandbox.test"]},
                        cluster={"enabled": True, "periodic": False, "poll_seconds": 0.5, "observe_batch": 2,
                                 "sweep_labels": 1, "score_batch": 2}, **both)
    workers = [Worker(clustered.config, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        for w in workers:
            started(w)
        lost: list[str] = []
        summaries: list[tuple[int, dict[str, Any]]] = []
        for phase in ("before", "seizure", "seizure"):
            sb.set_phase(phase)
            alone, shared = both_once(embedded.config, clustered.config)
            lost += shared["lost"]
            summaries.append((last_cycle(clustered), shared))
            differ = differing(phase, shared, alone, clustered, embedded)
            assert not differ, differ
        ours_status, theirs_status = statuses(clustered.config), statuses(embedded.config)
        assert ours_status == theirs_status
        assert {d: st for d, st in ours_status.items() if d in sb.seeds} == answers["phases"]["seizure"]["status"]
        assert clustered.view.edges() == embedded.view.edges()
        assert {to for _, to, *_ in clustered.view.edges()} == {f["to"] for f in answers["phases"]["seizure"]["found"]}
        sb.wait_for_messages(2 * len(mails_to(sb, "embedded@")), timeout=10)
        ours, theirs = mails_to(sb, "cluster@"), mails_to(sb, "embedded@")
        assert ours and len({m["Message-ID"] for m in ours}) == len(ours)  # no mail sent twice
        # Message-IDs are random per store: a mail is matched to its edge (and subject) instead
        assert sorted(str(m["Subject"]) for m in ours) == sorted(str(m["Subject"]) for m in theirs)
        outbox = dict(clustered.view.rows("SELECT message_id, state FROM alert_outbox"))
        assert {str(m["Message-ID"]) for m in ours} == set(outbox) and set(outbox.values()) == {"sent"}
        shared_in_batches(clustered, rounds=3, per_round=3)
        shared_in_sweep_parts(clustered, sweeps=3, per_sweep=2)
        shared_in_sources(clustered, sweeps=3, sources=["ct", "nrd", "pdns"])
        seizure = summaries[1][1]  # the routes the sources stand for found their candidates
        assert seizure["candidates_resolved"] > 0 and any(n.startswith("pdns ") for n in seizure["source_notes"]), seizure
        assert sum(hunt_shared(clustered, summaries, labels=1, batch=2).values()) >= 2
        assert scored_in_batches(clustered, summaries, batch=2) >= 2
        hunted_inline(clustered, lost)
    finally:
        for w in workers:
            w.signal(signal.SIGTERM)
        for w in workers:
            assert w.wait(30) == 0, w.log[-3000:]
        clustered.view.close()
        embedded.view.close()

