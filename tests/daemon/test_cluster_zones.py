"""Cluster mode's zone-file source (scheduler/cluster_zones.py): the zone state lives on one machine's disk,
so a sweep's zone job runs only on a worker with [cluster] zone_worker = true, and with none running the
sweep reports the zone as a source error and goes on. `hydrawatch worker` subprocesses on a real
PostgreSQL store and the sandbox; the zone-route world (tests/scheduler/test_zone_route.py: a takedown
whose replacements only the .net zone's difference shows), its zone served by a CZDS-layout server. Each
worker has a zone_state_dir of its own, as two machines would."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from sandbox.zones import ZoneServer, gz, zone_text
from tests.daemon.conftest import Setup, prepare
from tests.daemon.proc import wait_until, write_config
from tests.daemon.test_cluster import QUIET, Worker, started
from tests.daemon.test_cluster_faults import run_once
from tests.scheduler.inline_world import SWEEP_TLDS
from tests.scheduler.test_zone_route import LEXICAL, LOST, NOISE, ON_HOSTING, REFRESH_HOURS, TOKEN, world

pytest.importorskip("procrastinate")

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

ZONE_JOB = "args->>'kind' = 'source' AND args->>'source' LIKE 'zone:%'"
OTHER_ZONE = ["quill-gazette.org", "ledger-daily.org", "harbor-notes.org"]  # a second zone: nothing new in it


def sections(sb: Sandbox, zones: ZoneServer, state: Path, **cluster: Any) -> dict[str, dict[str, Any]]:
    return {"schedule": QUIET, "rdap": {"cache_hours": 0}, "alerts": {"mail_to": ["cluster@sandbox.test"]},
            "cluster": {"enabled": True, "periodic": False, "poll_seconds": 0.5, **cluster},
            "discovery": {"tlds": list(SWEEP_TLDS), "fuzzers": ["tld-swap"], "nrd_feeds": [], "zone_token": TOKEN,
                          "zone_state_dir": str(state), "zone_refresh_hours": REFRESH_HOURS,
                          "zone_files": [{"tld": "net", "url": zones.url("net")},
                                         {"tld": "org", "url": zones.url("org")}]}}


def machines(sb: Sandbox, zones: ZoneServer, pg_url: str, tmp: Path, **cluster: Any) -> tuple[Setup, Path]:
    """The store with the zone worker's config (its zone_state_dir: tmp/zone-machine), and the config of a
    worker on another machine (zone_worker = false, its own zone_state_dir: tmp/other-machine)."""
    s = prepare(sb, pg_url, tmp, **sections(sb, zones, tmp / "zone-machine", **cluster))
    other = write_config(tmp / "other.toml", sb, pg_url,
                         **sections(sb, zones, tmp / "other-machine", **{**cluster, "zone_worker": False}))
    return s, other


def summary(client: Any, *workers: Worker) -> dict[str, Any]:
    out, err = client.communicate(timeout=300)
    assert client.returncode == 0, err[-3000:] + "".join(w.log[-3000:] for w in workers)
    stats: dict[str, Any] = json.loads(out)
    return stats


def zone_record(s: Setup, cycle: int, tld: str = "net") -> tuple[str, dict[str, Any]]:
    worker, report = s.view.rows("SELECT worker, report FROM sweep_sources WHERE sweep = :c AND source = :z",
                                 c=cycle, z=f"zone:{tld}")[0]
    return worker, report if isinstance(report, dict) else json.loads(report)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_zone_job_runs_only_on_the_worker_holding_the_zone_state(make_sandbox: Callable[..., Sandbox],
                                                                   tmp_path: Path, pg_url: str) -> None:
    """Two workers, one with zone_worker = false: that one runs the cycle and every other job of the sweep,
    and leaves the zone job queued, idle as it is, until the zone worker starts and takes it. The next
    cycle (both running) diffs the zone against the zone worker's copy and finds the takedown's
    replacements through it; the other worker's zone_state_dir is never written."""
    sb = make_sandbox(world(), "before")
    with ZoneServer(TOKEN) as zones:
        base = ["quill-gazette.net", *NOISE[:1500]]
        zones.publish("net", gz(zone_text("net", base)))
        zones.publish("org", gz(zone_text("org", OTHER_ZONE)))
        s, other_config = machines(sb, zones, pg_url, tmp_path, zone_wait_seconds=120)
        other = Worker(other_config, tmp_path / "other.log", "--concurrency", "2")
        holder: Worker | None = None
        try:
            started(other)
            assert "not the zones queue" in other.log
            client = run_once(s.config)
            # the sweep's zone job queued, every other job of the cycle done by the only worker: the
            # zone job still waits (the worker looks for jobs every 0.5 s)
            wait_until(lambda: s.view.scalar(f"SELECT count(*) FROM procrastinate_jobs WHERE {ZONE_JOB}") == 2
                       and s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE args->>'kind' IN "
                                         "('observe', 'sweep_part', 'source') AND queue_name <> 'zones' "
                                         "AND status <> 'succeeded'") == 0, 120, "the sweep's other jobs", other)
            time.sleep(2.0)
            # one job a zone, each under its zone's lock (two zone workers read the two at once)
            assert s.view.rows(f"SELECT queue_name, lock, status FROM procrastinate_jobs WHERE {ZONE_JOB} ORDER BY id") == [
                ("zones", "hydrawatch:zone:net", "todo"), ("zones", "hydrawatch:zone:org", "todo")]
            assert client.poll() is None  # the sweep waits for it
            holder = Worker(s.config, tmp_path / "zone.log")
            started(holder)
            assert "takes the zones queue" in holder.log
            first = summary(client, other, holder)
            cycle = s.view.scalar("SELECT max(id) FROM cycles WHERE kind = 'cycle'")
            where = f"{socket.gethostname()}:{holder.proc.pid}"
            assert zone_record(s, cycle)[0] == zone_record(s, cycle, "org")[0] == where
            assert [n for n in first["source_notes"] if n.startswith("zone net: 1501 names read (the base")], first
            assert [n for n in first["source_notes"] if n.startswith("zone org: 3 names read (the base")], first
            assert not first["source_errors"], first
            # the other worker ran the sweep's other sources and its parts (the zone worker was not running yet)
            elsewhere = f"{socket.gethostname()}:{other.proc.pid}"
            ran = s.view.rows("SELECT source, worker FROM sweep_sources WHERE sweep = :c UNION ALL "
                              "SELECT 'part', worker FROM sweep_parts WHERE sweep = :c", c=cycle)
            assert ("part", elsewhere) in ran and {w for src, w in ran if not src.startswith("zone:")} == {elsewhere}, ran

            time.sleep(REFRESH_HOURS * 3600 + 0.1)  # the zone URL is due again
            sb.set_phase("takedown")
            zones.publish("net", gz(zone_text("net", [*base[100:], *NOISE[1500:], LEXICAL, ON_HOSTING])))
            second = summary(run_once(s.config), other, holder)
            cycle = s.view.scalar("SELECT max(id) FROM cycles WHERE kind = 'cycle'")
            assert zone_record(s, cycle)[0] == where
            new = len(NOISE) - 1500 + 2
            assert f"zone net: {len(base) - 100 + new} names read, {new} new, 2 screened in" in second["source_notes"], second
            edges = set(s.view.edges())
            assert {(LOST, LEXICAL), (LOST, ON_HOSTING)} <= {(f, t) for f, t, _ in edges}, edges
            assert not (tmp_path / "other-machine").exists()
            assert (tmp_path / "zone-machine" / "net.names").exists()
            assert (tmp_path / "zone-machine" / "org.names").exists()
            assert s.view.scalar("SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'zones' "
                                 "AND status <> 'succeeded'") == 0
        finally:
            for w in (other, holder):
                if w is not None:
                    w.signal(signal.SIGTERM)
            for w in (other, holder):
                if w is not None:
                    assert w.wait(30) == 0, w.log[-3000:]
            s.view.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_with_no_zone_worker_the_sweep_reports_the_zone_and_goes_on(make_sandbox: Callable[..., Sandbox],
                                                                    tmp_path: Path, pg_url: str) -> None:
    """Only a worker with zone_worker = false: the sweep's zone job waits zone_wait_seconds (1 s), is
    cancelled, and the zone source is reported in source_errors with a warning; the cycle ends well and
    no zone file was fetched or written (the difference waits for a sweep a zone worker serves)."""
    sb = make_sandbox(world(), "before")
    with ZoneServer(TOKEN) as zones:
        zones.publish("net", gz(zone_text("net", ["quill-gazette.net", *NOISE[:100]])))
        zones.publish("org", gz(zone_text("org", OTHER_ZONE)))
        s, other_config = machines(sb, zones, pg_url, tmp_path, zone_wait_seconds=1)
        try:
            with Worker(other_config, tmp_path / "other.log", "--concurrency", "2") as other:
                started(other)
                begun = time.monotonic()
                stats = summary(run_once(s.config), other)
                took = time.monotonic() - begun
                other.signal(signal.SIGTERM)
                assert other.wait(30) == 0, other.log[-3000:]
            assert took < 120, took
            # each zone reported once: the wait is not repeated for the second zone
            errors = sorted(e for e in stats["source_errors"] if e.startswith("zone:"))
            assert [e.split(":", 2)[1] for e in errors] == ["net", "org"], stats
            assert all("no running worker takes the 'zones' queue" in e and "zone_worker = true" in e for e in errors)
            assert "no running worker takes the 'zones' queue" in other.log
            assert s.view.rows(f"SELECT status FROM procrastinate_jobs WHERE {ZONE_JOB}") == [("cancelled",)] * 2
            cycle = s.view.scalar("SELECT max(id) FROM cycles WHERE kind = 'cycle'")
            assert s.view.scalar("SELECT outcome FROM cycles WHERE id = :c", c=cycle) == "ok"
            assert [zone_record(s, cycle, tld)[1]["source_errors"][0] for tld in ("net", "org")] == errors
            assert zones.hits("net") == zones.hits("org") == 0
            assert not (tmp_path / "other-machine").exists() and not (tmp_path / "zone-machine").exists()
        finally:
            s.view.close()
