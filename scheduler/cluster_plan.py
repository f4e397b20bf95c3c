"""How a cluster coordinator (a job with rounds or sweep parts: a probe, crawl, discovery, cycle or hunt
job) queues its children (``observe`` batch jobs, ``sweep_part`` jobs, a sweep's ``source`` jobs), and
how a coordinator retried after its worker died takes up what its killed attempt queued instead of
starting over (issue 17).

A first attempt queues each round's batches, and each group of parts (a sweep's sources with its parts),
in one transaction: the queue then holds the whole plan or none of it. A retried attempt (same cycle-log
id, same ``now``) looks for the children queued under its id. A round's batches: that attempt's plan is
the one it runs (a crawl round's grouping by host would come out otherwise once part of the round is
recorded), plus a batch of any domain the plan lacks. Parts: its own plan (the label groups are the same
for the same network), each part matched by number; a sweep's sources likewise (numbered by their place
in the sweep's source plan, sweep_sources.SourcePlan.index: a configured source by its place among them,
a slice of the names read from the store by its own number, so both stay the same whatever the store
gives a retried attempt; a slice the first attempt recorded with other names is not run again, its names
asked again in slices of their own: sweep_sources.resumed_names, also for a slice still queued or running
that then records the first attempt's names: sweep_sources.ask_sources). Of each child found: recorded done, skipped; queued or running (its worker
alive, or to be retried by the reaper), waited for, never queued twice; anything else (failed,
cancelled, succeeded without a record), queued again.

A retried attempt resumes only while its first attempt is recent (:func:`resume_or_abandon`, [cluster]
resume_max_age): a job whose first attempt began longer ago starts a fresh cycle at the current time,
its earlier row marked ``abandoned`` and that attempt's children still queued cancelled (a round
observed at an hours-old ``now`` would record stale times and judge "appeared within N hours" from the
past)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from scheduler.cluster_zones import route
from storage import cycles

log = logging.getLogger(__name__)

DEFER = text("SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW('default', :task, 0, :lock, NULL, "
             "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1]))")
DEFER_ON = text("SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock, NULL, "
                "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1]))")
EARLIER = text("SELECT id, status, args FROM procrastinate_jobs WHERE task_name = :task AND args->>'kind' = :kind "
               "AND args->>:key = :value ORDER BY id")
WAITING = frozenset({"todo", "doing"})
QUEUED_SAME = text("SELECT id FROM procrastinate_jobs WHERE task_name = :task AND status = 'todo' "
                   "AND args = CAST(:args AS jsonb) ORDER BY id LIMIT 1")
CHILDREN = text("SELECT id FROM procrastinate_jobs WHERE task_name = :task AND status = 'todo' AND "
                "((args->>'kind' IN ('observe', 'score', 'recheck') AND args->>'parent' = :parent) OR "
                "(args->>'kind' IN ('sweep_part', 'source') AND args->>'sweep' = :parent)) ORDER BY id")
CANCEL = text("SELECT procrastinate_cancel_job_v1(:id, false, false)")


@dataclass(frozen=True)
class Children:
    """A coordinator's children: each one's payload in index order, and the jobs to wait for."""

    payloads: list[dict[str, Any]]
    jobs: list[int]
    resumed: bool = False  # the plan is the one an earlier attempt queued
    done: int = 0          # children that attempt finished: not run again
    waited: int = 0        # its children still queued or running: waited for, not queued again


HOST_LOCK = "hydrawatch:host:"
"""A crawl batch of a host with more sites than a batch holds (its payload's ``host``) is queued with the
procrastinate lock HOST_LOCK + host: procrastinate runs no two jobs of one lock at once (a unique index
on the lock of running jobs), so that host's batches are crawled one after another across the cluster."""


HOST_IDLE = text("SELECT extract(epoch FROM clock_timestamp() - max(e.at)) FROM procrastinate_events e "
                 "JOIN procrastinate_jobs j ON j.id = e.job_id WHERE j.lock = :lock "
                 "AND e.type IN ('succeeded', 'failed', 'aborted', 'deferred_for_retry')")


def host_idle(session: Session, host: str) -> float | None:
    """Seconds since the last batch of ``host`` (an oversized host's, under its lock) ended, on the
    database's clock (the workers' clocks may disagree); None when none has ended yet. A batch ends after
    its last request was answered, so the host has been left alone at least that long."""
    seconds = session.execute(HOST_IDLE, {"lock": HOST_LOCK + host}).scalar()
    return None if seconds is None else float(seconds)


BUSY_WORKERS = text(
    "SELECT count(DISTINCT w.id) FROM procrastinate_workers w JOIN procrastinate_jobs j ON j.worker_id = w.id "
    "WHERE (w.last_heartbeat > now() - make_interval(secs => :stalled) OR w.id = :me) "
    "AND j.status = 'doing' AND j.task_name = :task "
    "AND NOT coalesce(j.args->>'kind' = ANY(:quiet), false)")
NO_DNS = ("alerts", "score")
"""Stage kinds that ask no DNS: alert delivery (SMTP), a batch of candidates scored from the store."""


def busy_workers(session: Session, stalled_seconds: float, task: str, me: int | None = None) -> int:
    """How many workers are running a ``task`` job that asks DNS (a stage but NO_DNS) and alive: a
    heartbeat within ``stalled_seconds`` (on the database's clock). An idle worker asks nothing, so it
    takes no share of the DNS budget; a job is marked doing before it runs, so a worker starting one
    counts itself. The asking worker (``me``, its procrastinate id) is alive whatever its heartbeat says:
    a worker whose loop was too busy to beat would otherwise leave itself out and take a share as if the
    others were all it shared with."""
    return int(session.execute(BUSY_WORKERS, {"stalled": stalled_seconds, "task": task, "me": me,
                                              "quiet": list(NO_DNS)}).scalar_one())


def dns_share(budget: int, workers: int, ceiling: int) -> int:
    """One worker's most DNS questions in flight when the cluster shares ``budget`` ([cluster] dns_budget; 0:
    no budget, each worker its own ``ceiling``, [dns] concurrency) among ``workers`` busy ones: an equal
    share, never above ``ceiling``, at least one question."""
    if budget <= 0:
        return ceiling
    return max(1, min(ceiling, budget // max(1, workers)))


def defer(session: Session, task: str, payloads: list[dict[str, Any]], lock: str | None = None) -> list[int]:
    """Queue one job of ``task`` per payload in ``session``'s transaction (a payload naming a ``host``:
    with that host's lock, else ``lock``; a zone-file source: on the zones queue with its zone's lock,
    scheduler/cluster_zones.py); their ids."""
    return [int(session.execute(DEFER_ON, {"task": task, "args": json.dumps(p), **_route(p, lock)}).scalar_one())
            for p in payloads]


def _route(payload: dict[str, Any], lock: str | None) -> dict[str, Any]:
    zone = route(payload)
    if zone is not None:
        return {"queue": zone[0], "lock": zone[1]}
    return {"queue": "default", "lock": HOST_LOCK + payload["host"] if payload.get("host") else lock}


def earlier(session: Session, task: str, kind: str, key: str, value: int,
            same: Callable[[dict[str, Any]], bool] = lambda _args: True) -> dict[int, tuple[int, str, dict[str, Any]]]:
    """The latest job queued per index among the ``kind`` jobs whose ``key`` is ``value`` (and whose
    arguments are ``same``): (id, status, args)."""
    latest: dict[int, tuple[int, str, dict[str, Any]]] = {}
    for job_id, status, args in session.execute(EARLIER, {"task": task, "kind": kind, "key": key, "value": str(value)}):
        if isinstance(args, dict) and isinstance(args.get("index"), int) and same(args):
            latest[args["index"]] = (int(job_id), str(status), args)
    return latest


def resumable(started: datetime, now: datetime, max_age: float) -> bool:
    """Whether an attempt that began at ``started`` may still be resumed at ``now``: less than
    ``max_age`` seconds ago (a clock that went back counts as recent). Pure."""
    return (now - started).total_seconds() <= max_age


def plan_key(sweep_labels: int, takedown_slices: int) -> str:
    """The settings a job's sweep parts are cut by and numbered after ([cluster] sweep_labels and
    takedown_slices). Logged with the job's cycle row: a retry under other settings would number its
    parts otherwise, and parts are matched by number, so it starts afresh (:func:`resume_or_abandon`).
    (Batches need no key: a resumed round takes the plan its first attempt queued.)"""
    return f"sweep_labels={sweep_labels};takedown_slices={takedown_slices}"


def resume_or_abandon(session: Session, task: str, kind: str, job_id: int, *, now: datetime,
                      max_age: float, plan: str | None = None) -> tuple[int, datetime] | None:
    """For a retried ``kind`` job ``job_id``: the cycle-log id and start of its earlier attempt to resume,
    or None (start afresh) — when no attempt logged a row, when it began more than ``max_age`` seconds
    before ``now``, or when it was logged with a ``plan`` key other than this one (:func:`plan_key`; a row
    logged without one is resumed): then that row is marked ``abandoned`` and its children still queued
    (batches, parts, sources, score and re-check batches) are cancelled (those running finish, recording under the abandoned row). A
    source is cancelled with the rest: run later, it would advance its cursor (a feed's date, a zone's
    difference) with its names recorded under a sweep nobody merges."""
    earlier = cycles.attempt_of_job(session, kind, job_id)
    if earlier is None:
        return None
    cycle_id, started = earlier
    logged = cycles.plan_of(session, cycle_id)
    if plan is not None and logged is not None and logged != plan:
        why = f"was planned with {logged}, this attempt's settings are {plan}"
    elif not resumable(started, now, max_age):
        why = f"began {(now - started).total_seconds():.0f} s ago, more than cluster.resume_max_age ({max_age:.0f} s)"
    else:
        return earlier
    cycles.abandon(session, cycle_id, now=now)
    children = [int(i) for i in session.execute(CHILDREN, {"task": task, "parent": str(cycle_id)}).scalars()]
    for child in children:
        session.execute(CANCEL, {"id": child})
    log.warning("job %s (%s): its earlier attempt (cycle %s) %s: cycle %s abandoned, %d of its queued job(s) "
                "cancelled; a fresh cycle starts", job_id, kind, cycle_id, why, cycle_id, len(children))
    return None


def _take_up(session: Session, task: str, plan: list[dict[str, Any]], found: dict[int, tuple[int, str, dict[str, Any]]],
             finished: Collection[int]) -> Children:
    """Run ``plan`` given the ``found`` jobs of an earlier attempt and the indexes ``finished`` (recorded)."""
    waits, again, done = [], [], 0
    for payload in plan:
        index = int(payload["index"])
        if index in finished:
            done += 1
        elif index in found and found[index][1] in WAITING:
            waits.append(found[index][0])
        else:
            again.append(payload)
    return Children(plan, waits + defer(session, task, again), resumed=True, done=done, waited=len(waits))


def queue_batches(session: Session, task: str, payloads: list[dict[str, Any]], *, parent: int, round_name: str,
                  resume: Callable[[Session], Collection[int]] | None) -> Children:
    """Queue the batches of round ``round_name`` of job ``parent`` (``payloads``, indexed from 0). With
    ``resume`` (the job is a retried attempt; it returns the indexes recorded done), the plan an earlier
    attempt queued, plus one batch per ``observe_batch`` domains it lacks, as the module says."""
    found = {} if resume is None or not payloads else earlier(
        session, task, "observe", "parent", parent, lambda args: args.get("round", "watched") == round_name)
    if not found or resume is None:
        return Children(payloads, defer(session, task, payloads))
    plan = [found[i][2] for i in sorted(found)]
    planned = {name for p in plan for name in p["domains"]}
    lacking = [name for p in payloads for name in p["domains"] if name not in planned]
    size = max(len(p["domains"]) for p in payloads)
    base = {k: v for k, v in payloads[0].items() if k != "host"}  # lacking domains: no host's lock
    plan += [{**base, "domains": lacking[start:start + size], "index": len(plan) + n}
             for n, start in enumerate(range(0, len(lacking), size))]
    return _take_up(session, task, plan, found, set(resume(session)))


def queue_parts(session: Session, task: str, payloads: list[dict[str, Any]], *, sweep: int,
                resume: Callable[[Session], Collection[int]] | None, kind: str = "sweep_part") -> Children:
    """Queue parts of sweep ``sweep`` (``payloads``; ``kind`` "source": its sources, numbered by their
    place in the sweep's plan, sweep_sources.SourcePlan). With ``resume`` (the job is a retried attempt; it returns the parts
    recorded done), each part matched by number with what an earlier attempt queued."""
    found = {} if resume is None or not payloads else earlier(session, task, kind, "sweep", sweep)
    if not found or resume is None:
        return Children(payloads, defer(session, task, payloads))
    return _take_up(session, task, payloads, found, set(resume(session)))
