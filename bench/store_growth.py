"""Store growth per round, before and after issue 17 item 1, on SQLite and PostgreSQL, in one run:

    .venv/bin/python bench/store_growth.py [--domains 1000] [--rounds 12] [--change 0.01] [--before c893705]

The same workload runs through the storage code of two trees: ``--before`` (a git revision, checked out
with ``git archive`` into a temporary folder; c893705 is main before this change: one observation and
its indicator rows per domain and round, one transaction per domain, a gzip'd body per page) and this
working tree (a repeated DNS answer stamps the latest row, DNS_BATCH domains a transaction, bodies once
per SHA-256). Each tree runs in its own child process with that tree first on ``sys.path``.

Workload: ``--domains`` watched domains, each answering A (2), AAAA, NS (2), MX and an SPF TXT; one
first round, then ``--rounds`` DNS rounds in which a ``--change`` share of the domains gets a new
address; then two crawl rounds of 100 sites that show the same 20 KB page each time (a site's page does
not change between two crawls, many sites show one template). Measured after the first round, per
later round: rows added (all tables) and bytes added per domain-round (SQLite: the database file after
a checkpoint; PostgreSQL: pg_total_relation_size of every table; each
round is followed by a VACUUM of the tables, as autovacuum would, so dead row versions' space is reused); per crawl round: rows
and bytes per site; and the wall time of the DNS rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("HYDRAWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)
SITES = 100
PAGE = (b"<html><head><title>Nachrichten</title></head><body>"
        + b"".join(b"<p>Artikel %d: Lorem ipsum dolor sit amet, consectetur adipiscing.</p>" % i for i in range(280))
        + b"</body></html>")


# --- the child: one tree's storage code, one store -------------------------------------------------

def _answer(name: str, i: int, version: int) -> Any:
    from detect.model import DnsResult, Rcode

    base = (i * 7 + version * 13) % 250 + 1
    return DnsResult(name=name, rcode=Rcode.NOERROR, records={
        "A": (f"198.51.100.{base}", f"203.0.113.{base}"), "AAAA": (f"2001:db8::{base:x}",),
        "NS": ("ns1.hoster.net", "ns2.hoster.net"), "MX": ("10 mx.hoster.net",),
        "TXT": ("v=spf1 include:_spf.hoster.net ~all",)})


def _size(engine: Any) -> int:
    from sqlalchemy import text

    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        return int(pages) * int(size)
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind = 'r'")).scalar_one())


def _vacuum(engine: Any) -> None:
    """PostgreSQL: what autovacuum does between two rounds (dead row versions' space made reusable)."""
    from sqlalchemy import inspect

    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in inspect(conn).get_table_names():
            conn.exec_driver_sql(f'VACUUM "{table}"')


def _rows(engine: Any) -> int:
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        # a partition's rows are counted with its table (PostgreSQL lists partitions as tables too)
        names = [t for t in inspect(conn).get_table_names()
                 if t != "alembic_version" and not re.search(r"_p(\d{6}|default)$", t)]
        return sum(int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()) for t in names)


