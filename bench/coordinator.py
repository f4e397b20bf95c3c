"""What a cluster coordinator still does itself, timed on a synthetic store (issue 17). Run by hand:

    nice -n 10 .venv/bin/python bench/coordinator.py [--domains 10000] [--found 4000] [--deferred 2000]
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-recheck]

A fresh PostgreSQL schema (dropped at the end) holding ``--domains`` watched news sites, each with a DNS
answer and a crawled home page (its own text, a link to one of 50 hubs and one of its own, fingerprinted
as the crawl does), all active, and one seized domain showing a takedown banner. Then the steps that
scheduler/cluster.py's coordinator (a stage job holding the work lock) runs itself are timed, the store
warm, each on its own:

- (a) a round's banner re-check (scheduler/observe.py ``recheck_banners``) when a seizure banner was first
  seen in the round: every serving domain of the round classified again from the store (a DNS round: its
  answers and its last crawl read back), and the cheap case (no seizure this round);
- (b) the sweep's names from the store: deferred names (``--deferred`` of them), hub links and redirect
  targets of the network's profiles, similar pages (the process's similarity index) — their reading and
  generation; they are then resolved in the sweep's own job (DNS; not timed here: a few thousand names of
  a DNS server's time);
- (c) the sweep's merge and cap: the parts' recorded names read back and merged (``--found`` names
  resolved over the parts of [cluster] sweep_labels labels), the recent rejections looked up, the order
  and cap (detect/hunt_order.py), and the names past the cap recorded as deferred.

For scale, the hunt's own reading of the network's profiles (every hunt does it) is timed too. Wall time,
the process's CPU, and on stderr each step as it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from detect import fingerprints
from detect.hunt_order import plan_observation
from detect.model import Candidate, DnsResult, HttpFetch, Rcode, Status
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from scheduler import hunt_sources as sources
from scheduler.components import Components
from scheduler.hunt import MAX_OBSERVED_PER_HUNT
from scheduler.hunt_report import HuntReport
from scheduler.hunt_resolve import Resolved
from scheduler.observe import ObserveReport, recheck_banners, takedown_pages
from scheduler.sweep_parts import merge_parts, plan_parts
from storage import candidates as candidate_store
from storage import cycles, observations, profiles, sweeps, watchlist
from storage.observations import DnsWrite, HttpWrite, PageSketch
from storage.store import Store
from storage.values import StatusChange

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TLDS = ("com", "net", "org", "info")
WORDS = ["election", "minister", "border", "energy", "market", "court", "police", "health", "school", "water", "army", "bank", "city", "river", "festival", "union", "treaty", "summit", "vote", "budget", "tax", "farmer", "strike", "storm", "bridge", "railway", "museum", "coast", "port"]
NOW = datetime.now(UTC).replace(microsecond=0)
BANNER = (b"<html><head><title>Seized</title></head><body><h1>This domain has been seized</h1>"
          b"<p>by the Federal Bureau of Investigation pursuant to a seizure warrant.</p></body></html>")


@contextmanager
def timed(what: str, out: dict[str, tuple[float, float]]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out[what] = (time.perf_counter() - wall, time.process_time() - cpu)
    print(f"{what}: {out[what][0]:.2f} s wall, {out[what][1]:.2f} s CPU (load {os.getloadavg()[0]:.1f})",
          file=sys.stderr, flush=True)


def page(i: int, rng: random.Random) -> bytes:
    words = " ".join(rng.choice(WORDS) for _ in range(400))
    return (f"<html><head><title>Courier {i} daily news</title></head><body><h1>Courier {i}</h1>"
            f"<p>{words}</p><a href='https://hub{i % 50}-press.com/'>hub</a>"
            f"<a href='https://partner{i}-daily.net/'>partner</a></body></html>").encode()


def build(store: Store, n: int, found: int, deferred: int) -> list[str]:
    rng = random.Random(7)
    names = [f"courier{i:06d}.{TLDS[i % len(TLDS)]}" for i in range(n)]
    earlier = NOW - timedelta(days=1)
    with store.transaction() as session:
        watchlist.add_domains(session, names, campaign="bench", origin="seed", now=earlier)
    for start in range(0, n, 500):
        chunk = range(start, min(n, start + 500))
        dns = [DnsWrite(names[i], r := DnsResult(names[i], Rcode.NOERROR, {
            "A": (f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",), "NS": ("ns1.host.example",)}),
            tuple(fingerprints.dns_indicators(r))) for i in chunk]
        http = []
        for i in chunk:
            body = BANNER if i == 0 else page(i, rng)
            fetch = HttpFetch(domain=names[i], url=f"https://{names[i]}/", final_url=f"https://{names[i]}/", status=200,
                              headers=(("content-type", "text/html"),), body=body, ip=dns[i - start].result.get("A")[0],
                              observed_at=earlier + timedelta(hours=1))
            made = fingerprints.fetch_print(fetch)
            http.append(HttpWrite(fetch, made.indicators, PageSketch(made.title, made.minhash, made.tlsh)))
        with store.transaction() as session:
            observations.record_dns_batch(session, dns, now=earlier)
            observations.record_http_batch(session, http, now=earlier + timedelta(hours=1))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE domains SET status = 'active', status_since = :t"), {"t": earlier})
        conn.execute(text("UPDATE domains SET status = 'seized', status_since = :t WHERE name = :n"),
                     {"t": earlier, "n": names[0]})
    with store.transaction() as session:  # names an earlier sweep deferred
        candidate_store.defer(session, [Candidate(f"waiting{i}.example", "tld-swap", names[i % n], names[i % n])
                                        for i in range(deferred)], now=earlier)
    # a sweep's parts, recorded as its workers would: ``found`` lookalikes resolved, spread over the parts
    return names


def record_parts(store: Store, parts: Components, sweep: int, found: int) -> list:  # type: ignore[type-arg]
    with store.transaction() as session:
        network = profiles.network_profiles(session)
    plan = plan_parts(network, [], parts.config.cluster.sweep_labels)
    per = -(-found // max(1, len(plan)))
    k = 0
    with store.transaction() as session:
        for part in plan:
            rows = []
            for seed in part.live:
                if len(rows) >= per or k >= found:
                    break
                label, _dot, _suffix = seed.partition(".")
                rows.append(sweeps.Found(part.index, f"{label}.xyz", "tld-swap", seed, seed, f"fp{k % 300}"))
                k += 1
            sweeps.record(session, sweep, part.index, rows, generated=len(part.live) * 4, wildcards=[], worker="bench",
                          now=NOW)
    return plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", type=int, default=10_000)
    ap.add_argument("--found", type=int, default=4_000, help="lookalikes the sweep's parts found resolving")
    ap.add_argument("--deferred", type=int, default=2_000, help="names an earlier sweep deferred")
    ap.add_argument("--url", default=PG_URL)
    ap.add_argument("--no-recheck", action="store_true", help="skip (a), the banner re-check (minutes at 10^4)")
    args = ap.parse_args()
    schema = f"hwcoord_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}"
    out: dict[str, tuple[float, float]] = {}
    try:
        cfg = from_mapping({"storage": {"url": url}}, source="(bench)")
        store = Store.from_url(url)
        store.init()
        with timed("build the store", out):
            names = build(store, args.domains, args.found, args.deferred)
        with timed("similarity index from the store (every process's start)", out):
            parts = Components.from_settings(cfg, store, load_signatures())
        with store.transaction() as session:
            sweep = cycles.start(session, "discovery", NOW)
        plan = record_parts(store, parts, sweep, args.found)

        # (a) the banner re-check
        with (timed("(a) takedown_pages (the banners known: read at a round's start and by each batch)", out),
              store.transaction() as session):
            banners = takedown_pages(session)
        report = ObserveReport()
        with timed("(a) banner re-check, no seizure this round", out):
            recheck_banners(parts, names, banners, NOW, report)
        report.changes.append((names[0], StatusChange(status=Status.SEIZED, reason="bench", since=NOW,
                                                      previous=Status.ACTIVE)))
        if not args.no_recheck:
            with timed(f"(a) banner re-check after a first-seen banner: {len(names) - 1} serving domains classified "
                       "again", out):
                recheck_banners(parts, names, {}, NOW, report)
            print(f"    status changes from the re-check: {len(report.changes) - 1}", file=sys.stderr)

        # the hunt's context (every hunt, not one of the steps)
        with timed("hunt context: network profiles + watched names", out), store.transaction() as session:
            network = profiles.network_profiles(session)
            watched = set(watchlist.watched_names(session))

        # (b) the sweep's names from the store
        with timed("(b) deferred names read", out), store.transaction() as session:
            waiting = candidate_store.deferred(session)
            infra = profiles.network_infrastructure(session, network)
        with timed("(b) hub links and redirect targets", out):
            links = sources.link_candidates(network, watched)
        with timed("(b) similar pages (index lookups)", out):
            similar = sources.similar_candidates(parts, network)
        print(f"    names to resolve: {len(waiting)} deferred, {len(links)} links, {len(similar)} similar; "
              f"{len(infra)} infrastructure values", file=sys.stderr)

        # (c) merge and cap
        found: dict[str, Resolved] = {}
        hunt_report = HuntReport()
        with timed(f"(c) merge the parts' names ({args.found} recorded over {len(plan)} parts)", out):
            merge_parts(parts, sweep=sweep, plan=plan, seed_order=[p.domain for p in network], skip=watched.__contains__,
                        report=hunt_report, into=found)
        with timed("(c) recent rejections looked up", out):
            with store.transaction() as session:
                unchanged = candidate_store.unchanged_rejections(
                    session, {n: r.fingerprint for n, r in found.items()}, since=NOW - timedelta(hours=24))
            fresh = [r.candidate for n, r in found.items() if n not in unchanged]
        with timed("(c) order and cap", out):
            pick = plan_observation(fresh, MAX_OBSERVED_PER_HUNT, deferred_before={c.domain for c in waiting})
        with (timed(f"(c) {len(pick.deferred)} names past the cap recorded as deferred, {len(waiting)} marked", out),
              store.transaction() as session):
            candidate_store.defer(session, pick.deferred, now=NOW)
            candidate_store.mark_unresolved(session, (c.domain for c in waiting), now=NOW)
        asyncio.run(parts.close())
        store.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(f"\n{args.domains} watched domains, {args.found} lookalikes found, {args.deferred} deferred; "
          f"PostgreSQL; load average {os.getloadavg()[0]:.1f}\n")
    print("| step | wall (s) | CPU (s) |\n| --- | ---: | ---: |")
    for what, (wall, cpu) in out.items():
        print(f"| {what} | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
