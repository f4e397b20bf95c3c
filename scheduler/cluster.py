"""Cluster mode (issue 17): the daemon's jobs as procrastinate tasks on the store's PostgreSQL, run by
any number of `hydrawatch worker` processes on any number of machines.

- One task, ``hydrawatch.stage``, runs the embedded daemon's own job functions (cycle.JOBS): the probe
  round, the crawl round, the discovery sweep, alert delivery, and for `run --once` one full cycle.
  Store-mutating stages share the procrastinate lock ``hydrawatch:work`` (one at a time across the
  cluster, as the daemon's job lock does in one process); delivery has its own lock. Inside such a
  stage (a hunt's own included), the heavy work goes out as jobs without a lock that every worker takes:
  a round's batches and the batches of candidates a hunt chose (``observe``), a sweep's and a takedown
  hunt's lookalike parts (``sweep_part``), a sweep's sources (``source``: CT search, NRD feeds, one job a
  zone file, CertStream, pDNS, and the names the sweep read from the store — deferred by an earlier hunt,
  hub links, redirect targets, similar pages — in slices of [cluster] sweep_names; queued with the sweep's parts), and the scoring of the candidates
  a hunt observed (``score``: batches of [cluster] score_batch, each reading the hunt's one view of the
  store itself and recording its decisions, edges and alerts with its own record;
  scheduler/score_jobs.py), and a round's banner re-check when the round first saw a seizure banner
  (``recheck``: the round's domains in batches of [cluster] observe_batch, each classified again against
  the banners the stage read once and recording its status changes with its own record;
  scheduler/recheck_jobs.py); the stage waits for them. Still in the stage itself: reading a sweep's
  names from the store (deferred names, hub links and redirect targets, similar pages) and the merge and
  cap — measured at 10⁴ domains (bench/coordinator.py, bench/RESULTS.md "What a
  coordinator still does itself"): a few CPU-seconds once that measurement's two finds were fixed (the hub
  links read quadratically, the deferred names written one at a time), against minutes for the banner
  re-check before it became jobs.
- A sweep's zone-file source jobs (one a zone) go to the ``zones`` queue, each under its zone's lock
  ``hydrawatch:zone:<tld>``, taken only by workers holding the zone state ([cluster] zone_worker); with
  none running for [cluster] zone_wait_seconds the sweep records each zone source with a source error
  and goes on (scheduler/cluster_zones.py).
- Each stage is a periodic task whose cron line comes from [schedule] (:func:`cron_for`); every worker
  runs procrastinate's periodic deferrer and the database keeps one job per period, so no worker leads.
  A queueing lock per stage keeps at most one waiting job of each kind (the daemon's coalescing).
- ``hydrawatch.reap`` retries the jobs of workers whose heartbeat stopped (procrastinate lists them but
  does not retry them by itself) and deletes finished jobs after [cluster] keep_jobs_hours.
- A stage retried that way resumes: its job finds its killed attempt's cycle-log row, keeps that row's
  id and start (``now``), and runs only the batches, parts and score batches not recorded done
  (scheduler/cluster_plan.py, scheduler/score_jobs.py).
- A job whose payload is not one hydrawatch queues is refused without retry: logged, and kept in the
  queue as failed for inspection. Any other error is retried with back-off, then kept as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast

import procrastinate
import psycopg
from procrastinate import JobContext, RetryStrategy
from procrastinate.jobs import Job, Status
from procrastinate.schema import SchemaManager
from procrastinate.worker import Worker
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.rdap import no_gate
from detect.errors import HydrawatchError
from detect.model import Candidate
from scheduler import cluster_zones, cycle, recheck_jobs, score_jobs
from scheduler.cluster_plan import (
    DEFER,
    NO_DNS,
    QUEUED_SAME,
    Children,
    busy_workers,
    dns_share,
    host_idle,
    plan_key,
    queue_batches,
    queue_parts,
    resume_or_abandon,
)
from scheduler.cluster_plan import earlier as earlier_jobs
from scheduler.components import Components
from scheduler.hunt_resolve import Wildcards
from scheduler.observe import ObserveReport, replaying
from scheduler.rounds import ROUNDS, WATCHED, observe_batch
from scheduler.score_jobs import ScorePlan
from scheduler.server_gate import ServerGate
from scheduler.settings import MAX_SLICE_NAMES, CycleSettings
from scheduler.sweep_parts import SweepPart, sweep_part
from scheduler.sweep_sources import NAMES_INDEX, SourceInputs, SourcePlan, run_sources, slice_number
from scheduler.sweep_sources import kind_of as source_kind
from scheduler.sweep_sources import known as known_source
from storage import cycles, sweep_sources, sweeps

log = logging.getLogger(__name__)

STAGE_TASK = "hydrawatch.stage"
REAP_TASK = "hydrawatch.reap"
WORK_LOCK = "hydrawatch:work"
ALERTS_LOCK = "hydrawatch:alerts"
# kind → (job function, procrastinate lock, [schedule] key or "" for a stage only queued on demand)
STAGES: dict[str, tuple[Callable[..., Awaitable[Any]], str, str]] = {
    **{name: (job, ALERTS_LOCK if name == "alerts" else WORK_LOCK, key) for name, job, key in cycle.JOBS},
    "cycle": (cycle.run_cycle, WORK_LOCK, ""),
    "hunt": (cycle.hunt_job, WORK_LOCK, ""),
    "observe": (cycle.batch_job, "", ""),  # a batch of a probe or crawl round: no lock, the workers share a round
    "sweep_part": (cycle.sweep_part_job, "", ""),  # a label group of a sweep: no lock, the workers share a sweep
    "source": (cycle.source_job, "", ""),  # a sweep's CT, NRD, zone, CertStream or pDNS source: no lock either
    "score": (cycle.score_job, "", ""),  # a batch of a hunt's candidates scored: no lock, the workers share a hunt
    "recheck": (cycle.recheck_job, "", ""),  # a batch of a round's banner re-check: no lock either
}
BATCH_KEYS = {"domains", "crawl", "parent", "index", "at"}
BATCH_OPTIONAL = {"round", "host"}  # scheduler/rounds.py's round name (absent: "watched", jobs queued before it
# existed); the host with more sites than a batch whose batches run one after another (absent: none)
PART_KEYS = {"sweep", "index", "gone", "live", "tlds", "at"}
PART_OPTIONAL = {"slice"}  # [cut, cuts] of a takedown hunt's part (scheduler/sweep_parts.py); absent: [0, 1]
MAX_SLICES = 256
MAX_PART_NAMES = 10_000
SOURCE_KEYS = {"sweep", "index", "source", "names", "labels", "infra", "asked", "at"}
SOURCE_OPTIONAL = {"candidates"}  # a names:<k> slice's candidates as [name, source, via, seed] (only there)
MAX_SOURCE_VALUES = 1_000_000  # a network of 10⁵ domains has up to ~3·10⁵ addresses and name servers
SCORE_KEYS = {"parent", "index", "candidates", "network", "everyone", "at"}
MAX_SCORE_CANDIDATES = 10_000
RECHECK_KEYS = {"parent", "round", "index", "domains", "banners", "at"}
REAP_CRON = "* * * * * */10"

LossSink = Callable[[Session, str], None]
RoundRunner = Callable[[list[list[str]], bool, "int | None", datetime, str, list[str]],
                       Awaitable[list[tuple[list[str], ObserveReport]]]]
SweepRunner = Callable[[int, list[SweepPart], tuple[str, ...], datetime, "SourcePlan | None"], Awaitable[None]]
ScoreRunner = Callable[[int, ScorePlan, datetime], Awaitable[ScorePlan]]
RecheckRunner = Callable[[int, str, list[list[str]], dict[str, str], datetime], Awaitable[ObserveReport]]
# Per job, never on the worker's shared Components: where this job's losses queue their hunts, and how
# its rounds run their batches. A worker runs several jobs at once (a round's batches beside each other
# and beside the round's own job); procrastinate runs each in its own asyncio task, which has its own
# copy of these. (Kept on Components they were overwritten by whichever job started last and cleared
# by whichever ended first: a batch's loss could queue its hunt into another batch's list after that
# batch had logged it, so the round never cancelled it and the takedown was hunted twice, the second
# time after the round with the new clones already in the network — the demo world's second seizure
# cycle then watched 37 domains instead of 25.)
_LOSS_SINK: ContextVar[LossSink | None] = ContextVar("hydrawatch_loss_sink", default=None)
_ROUND_RUNNER: ContextVar[RoundRunner | None] = ContextVar("hydrawatch_round_runner", default=None)
_SWEEP_RUNNER: ContextVar[SweepRunner | None] = ContextVar("hydrawatch_sweep_runner", default=None)
_SCORE_RUNNER: ContextVar[ScoreRunner | None] = ContextVar("hydrawatch_score_runner", default=None)
_RECHECK_RUNNER: ContextVar[RecheckRunner | None] = ContextVar("hydrawatch_recheck_runner", default=None)


class ClusterError(HydrawatchError):
    """Cluster mode cannot work (queue unreachable, a queued cycle failed); one line for the user."""


class MalformedJob(HydrawatchError):
    """A queued job whose arguments hydrawatch did not write: refused, never retried."""


class _Retry(RetryStrategy):
    """Back-off retries for errors; none for a malformed payload (retrying cannot mend it)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> Any:
        if isinstance(exception, MalformedJob):
            return None
        return super().get_retry_decision(exception=exception, job=job)