def child(url: str, domains: int, rounds: int, change: float) -> dict[str, Any]:
    from detect.fingerprints import dns_indicators
    from detect.model import HttpFetch
    from storage import observations, watchlist
    from storage.observations import PageSketch
    from storage.store import Store

    batched = hasattr(observations, "record_dns_batch")
    store = Store.from_url(url)
    store.init()
    names = [f"site{i:06d}.example" for i in range(domains)]
    with store.transaction() as session:
        watchlist.add_domains(session, names, campaign="bench", origin="seed", now=T0)
    versions = [0] * domains
    rng = random.Random(17)

    def dns_round(when: datetime) -> None:
        answers = [(n, _answer(n, i, versions[i])) for i, n in enumerate(names)]
        if batched:
            from scheduler.observe import DNS_BATCH

            for start in range(0, len(answers), DNS_BATCH):
                with store.transaction() as session:
                    observations.record_dns_batch(session, [observations.DnsWrite(n, a, dns_indicators(a))
                                                            for n, a in answers[start:start + DNS_BATCH]], now=when)
        else:
            for n, a in answers:
                with store.transaction() as session:
                    observations.record_dns(session, n, a, dns_indicators(a), now=when)

    dns_round(T0)
    _vacuum(store.engine)
    size0, rows0 = _size(store.engine), _rows(store.engine)
    took: list[float] = []
    for r in range(1, rounds + 1):
        for i in rng.sample(range(domains), int(domains * change)):
            versions[i] += 1
        started = time.perf_counter()
        dns_round(T0 + r * STEP)
        took.append(time.perf_counter() - started)
        _vacuum(store.engine)
    size1, rows1 = _size(store.engine), _rows(store.engine)
    crawl: list[tuple[int, int]] = []
    for c in range(2):
        when = T0 + (rounds + 1 + c) * STEP
        before = _size(store.engine), _rows(store.engine)
        with store.transaction() as session:
            for n in names[:SITES]:
                fetch = HttpFetch(domain=n, url=f"https://{n}/", final_url=f"https://{n}/", status=200,
                                  headers=(("content-type", "text/html"),), body=PAGE)
                observations.record_http(session, fetch, (), PageSketch(title="Nachrichten"), now=when)
        _vacuum(store.engine)
        crawl.append((_size(store.engine) - before[0], _rows(store.engine) - before[1]))
    store.close()
    return {"batched": batched, "dns_bytes_per_domain_round": (size1 - size0) / (domains * rounds),
            "dns_rows_per_round": (rows1 - rows0) / rounds, "dns_round_s": statistics.median(took),
            "crawl_bytes_per_site": [b / SITES for b, _ in crawl], "crawl_rows_per_site": [n / SITES for _, n in crawl]}


# --- the parent: trees, stores, table ---------------------------------------------------------------

def _tree(rev: str, into: Path) -> Path:
    archive = into / "before.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev], stdout=out, check=True)
    folder = into / "before"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _pg_schema_url(admin: Any, schema: str) -> str:
    from sqlalchemy import text

    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


def run_child(tree: Path, url: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(tree), "--url", url,
                          "--domains", str(args.domains), "--rounds", str(args.rounds), "--change", str(args.change)],
                         env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--before", default="c893705")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, args.child)
        import storage

        assert Path(storage.__file__).resolve().is_relative_to(Path(args.child).resolve()), storage.__file__
        print(json.dumps(child(args.url, args.domains, args.rounds, args.change)))
        return

    from sqlalchemy import create_engine, text

    results: dict[tuple[str, str], dict[str, Any]] = {}
    admin = create_engine(PG_URL, pool_pre_ping=True)
    schemas: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": _tree(args.before, Path(tmp)), "after": ROOT}
        try:
            for backend in ("sqlite", "postgresql"):
                for label, tree in trees.items():
                    if backend == "sqlite":
                        url = f"sqlite:///{tmp}/{label}.db"
                    else:
                        schemas.append(schema := f"bench_{uuid.uuid4().hex[:10]}")
                        url = _pg_schema_url(admin, schema)
                    results[(backend, label)] = run_child(tree, url, args)
        finally:
            with admin.begin() as conn:
                for schema in schemas:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(f"{args.domains} domains, {args.rounds} DNS rounds after the first, {args.change:.0%} of the domains "
          f"change answer a round; then 2 crawl rounds of {SITES} sites showing the same {len(PAGE) // 1000} KB page")
    print("| backend | measure | before | after | after/before |")
    print("| --- | --- | ---: | ---: | ---: |")
    for backend in ("sqlite", "postgresql"):
        b, a = results[(backend, "before")], results[(backend, "after")]
        for key, label, fmt in (("dns_rows_per_round", "rows written per DNS round", "{:.0f}"),
                                ("dns_bytes_per_domain_round", "bytes per domain-round (DNS)", "{:.0f}"),
                                ("dns_round_s", "DNS round write time, median (s)", "{:.3f}")):
            ratio = a[key] / b[key] if b[key] else float("nan")
            print(f"| {backend} | {label} | {fmt.format(b[key])} | {fmt.format(a[key])} | {ratio:.3f} |")
        for i, name in enumerate(("first", "second")):
            print(f"| {backend} | bytes per site, {name} crawl | {b['crawl_bytes_per_site'][i]:.0f} | "
                  f"{a['crawl_bytes_per_site'][i]:.0f} | "
                  f"{a['crawl_bytes_per_site'][i] / max(b['crawl_bytes_per_site'][i], 1):.3f} |")
        print(f"| {backend} | rows per site, a crawl | {b['crawl_rows_per_site'][1]:.0f} | "
              f"{a['crawl_rows_per_site'][1]:.0f} | |")


if __name__ == "__main__":
    main()
