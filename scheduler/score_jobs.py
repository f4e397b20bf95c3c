"""A hunt's scoring in batches (issue 17): every candidate the hunt observed is weighed against the
network as it was when the hunt began, with the store's statistics of one view taken after all of the
hunt's observation (storage/profiles.py). The embedded process scores them as one batch in the hunt's
own job; cluster mode as ``score`` jobs of [cluster] score_batch candidates that any worker takes.

What a batch reads and what it is handed (bench/scoring.py, bench/RESULTS.md "Scoring"): the hunt hands
each batch the names of its network and of every candidate it observed (the job's payload), and the
batch reads the inputs itself — the network's profiles, every candidate's profile and the store's
statistics, exactly as the embedded process reads them once. Scoring writes nothing those inputs are
read from (decisions, promotions, edges, mails), so every batch reads the same view whichever batch
ran first: a clone another batch accepted is no network member here (no cascade) and no batch sees
another's promotion. The network is a list of names, not the watchlist re-read: a clone promoted by a
batch is watched by the time the next batch runs. Not after a kill (README honest list): the batches a
killed worker left are queued again at once and may read while the resumed job observes its round
again, and the hunts its round queued run afterwards against the watchlist with the clones promoted.

A batch records its outcome (a ``score`` row in the cycle log: its candidates' count, new edges and
clones) in the transaction of its decisions, promotions, edges and outbox rows: a batch run again finds
its record and does nothing, and the hunt's report is assembled from the records (:func:`collect`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from detect.model import Candidate
from detect.scoring import Discovery, ScoringPolicy, SiteProfile, StoreStats, Verdict, score_candidate
from scheduler.cluster_plan import WAITING, Children, defer, earlier
from scheduler.components import Components, worker_id
from scheduler.deliver import new_message_id
from scheduler.hunt_report import HuntReport, ScoredClone
from scheduler.progress import NULL, ProgressSink, stage
from storage import candidates as candidate_store
from storage import cycles, lineage, outbox, profiles, watchlist

log = logging.getLogger(__name__)

SCORE = "score"
"""The cycle-log kind of a scored batch's record (its ``parent``: the hunt's job)."""


@dataclass(frozen=True)
class ScoreBatch:
    """Batch ``index`` of a hunt's scoring: its candidates, with how each was found."""

    index: int
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class ScorePlan:
    """What a hunt's scoring weighs: the hunt's network (as it began), every candidate it observed (their
    values count in the store's statistics), and the candidates in batches."""

    network: tuple[str, ...]
    everyone: tuple[str, ...]
    batches: tuple[ScoreBatch, ...]


@dataclass(frozen=True)
class ScoreInputs:
    """One view of the store: what every batch of a hunt weighs its candidates with."""

    network: list[SiteProfile]
    candidates: dict[str, SiteProfile]
    stats: StoreStats
    campaigns: dict[str, str]
    policy: ScoringPolicy


def plan_scoring(chosen: Sequence[Candidate], network: Sequence[str], size: int) -> ScorePlan:
    """``chosen`` in batches of ``size``, in the hunt's order. Pure."""
    batches = tuple(ScoreBatch(n, tuple(chosen[start:start + size]))
                    for n, start in enumerate(range(0, len(chosen), max(1, size))))
    return ScorePlan(tuple(network), tuple(c.domain for c in chosen), batches)


def read_inputs(parts: Components, network: Sequence[str], everyone: Sequence[str]) -> ScoreInputs:
    """The profiles of ``network`` (as network members) and of ``everyone`` (the hunt's candidates), the
    store's statistics over all of them, and the network's campaigns: as the store stands now."""
    policy = ScoringPolicy.from_sections(parts.config.scoring, parts.config.brands)
    with parts.store.transaction() as session:
        by_name = profiles.site_profiles(session, network, in_network=True)
        net = [by_name[name] for name in network]
        cands = profiles.site_profiles(session, everyone, in_network=False)
        stats = profiles.store_stats(session, [*net, *cands.values()])
        infos = watchlist.get_domains(session, network)
        campaigns = {p.domain: infos[p.domain].campaign if p.domain in infos else "" for p in net}
    return ScoreInputs(net, cands, stats, campaigns, policy)


