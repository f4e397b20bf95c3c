"""Cluster mode's zone-file source (issue 17): it runs only where the zone state is.

A zone's state (its last sorted names, the difference not yet screened, when it was read: crawler/zonestate.py)
lives in files under [discovery] zone_state_dir, on one machine's disk. A zone ``source`` job that ran on
whichever worker took it would diff against another machine's copy, or against nothing (a whole zone
taken for its base, its new names never seen). So the sweep queues that job on a queue of its own,
:data:`ZONE_QUEUE`, and only workers whose config says they hold the state ([cluster] zone_worker, true
by default: one machine, or a shared zone_state_dir, works unchanged) take that queue; the others take
every other queue (:data:`OTHER_QUEUES`). A state directory on shared storage serves any number of zone
workers: each zone is a job of its own (source ``zone:<tld>``, scheduler/sweep_sources.py) under that
zone's procrastinate lock (:func:`zone_lock`), so two zones are read at once by two zone workers, and no two
jobs of one zone (two sweeps', a killed attempt's and its retry's) read or write its files at once
across the cluster.

Chosen over shared storage alone (a new requirement on every deployment) and over keeping the state in
PostgreSQL (≈ 20 bytes a name on disk, 10⁸ names for .com: the store's size for a file's job).

The silent failure — no running worker takes the queue (none configured, the zone machine down) — is
guarded: a zone worker holds a shared PostgreSQL advisory lock (:class:`ZoneWorkerMark`) while it runs,
released with its session when it stops or dies; a sweep whose zone job is still queued while no session
holds that lock for [cluster] zone_wait_seconds cancels the job, logs a warning, and records the zone
source with one source error (:func:`wait_for_zones`): the sweep goes on as it does when any source fails,
and the zone files, neither read nor marked screened, give their difference to the next sweep."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate.jobs import Status
from sqlalchemy import text
from sqlalchemy.orm import Session

from detect.errors import HydrawatchError
from scheduler.components import Components, worker_id
from scheduler.sweep_sources import kind_of
from storage import sweep_sources

log = logging.getLogger(__name__)

ZONE_QUEUE = "zones"
ZONE_LOCK = "hydrawatch:zones"
"""The lock of a bare ``zone`` job (every configured zone in one job, as sweeps queued them before each zone
became a job of its own)."""
OTHER_QUEUES = ("default",)
"""The queues a worker without the zone state takes: every queue hydrawatch uses but :data:`ZONE_QUEUE`
(procrastinate listens to a list of queues, or to all; a new queue must be added here)."""
MARK_KEY = "hashtext('hydrawatch:zone-worker:' || current_schema())"
MARKED = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
    f"AND objid = (({MARK_KEY})::bigint & 4294967295)::oid AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())")
ON_ZONE_QUEUE = text("SELECT id, args->>'source' FROM procrastinate_jobs WHERE id = ANY(:ids) AND queue_name = :queue "
                     "ORDER BY id")
ENDED = (Status.FAILED, Status.CANCELLED, Status.ABORTED)


class ZoneJobFailed(HydrawatchError):
    """A sweep's zone job ended otherwise than recorded (failed after its retries, cancelled by hand)."""


def zone_lock(source: str) -> str:
    """The procrastinate lock of zone source ``source`` (``zone:<tld>``): one a zone."""
    return ZONE_LOCK if source == "zone" else f"hydrawatch:{source}"


def route(payload: dict[str, Any]) -> tuple[str, str] | None:
    """The queue and lock of a job of ``payload`` when it is a zone-file source job; None otherwise."""
    source = payload.get("source")
    if payload.get("kind") == "source" and isinstance(source, str) and kind_of(source) == "zone":
        return ZONE_QUEUE, zone_lock(source)
    return None


def queues(zone_worker: bool) -> list[str] | None:
    """The queues a worker takes: all (None) where it holds the zone state, else all but the zones queue."""
    return None if zone_worker else list(OTHER_QUEUES)


def zone_workers(session: Session) -> int:
    """How many running workers hold the zone state (sessions holding the zone-worker mark)."""
    return int(session.execute(MARKED).scalar_one())


def zone_jobs(session: Session, ids: list[int]) -> dict[int, str]:
    """Those of ``ids`` queued on the zones queue, each with its source (``zone:<tld>``)."""
    return {int(i): str(source) for i, source in session.execute(ON_ZONE_QUEUE, {"ids": ids, "queue": ZONE_QUEUE})}


class ZoneWorkerMark:
    """A zone worker's mark, held while it runs: a shared advisory lock on a connection of its own (TCP
    keepalives: a vanished machine's session, and its mark, are dropped in about a minute)."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def open(self) -> None:
        self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, connect_timeout=10,
                                                           keepalives=1, keepalives_idle=30, keepalives_interval=10,
                                                           keepalives_count=3)
        await self._conn.execute(f"SELECT pg_advisory_lock_shared({MARK_KEY})")

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()  # the session's lock goes with it
            self._conn = None


async def wait_for_zones(app: procrastinate.App, parts: Components, jobs: dict[int, str], *, sweep: int,
                         now: datetime, poll: float) -> None:
    """Wait until each zone job in ``jobs`` (sweep ``sweep``'s, one a zone, with its source) has finished,
    or give it up: one still queued while no zone worker runs for [cluster] zone_wait_seconds is cancelled
    (only if still queued: a worker taking it meanwhile wins) and its zone source recorded with a source
    error. Raises ZoneJobFailed when a job ended failed or cancelled without its source recorded."""
    bound = parts.config.cluster.zone_wait_seconds
    unserved: float | None = None  # since when the zone jobs wait with no zone worker running
    for job_id, source in sorted(jobs.items()):
        while True:
            status = await app.job_manager.get_job_status_async(job_id)
            if status is Status.SUCCEEDED:
                break
            if status in ENDED:
                with parts.store.transaction() as session:
                    if sweep_sources.is_done(session, sweep, source):
                        break
                raise ZoneJobFailed(f"sweep {sweep}: zone job {job_id} ended {status.value}")
            if status is Status.TODO:
                with parts.store.transaction() as session:
                    served = zone_workers(session) > 0
                unserved = None if served else (unserved if unserved is not None else time.monotonic())
                if (unserved is not None and time.monotonic() - unserved >= bound
                        and await app.job_manager.cancel_job_by_id_async(job_id)):  # only if still queued
                    _give_up(parts, job_id, source, sweep=sweep, now=now, bound=bound)
                    break
            else:
                unserved = None
            await asyncio.sleep(poll)


def _give_up(parts: Components, job_id: int, source: str, *, sweep: int, now: datetime, bound: float) -> None:
    error = (f"{source}: no running worker takes the '{ZONE_QUEUE}' queue (set [cluster] zone_worker = true on the "
             f"machine holding [discovery] zone_state_dir); zone file not read in this sweep, its difference "
             f"waits for the next (job {job_id} cancelled after {bound:.0f} s)")
    got = sweep_sources.SourceRecord(found=[], generated=0, wildcards=[],
                                     report={"source_errors": [error], "source_notes": [], "truncated": 0})
    with parts.store.transaction() as session:
        sweep_sources.record(session, sweep, source, got, worker=worker_id(), now=now)
    log.warning("sweep %s: %s", sweep, error)