RETRY = _Retry(max_attempts=5, exponential_wait=2)

DIVISORS_60 = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)
DIVISORS_24 = (1, 2, 3, 4, 6, 8, 12)


def cron_for(seconds: int) -> str:
    """The cron line (procrastinate's, a 6th field for seconds) that fires about every ``seconds``.
    Cron steps divide the minute, hour or day: other intervals round down to the nearest such step
    (90 s → every minute); a day or more → daily."""
    if seconds < 60:
        return f"* * * * * */{max(d for d in DIVISORS_60 if d <= max(1, seconds))}"
    if seconds < 3600:
        return f"*/{max(d for d in DIVISORS_60 if d <= seconds // 60)} * * * *"
    if seconds < 86400:
        return f"0 */{max(d for d in DIVISORS_24 if d <= seconds // 3600)} * * *"
    return "0 0 * * *"


def conninfo(url: str) -> str:
    """libpq's URI for the store's SQLAlchemy URL (the driver suffix dropped, options such as a
    search_path kept), so the queue lives beside the store's tables."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ClusterError(f"cluster mode needs a PostgreSQL store, not {parsed.get_backend_name()}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def apply_schema(url: str) -> bool:
    """Create procrastinate's tables in the store's schema unless there (idempotent; concurrent
    callers wait for each other). True when they were created now."""
    with psycopg.connect(conninfo(url), connect_timeout=10) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('hydrawatch:queue-schema:' || current_schema()))")
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if row is not None and row[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema())  # no parameters: sent as it is, several statements
    log.info("job queue tables created")
    return True


def _check(payload: dict[str, Any]) -> str:
    kind = payload.get("kind")
    allowed = {"hunt": {"domains"}, "observe": BATCH_KEYS | BATCH_OPTIONAL, "sweep_part": PART_KEYS | PART_OPTIONAL,
               "source": SOURCE_KEYS | SOURCE_OPTIONAL, "score": SCORE_KEYS, "recheck": RECHECK_KEYS}.get(
        kind if isinstance(kind, str) else "", set())
    extra = set(payload) - {"kind", "timestamp", *allowed}
    domains = payload.get("domains")
    if (not isinstance(kind, str) or kind not in STAGES or extra or not isinstance(payload.get("timestamp", 0), int)
            or (kind in ("hunt", "observe", "recheck") and not (
                isinstance(domains, list) and 0 < len(domains) <= 1000
                and all(isinstance(d, str) and 0 < len(d) <= 253 for d in domains)))
            or (kind == "observe" and not _batch_ok(payload))
            or (kind == "sweep_part" and not _part_ok(payload))
            or (kind == "source" and not _source_ok(payload))
            or (kind == "score" and not _score_ok(payload))
            or (kind == "recheck" and not _recheck_ok(payload))):
        raise MalformedJob(f"not a hydrawatch job payload: {str(payload)[:200]}")
    return kind


def _names(value: Any, limit: int) -> bool:
    return (isinstance(value, list) and len(value) <= limit
            and all(isinstance(d, str) and 0 < len(d) <= 253 for d in value))


def _counters(payload: dict[str, Any], *keys: str) -> bool:
    """``keys`` of ``payload`` are non-negative ints (not bools)."""
    return all(isinstance(payload[k], int) and not isinstance(payload[k], bool) and payload[k] >= 0 for k in keys)


def _aware_time(value: Any) -> bool:
    """``value`` is an ISO 8601 time with its offset (every job's ``at``)."""
    try:
        return datetime.fromisoformat(str(value)).tzinfo is not None
    except ValueError:
        return False


def _part_ok(payload: dict[str, Any]) -> bool:
    if not PART_KEYS <= set(payload) or not _counters(payload, "sweep", "index"):
        return False
    if not (_names(payload["gone"], MAX_PART_NAMES) and _names(payload["live"], MAX_PART_NAMES)
            and _names(payload["tlds"], 2000)):
        return False
    cut = payload.get("slice", [0, 1])
    if not (isinstance(cut, list) and len(cut) == 2 and all(isinstance(n, int) and not isinstance(n, bool) for n in cut)
            and 0 <= cut[0] < cut[1] <= MAX_SLICES):
        return False
    return _aware_time(payload["at"])


def _source_ok(payload: dict[str, Any]) -> bool:
    """A sweep source's payload as run_sweep writes it: a source's name (an entry of SOURCES, or zone:<tld>)
    and its number in the sweep's plan, the network's names and labels, infrastructure as [kind, value],
    pDNS values as [kind, value, seed]."""
    if not SOURCE_KEYS <= set(payload) or not _counters(payload, "sweep", "index"):
        return False
    if not isinstance(payload["source"], str) or not known_source(payload["source"]):
        return False
    if source_kind(payload["source"]) == "names":  # its number is NAMES_INDEX + k (SourcePlan.index)
        if payload["index"] != NAMES_INDEX + slice_number(payload["source"]):
            return False
    elif payload["index"] >= NAMES_INDEX:
        return False
    if (source_kind(payload["source"]) == "names") != ("candidates" in payload):
        return False
    if "candidates" in payload and not _candidate_rows(payload["candidates"], MAX_SLICE_NAMES):
        return False
    if not (_names(payload["names"], MAX_SOURCE_VALUES) and _names(payload["labels"], MAX_SOURCE_VALUES)):
        return False

    def rows(value: Any, width: int) -> bool:
        return (isinstance(value, list) and len(value) <= MAX_SOURCE_VALUES
                and all(isinstance(r, list) and len(r) == width and all(isinstance(x, str) and len(x) <= 2000 for x in r)
                        for r in value))

    return rows(payload["infra"], 2) and rows(payload["asked"], 3) and _aware_time(payload["at"])


def _score_ok(payload: dict[str, Any]) -> bool:
    """A score batch as scheduler/score_jobs.py writes it: its candidates as [name, source, via, seed],
    each among ``everyone`` (the hunt's candidates), the hunt's network by name."""
    if not SCORE_KEYS <= set(payload) or not _counters(payload, "parent", "index"):
        return False
    if not (_names(payload["network"], MAX_SOURCE_VALUES) and _names(payload["everyone"], MAX_SCORE_CANDIDATES)):
        return False
    rows, everyone = payload["candidates"], set(payload["everyone"])
    if not (_candidate_rows(rows, MAX_SCORE_CANDIDATES) and all(r[0] in everyone for r in rows)):
        return False
    return _aware_time(payload["at"])


def _candidate_rows(rows: Any, limit: int) -> bool:
    """Candidates as [name, source, via, seed]: 1 to ``limit`` rows of strings, each name 1–253 characters."""
    return isinstance(rows, list) and 0 < len(rows) <= limit and all(
        isinstance(r, list) and len(r) == 4 and all(isinstance(x, str) and len(x) <= 2000 for x in r)
        and 0 < len(r[0]) <= 253 for r in rows)


def _recheck_ok(payload: dict[str, Any]) -> bool:
    """A re-check batch as scheduler/recheck_jobs.py writes it: its round, its banners as [key, domain]."""
    if not RECHECK_KEYS <= set(payload) or not _counters(payload, "parent", "index") or payload["round"] not in ROUNDS:
        return False
    pairs = payload["banners"]
    if not (isinstance(pairs, list) and len(pairs) <= MAX_SOURCE_VALUES and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and 0 < len(x) <= 300 for x in p)
            for p in pairs)):
        return False
    return _aware_time(payload["at"])


