"""Cluster mode vs the embedded process on a synthetic watchlist (issue 17 item 5). Run by hand:

    nice -n 10 .venv/bin/python bench/cluster.py [--domains 300] [--workers 1 2 4] [--tlds 4] [--batch 50] [--no-kill]
        [--fuzzers tld-swap,omission] [--sweep-labels 20] [--stages probe,crawl,discovery,hunt]
        [--hunt-found 40] [--slices 4] [--sources 0.2]

A generated world on the sandbox internet (loopback: its DNS server, its forward proxy and web fronts,
its RDAP server), ``--domains`` watched news sites spread over a few TLDs, each serving its own page.
One fresh PostgreSQL schema per configuration (the store's tables and procrastinate's), the watchlist
seeded, then three stages run one after the other, each on every watched domain:

- ``probe``: the DNS round (classification, RDAP when DNS changed, i.e. on the first round),
- ``crawl``: the crawl round (DNS again, then the sites),
- ``discovery``: the sweep (``--fuzzers`` lookalikes of every watched name, default ``tld-swap`` over
  ``--tlds`` suffixes; typo fuzzers on each name's own suffix). Its lookalikes are generated and
  resolved in parts of ``--sweep-labels`` labels ([cluster] sweep_labels, both modes; default 20): in
  turn by the embedded process, as `sweep_part` jobs the workers share. With ``--sources S`` the sweep
  also asks the sandbox's CT search (one keyword query every S seconds: ``ct_min_interval``, the
  politeness crt.sh asks for), reads its NRD feed and asks its passive DNS: run after the parts by the
  embedded process, as one `source` job each beside the parts in cluster mode; the sites are then named
  ``courierXYZ`` (letters), so each is one CT keyword. Without it those sources are off.
- ``hunt`` (only when ``--stages`` names it): the takedown hunt of ONE watched domain (the first), as a
  ``hunt`` job (cluster) or ``cycle.hunt_job`` (embedded): its ``--fuzzers`` lookalikes over ``--tlds``
  crossed with the network's suffixes, generated and resolved (cluster: ``--slices`` `sweep_part` jobs,
  [cluster] takedown_slices; embedded: one part), then the ``--hunt-found`` lookalikes the world registers
  (each serving a page) observed (DNS, crawl, RDAP) and scored. Timed from queueing to the job's end:
  the wall time to scored candidates. Reported beside it: candidates generated, resolved and scored, and
  the parts each process resolved.

Embedded: the daemon's own job functions (scheduler.cycle) in one child process, as `hydrawatch run`
calls them. Cluster: ``--workers`` N `hydrawatch worker` subprocesses; the bench queues each stage as a
job (the queue function procrastinate's own defer uses) and waits until the queue is empty (todo and
doing), so stages that fan out into several jobs are timed whole. ``--batch`` sets [cluster]
observe_batch in both modes (default: the setting's default, 500): a probe or crawl round over more
domains is split into batches, run in turn by the embedded process and as `observe` jobs the workers
share.

Per stage and configuration: wall time, throughput (domains/s; candidates/s for discovery), the
speed-up over the embedded process, CPU-seconds per 1,000 domains of the hydrawatch processes and of
the PostgreSQL backends serving them (every connection carries ``application_name=hwbench``; the
backends' /proc/PID/stat is sampled every 0.2 s, so a connection opened and closed between two samples
is missed), rows added and bytes grown (store tables and queue tables apart), queue wait p50/p95
(procrastinate_events: deferred → started) and the peak RSS of each worker (VmHWM; the embedded process's
is reset at each stage's start, so it is that stage's own).

Then the kill: one worker starts the crawl stage, a second idles beside it; at half the crawl's
one-worker time the first is killed (SIGKILL). Reported: time from the kill to the job's start on the
survivor (the reaper runs every 10 s, ``stalled_seconds`` = ``--stalled``), the seconds the killed
attempt ran, work redone (the retried job resumes the round: batch runs beyond one per batch, and the
domains in them; a round that fits one batch runs inside the job, so all it had crawled is crawled
again), and work lost (watched domains not crawled by the end, jobs not succeeded: must be 0).

The sandbox runs in this process (one Python process answering DNS, HTTP and RDAP for every worker): on
a 2-core machine it and PostgreSQL share the cores with the workers; it costs about as much CPU as the
hydrawatch processes it serves. Every site's certificate is issued before the first configuration (the
sandbox makes one on a site's first TLS handshake), so no configuration pays for them.

The embedded process counts the statements its store's engine sends in each stage (SQLAlchemy's
``before_cursor_execute``: every round trip, the crawl's writer thread included), shown per domain on
stderr; with ``HWBENCH_TRACEMALLOC=N`` in the environment it also traces its Python allocations (N frames;
about twice as slow) and prints after each stage what holds the most memory and what grew.

On stderr, as the run goes: each step's time with the load average (world, certificates, schema, seeding,
workers' start), and each stage's figures as it ends, with the rows added per table and the watched
domains per status (a stage that left domains unobserved shows there). At 10^4 domains and more, set
``--stalled`` above the longest pause of a busy worker's event loop (a crawl round's planning took 30-74 s
at 10^4 domains on a loaded machine): a shorter one lets the reaper start live jobs a second time, the
kill's among them (reported). Domains still ``unknown`` after a stage are broken down by their latest DNS and
HTTP outcome ("dns timeout, http none": the DNS probe timed out, so the site was not crawled; "dns NOERROR,
http none" would be a site dropped without a record). ``[dns] concurrency`` is per process: N workers send N
times the embedded process's queries at once to the one sandbox resolver, which then answers too late for
most of them at load ~10 and more (the 4-worker crawls' unknown sites in bench/RESULTS.md); ``--dns-total
512`` gives every configuration the same total in flight. ``--no-embedded`` skips the embedded configuration.
See bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("HYDRAWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
APP_NAME = "hwbench"
STAGES = ("probe", "crawl", "discovery")
TLDS = ("info", "press", "news", "online", "site", "media", "live", "pro")
QUIET = {"dns_interval": 86400, "crawl_interval": 86400, "discovery_interval": 86400, "alert_interval": 86400}
TICK = os.sysconf("SC_CLK_TCK")
T0 = time.perf_counter()


@contextmanager
def phase(what: str) -> Iterator[None]:
    """Time a step of the bench itself (set-up, seeding, a stage, the size snapshots) on stderr, with the
    load average: where a long run spends its time, and partial figures if it is cut short."""
    t = time.perf_counter()
    try:
        yield
    finally:
        print(f"[bench {time.perf_counter() - T0:7.1f} s] {what}: {time.perf_counter() - t:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)


def warm_certificates(sandbox: Any) -> int:
    """Issue every site's certificate before the first configuration. The sandbox's CA makes a site's
    certificate (an EC key, a signature, two files, an SSLContext) on its first TLS handshake and keeps
    it, so without this the first configuration's crawl (the embedded one) paid for all of them and the
    later ones for none (~3 ms a site: 30 s at 10^4 sites)."""
    specs = {d.site.tls for d in sandbox.view.domains.values() if d.site is not None and d.site.tls is not None}
    for spec in specs:
        sandbox.ca.context_for(spec)
    return len(specs)


# --- the world --------------------------------------------------------------------------------------

def discovery_tlds(tlds: int | str) -> list[str] | str:
    """``--tlds``: "all" (every ICANN TLD) or the first N of TLDS."""
    return "all" if tlds == "all" else list(TLDS[:int(tlds)])


def hunt_lookalikes(seed: str, count: int, fuzzers: str, tlds: int | str, net: int) -> list[str]:
    """``count`` lookalikes of ``seed`` the hunt will generate (every ``len // count``-th of its stream,
    so several fuzzers and slices have some): the world registers them."""
    from detect.lookalike import lookalikes

    if count <= 0:
        return []
    names = [c.domain for c in lookalikes(seed, fuzzers=fuzzers.split(","), tlds=discovery_tlds(tlds),
                                          typo_tlds=TLDS[:net])
             if "xn--" not in c.domain and not c.domain.startswith("courier")]
    step = max(1, len(names) // count)
    return names[::step][:count]


def letters(i: int) -> str:
    """Three letters for ``i`` (< 17,576): labels no CT keyword of which contains another's."""
    return "".join(chr(97 + (i // 26 ** k) % 26) for k in (2, 1, 0))


def world(domains: int, found: list[str] | None = None, hunted: str = "", net: int = 4, *,
          keywords: bool = False) -> dict[str, Any]:
    """``keywords``: labels ``courierXYZ`` (one CT keyword each) instead of ``courier000123`` (digits are
    dropped from keywords: one keyword for the whole network)."""
    names = [*([hunted] if hunted else []),
             *(f"courier{letters(i) if keywords else format(i, '06d')}.{TLDS[i % net]}" for i in range(domains))]
    spec: dict[str, Any] = {}
    for k, name in enumerate(found or []):  # a takedown's registered lookalikes: copies of the lost site
        page = (f"<!doctype html><html><head><title>{name}</title></head><body><h1>{names[0]}</h1>"
                "<main><article><h2>Report 0: the regional council voted on the budget of district 0.</h2>"
                "</article></main></body></html>")
        spec[name] = {"ns": ["ns1.hunt.net", "ns2.hunt.net"], "a": [f"185.99.{k >> 8}.{k & 255 or 1}"],
                      "rdap": {"registrar": "Bench Registrar", "registered": "2025-03-01"},
                      "web": {"pages": {"/": {"html": page}}}}
    for i, name in enumerate(names):
        story = f"Report {i}: the regional council voted on the budget of district {i % 97}."
        page = (f"<!doctype html><html><head><title>{name}</title></head><body><h1>{name}</h1>"
                f"<main><article><h2>{story}</h2><p>{story} Our reporters spoke to {i % 13 + 2} officials "
                "who asked not to be named; the figures differ from the ministry's.</p></article></main></body></html>")
        spec[name] = {"ns": [f"ns1.host{i % 50}.net", f"ns2.host{i % 50}.net"],
                      # public-looking addresses: the crawler refuses private ones (a site there is "dead")
                      "a": [f"185.{61 + (i >> 16)}.{(i >> 8) & 255}.{i & 255 or 1}"],
                      "rdap": {"registrar": "Bench Registrar", "registered": "2025-01-10"},
                      "web": {"pages": {"/": {"html": page}}}}
    return {"world": {"name": "bench-cluster", "campaign": "bench", "seeds": names},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"}}, "domains": spec}


# --- processes and PostgreSQL ----------------------------------------------------------------------

def ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def reset_peak_rss() -> None:
    """Start this process's VmHWM afresh (Linux: 5 written to /proc/self/clear_refs), so that each stage's
    peak RSS is its own, not an earlier stage's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError as exc:  # not Linux, or not allowed: the peak is then the process's since it started
        print(f"[bench] peak RSS not reset between stages: {exc}", file=sys.stderr)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class BackendCpu:
    """CPU of the PostgreSQL backends whose connections are named APP_NAME, sampled in a thread."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.last: dict[int, int] = {}
        self.base: dict[int, int] = {}
        self.peak = 0  # most connections open at one sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _pids(self) -> list[int]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [int(p) for p in conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                                                 {"a": APP_NAME}).scalars()]

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            pids = self._pids()
            self.peak = max(self.peak, len(pids))
            for pid in pids:
                self.last[pid] = max(self.last.get(pid, 0), ticks(pid))

    def __enter__(self) -> Self:
        self.base = {pid: ticks(pid) for pid in self._pids()}
        self.last = dict(self.base)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for pid in self._pids():
            self.last[pid] = max(self.last.get(pid, 0), ticks(pid))

    @property
    def seconds(self) -> float:
        return sum(v - self.base.get(pid, 0) for pid, v in self.last.items()) / TICK


def schema_url(admin: Any, schema: str) -> str:
    from sqlalchemy import text

    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}&application_name={APP_NAME}"


def table_sizes(engine: Any) -> dict[str, tuple[int, int]]:
    """Per table of the schema: (rows, bytes), partitions counted with their table."""
    import re

    from sqlalchemy import text

    out: dict[str, tuple[int, int]] = {}
    with engine.connect() as conn:
        for (name,) in conn.execute(text("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                         "WHERE n.nspname = current_schema() AND c.relkind = 'r'")):
            rows = int(conn.execute(text(f'SELECT count(*) FROM ONLY "{name}"')).scalar_one())
            size = int(conn.execute(text("SELECT pg_total_relation_size(CAST(:n AS regclass))"), {"n": name}).scalar_one())
            parent = re.sub(r"_p(\d{6}|default)$", "", name)
            r0, s0 = out.get(parent, (0, 0))
            out[parent] = (r0 + rows, s0 + size)
    return out


def growth(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, int]:
    def part(queue: bool, i: int) -> int:
        return sum(after[t][i] - before.get(t, (0, 0))[i] for t in after if t.startswith("procrastinate_") == queue)

    tables = {t: after[t][0] - before.get(t, (0, 0))[0] for t in sorted(after)}
    return {"store_rows": part(False, 0), "store_bytes": part(False, 1),
            "queue_rows": part(True, 0), "queue_bytes": part(True, 1),
            "tables": {t: n for t, n in tables.items() if n}}


def statuses(engine: Any) -> dict[str, int]:
    """Watched domains per status: a stage that left some unobserved (the sandbox overloaded, DNS or HTTP
    timing out) shows here, where the rows alone do not say it."""
    from sqlalchemy import text

    with engine.connect() as conn:
        out = {str(s): int(c) for s, c in conn.execute(text("SELECT status, count(*) FROM domains WHERE watched "
                                                            "GROUP BY status ORDER BY status"))}
        # every look's outcome: DNS rcodes, RDAP and HTTP errors, and the indicators by kind (a loaded sandbox
        # times out: the rows and the CPU of such a run are not comparable with one that did not)
        for kind, outcome, count in conn.execute(text(
                "SELECT kind, coalesce(error_kind, rcode, 'ok'), count(*) FROM observations GROUP BY 1, 2 ORDER BY 1, 2")):
            out[f"{kind}:{outcome}"] = int(count)
        for kind, count in conn.execute(text("SELECT kind, count(*) FROM indicators GROUP BY 1 ORDER BY 1")):
            out[f"indicator:{kind}"] = int(count)
    return out


def unobserved(engine: Any, limit: int = 5) -> dict[str, Any]:
    """Why watched domains are still ``unknown`` after a stage: per domain its latest DNS observation
    (rcode or error kind) and its latest HTTP one (error kind or "none": never crawled), counted, with a few
    names and errors of each kind. A stage that drops a site without recording it shows as ``http none``."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.name, dns.rcode, dns.error_kind, dns.error, http.error_kind, http.error, http.n FROM domains d "
            "LEFT JOIN LATERAL (SELECT rcode, error_kind, error FROM observations o WHERE o.domain_id = d.id "
            "  AND o.kind = 'dns' ORDER BY coalesce(o.last_seen_at, o.observed_at) DESC LIMIT 1) dns ON true "
            "LEFT JOIN LATERAL (SELECT max(error_kind) AS error_kind, max(error) AS error, count(*) AS n "
            "  FROM observations o WHERE o.domain_id = d.id AND o.kind = 'http') http ON true "
            "WHERE d.watched AND d.status = 'unknown' ORDER BY d.name")).all()
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for name, rcode, dns_kind, dns_error, http_kind, http_error, n in rows:
        key = (f"dns {dns_kind or rcode or 'none'}, http "
               f"{'none' if not n else (http_kind or 'ok')}")
        counts[key] = counts.get(key, 0) + 1
        if len(examples.setdefault(key, [])) < limit:
            examples[key].append(f"{name}: {(dns_error or http_error or '')[:120]}")
    return {"counts": counts, "examples": examples}


def progress(label: str, kind: str, r: dict[str, Any], n: int) -> None:
    """One stage's figures on stderr as soon as it ends (rows added per table included)."""
    wait = sorted(r["wait"])
    print(f"[bench] {label} {kind}: wall {r['wall']:.1f} s ({n / r['wall']:.1f} domains/s), CPU {r['cpu']:.1f} s, "
          f"PostgreSQL CPU {r['pg_cpu']:.1f} s, crawled {r['crawled']}, queue wait p50/p95 "
          f"{pct(wait, 0.5):.2f}/{pct(wait, 0.95):.2f} s, RSS {[round(m) for m in r['rss_mb']]} MB, "
          + (f"store statements {r['statements']} ({r['statements'] / n:.1f} a domain), " if r.get("statements") else "")
          + f"rows {json.dumps(r['tables'])}, statuses {json.dumps(r.get('statuses', {}))}", file=sys.stderr, flush=True)
    if r.get("unobserved", {}).get("counts"):
        print(f"[bench] {label} {kind}: still unknown, by latest DNS and HTTP outcome: "
              f"{json.dumps(r['unobserved'])}", file=sys.stderr, flush=True)


def cli(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), *args],
                          check=False, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"hydrawatch {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def write_config(path: Path, sandbox: Any, url: str, *, cluster: bool, tlds: int | str, stalled: float,
                 batch: int | None = None, fuzzers: str = "tld-swap", sweep_labels: int | None = None,
                 slices: int | None = None, sources: float | None = None, dns_concurrency: int | None = None) -> Path:
    from hydrawatch.config import to_toml

    data = {k: dict(v) for k, v in sandbox.config_overrides().items()}
    data["storage"] = {"url": url}
    if dns_concurrency:
        data["dns"]["concurrency"] = dns_concurrency
    data["log"] = {"level": "INFO" if cluster else "WARNING"}
    data["schedule"] = dict(QUIET)
    data["discovery"].update({"tlds": discovery_tlds(tlds), "fuzzers": fuzzers.split(",")})
    if sources is None:
        data["discovery"].update({"nrd_feeds": [], "ct_search_url": ""})
    else:  # the sandbox's CT search at a polite pace, its NRD feed, its passive DNS
        data["discovery"].update({"ct_min_interval": sources, **sandbox.pdns_settings()})
    data["rdap"]["cache_hours"] = 0
    data["alerts"]["mail_to"] = []
    data["cluster"] = {"enabled": cluster, "periodic": False, "stalled_seconds": stalled, **({"observe_batch": batch} if batch else {}),
                       **({"sweep_labels": sweep_labels} if sweep_labels else {}),
                       **({"takedown_slices": slices} if slices else {})}
    path.write_text(to_toml(data), encoding="utf-8")
    return path


@contextmanager
def store_for(admin: Any, sandbox: Any, tmp: Path, label: str, args: argparse.Namespace, *,
              cluster: bool, processes: int = 1) -> Iterator[tuple[Path, Any]]:
    """A fresh schema and its config for one configuration; with ``--dns-total`` each of its ``processes``
    gets an equal share of that many DNS queries in flight ([dns] concurrency)."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    url = schema_url(admin, schema)
    config = write_config(tmp / f"{label}.toml", sandbox, url, cluster=cluster, tlds=args.tlds, stalled=args.stalled,
                          batch=args.batch, fuzzers=args.fuzzers, sweep_labels=args.sweep_labels, slices=args.slices,
                          sources=args.sources,
                          dns_concurrency=max(1, args.dns_total // processes) if args.dns_total else None)
    seeds = tmp / "seeds.txt"
    seeds.write_text("\n".join(sandbox.seeds) + "\n", encoding="utf-8")
    engine = create_engine(url)
    try:
        with phase(f"{label}: schema (hydrawatch init)"):
            cli(config, "init")
        with phase(f"{label}: seed import of {len(sandbox.seeds)} names"):
            cli(config, "seed", "import", str(seeds), "--campaign", "bench")
        yield config, engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


# --- embedded: the job functions in one child process ---------------------------------------------

def embedded_child(config_path: str, stages: list[str], hunted: str) -> None:
    from sqlalchemy import event

    from crawler import run as reactor_run
    from hydrawatch.bundled import load_signatures
    from hydrawatch.config import load
    from hydrawatch.wiring import open_store
    from scheduler import cycle
    from scheduler.components import Components

    cfg = load(config_path)
    jobs = {"probe": cycle.probe_job, "crawl": cycle.crawl_job, "discovery": cycle.discovery_job,
            "hunt": lambda parts, now: cycle.hunt_job(parts, now=now, lost=[hunted])}
    traced = int(os.environ.get("HWBENCH_TRACEMALLOC") or 0)  # frames kept; 0: off (it slows the process ~2x)
    if traced:
        import tracemalloc

        tracemalloc.start(traced)
    with open_store(cfg) as store:
        parts = Components.from_settings(cfg, store, load_signatures())
        statements = [0]  # every statement the store's engine sends (crawl writer thread included)
        counting = threading.Lock()

        def count(*_args: Any) -> None:
            with counting:
                statements[0] += 1

        event.listen(store.engine, "before_cursor_execute", count)

        async def go() -> None:
            snapshot = None
            for kind in stages:
                sys.stdin.readline()  # the parent says when (it snapshots PostgreSQL first)
                reset_peak_rss()
                r0, t0, s0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), statements[0]
                peak = PeakSnapshot() if traced else None
                report = await jobs[kind](parts, now=datetime.now(UTC))
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                if peak is not None:
                    peak.report(kind)
                    snapshot = traced_memory(kind, snapshot)
                print(json.dumps({"kind": kind, "wall": time.perf_counter() - t0,
                                  "cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
                                  # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a
                                  # child started from this big bench process (the sandbox world: 2.8 GB at
                                  # 10^5 sites) would report the parent's size at the fork
                                  "rss_mb": peak_rss_mb(os.getpid()), "statements": statements[0] - s0,
                                  "stats": report.stats()}), flush=True)
            await parts.close()

        try:
            reactor_run.run(go)
        finally:
            reactor_run.shutdown()  # the reactor's thread pool is not daemonic


class PeakSnapshot:
    """What held the memory at a stage's highest point: a thread reads the traced total every 0.5 s and takes a
    snapshot each time it passes the highest seen by 5 % (and 8 MiB); :meth:`report` stops it and prints the
    last one's largest holders. The snapshot is taken while the stage runs, so it is off by what the stage
    allocated within the sampling period."""

    def __init__(self) -> None:
        import tracemalloc

        tracemalloc.reset_peak()
        self.highest, self.snapshot, self.taken_at = 0, None, 0.0
        self.started, self.stop = time.perf_counter(), threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        import tracemalloc

        while not self.stop.wait(0.5):
            current, _ = tracemalloc.get_traced_memory()
            if current > self.highest * 1.05 and current > self.highest + 8 * 2**20:
                self.highest, self.taken_at = current, time.perf_counter() - self.started
                self.snapshot = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, tracemalloc.__file__)])

    def report(self, kind: str) -> None:
        import tracemalloc

        self.stop.set()
        self.thread.join()
        _, peak = tracemalloc.get_traced_memory()
        print(f"[tracemalloc] {kind} at its highest: {peak / 2**20:.1f} MiB traced; the snapshot nearest it "
              f"({self.highest / 2**20:.1f} MiB, {self.taken_at:.0f} s in):", file=sys.stderr)
        if self.snapshot is not None:
            print_holders(self.snapshot)


def print_holders(snapshot: Any) -> None:
    for stat in snapshot.statistics("traceback")[:12]:
        frames = [f"{f.filename.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}:{f.lineno}"
                  for f in stat.traceback[-6:]]
        print(f"[tracemalloc]   {stat.size / 2**20:7.1f} MiB {stat.count:8d} blocks  {' <- '.join(reversed(frames))}",
              file=sys.stderr)


def traced_memory(kind: str, before: Any) -> Any:
    """On stderr: the memory the embedded process's Python allocations hold after a stage, the largest
    holders by where they were allocated (the traceback's innermost hydrawatch/library frame), and what grew
    since the previous stage. Returns the snapshot."""
    import gc
    import tracemalloc

    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    current, peak = tracemalloc.get_traced_memory()
    status = Path("/proc/self/status").read_text()
    rss = {key: int(line.split()[1]) / 1024 for line in status.splitlines()
           for key in ("VmRSS", "VmHWM") if line.startswith(key + ":")}
    print(f"[tracemalloc] after {kind}: Python allocations {current / 2**20:.1f} MiB held, peak {peak / 2**20:.1f} "
          f"MiB (traced from the store's opening); RSS now {rss.get('VmRSS', 0):.0f} MB, peak {rss.get('VmHWM', 0):.0f} MB",
          file=sys.stderr)
    print_holders(snapshot)
    if before is not None:
        for stat in snapshot.compare_to(before, "lineno")[:8]:
            print(f"[tracemalloc]   grew {stat.size_diff / 2**20:+7.1f} MiB  {stat.traceback[0]}", file=sys.stderr)
    sys.stderr.flush()
    return snapshot


def parts_per_worker(engine: Any, kind: str, after: int) -> list[int]:
    """How many sweep parts each process recorded for the ``kind`` jobs logged after cycle ``after``
    (most first)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return [int(n) for n in conn.execute(text(
            "SELECT count(*) FROM sweep_parts p JOIN cycles c ON c.id = p.sweep WHERE c.kind = :k AND c.id > :t "
            "GROUP BY p.worker ORDER BY 1 DESC"), {"k": kind, "t": after}).scalars()]


def run_embedded(admin: Any, sandbox: Any, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with store_for(admin, sandbox, tmp, "embedded", args, cluster=False) as (config, engine):
        child = subprocess.Popen(_niced([sys.executable, str(Path(__file__).resolve()), "--embedded-child", str(config),
                                         "--stages", ",".join(args.stages), "--hunt-domain", args.hunt_domain]),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert child.stdin is not None and child.stdout is not None
        for kind in args.stages:
            started = last_cycle(engine)
            before = table_sizes(engine)
            with BackendCpu(admin) as pg:
                child.stdin.write("go\n")
                child.stdin.flush()
                line = json.loads(child.stdout.readline())
            out[kind] = {"wall": line["wall"], "cpu": line["cpu"], "pg_cpu": pg.seconds, "rss_mb": [line["rss_mb"]],
                         "connections": pg.peak, "statements": line.get("statements"),
                         "candidates": line["stats"]["candidates_generated"], "crawled": line["stats"]["crawled"],
                         "resolved": line["stats"]["candidates_resolved"], "scored": line["stats"]["candidates_observed"],
                         "parts": parts_per_worker(engine, kind, started), "wait": [],
                         **growth(before, table_sizes(engine)), "statuses": statuses(engine),
                         "unobserved": unobserved(engine)}
            progress("embedded", kind, out[kind], args.domains)
        child.stdin.close()
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return out


# --- cluster: N workers, stages queued ------------------------------------------------------------

CLIENT_NICE = 0
"""Niceness added to every hydrawatch process the bench starts (``--client-nice``), over the bench's own."""


def _niced(command: list[str]) -> list[str]:
    """``command`` run CLIENT_NICE levels nicer (nice(1) execs it: the same process id)."""
    return ["nice", "-n", str(CLIENT_NICE), *command] if CLIENT_NICE else command


class Worker:
    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(_niced([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), "worker"]),
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_started(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while "worker started" not in self.log_path.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start: {self.log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def defer(engine: Any, kind: str, hunted: str = "") -> int:
    from scheduler.cluster import DEFER, STAGE_TASK, WORK_LOCK

    payload: dict[str, Any] = {"kind": kind, **({"domains": [hunted]} if kind == "hunt" else {})}
    with engine.begin() as conn:
        return int(conn.execute(DEFER, {"task": STAGE_TASK, "lock": WORK_LOCK,
                                        "args": json.dumps(payload)}).scalar_one())


def queue_busy(engine: Any) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                                     "AND task_name = 'hydrawatch.stage'")).scalar_one())


def drain(engine: Any, timeout: float = 7200) -> None:
    deadline = time.monotonic() + timeout
    while queue_busy(engine):
        if time.monotonic() > deadline:
            raise SystemExit("the queue did not drain")
        time.sleep(0.2)


def waits_since(engine: Any, first_job: int) -> list[float]:
    """Seconds from each job's deferral to its first start (jobs from ``first_job`` on)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT EXTRACT(EPOCH FROM min(s.at) - min(d.at)) FROM procrastinate_events d "
            "JOIN procrastinate_events s ON s.job_id = d.job_id AND s.type = 'started' "
            "JOIN procrastinate_jobs j ON j.id = d.job_id "
            "WHERE d.type = 'deferred' AND d.job_id >= :first AND j.task_name = 'hydrawatch.stage' "
            "GROUP BY d.job_id"), {"first": first_job}).scalars()
        return [float(r) for r in rows]


def last_cycle(engine: Any) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM cycles")).scalar_one())


def stat_since(engine: Any, kind: str, after: int, key: str) -> int:
    """The sum of stat ``key`` of the ``kind`` jobs recorded after cycle ``after``."""
    from sqlalchemy import text

    with engine.connect() as conn:
        stats = conn.execute(text("SELECT stats FROM cycles WHERE kind = :k AND id > :t"),
                             {"k": kind, "t": after}).scalars()
        return sum(int((json.loads(s) if isinstance(s, str) else s or {}).get(key, 0))
                   for s in stats)


def run_cluster(admin: Any, sandbox: Any, tmp: Path, args: argparse.Namespace, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with store_for(admin, sandbox, tmp, f"cluster{n}", args, cluster=True, processes=n) as (config, engine):
        workers = [Worker(config, tmp / f"cluster{n}-worker{i}.log") for i in range(n)]
        try:
            with phase(f"cluster{n}: {n} worker(s) started"):
                for w in workers:
                    w.wait_started()
            time.sleep(1.0)
            for kind in args.stages:
                before = table_sizes(engine)
                cpu0 = [ticks(w.proc.pid) for w in workers]
                started = last_cycle(engine)
                with BackendCpu(admin) as pg:
                    t0 = time.perf_counter()
                    first = defer(engine, kind, args.hunt_domain)
                    drain(engine)
                    wall = time.perf_counter() - t0
                cpu = sum(ticks(w.proc.pid) - c for w, c in zip(workers, cpu0, strict=True)) / TICK
                out[kind] = {"wall": wall, "cpu": cpu, "pg_cpu": pg.seconds, "connections": pg.peak,
                             "rss_mb": [peak_rss_mb(w.proc.pid) for w in workers],
                             "candidates": stat_since(engine, kind, started, "candidates_generated"),
                             "crawled": stat_since(engine, kind, started, "crawled"),
                             "resolved": stat_since(engine, kind, started, "candidates_resolved"),
                             "scored": stat_since(engine, kind, started, "candidates_observed"),
                             "parts": parts_per_worker(engine, kind, started),
                             "wait": waits_since(engine, first), **growth(before, table_sizes(engine)),
                             "statuses": statuses(engine), "unobserved": unobserved(engine)}
                progress(f"{n} workers", kind, out[kind], args.domains)
        finally:
            for w in workers:
                w.stop()
    return out


def run_kill(admin: Any, sandbox: Any, tmp: Path, args: argparse.Namespace, crawl_seconds: float) -> dict[str, Any]:
    from sqlalchemy import text

    with store_for(admin, sandbox, tmp, "kill", args, cluster=True, processes=2) as (config, engine):
        victim = Worker(config, tmp / "kill-victim.log")
        survivor: Worker | None = None
        try:
            victim.wait_started()
            job = defer(engine, "crawl")
            with engine.connect() as conn:
                while conn.execute(text("SELECT status FROM procrastinate_jobs WHERE id = :j"), {"j": job}).scalar() != "doing":
                    time.sleep(0.1)
                    conn.rollback()
                began = conn.execute(text("SELECT min(at) FROM procrastinate_events WHERE job_id = :j AND type = 'started'"),
                                     {"j": job}).scalar_one()
            survivor = Worker(config, tmp / "kill-survivor.log")
            survivor.wait_started()
            time.sleep(max(0.0, crawl_seconds / 2 - (datetime.now(UTC) - began).total_seconds()))
            with engine.connect() as conn:
                killed_at = conn.execute(text("SELECT now()")).scalar_one()
                os.kill(victim.proc.pid, signal.SIGKILL)
                victim.proc.wait()
                done_before = int(conn.execute(text("SELECT count(*) FROM domains WHERE last_crawled IS NOT NULL")).scalar_one())
            drain(engine)
            with engine.connect() as conn:
                restarted = conn.execute(text("SELECT min(at) FROM procrastinate_events WHERE job_id = :j AND type = 'started' "
                                              "AND at > :k"), {"j": job, "k": killed_at}).scalar_one()
                # starts before the kill beyond the first: the reaper took the busy victim for dead (its event
                # loop late with its heartbeat by more than --stalled) and the survivor ran the job already
                early = int(conn.execute(text("SELECT count(*) FROM procrastinate_events WHERE job_id = :j AND type = 'started' "
                                              "AND at <= :k"), {"j": job, "k": killed_at}).scalar_one()) - 1
                status = conn.execute(text("SELECT status FROM procrastinate_jobs WHERE id = :j"), {"j": job}).scalar_one()
                watched = int(conn.execute(text("SELECT count(*) FROM domains WHERE watched")).scalar_one())
                # crawled by the attempt that finished the job (its cycle row's start is the crawl's "now")
                crawled = int(conn.execute(text(
                    "SELECT count(*) FROM domains WHERE watched AND last_crawled >= "
                    "(SELECT max(started_at) FROM cycles WHERE kind = 'crawl' AND outcome = 'ok')")).scalar_one())
                # batch runs of the round (a killed run's row stays 'running'): more than one per batch is work redone
                runs = conn.execute(text(
                    "SELECT (stats->>'index')::int, count(*) FROM cycles WHERE kind = 'batch' AND stats->>'parent' = "
                    "(SELECT id::text FROM cycles WHERE kind = 'crawl' AND stats->>'job' = :j) GROUP BY 1"),
                    {"j": str(job)}).all()
                sizes = dict(conn.execute(text(
                    "SELECT (args->>'index')::int, jsonb_array_length(args->'domains') FROM procrastinate_jobs "
                    "WHERE args->>'kind' = 'observe'")).all())
        finally:
            victim.stop()
            if survivor is not None:
                survivor.stop()
    return {"requeue_s": (restarted - killed_at).total_seconds() if restarted else None,
            "killed_s": (killed_at - began).total_seconds(), "crawled_before": done_before,
            "redone_batches": sum(n - 1 for _i, n in runs),
            "redone_domains": sum(sizes.get(i, 0) * (n - 1) for i, n in runs) if runs else done_before,
            "lost_domains": watched - crawled, "job_status": status, "watched": watched, "early_starts": early}


# --- report ---------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(results: dict[str, dict[str, Any]], kill: dict[str, Any] | None, args: argparse.Namespace) -> None:
    n = args.domains
    sources = f", sources CT (one query every {args.sources} s), NRD, pDNS" if args.sources is not None else ""
    print(f"{n} watched domains over {args.net_tlds} TLDs, discovery {args.fuzzers} over {args.tlds} TLDs{sources}, "
          f"observe_batch {args.batch or 'default (500)'}, sweep_labels {args.sweep_labels or 'default (20)'}; "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.1f}")
    print()
    print("| configuration | stage | wall (s) | throughput | speed-up | CPU s / 1k domains (hydrawatch) | "
          "CPU s / 1k domains (PostgreSQL) | store rows / bytes added | queue rows / bytes | queue wait p50 / p95 (s) | "
          "peak RSS per process (MB) | PostgreSQL connections (peak) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, stages in results.items():
        for kind in args.stages:
            r = stages[kind]
            base = results["embedded"][kind]["wall"] if "embedded" in results else float("nan")
            thr = (f"{r['candidates'] / r['wall']:.0f} candidates/s" if kind in ("discovery", "hunt")
                   else f"{n / r['wall']:.1f} domains/s" + (f" ({r['crawled']} sites crawled)" if kind == "crawl" else ""))
            wait = f"{pct(r['wait'], 0.5):.2f} / {pct(r['wait'], 0.95):.2f}" if r["wait"] else "-"
            print(f"| {label} | {kind} | {r['wall']:.1f} | {thr} | {base / r['wall']:.2f} | "
                  f"{1000 * r['cpu'] / n:.1f} | {1000 * r['pg_cpu'] / n:.1f} | {r['store_rows']} / {r['store_bytes'] // 1024} KiB | "
                  f"{r['queue_rows']} / {r['queue_bytes'] // 1024} KiB | {wait} | "
                  f"{', '.join(f'{m:.0f}' for m in r['rss_mb'])} | {r['connections']} |")
    if "hunt" in args.stages:
        print()
        print(f"The takedown hunt of one domain, {args.hunt_domain} (its lookalikes: {args.fuzzers} over "
              f"{args.tlds} TLDs and the network's {args.net_tlds} suffixes; {args.hunt_found} of them registered with a page; takedown_slices "
              f"{args.slices or 'default (4)'}):")
        print()
        print("| configuration | wall to scored candidates (s) | speed-up | generated | resolved | scored | "
              "parts per process | CPU s (hydrawatch) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
        base = results["embedded"]["hunt"]["wall"] if "embedded" in results else float("nan")
        for label, stages in results.items():
            r = stages["hunt"]
            print(f"| {label} | {r['wall']:.1f} | {base / r['wall']:.2f} | {r['candidates']} | {r['resolved']} | "
                  f"{r['scored']} | {', '.join(map(str, r['parts'])) or '-'} | {r['cpu']:.1f} |")
    if kill and kill.get("early_starts"):
        print()
        print(f"kill: the survivor had started the crawl job {kill['early_starts']} time(s) before the kill (the victim, busy, "
              f"was late with its heartbeat by more than --stalled {args.stalled} s), so the kill re-queued no coordinator; "
              f"re-started after the kill: {kill['requeue_s']} s; work redone: {kill['redone_batches']} batch run(s), "
              f"{kill['redone_domains']} domains; work lost: {kill['lost_domains']} of {kill['watched']} domains, job "
              f"{kill['job_status']}. Run with a larger --stalled.")
    elif kill and kill["requeue_s"] is None:
        print()
        print(f"kill: the crawl job ended ({kill['job_status']}) before the kill; run with more --domains")
    elif kill:
        print()
        print(f"kill -9 of the worker crawling, at half the crawl's 1-worker time: re-queued and started on the survivor "
              f"after {kill['requeue_s']:.1f} s (stalled_seconds {args.stalled}, reaper every 10 s); the killed attempt "
              f"crawled {kill['killed_s']:.1f} s ({kill['crawled_before']} domains); work redone: "
              f"{kill['redone_batches']} batch run(s), {kill['redone_domains']} domains crawled twice; work lost: "
              f"{kill['lost_domains']} of {kill['watched']} domains not crawled after the kill, job {kill['job_status']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--tlds", type=lambda v: v if v == "all" else int(v), default=4,
                        help='suffixes the discovery sweep tries (at most 8), or "all" (every ICANN TLD)')
    parser.add_argument("--net-tlds", type=int, default=4, choices=range(1, 9),
                        help="suffixes the watched domains spread over (the typos' crossing)")
    parser.add_argument("--hunt-label", default="courier000000",
                        help="the hunt stage's lost domain is LABEL.info, watched beside the others")
    parser.add_argument("--stalled", type=float, default=10.0, help="[cluster] stalled_seconds")
    parser.add_argument("--batch", type=int, default=None, help="[cluster] observe_batch (both modes)")
    parser.add_argument("--fuzzers", default="tld-swap", help="[discovery] fuzzers, comma-separated (both modes)")
    parser.add_argument("--sweep-labels", type=int, default=None, help="[cluster] sweep_labels (both modes)")
    parser.add_argument("--stages", type=lambda v: v.split(","), default=list(STAGES),
                        help="comma-separated, in order, of probe, crawl, discovery, hunt (default: the first three)")
    parser.add_argument("--hunt-found", type=int, default=40,
                        help="lookalikes of the hunted domain the world registers (hunt stage)")
    parser.add_argument("--slices", type=int, default=None, help="[cluster] takedown_slices (cluster mode)")
    parser.add_argument("--sources", type=float, default=None, metavar="CT_INTERVAL",
                        help="turn on the sweep's CT search (ct_min_interval seconds), NRD feed and pDNS")
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--dns-total", type=int, default=None, metavar="N",
                        help="[dns] concurrency of each process = N / its configuration's processes (the one "
                             "sandbox resolver gets N queries in flight in every configuration); default: "
                             "the shipped 512 per process")
    parser.add_argument("--client-nice", type=int, default=0, metavar="N",
                        help="run the hydrawatch processes (embedded child, workers) N nice levels below the "
                             "bench, whose process is the sandbox internet: the servers then get the CPU first, "
                             "as real servers have their own")
    parser.add_argument("--no-embedded", action="store_true",
                        help="skip the embedded configuration (no speed-ups: a cluster-only diagnosis)")
    parser.add_argument("--embedded-child", help=argparse.SUPPRESS)
    parser.add_argument("--hunt-domain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.hunt_domain = args.hunt_domain or f"{args.hunt_label}.{TLDS[0]}"
    global CLIENT_NICE
    CLIENT_NICE = args.client_nice
    if args.embedded_child:
        embedded_child(args.embedded_child, args.stages, args.hunt_domain)
        return
    unknown = set(args.stages) - {*STAGES, "hunt"}
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")

    from sqlalchemy import create_engine

    from sandbox.net import Sandbox

    admin = create_engine(PG_URL, pool_pre_ping=True)
    results: dict[str, dict[str, Any]] = {}
    kill = None
    found = hunt_lookalikes(args.hunt_domain, args.hunt_found, args.fuzzers, args.tlds, args.net_tlds) \
        if "hunt" in args.stages else []
    keywords = args.sources is not None
    hunted = (args.hunt_domain if args.hunt_domain not in world(args.domains, net=args.net_tlds, keywords=keywords)["domains"]
              else "")
    with phase(f"world of {args.domains} sites generated, sandbox started"):
        sandbox = Sandbox.start(world(args.domains, found, hunted, args.net_tlds, keywords=keywords), "before")
    with tempfile.TemporaryDirectory() as tmp, sandbox:
        with phase("every site's certificate issued"):
            warm_certificates(sandbox)
        if not args.no_embedded:
            results["embedded"] = run_embedded(admin, sandbox, Path(tmp), args)
            print(f"embedded: {json.dumps({k: round(v['wall'], 1) for k, v in results['embedded'].items()})}",
                  file=sys.stderr)
        for n in args.workers:  # --workers 0: the embedded process only
            if n == 0:
                continue
            results[f"{n} worker{'s' if n > 1 else ''}"] = run_cluster(admin, sandbox, Path(tmp), args, n)
            print(f"{n} workers done", file=sys.stderr)
        if not args.no_kill and "crawl" in args.stages:
            one = next((v for k, v in results.items() if k.startswith("1 ")),
                       results.get("embedded") or next(iter(results.values())))
            with phase("kill"):
                kill = run_kill(admin, sandbox, Path(tmp), args, one["crawl"]["wall"])
            print(f"[bench] kill: {json.dumps(kill, default=str)}", file=sys.stderr, flush=True)
    admin.dispose()
    report(results, kill, args)


if __name__ == "__main__":
    main()
