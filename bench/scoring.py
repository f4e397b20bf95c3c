"""What a hunt's scoring costs as the network grows: the inputs read once (network profiles, the store's
statistics) against the candidates scored one by one, on a synthetic store. Decides how scoring is cut
into cluster jobs (what a job reads itself, what the coordinator computes once), see bench/RESULTS.md.

    .venv/bin/python bench/scoring.py [--sizes 100,1000,5000] [--candidates 400] [--url URL] [--split K]

Store (SQLite file in a temporary folder, or ``--url``: a PostgreSQL database, its tables dropped and
made again): per size N, N network sites (watched seeds: a DNS answer, a crawl with a page, an RDAP
record; 25 operators, each with its analytics id, name server, /24 and page text), ``--candidates``
candidates (one in ten a clone of a network site: its text, its analytics id; the rest strangers on the
network's hosting or on their own) and 2·N + 2,000 strangers with pages (one in five on a common theme).
Measured, each on its own: the network's profiles (storage/profiles.py site_profile per network site),
the candidates' profiles, store_stats (share counts, the page-signature scan, TextCrowd), then
detect.scoring.score_candidate for every candidate; and the size of the inputs pickled (what handing
them over in a row would carry).
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text

from detect.scoring import Discovery, ScoringPolicy, score_candidate
from detect.similarity import minhash_of_text, tlsh_of_skeleton
from storage import profiles, watchlist
from storage.models import Base, BodyRow, DomainRow, IndicatorRow, ObservationRow, PageRow
from storage.store import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
OPERATORS = 25
WORDS = ["nachrichten", "politik", "welt", "europa", "regierung", "wahrheit", "krieg", "frieden", "energie", "preise",
         "bauern", "medien", "bericht", "analyse", "quelle", "experten", "sanktionen", "wirtschaft", "kanzler",
         "minister", "volk"]


def _text(rng: random.Random, n: int = 220) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(40)) for _ in range(n))


def _skeleton(rng: random.Random, width: int) -> str:
    tags = ["div", "p", "a", "span", "ul", "li", "section", "article", "h2", "img", "nav", "footer"]
    return "".join(f"<{rng.choice(tags)} class=c{rng.randrange(width)}>" for _ in range(400))


class Writer:
    """Domains and their observations written with Core inserts (the bench's set-up, not what it times)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.domains: list[dict[str, Any]] = []
        self.obs: list[tuple[str, dict[str, Any], list[tuple[str, str]], tuple[bytes | None, str | None] | None]] = []

    def domain(self, name: str, *, watched: bool, origin: str) -> None:
        self.domains.append({"name": name, "campaign": "bench" if watched else "", "tags": [], "origin": origin,
                             "first_seen": T0, "last_seen": T0, "status": "active", "status_reason": "200",
                             "status_since": T0, "watched": watched})

    def site(self, name: str, *, ip: str, ns: str, registrar: str, registered: datetime, ga: str | None,
             page: tuple[bytes | None, str | None], title: str) -> None:
        self.obs.append((name, {"kind": "dns", "rcode": "NOERROR", "raw": {}}, [
            ("ip", ip), ("ip_prefix", ip.rsplit(".", 1)[0] + ".0/24"), ("ns", ns), ("ns_domain", ns.split(".", 1)[1])],
            None))
        http = [("server", "nginx"), ("title", title)] + ([("ga", ga)] if ga else [])
        self.obs.append((name, {"kind": "http", "url": f"https://{name}/", "final_url": f"https://{name}/",
                                "http_status": 200, "title": title, "raw": {}}, http, page))
        self.obs.append((name, {"kind": "rdap", "registrar": registrar, "registered_at": registered, "raw": {}},
                         [("registrar", registrar)], None))

    def flush(self) -> None:
        with self.store.transaction() as session:
            session.execute(insert(DomainRow), self.domains)
            ids = dict(session.execute(text("SELECT name, id FROM domains")).all())
            session.execute(insert(BodyRow), [{"sha256": "0" * 64, "body_gz": b"", "size": 0, "first_seen": T0}])
            table = ObservationRow.__table__
            blank = {"rcode": None, "url": None, "final_url": None, "http_status": None, "title": None,
                     "registrar": None, "registered_at": None}
            rows = [{"domain_id": ids[name], "observed_at": T0, "last_seen_at": T0, "repeats": 0, "error": "",
                     **blank, **o} for name, o, _i, _p in self.obs]
            obs_ids: list[int] = []
            for start in range(0, len(rows), 2000):
                obs_ids += list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                                rows[start:start + 2000]))
            inds = [{"domain_id": ids[name], "observation_id": oid, "kind": k, "value": v, "observed_at": T0}
                    for (name, _o, values, _p), oid in zip(self.obs, obs_ids) for k, v in values]
            for start in range(0, len(inds), 5000):
                session.execute(insert(IndicatorRow), inds[start:start + 5000])
            pages = [{"observation_id": oid, "domain_id": ids[name], "body_sha256": "0" * 64, "truncated": False,
                      "minhash": p[0], "tlsh": p[1]} for (name, _o, _v, p), oid in zip(self.obs, obs_ids) if p]
            for start in range(0, len(pages), 2000):
                session.execute(insert(PageRow), pages[start:start + 2000])