def _batch_ok(payload: dict[str, Any]) -> bool:
    if not BATCH_KEYS <= set(payload) or not isinstance(payload["crawl"], bool):
        return False
    if payload.get("round", WATCHED) not in ROUNDS:
        return False
    host = payload.get("host")
    if host is not None and not (isinstance(host, str) and 0 < len(host) <= 300):
        return False
    return _counters(payload, "parent", "index") and _aware_time(payload["at"])


def queue_hunt(session: Session, name: str) -> int:
    """Queue the hunt for ``name``'s loss in ``session``'s transaction (the one recording the status
    change): the change and its hunt are committed together or not at all. Its job id. A hunt for
    ``name`` already waiting (queued by a killed attempt of this job, whose loss the resumed attempt
    replays: scheduler/observe.py ``replaying``) is that hunt, not a second one: the job that hunts
    inline cancels it."""
    args = json.dumps({"kind": "hunt", "domains": [name]})
    waiting = session.execute(QUEUED_SAME, {"task": STAGE_TASK, "args": args}).scalar()
    if waiting is not None:
        return int(waiting)
    return int(session.execute(DEFER, {"task": STAGE_TASK, "lock": WORK_LOCK, "args": args}).scalar_one())


def build_app(settings: CycleSettings, parts: Components | None = None) -> procrastinate.App:
    """The procrastinate app on the store's PostgreSQL. With ``parts`` (a worker) its tasks run the
    stages; without (a client such as `run --once`) it only queues and watches jobs."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(settings.storage.url)))
    if parts is None:
        return app
    stalled = settings.cluster.stalled_seconds
    keep_hours = settings.cluster.keep_jobs_hours
    # the shared Components only dispatch to the running job's own sink and round runner
    parts.on_loss = _on_loss
    parts.run_batches = _round_runner(parts)
    parts.run_sweep_parts = _sweep_runner(parts)
    parts.run_score_batches = _score_runner(parts)
    parts.run_rechecks = _recheck_runner(parts)
    running: set[int] = set()  # jobs this process runs: never "stalled" to its own reaper, however late its heartbeat

    @app.task(name=STAGE_TASK, pass_context=True, retry=RETRY)
    async def stage(context: JobContext, /, **payload: Any) -> None:
        try:
            kind = _check(payload)
        except MalformedJob:
            log.error("job %s refused (kept as failed for inspection): %s",
                      context.job.id if context.job else "?", str(payload)[:200])
            raise
        job_id = context.job.id if context.job else None
        if job_id is not None:
            running.add(job_id)
        try:
            if kind not in NO_DNS and settings.cluster.dns_budget > 0:  # delivery and scoring ask no DNS
                me = context.job.worker_id if context.job else None  # counted in a thread: the loop runs jobs
                _share_dns(parts, settings, await asyncio.to_thread(_busy, parts, settings, me))
            await _run_stage(context, kind, payload)
        finally:
            running.discard(job_id or -1)

    async def _run_stage(context: JobContext, kind: str, payload: dict[str, Any]) -> None:
        job, lock, _key = STAGES[kind]
        now = datetime.now(UTC)
        if kind == "observe":
            await _run_batch(payload, retried=context.job is not None and context.job.attempts > 0)
            return
        if kind == "sweep_part":
            cut, cuts = payload.get("slice", [0, 1])
            await cycle.sweep_part_job(parts, now=datetime.fromisoformat(payload["at"]), sweep=payload["sweep"],
                                       index=payload["index"], gone=payload["gone"], live=payload["live"],
                                       typo_tlds=payload["tlds"], cut=cut, cuts=cuts)
            return
        if kind == "source":
            await cycle.source_job(parts, now=datetime.fromisoformat(payload["at"]), sweep=payload["sweep"],
                                   source=payload["source"], inputs=SourceInputs.from_payload(payload),
                                   names=[Candidate(*row) for row in payload.get("candidates", [])])
            return
        if kind == "score":
            batch, network, everyone = score_jobs.from_payload(payload)
            await cycle.score_job(parts, now=datetime.fromisoformat(payload["at"]), parent=payload["parent"],
                                  batch=batch, network=network, everyone=everyone)
            return
        if kind == "recheck":
            await _run_recheck(payload)
            return
        if lock != WORK_LOCK:
            await job(parts, now=now)
            return
        # A retried job (the reaper queued it again after its worker died, or a retry after an error)
        # resumes its earlier attempt's cycle-log row at that attempt's ``now``: only its batches and
        # parts not done yet run (scheduler/cluster_plan.py). Unless that attempt began more than
        # cluster.resume_max_age ago: then a fresh cycle, the old row abandoned.
        job_id = context.job.id if context.job else None
        plan_tag = plan_key(settings.cluster.sweep_labels, settings.cluster.takedown_slices)
        resume: int | None = None
        if job_id is not None and context.job is not None and context.job.attempts > 0:
            with parts.store.transaction() as session:
                earlier = resume_or_abandon(session, STAGE_TASK, kind, job_id, now=now,
                                            max_age=settings.cluster.resume_max_age, plan=plan_tag)
            if earlier is not None:
                resume, now = earlier
                log.info("job %s (%s), attempt %d: resumes cycle %s of %s", job_id, kind, context.job.attempts + 1,
                         resume, now.isoformat())
        # A loss queues its hunt in the status change's transaction; the hunt job waits on the work
        # lock this job holds. When this job ends well it has hunted inline (as the daemon does), and
        # the queued hunts are cancelled; a job killed or failed leaves them to run.
        queued: list[int] = []

        async def run_batches(batches: list[list[str]], crawl: bool, cycle_id: int | None, at: datetime,
                              round_name: str, serial: list[str]) -> list[tuple[list[str], ObserveReport]]:
            ran, hunts = await run_round(context.app, parts, batches, crawl=crawl, parent=cycle_id or 0, now=at,
                                         round_name=round_name, resume=resume is not None, serial=serial)
            queued.extend(hunts)  # the batches' queued hunts: this job hunts inline, then cancels them
            return ran

        async def run_sweep_parts(sweep: int, plan: list[SweepPart], tlds: tuple[str, ...], at: datetime,
                                  sources: SourcePlan | None) -> None:
            await run_sweep(context.app, parts, plan, sweep=sweep, typo_tlds=tlds, now=at, resume=resume is not None,
                            sources=sources)

        async def run_scores(parent: int, plan: ScorePlan, at: datetime) -> ScorePlan:
            return await run_scoring(context.app, parts, plan, parent=parent, now=at, resume=resume is not None)

        async def run_rechecks(parent: int, round_name: str, batches: list[list[str]], banners: dict[str, str],
                               at: datetime) -> ObserveReport:
            found, hunts = await run_recheck(context.app, parts, batches, banners, parent=parent, round_name=round_name,
                                             now=at, resume=resume is not None)
            queued.extend(hunts)  # the re-check's queued hunts: this job hunts inline, then cancels them
            return found

        sink = _LOSS_SINK.set(lambda session, name: queued.append(queue_hunt(session, name)))
        runner = _ROUND_RUNNER.set(run_batches)
        sweeper = _SWEEP_RUNNER.set(run_sweep_parts)
        scorer = _SCORE_RUNNER.set(run_scores)
        rechecker = _RECHECK_RUNNER.set(run_rechecks)
        # A resumed attempt classifies its round again at its first attempt's ``now``: the status changes
        # that attempt recorded are reported again (not recorded twice), so its losses are hunted inline
        # here and their queued hunts cancelled, as in an attempt never killed.
        replay = replaying(now) if resume is not None else contextlib.nullcontext()
        try:
            with replay:
                if kind == "hunt":  # its lookalike parts and candidate batches are jobs as well
                    await cycle.hunt_job(parts, now=now, lost=payload["domains"],
                                         tags={"job": job_id, "plan": plan_tag}, resume=resume)
                else:
                    await job(parts, now=now, tags={"job": job_id, "plan": plan_tag}, resume=resume)
        finally:
            _LOSS_SINK.reset(sink)
            _ROUND_RUNNER.reset(runner)
            _SWEEP_RUNNER.reset(sweeper)
            _SCORE_RUNNER.reset(scorer)
            _RECHECK_RUNNER.reset(rechecker)
        for hunt_id in queued:
            await context.app.job_manager.cancel_job_by_id_async(hunt_id)

    async def _run_recheck(payload: dict[str, Any]) -> None:
        # Its losses queue their hunts with the status change; their ids go into the batch's record, in the
        # same transaction, and the round's job cancels them once it has hunted.
        domains, banners = recheck_jobs.from_payload(payload)
        hunts: list[int] = []
        sink = _LOSS_SINK.set(lambda session, name: hunts.append(queue_hunt(session, name)))
        try:
            await cycle.recheck_job(parts, now=datetime.fromisoformat(payload["at"]), parent=payload["parent"],
                                    round_name=payload["round"], index=payload["index"], domains=domains,
                                    banners=banners, hunts=hunts)
        finally:
            _LOSS_SINK.reset(sink)

    async def _run_batch(payload: dict[str, Any], *, retried: bool) -> None:
        # A retried batch whose earlier attempt recorded it (its worker died before the queue heard the
        # job had ended) is not run again: its round has its report already, as a part's marker does.
        if retried:
            with parts.store.transaction() as session:
                done = {int(stats["index"]) for stats in
                        cycles.batches_of(session, payload["parent"], payload.get("round", WATCHED))}
            if payload["index"] in done:
                log.info("round %s (%s): batch %s recorded by an earlier attempt; not run again",
                         payload["parent"], payload.get("round", WATCHED), payload["index"])
                return
        # A batch of an oversized host starts once the host's previous batch has ended (its lock), maybe in
        # another worker: waiting [crawler] host_delay first keeps that host's gap across the two.
        if payload.get("host") and payload["crawl"] and parts.config.crawler.host_delay > 0:
            with parts.store.transaction() as session:
                idle = host_idle(session, payload["host"])
            # only what is left of host_delay since that host's previous batch ended (none before the first)
            wait = 0.0 if idle is None else max(0.0, parts.config.crawler.host_delay - idle)
            if wait > 0:
                await asyncio.sleep(wait)
        # A batch's losses queue their hunts with the status change; their ids go to the cycle log
        # with the batch's report, and the round's coordinator cancels them once it has hunted.
        hunts: list[int] = []
        sink = _LOSS_SINK.set(lambda session, name: hunts.append(queue_hunt(session, name)))
        at = datetime.fromisoformat(payload["at"])
        try:
            # a retried batch whose killed attempt recorded status changes reports them again (their
            # waiting hunts go to this batch's record, for the round's job to cancel once it has hunted)
            with replaying(at) if retried else contextlib.nullcontext():
                await cycle.batch_job(parts, now=at, domains=payload["domains"],
                                      crawl=payload["crawl"], parent=payload["parent"], index=payload["index"],
                                      round_name=payload.get("round", WATCHED), tags={"hunts": hunts})
        finally:
            _LOSS_SINK.reset(sink)

    for kind, (_job, lock, key) in STAGES.items():
        if key and settings.cluster.periodic:
            app.periodic(cron=cron_for(getattr(settings.schedule, key)), periodic_id=kind,
                         task_kwargs={"kind": kind}, lock=lock,
                         queueing_lock=f"hydrawatch:next:{kind}")(stage)  # type: ignore[arg-type]

    @app.periodic(cron=REAP_CRON, periodic_id="reap")
    @app.task(name=REAP_TASK, queueing_lock="hydrawatch:next:reap", pass_context=True)
    async def reap(context: JobContext, timestamp: int) -> None:
        await reap_stalled(context.app, stalled_seconds=stalled, skip=running)
        await context.app.job_manager.delete_old_jobs(nb_hours=keep_hours)

    return app


def _on_loss(session: Session, name: str) -> None:
    """Components.on_loss in a worker: the running job's own sink (none outside a job)."""
    sink = _LOSS_SINK.get()
    if sink is not None:
        sink(session, name)