def recorded(parts: Components, parent: int) -> dict[int, dict[str, Any]]:
    """The records of the batches of hunt ``parent`` scored already, by index."""
    with parts.store.transaction() as session:
        return {int(stats["index"]): stats for stats in cycles.records_of(session, SCORE, parent)}


def score_batch(parts: Components, *, parent: int, batch: ScoreBatch, network: Sequence[str],
                everyone: Sequence[str], now: datetime, inputs: ScoreInputs | None = None,
                progress: ProgressSink = NULL) -> bool:
    """Score batch ``batch`` of hunt ``parent`` (its cycle-log id) and record, in one transaction, each
    candidate's decision, each clone's promotion, lineage edge and alert, and the batch's record. A batch
    recorded already does nothing (False). ``inputs``: read once by the caller for several batches (the
    embedded process), else read here."""
    if batch.index in recorded(parts, parent):
        log.info("hunt %s: score batch %s recorded by an earlier run; not scored again", parent, batch.index)
        return False
    view = inputs if inputs is not None else read_inputs(parts, network, everyone)
    verdicts: list[Verdict] = []
    with stage(progress, "candidates: score", len(batch.candidates)) as step:
        for c in batch.candidates:
            verdicts.append(score_candidate(view.candidates[c.domain], view.network, view.stats,
                                            Discovery(c.source, c.via, c.seed), view.policy, now=now))
            step.advance()
    new_edges = 0
    clones: list[dict[str, Any]] = []
    with parts.store.transaction() as session:
        if not cycles.claim(session, SCORE, parent, batch.index):
            return False  # another run of this batch recorded it meanwhile
        for verdict in verdicts:
            new_edges += _record(session, verdict, view.campaigns, now)
            if verdict.is_clone and verdict.predecessor is not None and verdict.relation is not None:
                clones.append({"to": verdict.candidate, "from": verdict.predecessor,
                               "relation": verdict.relation.value, "confidence": verdict.confidence})
        cycles.record(session, SCORE, now, {"parent": parent, "index": batch.index, "scored": len(verdicts),
                                             "new_edges": new_edges, "clones": clones, "worker": worker_id()})
    return True


def score_inline(parts: Components, parent: int, plan: ScorePlan, *, now: datetime) -> None:
    """Score a plan of one batch in the hunt's own job (the embedded process; cluster mode when the hunt's
    candidates fit one batch and no earlier attempt queued score jobs), unless recorded already."""
    if plan.batches[0].index not in recorded(parts, parent):
        inputs = read_inputs(parts, plan.network, plan.everyone)
        score_batch(parts, parent=parent, batch=plan.batches[0], network=plan.network, everyone=plan.everyone,
                    now=now, inputs=inputs, progress=parts.progress)


def _record(session: Session, verdict: Verdict, campaigns: dict[str, str], now: datetime) -> int:
    """A candidate's decision; a clone's promotion, edge and alert. 1 when the edge is new."""
    name = verdict.candidate
    candidate_store.decide(session, name, score=verdict.confidence,
                           decision="clone" if verdict.is_clone else "rejected", evidence=verdict.evidence, now=now)
    if not verdict.is_clone or verdict.predecessor is None or verdict.relation is None:
        return 0
    watchlist.promote(session, name, campaign=campaigns.get(verdict.predecessor, ""), now=now)
    edge_id, created = lineage.add_edge(session, from_domain=verdict.predecessor, to_domain=name,
                                        relation=verdict.relation, confidence=verdict.confidence,
                                        evidence=verdict.evidence, now=now)
    if not created:
        return 0
    outbox.enqueue(session, edge_id, now=now, message_id=new_message_id())
    log.info("clone: %s → %s (%s, %.2f)", verdict.predecessor, name, verdict.relation.value, verdict.confidence)
    return 1


