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
in sweep_sources.SOURCES). Of each child found: recorded done, skipped; queued or running (its worker
alive, or to be retried by the reaper), waited for, never queued twice; anything else (failed,
cancelled, succeeded without a record), queued again."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

DEFER = text("SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW('default', :task, 0, :lock, NULL, "
             "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1]))")
EARLIER = text("SELECT id, status, args FROM procrastinate_jobs WHERE task_name = :task AND args->>'kind' = :kind "
               "AND args->>:key = :value ORDER BY id")
WAITING = frozenset({"todo", "doing"})


@dataclass(frozen=True)
class Children:
    """A coordinator's children: each one's payload in index order, and the jobs to wait for."""

    payloads: list[dict[str, Any]]
    jobs: list[int]
    resumed: bool = False  # the plan is the one an earlier attempt queued
    done: int = 0          # children that attempt finished: not run again
    waited: int = 0        # its children still queued or running: waited for, not queued again


def defer(session: Session, task: str, payloads: list[dict[str, Any]], lock: str | None = None) -> list[int]:
    """Queue one job of ``task`` per payload in ``session``'s transaction; their ids."""
    return [int(session.execute(DEFER, {"task": task, "lock": lock, "args": json.dumps(p)}).scalar_one())
            for p in payloads]


def earlier(session: Session, task: str, kind: str, key: str, value: int,
            same: Callable[[dict[str, Any]], bool] = lambda _args: True) -> dict[int, tuple[int, str, dict[str, Any]]]:
    """The latest job queued per index among the ``kind`` jobs whose ``key`` is ``value`` (and whose
    arguments are ``same``): (id, status, args)."""
    latest: dict[int, tuple[int, str, dict[str, Any]]] = {}
    for job_id, status, args in session.execute(EARLIER, {"task": task, "kind": kind, "key": key, "value": str(value)}):
        if isinstance(args, dict) and isinstance(args.get("index"), int) and same(args):
            latest[args["index"]] = (int(job_id), str(status), args)
    return latest


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
    plan += [{**payloads[0], "domains": lacking[start:start + size], "index": len(plan) + n}
             for n, start in enumerate(range(0, len(lacking), size))]
    return _take_up(session, task, plan, found, set(resume(session)))


def queue_parts(session: Session, task: str, payloads: list[dict[str, Any]], *, sweep: int,
                resume: Callable[[Session], Collection[int]] | None, kind: str = "sweep_part") -> Children:
    """Queue parts of sweep ``sweep`` (``payloads``; ``kind`` "source": its sources, numbered by their
    place in sweep_sources.SOURCES). With ``resume`` (the job is a retried attempt; it returns the parts
    recorded done), each part matched by number with what an earlier attempt queued."""
    found = {} if resume is None or not payloads else earlier(session, task, kind, "sweep", sweep)
    if not found or resume is None:
        return Children(payloads, defer(session, task, payloads))
    return _take_up(session, task, payloads, found, set(resume(session)))