def _round_runner(parts: Components) -> RoundRunner:
    """Components.run_batches in a worker: the running job's round runner (its batches as jobs), or
    outside a stage job the batches one after another here."""

    async def run(batches: list[list[str]], crawl: bool, cycle_id: int | None, at: datetime,
                  round_name: str, serial: list[str]) -> list[tuple[list[str], ObserveReport]]:
        runner = _ROUND_RUNNER.get()
        if runner is not None:
            return await runner(batches, crawl, cycle_id, at, round_name, serial)
        return [(b, await observe_batch(parts, b, now=at, cycle_id=cycle_id, crawl=crawl, round_name=round_name))
                for b in batches]

    return run


def _sweep_runner(parts: Components) -> SweepRunner:
    """Components.run_sweep_parts in a worker: the running job's sweep runner (its parts as jobs), or
    outside a stage job the parts one after another here."""

    async def run(sweep: int, plan: list[SweepPart], tlds: tuple[str, ...], at: datetime,
                  sources: SourcePlan | None) -> None:
        runner = _SWEEP_RUNNER.get()
        if runner is not None:
            await runner(sweep, plan, tlds, at, sources)
            return
        wildcards = Wildcards(parts, salt=at.isoformat())  # one cache for the parts run here, as embedded
        for part in plan:
            await sweep_part(parts, sweep=sweep, part=part, typo_tlds=tlds, now=at, wildcards=wildcards)
        if sources is not None:
            await run_sources(parts, sweep=sweep, plan=sources, now=at, wildcards=wildcards)

    return run