def collect(parts: Components, parent: int, plan: ScorePlan, report: HuntReport) -> None:
    """Add the records of the plan's batches to ``report``: candidates scored, new edges, clones (in the
    plan's order). Every batch must be recorded."""
    found = recorded(parts, parent)
    missing = [b.index for b in plan.batches if b.index not in found]
    if missing:
        raise RuntimeError(f"hunt {parent}: no record of score batch(es) {missing} in the cycle log")
    for batch in plan.batches:
        stats = found[batch.index]
        report.scored += int(stats.get("scored", 0))
        report.new_edges += int(stats.get("new_edges", 0))
        for clone in stats.get("clones", []):
            report.clones.append(ScoredClone(candidate=str(clone["to"]), predecessor=str(clone["from"]),
                                             relation=str(clone["relation"]), confidence=float(clone["confidence"])))


def payloads(plan: ScorePlan, parent: int, now: datetime) -> list[dict[str, Any]]:
    """The ``score`` jobs' arguments (scheduler/cluster.py checks them): one per batch, each with the
    hunt's network and every candidate's name (what the batch reads its inputs for)."""
    return [{"kind": "score", "parent": parent, "index": b.index,
             "candidates": [[c.domain, c.source, c.via, c.seed] for c in b.candidates],
             "network": list(plan.network), "everyone": list(plan.everyone), "at": now.isoformat()}
            for b in plan.batches]


def from_payload(payload: dict[str, Any]) -> tuple[ScoreBatch, tuple[str, ...], tuple[str, ...]]:
    """A checked ``score`` payload's batch, network and candidates' names."""
    batch = ScoreBatch(int(payload["index"]), tuple(Candidate(d, source, via, seed)
                                                    for d, source, via, seed in payload["candidates"]))
    return batch, tuple(payload["network"]), tuple(payload["everyone"])


def queue(session: Session, task: str, plan: ScorePlan, *, parent: int, now: datetime, resume: bool
          ) -> tuple[Children, ScorePlan]:
    """Queue ``plan``'s batches as ``task`` jobs in ``session``'s transaction; the jobs to wait for and the
    plan they run. With ``resume`` (the hunt's job retried), the plan an earlier attempt queued, if any —
    its network is the hunt's as it began, whatever that attempt's batches promoted since — plus a batch
    of any candidate it lacks; of its batches, those recorded are skipped, those queued or running waited
    for, the rest queued again (scheduler/cluster_plan.py)."""
    fresh = payloads(plan, parent, now)
    found = earlier(session, task, "score", "parent", parent) if resume and fresh else {}
    if not found:
        return Children(fresh, defer(session, task, fresh)), plan
    before = [found[i][2] for i in sorted(found)]
    network, everyone = tuple(before[0]["network"]), list(before[0]["everyone"])
    lacking = [c for b in plan.batches for c in b.candidates if c.domain not in set(everyone)]
    size = max(len(b.candidates) for b in plan.batches)
    extra = plan_scoring(lacking, network, size).batches
    if lacking:
        everyone += [c.domain for c in lacking]
        log.warning("hunt %s resumed: %d candidate(s) its first attempt did not plan to score get %d batch(es) "
                    "of their own", parent, len(lacking), len(extra))
    run = ScorePlan(network, tuple(everyone), (
        *(from_payload(p)[0] for p in before),
        *(ScoreBatch(len(before) + b.index, b.candidates) for b in extra)))
    wanted = payloads(run, parent, now)
    done = {int(s["index"]) for s in cycles.records_of(session, SCORE, parent)}
    waits, again = [], []
    for payload in wanted:
        index = int(payload["index"])
        if index in done:
            continue
        if index in found and found[index][1] in WAITING:
            waits.append(found[index][0])
        else:
            again.append(payload)
    children = Children(wanted, waits + defer(session, task, again), resumed=True,
                        done=len(done & {int(p["index"]) for p in wanted}), waited=len(waits))
    return children, run
