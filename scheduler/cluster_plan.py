"""How a cluster coordinator (a round's job, a sweep's job) queues its children (batch jobs, part jobs),
and how a coordinator retried after its worker died takes up what its killed attempt queued instead of
starting over (issue 17).

A first attempt queues all its children in one transaction: the queue then holds the whole plan or
none of it. A retried attempt (same cycle-log id, same ``now``) looks for the children queued under its
id: none, and it queues its own plan; else that plan is the one it runs (a crawl round's grouping by
host, a sweep's label groups would come out otherwise once part of the work is recorded), and of each
child, by index: recorded done, skipped; queued or running (its worker alive, or to be retried by the
reaper), waited for, never queued twice; anything else (failed, cancelled, succeeded without a record),
queued again with its payload unchanged."""

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


def earlier(session: Session, task: str, kind: str, key: str, value: int) -> dict[int, tuple[int, str, dict[str, Any]]]:
    """The latest job queued per index among the ``kind`` jobs whose ``key`` is ``value``: (id, status, args)."""
    latest: dict[int, tuple[int, str, dict[str, Any]]] = {}
    for job_id, status, args in session.execute(EARLIER, {"task": task, "kind": kind, "key": key, "value": str(value)}):
        if isinstance(args, dict) and isinstance(args.get("index"), int):
            latest[args["index"]] = (int(job_id), str(status), args)
    return latest


def queue_children(session: Session, task: str, payloads: list[dict[str, Any]], *, key: str, value: int,
                   resume: Callable[[Session], Collection[int]] | None) -> Children:
    """Queue a coordinator's children (``payloads``: kind, index and ``key`` = ``value`` in each). With
    ``resume`` (the coordinator is a retried attempt; it returns the indexes recorded done), take up
    the children an earlier attempt queued, as the module says."""
    found = earlier(session, task, str(payloads[0]["kind"]), key, value) if resume is not None and payloads else {}
    if not found:
        return Children(payloads, defer(session, task, payloads))
    assert resume is not None
    finished = set(resume(session))
    plan = [found[i][2] for i in sorted(found)]
    waits = [job_id for i, (job_id, status, _args) in sorted(found.items()) if i not in finished and status in WAITING]
    again = [args for i, (_id, status, args) in sorted(found.items()) if i not in finished and status not in WAITING]
    return Children(plan, waits + defer(session, task, again), resumed=True,
                    done=sum(1 for i in found if i in finished), waited=len(waits))