def _score_runner(parts: Components) -> ScoreRunner:
    """Components.run_score_batches in a worker: the running job's score runner (its batches as jobs), or
    outside a stage job the batches one after another here, on one reading of their inputs."""

    async def run(parent: int, plan: ScorePlan, at: datetime) -> ScorePlan:
        runner = _SCORE_RUNNER.get()
        if runner is not None:
            return await runner(parent, plan, at)
        inputs = score_jobs.read_inputs(parts, plan.network, plan.everyone)
        for batch in plan.batches:
            score_jobs.score_batch(parts, parent=parent, batch=batch, network=plan.network, everyone=plan.everyone,
                                   now=at, inputs=inputs, progress=parts.progress)
        return plan

    return run


def _recheck_runner(parts: Components) -> RecheckRunner:
    """Components.run_rechecks in a worker: the running job's re-check runner (its batches as jobs), or
    outside a stage job the batches one after another here."""

    async def run(parent: int, round_name: str, batches: list[list[str]], banners: dict[str, str], at: datetime
                  ) -> ObserveReport:
        runner = _RECHECK_RUNNER.get()
        if runner is not None:
            return await runner(parent, round_name, batches, banners, at)
        for index, batch in enumerate(batches):
            recheck_jobs.recheck_batch(parts, parent=parent, round_name=round_name, index=index, domains=batch,
                                       banners=banners, now=at)
        return recheck_jobs.collect(parts, parent=parent, round_name=round_name, count=len(batches), now=at)[0]

    return run


