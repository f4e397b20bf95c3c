"""A round's banner re-check in batches (issue 17): when a round split into batches first saw a seizure
banner (a takedown page of a domain it found seized), every domain of the round that still seems to serve
is classified again with the banners as they stand after the round, so a domain of one batch serving the
banner another batch first met is found seized (scheduler/observe.py ``recheck_banners``). The embedded
process does it in the round's own job; cluster mode in ``recheck`` jobs of [cluster] observe_batch of the
round's domains (at most MAX_BATCH), which any worker takes; the round's job waits for them.

Every batch classifies against the same banners (the round's job reads them once and hands them over, the
job's payload), from the store's observations of the round, as the embedded process's re-check does:
classifying a domain reads only its own observations, so the batches' verdicts are the embedded re-check's
whichever ran first. A batch re-classifies, records each status change (with the hunt a loss queues and
the takedown mail), and records its outcome (a ``recheck:<round>`` row in the cycle log: its status
changes and the hunts they queued) in one transaction, under an advisory lock per batch on PostgreSQL
(storage/cycles.py ``claim``): a batch run again, or twice at once, finds the record and does nothing; the
round's report takes the batches' changes from the records (:func:`collect`), in the round's order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from detect.model import Status
from scheduler.cluster_plan import WAITING, Children, defer, earlier
from scheduler.components import Components, worker_id
from scheduler.observe import ObserveReport, classify_again
from storage import cycles
from storage.values import StatusChange

log = logging.getLogger(__name__)

RECHECK = "recheck"
"""The job kind, and the cycle-log kind of a batch's record (``recheck:<round>``; its ``parent``: the round's job)."""
MAX_BATCH = 1000
"""Domains per batch at most (a job's payload holds at most that many)."""


def record_kind(round_name: str) -> str:
    """The cycle-log kind of the records of round ``round_name``'s re-check batches."""
    return f"{RECHECK}:{round_name}"


def plan_rechecks(domains: Sequence[str], size: int) -> list[list[str]]:
    """The round's domains in batches of ``size`` (at most MAX_BATCH), in the round's order. Pure."""
    step = max(1, min(size, MAX_BATCH))
    return [list(domains[i:i + step]) for i in range(0, len(domains), step)]


def recheck_batch(parts: Components, *, parent: int, round_name: str, index: int, domains: Sequence[str],
                  banners: dict[str, str], now: datetime, hunts: list[int] | None = None) -> bool:
    """Batch ``index`` of the re-check of round ``round_name`` of job ``parent``: of ``domains``, those
    that still seem to serve classified again with ``banners``; their status changes, the batch's record
    (with ``hunts``: the hunt jobs its losses queued, filled in as they are queued) in one transaction.
    A batch recorded already does nothing (False)."""
    kind = record_kind(round_name)
    report = ObserveReport()
    with parts.store.transaction() as session:
        if not cycles.claim(session, kind, parent, index):
            log.info("round %s (%s): re-check batch %s recorded by an earlier run; not run again", parent,
                     round_name, index)
            return False
        classify_again(session, parts, domains, banners, now, report)
        cycles.record(session, kind, now, {
            "parent": parent, "round": round_name, "index": index, "checked": len(domains),
            "status_changes": [{"domain": d, "from": c.previous, "to": c.status, "reason": c.reason}
                               for d, c in report.changes],
            "hunts": list(hunts or []), "worker": worker_id()})
    return True


def payloads(batches: list[list[str]], banners: dict[str, str], *, parent: int, round_name: str, now: datetime
             ) -> list[dict[str, Any]]:
    """The ``recheck`` jobs' arguments (scheduler/cluster.py checks them): one per batch, each with the
    banners every batch classifies against."""
    pairs = [[key, name] for key, name in sorted(banners.items())]
    return [{"kind": RECHECK, "parent": parent, "round": round_name, "index": index, "domains": batch,
             "banners": pairs, "at": now.isoformat()} for index, batch in enumerate(batches)]


def queue(session: Session, task: str, fresh: list[dict[str, Any]], *, parent: int, round_name: str, resume: bool
          ) -> Children:
    """Queue the re-check batches ``fresh`` in ``session``'s transaction. With ``resume`` (the round's job
    retried), the plan an earlier attempt queued, if any (its batches and banners): of its batches, those
    recorded are skipped, those queued or running waited for, the rest queued again."""
    found = earlier(session, task, RECHECK, "parent", parent, lambda args: args.get("round") == round_name) \
        if resume and fresh else {}
    if not found:
        return Children(fresh, defer(session, task, fresh))
    plan = [found[i][2] for i in sorted(found)]
    done = {int(s["index"]) for s in cycles.records_of(session, record_kind(round_name), parent)}
    waits, again = [], []
    for payload in plan:
        index = int(payload["index"])
        if index in done:
            continue
        if found[index][1] in WAITING:
            waits.append(found[index][0])
        else:
            again.append(payload)
    return Children(plan, waits + defer(session, task, again), resumed=True,
                    done=len(done & {int(p["index"]) for p in plan}), waited=len(waits))


def collect(parts: Components, *, parent: int, round_name: str, count: int, now: datetime
            ) -> tuple[ObserveReport, list[int]]:
    """The status changes the ``count`` re-check batches of round ``round_name`` recorded, in batch order,
    and the hunt jobs their losses queued. Every batch must be recorded."""
    with parts.store.transaction() as session:
        found = {int(s["index"]): s for s in cycles.records_of(session, record_kind(round_name), parent)}
    missing = sorted(set(range(count)) - set(found))
    if missing:
        raise RuntimeError(f"round {parent} ({round_name}): no record of re-check batch(es) {missing} in the cycle log")
    report, hunts = ObserveReport(), []
    for index in range(count):
        stats = found[index]
        report.changes += [(c["domain"], StatusChange(status=Status(c["to"]), reason=c["reason"], since=now,
                                                      previous=Status(c["from"]) if c["from"] else None))
                           for c in stats.get("status_changes", [])]
        hunts += [int(h) for h in stats.get("hunts", [])]
    return report, hunts


def from_payload(payload: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """A checked ``recheck`` payload's domains and banners."""
    return list(payload["domains"]), {str(key): str(name) for key, name in payload["banners"]}