def _fresh(store: Store) -> None:
    """Drop the store's tables (and its schema version, or init would take them for made) and make them."""
    Base.metadata.drop_all(store.engine)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    store.init()


def build(store: Store, network: int, candidates: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """The synthetic store; (network names, candidate names)."""
    rng = random.Random(seed)
    texts = [_text(rng) for _ in range(OPERATORS)]
    looks = [_skeleton(rng, 30) for _ in range(OPERATORS)]
    theme = _skeleton(rng, 8)
    sketches = [(minhash_of_text(t), tlsh_of_skeleton(s)) for t, s in zip(texts, looks)]
    w = Writer(store)
    net_names: list[str] = []
    for i in range(network):
        op = i % OPERATORS
        name = f"net{i}-{WORDS[op % len(WORDS)]}.{('com', 'net', 'org', 'info', 'de')[i % 5]}"
        net_names.append(name)
        w.domain(name, watched=True, origin="seed")
        variant = (minhash_of_text(texts[op] + " " + _text(rng, 30)), sketches[op][1])
        w.site(name, ip=f"10.{op}.{i % 200}.{i % 250 + 1}", ns=f"ns1.op{op}host.net", registrar=f"Registrar {op % 7}",
               registered=T0 - timedelta(days=400 + i % 300), ga=f"G-OP{op:04d}", page=variant, title=f"Op {op} news")
    cand_names: list[str] = []
    for i in range(candidates):
        clone = i % 10 == 0
        base = net_names[(i * 37) % network]
        label = base.split(".")[0]
        name = f"{label}.{('eu', 'ru', 'cc', 'pw', 'top')[i % 5]}" if clone or i % 3 == 0 else f"cand{i}-site.xyz"
        if name in cand_names or name in net_names:
            name = f"c{i}-{name}"
        cand_names.append(name)
        w.domain(name, watched=False, origin="candidate")
        op = net_names.index(base) % OPERATORS
        if clone:
            page = (minhash_of_text(texts[op] + " " + _text(rng, 20)), sketches[op][1])
            w.site(name, ip=f"10.{op}.9.{i % 250 + 1}", ns=f"ns1.op{op}host.net", registrar=f"Registrar {op % 7}",
                   registered=NOW - timedelta(days=2), ga=f"G-OP{op:04d}", page=page, title=f"Op {op} news")
        else:
            own = _text(rng)
            page = (minhash_of_text(own), tlsh_of_skeleton(theme if i % 4 == 0 else _skeleton(rng, 30)))
            shared_host = i % 2 == 0
            w.site(name, ip=f"10.{op}.{i % 200}.{(i * 3) % 250 + 1}" if shared_host else f"172.16.{i % 250}.{i % 200 + 1}",
                   ns=f"ns1.op{op}host.net" if shared_host else "ns1.bigdns.com", registrar=f"Registrar {i % 11}",
                   registered=NOW - timedelta(days=i % 900), ga=None, page=page, title=f"Shop {i}")
    strangers = 2 * network + 2000
    for i in range(strangers):
        name = f"stranger{i}.example"
        w.domain(name, watched=False, origin="candidate")
        page = (minhash_of_text(_text(rng, 120)), tlsh_of_skeleton(theme if i % 5 == 0 else _skeleton(rng, 30)))
        w.site(name, ip=f"172.{17 + i % 10}.{i % 250}.{i % 199 + 1}", ns=f"ns{i % 4}.bigdns.com",
               registrar=f"Registrar {i % 11}", registered=T0 - timedelta(days=i % 3000), ga=None, page=page,
               title=f"Stranger {i}")
    w.flush()
    return net_names, cand_names


def measure(url: str, network: int, candidates: int) -> dict[str, Any]:
    store = Store.from_url(url)
    try:
        _fresh(store)
        t = time.perf_counter()
        _net_names, cand_names = build(store, network, candidates)
        setup = time.perf_counter() - t
        policy = ScoringPolicy()
        with store.transaction() as session:
            t = time.perf_counter()
            watched = watchlist.watched_names(session)
            net = [profiles.site_profile(session, n, in_network=True) for n in watched]
            t_net = time.perf_counter() - t
            t = time.perf_counter()
            cands = [profiles.site_profile(session, n, in_network=False) for n in cand_names]
            t_cand = time.perf_counter() - t
            t = time.perf_counter()
            stats = profiles.store_stats(session, [*net, *cands])
            t_stats = time.perf_counter() - t
            t = time.perf_counter()
            profiles.store_stats(session, [*net, *cands[:candidates // 4]])
            t_stats_quarter = time.perf_counter() - t
        per: list[float] = []
        clones = 0
        for c in cands:
            t = time.perf_counter()
            verdict = score_candidate(c, net, stats, Discovery("lookalike", "bench", ""), policy, now=NOW)
            per.append(time.perf_counter() - t)
            clones += verdict.is_clone
        t = time.perf_counter()
        blob = pickle.dumps((net, stats.share_counts, stats.page_templates, stats.total_domains))
        t_pickle = time.perf_counter() - t
        return {"network": network, "candidates": candidates, "store_domains": stats.total_domains,
                "setup_s": round(setup, 1), "network_profiles_s": round(t_net, 3),
                "candidate_profiles_s": round(t_cand, 3), "store_stats_s": round(t_stats, 3),
                "store_stats_quarter_s": round(t_stats_quarter, 3),
                "score_total_s": round(sum(per), 3), "score_mean_ms": round(1000 * statistics.mean(per), 2),
                "score_p95_ms": round(1000 * sorted(per)[int(0.95 * (len(per) - 1))], 2), "clones": clones,
                "pickled_inputs_mb": round(len(blob) / 1e6, 2), "pickle_s": round(t_pickle, 3)}
    finally:
        store.close()


def _parts(url: str) -> Any:
    """What scheduler/score_jobs.py uses of Components: the store and the settings."""
    from types import SimpleNamespace

    from hydrawatch.config import from_mapping

    return SimpleNamespace(store=Store.from_url(url), config=from_mapping({"storage": {"url": url}}, source="(bench)"))


def _candidates(cand_names: list[str]) -> list[Any]:
    from detect.model import Candidate

    return [Candidate(n, "lookalike", "bench", "") for n in cand_names]


def _one_job(url: str, parent: int, index: int, size: int, network: list[str], everyone: list[str]
             ) -> tuple[float, float]:
    """A score job in a process of its own: reads its inputs, scores its batch, records it. Its seconds
    (wall, and this process's CPU: what the job takes on a core of its own, the database's work aside)."""
    from scheduler import score_jobs

    parts = _parts(url)
    plan = score_jobs.plan_scoring(_candidates(everyone), network, size)
    t, cpu = time.perf_counter(), time.process_time()
    score_jobs.score_batch(parts, parent=parent, batch=plan.batches[index], network=plan.network,
                           everyone=plan.everyone, now=NOW)
    parts.store.close()
    return time.perf_counter() - t, time.process_time() - cpu


def split(url: str, network: int, candidates: int, jobs: int) -> dict[str, Any]:
    """The real score function (scheduler/score_jobs.py): the embedded process's one batch (inputs read once),
    then, decisions undone, ``jobs`` batches in ``jobs`` processes at once (each reading its inputs, as
    cluster workers do); wall times and whether they decided alike."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from scheduler import score_jobs

    store = Store.from_url(url)
    try:
        _fresh(store)
        net_names, cand_names = build(store, network, candidates)
        with store.transaction() as session:
            for n in cand_names:
                session.execute(text("INSERT INTO candidates (name, source, via, seed, first_seen, last_checked, "
                                     "resolves, decision, evidence, dns_fingerprint) VALUES (:n, 'lookalike', "
                                     "'bench', '', :t, :t, true, '', '[]', '')"), {"n": n, "t": T0})
        decided = "SELECT name, score, decision, evidence FROM candidates ORDER BY name"
        parts = _parts(url)
        plan = score_jobs.plan_scoring(_candidates(cand_names), net_names, candidates)
        t, cpu = time.perf_counter(), time.process_time()
        inputs = score_jobs.read_inputs(parts, plan.network, plan.everyone)
        score_jobs.score_batch(parts, parent=1, batch=plan.batches[0], network=plan.network, everyone=plan.everyone,
                               now=NOW, inputs=inputs)
        one, one_cpu = time.perf_counter() - t, time.process_time() - cpu
        parts.store.close()
        with store.transaction() as session:
            alone = [tuple(r) for r in session.execute(text(decided))]
            session.execute(text("DELETE FROM alert_outbox"))
            session.execute(text("DELETE FROM edges"))
            session.execute(text("UPDATE candidates SET score = NULL, decision = '', evidence = '[]'"))
            session.execute(text("UPDATE domains SET watched = false, origin = 'candidate' WHERE origin = 'discovered'"))
        size = -(-candidates // jobs)
        t = time.perf_counter()
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            each = list(pool.map(_one_job, [url] * jobs, [2] * jobs, range(jobs), [size] * jobs, [net_names] * jobs,
                                 [cand_names] * jobs))
        wall = time.perf_counter() - t
        with store.transaction() as session:
            shared = [tuple(r) for r in session.execute(text(decided))]
        # a worker is running already: its job's time is the job's, not a process's start (spawn_wall_s)
        return {"network": network, "candidates": candidates, "jobs": jobs, "one_batch_s": round(one, 1),
                "one_batch_cpu_s": round(one_cpu, 1), "split_job_s": [round(w, 1) for w, _c in each],
                "split_job_cpu_s": [round(c, 1) for _w, c in each], "speed_up": round(one / max(w for w, _c in each), 2),
                "speed_up_on_free_cores": round(one_cpu / max(c for _w, c in each), 2), "spawn_wall_s": round(wall, 1),
                "same_decisions": alone == shared}
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--candidates", type=int, default=400)
    ap.add_argument("--url", default="", help="a store URL (its tables are dropped); default: a temporary SQLite file")
    ap.add_argument("--split", type=int, default=0, help="instead: the score function as one batch, then as this "
                    "many batches in as many processes at once (use a PostgreSQL --url)")
    args = ap.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.url or f"sqlite:///{tmp}/bench.db"
            result = split(url, size, args.candidates, args.split) if args.split else measure(url, size, args.candidates)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