async def run_recheck(app: procrastinate.App, parts: Components, batches: list[list[str]], banners: dict[str, str], *,
                      parent: int, round_name: str, now: datetime, resume: bool = False, poll: float = 0.2
                      ) -> tuple[ObserveReport, list[int]]:
    """Queue the banner re-check of round ``round_name`` of job ``parent`` as ``recheck`` jobs in one
    transaction (any worker takes them), wait until all have finished, and return the status changes they
    recorded (in batch order) and the hunt jobs their losses queued. With ``resume`` (the job retried), the
    plan its earlier attempt queued, only the batches not recorded (scheduler/recheck_jobs.py)."""
    fresh = recheck_jobs.payloads(batches, banners, parent=parent, round_name=round_name, now=now)
    with parts.store.transaction() as session:
        children = recheck_jobs.queue(session, STAGE_TASK, fresh, parent=parent, round_name=round_name, resume=resume)
    _log_children(f"round {parent} ({round_name})", "re-check batch", children)
    await _wait_for(app, children.jobs, f"round {parent} ({round_name}): re-check batch", poll)
    return recheck_jobs.collect(parts, parent=parent, round_name=round_name, count=len(children.payloads), now=now)


async def run_scoring(app: procrastinate.App, parts: Components, plan: ScorePlan, *, parent: int, now: datetime,
                      resume: bool = False, poll: float = 0.2) -> ScorePlan:
    """Queue the score batches of hunt ``parent`` as jobs in one transaction (any worker takes them) and
    wait until all have finished; the plan they ran (a resumed hunt: its first attempt's, only the batches
    not recorded queued again; scheduler/score_jobs.py). A plan of one batch is scored in this job, as
    the embedded process does, unless a resumed hunt's first attempt queued score jobs: its plan is taken
    up (a resumed hunt's fresh candidates scored as batch 0 against the watchlist as it now is would be a
    cascade, and would leave that attempt's batch 0, queued again, finding its index recorded)."""
    if len(plan.batches) == 1:
        with parts.store.transaction() as session:
            queued_before = resume and bool(earlier_jobs(session, STAGE_TASK, "score", "parent", parent))
        if not queued_before:
            score_jobs.score_inline(parts, parent, plan, now=now)
            return plan
    with parts.store.transaction() as session:
        children, ran = score_jobs.queue(session, STAGE_TASK, plan, parent=parent, now=now, resume=resume)
    _log_children(f"hunt {parent}", "score batch", children)
    await _wait_for(app, children.jobs, f"hunt {parent}: score batch", poll)
    return ran


async def run_sweep(app: procrastinate.App, parts: Components, plan: list[SweepPart], *, sweep: int,
                    typo_tlds: tuple[str, ...], now: datetime, resume: bool = False, poll: float = 0.2,
                    sources: SourcePlan | None = None) -> None:
    """Queue a sweep's parts and its ``sources`` as jobs, in one transaction (any worker takes them,
    several at once), and wait until all have finished; each has recorded what it found
    (storage/sweeps.py, storage/sweep_sources.py) for the sweep's final step. With ``resume`` (the job
    retried), only the parts and sources not recorded, none queued twice."""
    payloads: list[dict[str, Any]] = [
        {"kind": "sweep_part", "sweep": sweep, "index": part.index, "gone": list(part.gone), "live": list(part.live),
         "tlds": list(typo_tlds), "at": now.isoformat(), **({"slice": [part.cut, part.cuts]} if part.cuts > 1 else {})}
        for part in plan]
    feeds: list[dict[str, Any]] = [] if sources is None else [
        {"kind": "source", "sweep": sweep, "index": sources.index(name), "source": name, **sources.payload(name),
         "at": now.isoformat()} for name in sources.sources]
    with parts.store.transaction() as session:
        children = queue_parts(session, STAGE_TASK, payloads, sweep=sweep, resume=(
            (lambda s: [d.part for d in sweeps.parts_of(s, sweep)]) if resume else None))
        fed = queue_parts(session, STAGE_TASK, feeds, sweep=sweep, kind="source", resume=(
            (lambda s: [sources.index(d.source) for d in sweep_sources.sources_of(s, sweep)
                        if sources is not None and d.source in sources.sources]) if resume else None))
    _log_children(f"sweep {sweep}", "part", children)
    if feeds:
        _log_children(f"sweep {sweep}", "source", fed)
    with parts.store.transaction() as session:  # the zone-file job waits for a worker holding the zone state
        zones = cluster_zones.zone_jobs(session, fed.jobs) if fed.jobs else {}
    await _wait_for(app, [j for j in [*children.jobs, *fed.jobs] if j not in zones], f"sweep {sweep}: part or source",
                    poll)
    try:
        await cluster_zones.wait_for_zones(app, parts, zones, sweep=sweep, now=now, poll=poll)
    except cluster_zones.ZoneJobFailed as exc:
        raise ClusterError(str(exc)) from None


def _busy(parts: Components, settings: CycleSettings, me: int | None = None) -> int:
    with parts.store.transaction() as session:
        return busy_workers(session, settings.cluster.stalled_seconds, STAGE_TASK, me)


def _share_dns(parts: Components, settings: CycleSettings, workers: int | None = None, *, level: int = logging.INFO
               ) -> None:
    """This worker's share of [cluster] dns_budget among the busy workers (``workers``, else counted now),
    as a job starts and again every heartbeat while it runs (:func:`_keep_dns_share`): the prober's most
    questions in flight, its open window held under it at once (crawler/dns.py ``Prober.limit``)."""
    budget = settings.cluster.dns_budget
    if budget <= 0:
        return
    if workers is None:
        workers = _busy(parts, settings)
    share = dns_share(budget, workers, settings.dns.concurrency)
    if share != parts.prober.concurrency:
        log.log(level, "DNS: at most %d question(s) in flight from this worker (cluster.dns_budget %d over %d busy "
                "worker(s))", share, budget, workers)
        parts.prober.limit(share)


async def _keep_dns_share(parts: Components, settings: CycleSettings, every: float,
                          me: Callable[[], int | None] = lambda: None) -> None:
    """Re-divide [cluster] dns_budget every ``every`` seconds as workers start and finish jobs: a worker that
    takes a job takes its share at once, and the others come down to theirs within ``every`` (before, only
    at their next job's start); a worker left alone at work takes the whole budget back. The count is read
    in a thread (the event loop runs the jobs); a failed read keeps the share as it is. ``me`` gives this
    worker's procrastinate id (None before it registered)."""
    while True:
        await asyncio.sleep(every)
        try:
            workers = await asyncio.to_thread(_busy, parts, settings, me())
        except SQLAlchemyError as exc:
            log.debug("DNS share: the busy workers could not be counted (%s); the share is kept", exc)
            continue
        _share_dns(parts, settings, workers, level=logging.DEBUG)


def _log_children(what: str, child: str, children: Children) -> None:
    if children.resumed:
        log.info("%s resumed: %d %s(s) planned, %d done before, %d still queued or running, %d queued again",
                 what, len(children.payloads), child, children.done, children.waited,
                 len(children.jobs) - children.waited)
    else:
        log.info("%s: %d %s job(s) queued", what, len(children.jobs), child)


async def _wait_for(app: procrastinate.App, ids: list[int], what: str, poll: float) -> None:
    waiting = set(ids)
    while waiting:
        for job_id in sorted(waiting):
            status = await app.job_manager.get_job_status_async(job_id)
            if status is Status.SUCCEEDED:
                waiting.discard(job_id)
            elif status in (Status.FAILED, Status.CANCELLED, Status.ABORTED):
                raise ClusterError(f"{what} job {job_id} ended {status.value}")
        if waiting:
            await asyncio.sleep(poll)


async def run_round(app: procrastinate.App, parts: Components, batches: list[list[str]], *, crawl: bool,
                    parent: int, now: datetime, round_name: str = WATCHED, resume: bool = False, poll: float = 0.2,
                    serial: list[str] | None = None) -> tuple[list[tuple[list[str], ObserveReport]], list[int]]:
    """Queue the batches of round ``round_name`` of job ``parent`` as jobs (any worker takes them), wait
    until all have finished, and return each batch with its report (from the cycle log), and the hunt
    jobs they queued. With ``resume`` (the job retried), the plan its earlier attempt queued, only the
    batches not recorded, none queued twice. ``serial``: per batch, the host with more sites than a batch
    holds whose sites it carries, or "": the batches of one such host carry a procrastinate lock of that
    host (scheduler/cluster_plan.py), so no two workers crawl it at once."""
    hosts = serial or [""] * len(batches)
    payloads: list[dict[str, Any]] = [
        {"kind": "observe", "domains": batch, "crawl": crawl, "parent": parent, "index": index,
         "round": round_name, "at": now.isoformat(), **({"host": hosts[index]} if crawl and hosts[index] else {})}
        for index, batch in enumerate(batches)]
    with parts.store.transaction() as session:
        children = queue_batches(session, STAGE_TASK, payloads, parent=parent, round_name=round_name, resume=(
            (lambda s: [int(b["index"]) for b in cycles.batches_of(s, parent, round_name)]) if resume else None))
    _log_children(f"round {parent} ({round_name})", "batch", children)
    await _wait_for(app, children.jobs, f"round {parent} ({round_name}): batch", poll)
    plan = [list(p["domains"]) for p in children.payloads]
    reports = list(zip(plan, cycle.batch_reports(parts, parent, len(plan), now, round_name), strict=True))
    # The pages the batches crawled in other workers join this process's similarity index before the
    # round's banner re-check and its hunt (an embedded round adds them as it crawls).
    parts.pages.refresh(parts.store)
    with parts.store.transaction() as session:
        hunts = [int(h) for stats in cycles.batches_of(session, parent, round_name) for h in stats.get("hunts", [])]
    return reports, hunts


async def reap_stalled(app: procrastinate.App, *, stalled_seconds: float, skip: set[int] | frozenset[int] = frozenset()
                       ) -> int:
    """Queue again the jobs left running by workers whose heartbeat stopped ``stalled_seconds`` ago
    (killed, or cut off from the database), except ``skip`` (the jobs this process is running: a busy
    event loop can delay its own heartbeat). Every stage is idempotent, so a rerun only finishes it."""
    jobs = [j for j in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds)
            if j.id not in skip]
    for job in jobs:
        log.warning("job %s (%s) stalled: its worker stopped; queued again", job.id, job.task_kwargs.get("kind", job.task_name))
        await app.job_manager.retry_job(job)
    return len(jobs)


async def work(parts: Components, *, concurrency: int = 1, stop: asyncio.Event | None = None) -> None:
    """Run jobs until SIGINT/SIGTERM (or ``stop``): this process is one worker of the cluster. A worker
    that stops by itself (procrastinate stops when its database connection breaks, e.g. PostgreSQL
    restarted) raises ClusterError: the process exits non-zero and systemd starts it again."""
    settings = parts.config
    app = build_app(settings, parts)
    heartbeat = max(1.0, settings.cluster.stalled_seconds / 3)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
            pass
    # one RDAP and one WHOIS caller per server across the cluster: this worker's requests wait for a lock
    # shared by all, and keep one pace per server (rdap.max_per_minute or rdap.whois_max_per_minute, and
    # the pauses servers ask for) with every other worker
    gates = {"rdap": ServerGate(conninfo(settings.storage.url), kind="rdap", per_minute=parts.rdap.budget.per_minute,
                                max_wait=parts.rdap.budget.max_wait)}
    whois = parts.rdap.whois
    if whois is not None:
        gates["whois"] = ServerGate(conninfo(settings.storage.url), kind="whois", per_minute=whois.budget.per_minute,
                                    max_wait=whois.budget.max_wait)
    # a worker holding the zone state takes the zones queue too, and marks itself for the sweeps
    # (scheduler/cluster_zones.py); the others take every other queue
    zone_mark = cluster_zones.ZoneWorkerMark(conninfo(settings.storage.url)) if settings.cluster.zone_worker else None
    sharer: asyncio.Future[None] | None = None  # [cluster] dns_budget re-divided every heartbeat
    try:
        async with app.open_async():
            for gate in gates.values():
                await gate.open()
            if zone_mark is not None:
                await zone_mark.open()
            parts.rdap.gate = gates["rdap"]
            if whois is not None:
                whois.gate = gates["whois"]
            runner_worker = Worker(
                app=app, concurrency=concurrency + 1,  # one slot beyond the stages: the reaper never waits behind a sweep
                queues=cluster_zones.queues(settings.cluster.zone_worker),
                install_signal_handlers=False, update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=settings.cluster.stalled_seconds, shutdown_graceful_timeout=5.0,
                fetch_job_polling_interval=settings.cluster.poll_seconds)
            # procrastinate's Worker.run/stop carry no annotations (mypy strict: no untyped calls)
            run_worker = cast(Callable[[], Coroutine[Any, Any, None]], runner_worker.run)
            stop_worker = cast(Callable[[], None], runner_worker.stop)
            runner = asyncio.ensure_future(run_worker())
            if settings.cluster.dns_budget > 0:
                sharer = asyncio.ensure_future(_keep_dns_share(parts, settings, heartbeat,
                                                               lambda: runner_worker.worker_id))
            log.info("worker started (%d job(s) at once; %s); stages every: %s", concurrency,
                     "takes the zones queue" if zone_mark else "not the zones queue (cluster.zone_worker = false)",
                     ", ".join(f"{kind} {getattr(settings.schedule, key)} s"
                               for kind, (_j, _l, key) in STAGES.items() if key))
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait([runner, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not stop.is_set():
                problem = runner.exception() if not runner.cancelled() else None
                raise ClusterError(f"worker stopped: lost the job queue's database ({problem or 'connection closed'})")
            stop_worker()  # graceful: the jobs in hand get shutdown_graceful_timeout, then are aborted
            await asyncio.gather(runner, return_exceptions=True)
            log.info("worker stopped")
    finally:
        if sharer is not None:
            sharer.cancel()
        parts.rdap.gate = no_gate
        if whois is not None:
            whois.gate = no_gate
        for gate in gates.values():
            await gate.close()
        if zone_mark is not None:
            await zone_mark.close()
        for sig in handled:
            loop.remove_signal_handler(sig)


async def queue_cycle(settings: CycleSettings, *, poll: float = 0.5) -> dict[str, Any]:
    """`run --once` in cluster mode: queue one full cycle, wait until a worker has finished it, and
    return its summary (the stats the worker recorded in the cycle log)."""
    from storage.store import open_store

    app = build_app(settings)
    async with app.open_async():
        job_id = await app.configure_task(STAGE_TASK, lock=WORK_LOCK, task_kwargs={"kind": "cycle"}).defer_async()
        log.info("cycle queued as job %s; waiting for the workers", job_id)
        while True:
            status = await app.job_manager.get_job_status_async(job_id)
            if status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.ABORTED):
                break
            await asyncio.sleep(poll)
    if status is not Status.SUCCEEDED:
        raise ClusterError(f"the queued cycle (job {job_id}) ended {status.value}; the workers' log says why")
    with open_store(settings.storage.url) as store, store.transaction() as session:
        stats = cycles.stats_of_job(session, job_id)
    if stats is None:
        raise ClusterError(f"the queued cycle (job {job_id}) finished without a record in the cycle log")
    return stats
