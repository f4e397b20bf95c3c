"""Crawl benchmark (issue 16, item 2): a bare Scrapy spider vs hydrawatch's observe step, same sites, one run.

Run by hand from the repository root (not part of the test suite):

    .venv/bin/python bench/crawl.py [--sites 2000] [--repeat 3] [--latency-ms 40] [--stores sqlite,postgresql]
                                    [--profile] [--write bench/RESULTS.md]

The sandbox (this process) serves ``--sites`` generated news-like sites: every site has HTTPS and
HTTP, a quarter redirect HTTP to HTTPS, most have a favicon; home pages are log-normal in size
(median ~30 KB, 2 KB to 800 KB, about a quarter of it visible text) and every answer waits a per-site time to first byte (log-normal
around ``--latency-ms``, 0 = none). Sites share 50 addresses, as on shared hosting. As root the
sandbox runs in "direct" mode (sites on ports 80/443 of loopback addresses, the sandbox DNS answers
them), so no proxy stands between client and site; otherwise both sides go through its proxy.

Contenders, each run in a child process of its own (alternating order per repetition, so load
drifts hit every side alike); peak RSS and CPU seconds are the child's own (``os.wait4``):

- ``scrapy``: a bare Scrapy spider (Scrapy's defaults: redirects, retries, cookies, compression) asked
  for exactly the URLs hydrawatch fetches per site — ``https://d/``, ``http://d/``,
  ``https://d/favicon.ico`` — with the same concurrency as ``[crawler] concurrency`` and names
  resolved by Twisted's own DNS client at the sandbox DNS server (cached, like Scrapy's default
  resolver). Logging at WARNING (Scrapy's default DEBUG line per request is not counted against it).
- ``hydrawatch-<store>``: a fresh store seeded with the N domains (seeding not timed), then the real
  ``scheduler.observe.observe(parts, domains, crawl=True, rdap="never")`` — what the daemon's crawl
  job runs, minus RDAP (no page fetch): DNS probe (every record type), the guarded crawl (same URLs,
  through GuardMiddleware and the pinned resolver), fingerprints, one transaction per site into the
  store, the similarity index, classification.

Imports are not timed on either side: the bare spider's ``process.crawl`` loads its components before its
timer starts, and the hydrawatch child imports what its crawl would import on first use (Scrapy, the spider,
every component its Scrapy settings name) before the call; the daemon pays them once per process.

Pages are counted by the sandbox (every HTTP answer it sent during the child's run, redirects
included), so both sides are seen to fetch the same pages. ``pages/s`` is pages over the wall time of
the measured call (imports, store set-up and interpreter start excluded); ``CPU-s / 1k pages`` is the
child's CPU time over that same call (``time.process_time``, all its threads), with the whole child's
CPU (start-up included) beside it. ``--profile`` adds one cProfile run of hydrawatch on SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("HYDRAWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHARED_IPS = 50
BASELINE = "-base"  # the suffix of the --baseline tree's contenders
SYLLABLES = ("ka", "lo", "mi", "ren", "sto", "vi", "da", "pel", "nor", "ta", "gra", "mun", "se", "li", "bor",
             "tra", "ne", "qua", "fi", "zo", "ber", "han", "po", "ul", "ri", "es", "an", "to", "ma", "gen")
TLDS = ("com", "net", "org", "info", "news", "press", "media", "online", "site", "co")


# -- the world -------------------------------------------------------------------------------------------------
def make_world(n: int, latency_ms: float, seed: int = 16) -> tuple[dict[str, Any], dict[str, float], int]:
    """An inline sandbox world of ``n`` sites; the per-site delays (seconds); the total page bytes."""
    rng = random.Random(seed)
    words = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(6000)})
    paragraphs = [" ".join(rng.choices(words, k=rng.randint(40, 120))).capitalize() + "." for _ in range(4000)]
    names: list[str] = []
    while len(names) < n:
        name = f"{''.join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))}{rng.randint(1, 999)}." \
               f"{rng.choice(TLDS)}"
        if name not in names:
            names.append(name)
    ips = [f"185.{rng.randint(1, 250)}.{rng.randint(1, 250)}.{rng.randint(1, 250)}" for _ in range(SHARED_IPS)]
    domains: dict[str, Any] = {}
    delays: dict[str, float] = {}
    total = 0
    for i, name in enumerate(names):
        size = int(min(800_000, max(2_000, rng.lognormvariate(math.log(30_000), 1.0))))
        body = _page(rng, name, names, paragraphs, size)
        total += len(body)
        web: dict[str, Any] = {"pages": {"/": {"html": body}}, "redirect_to_https": rng.random() < 0.25}
        if rng.random() < 0.8:
            web["favicon_b64"] = _b64(rng.randbytes(rng.randint(300, 5000)))
        domains[name] = {"a": [ips[i % SHARED_IPS]], "ns": ["ns1.bench-dns.net", "ns2.bench-dns.net"], "web": web,
                         "rdap": False, "ct": False}
        delays[name] = (min(2.0, rng.lognormvariate(math.log(latency_ms / 1000), 0.8)) if latency_ms > 0 else 0.0)
    world = {"world": {"name": "crawl-bench", "campaign": "crawl-bench"},
             "phases": {"live": {"clock": "2026-11-01T00:00:00Z"}}, "domains": domains}
    return world, delays, total


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def _page(rng: random.Random, name: str, names: list[str], paragraphs: list[str], size: int) -> str:
    """A news home page: head with styles and scripts, navigation, teaser blocks (picture, headline, lede,
    byline: about a quarter of the bytes is visible text, as on real news front pages), links out."""
    label = name.split(".")[0]
    links = "".join(f'<li><a href="https://{rng.choice(names)}/">{rng.choice(names)}</a></li>' for _ in range(8))
    nav = "".join(f'<li class="nav-item"><a class="nav-link" href="/section/{k}">{k.title()}</a></li>'
                  for k in ("politics", "world", "economy", "culture", "sport", "opinion", "science"))
    config = json.dumps({"site": label, "ads": {"slots": [f"slot-{i}" for i in range(12)]},
                         "analytics": {"id": f"UA-{rng.randint(10**6, 10**7)}-1"}})
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{label.title()} - news</title>'
            f'<meta name="description" content="{rng.choice(paragraphs)[:150]}">'
            f'<meta property="og:title" content="{label.title()}"><link rel="stylesheet" href="/static/site.css">'
            f"<style>.teaser{{display:flex;margin:0 0 1rem}}.teaser img{{width:30%}}.meta{{color:#666}}</style>"
            f"<script>window.__CONFIG__ = {config};</script><script src=\"/static/app.js\" defer></script>"
            f'</head><body class="home"><header class="site-header"><div class="container"><h1 class="logo">'
            f'<a href="/">{label.title()}</a></h1><nav><ul class="nav">{nav}</ul></nav></div></header>'
            f'<main class="container"><div class="row">')
    tail = (f'</div></main><aside class="sidebar"><h3>Elsewhere</h3><ul>{links}</ul></aside>'
            f'<footer class="site-footer"><p>&copy; {label} 2026</p></footer></body></html>')
    parts = [head]
    used = len(head) + len(tail)
    n = 0
    while used < size:
        n += 1
        words = rng.choice(paragraphs).split()
        lede = " ".join(words[: rng.randint(20, 45)])
        slug = "-".join(words[:6]).lower().strip(".")
        block = (f'<div class="col-md-6 col-lg-4"><article class="teaser teaser--{n % 3}" data-id="{rng.randint(1, 10**6)}">'
                 f'<a class="teaser__media" href="/2026/11/{slug}"><img src="/img/{n}.jpg" alt="" loading="lazy" '
                 f'width="320" height="180"></a><div class="teaser__body"><h2 class="teaser__title">'
                 f'<a href="/2026/11/{slug}">{" ".join(words[6:14]).capitalize()}</a></h2>'
                 f'<p class="teaser__lede">{lede}.</p><span class="meta"><time datetime="2026-11-0{n % 9 + 1}">'
                 f'{n % 9 + 1} Nov 2026</time> &middot; <a href="/author/{words[-1].lower().strip(".")}">'
                 f"{words[-1].title().strip('.')}</a></span></div></article></div>")
        parts.append(block)
        used += len(block)
    parts.append(tail)
    return "".join(parts)


class Served:
    """Wraps the sandbox's web fronts: a per-site time to first byte, and a count of answers."""

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays
        self.lock = threading.Lock()
        self.count = 0

    def install(self, sandbox: Any) -> None:
        from sandbox.web import WebFront

        fronts = [p for p in sandbox._parts if isinstance(p, WebFront)]  # bench only: no public hook for this
        for front in fronts:
            front.respond = self._wrap(front.respond)

    def _wrap(self, respond: Any) -> Any:
        def delayed(conn: Any, request: Any, domain: Any) -> None:
            with self.lock:
                self.count += 1
            if domain is not None and self.delays.get(domain.name):
                time.sleep(self.delays[domain.name])
            respond(conn, request, domain)

        return delayed

    def take(self) -> int:
        with self.lock:
            count, self.count = self.count, 0
        return count


# -- the children ----------------------------------------------------------------------------------------------
def child_scrapy(spec: dict[str, Any]) -> dict[str, Any]:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    domains: list[str] = spec["domains"]
    seen = {"responses": 0, "bytes": 0, "errors": 0}

    class BareSpider(scrapy.Spider):
        name = "bare"

        async def start(self) -> Any:
            for d in domains:
                for url in (f"https://{d}/", f"http://{d}/", f"https://{d}/favicon.ico"):
                    meta = {"proxy": spec["proxy"]} if spec["proxy"] else {}
                    yield scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True, meta=meta)

        def parse(self, response: Any) -> None:
            seen["responses"] += 1
            seen["bytes"] += len(response.body)

        def failed(self, failure: Any) -> None:
            seen["errors"] += 1

    process = CrawlerProcess({
        "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": spec["concurrency"], "CONCURRENT_REQUESTS_PER_DOMAIN": spec["concurrency"],
        "HTTPERROR_ALLOW_ALL": True,
        "TWISTED_DNS_RESOLVER": "__main__.SandboxResolver", "BENCH_DNS": spec["dns"],
    }, install_root_handler=False)
    process.crawl(BareSpider)
    cpu, wall = time.process_time(), time.monotonic()
    process.start()
    return {"wall": time.monotonic() - wall, "cpu": time.process_time() - cpu, **seen}


def _sandbox_resolver() -> type:
    """Twisted's own DNS client at the sandbox DNS server, cached per name: what a bare Scrapy user would
    plug into TWISTED_DNS_RESOLVER to use a given server (Scrapy's default asks the system resolver)."""
    from twisted.internet import defer
    from twisted.internet.interfaces import IResolverSimple
    from twisted.names import client, dns
    from zope.interface import implementer

    @implementer(IResolverSimple)
    class SandboxResolver:
        def __init__(self, reactor: Any, server: str) -> None:
            host, port = server.rsplit(":", 1)
            self.reactor = reactor
            self.names = client.Resolver(servers=[(host, int(port))], reactor=reactor)
            self.cache: dict[str, str] = {}

        @classmethod
        def from_crawler(cls, crawler: Any, reactor: Any) -> Any:
            return cls(reactor, crawler.settings["BENCH_DNS"])

        def install_on_reactor(self) -> None:
            self.reactor.installResolver(self)

        def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Any:
            if name in self.cache:
                return defer.succeed(self.cache[name])

            def first(result: Any) -> str:
                for rr in result[0]:
                    if rr.type == dns.A:
                        self.cache[name] = rr.payload.dottedQuad()
                        return self.cache[name]
                raise OSError(f"no A record for {name}")

            return self.names.lookupAddress(name, timeout or (3, 6)).addCallback(first)

    return SandboxResolver


class StageClock:
    """A progress sink that times observe's stages (wall and CPU of the crawl's process). Stages may overlap
    (the DNS probe runs beside the crawl): each is timed from its start to its end, the CPU being the
    whole process's over that span; the time before the first stage and after the last one is shown too."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []

    def mark(self, what: str) -> None:
        self.marks.append((what, time.monotonic(), time.process_time()))

    def start(self, stage: str, total: int | None) -> object:
        self.mark(f"start {stage}")
        return stage

    def advance(self, handle: object, steps: int = 1) -> None:
        pass

    def finish(self, handle: object) -> None:
        self.mark(f"end {handle}")

    def spans(self) -> list[tuple[str, float, float]]:
        """(what, wall s, CPU s) of each stage (start to end; overlapping ones overlap), in order of start,
        with the spans before the first stage and after the last."""
        if len(self.marks) < 2:
            return []
        starts = {m[0][6:]: m for m in self.marks if m[0].startswith("start ")}
        ends = {m[0][4:]: m for m in self.marks if m[0].startswith("end ")}
        inner = [m for m in self.marks[1:-1]]
        out = []
        if inner:
            first, last = inner[0], inner[-1]
            out.append((f"before {first[0]}", first[1] - self.marks[0][1], first[2] - self.marks[0][2]))
        for name, (_, w0, c0) in starts.items():
            if name in ends and name != "observe":
                _, w1, c1 = ends[name]
                out.append((name + (" (overlaps the next)" if any(
                    w0 < ws < w1 for n, (_, ws, _c) in starts.items() if n not in (name, "observe")) else ""),
                    w1 - w0, c1 - c0))
        if inner:
            out.append((f"after {last[0]}", self.marks[-1][1] - last[1], self.marks[-1][2] - last[2]))
        return out


def child_hydrawatch(spec: dict[str, Any]) -> dict[str, Any]:
    import cProfile

    from crawler import run as reactor_run
    from crawler.pagework import WorkerCpu
    from hydrawatch import logs
    from hydrawatch.bundled import load_signatures
    from hydrawatch.config import load
    from hydrawatch.wiring import utcnow
    from scheduler.components import Components
    from scheduler.observe import observe
    from storage import watchlist
    from storage.store import Store

    cfg = load(spec["config"])
    logs.setup("text", "ERROR")
    store = Store.from_url(cfg.storage.url)
    store.init()
    domains: list[str] = spec["domains"]
    with store.transaction() as session:
        watchlist.add_domains(session, domains, campaign="crawl-bench", origin="seed", now=utcnow())
    clock = StageClock()
    parts = Components.from_settings(cfg, store, load_signatures(), progress=clock)
    warm_imports(cfg)
    profile = cProfile.Profile() if spec.get("profile") else None
    out: dict[str, Any] = {}

    async def main() -> None:
        now = utcnow()
        clock.mark("start observe")
        cpu, wall = time.process_time(), time.monotonic()
        if profile is not None:
            profile.enable()
        workers_cpu = WorkerCpu.seconds
        report = await observe(parts, domains, now=now, cycle_id=None, crawl=True, rdap="never")
        if profile is not None:
            profile.disable()
        clock.mark("end observe")
        # the page workers' CPU is counted with the call's (they are the fork server's children, so
        # wait4 of this child does not see them)
        workers_cpu = WorkerCpu.seconds - workers_cpu
        out.update(stages=clock.spans(), wall=time.monotonic() - wall,
                   cpu=time.process_time() - cpu + workers_cpu, workers_cpu=workers_cpu, probed=report.probed,
                   crawled=report.crawled, changes=len(report.changes))
        await parts.close()

    reactor_run.run(main)
    reactor_run.shutdown()
    out["results_digest"] = results_digest(store, domains)
    store.close()
    if profile is not None:
        profile.dump_stats(spec["profile"])
    return out


def results_digest(store: Any, domains: list[str]) -> str:
    """A digest of what the round found, the same for every contender that found the same: per domain its
    status and reason, its DNS answer (rcode, error, each type's records sorted), each fetch of its crawl
    (URL, status, final URL, error kind, address, body SHA-256) and every indicator of its latest
    observations (the fingerprints). Not timed."""
    import hashlib

    from storage import observations, watchlist

    parts: list[Any] = []
    with store.transaction() as session:
        for name in sorted(domains):
            info = watchlist.get_domain(session, name)
            dns = observations.latest_dns(session, name)
            fetches = observations.latest_http(session, name, with_body=True)
            parts.append([
                name, [info.status.value, info.status_reason] if info else None,
                [dns.rcode.value, dns.error, sorted((t, sorted(v)) for t, v in dns.records.items())] if dns else None,
                sorted([f.url, f.status, f.final_url, f.error_kind.value if f.error_kind else None, f.ip,
                        hashlib.sha256(f.body).hexdigest() if f.body else None] for f in fetches),
                sorted([i.kind, i.value] for i in observations.latest_indicators(session, name))])
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def warm_imports(cfg: Any) -> None:
    """Import what the crawl imports on first use (Scrapy, the spider, every component its settings name),
    before the timed call: imports are not timed on either side (the bare spider's ``process.crawl`` loads
    its components before its timer starts), and the daemon pays them once per process, not per crawl."""
    import scrapy.crawler  # noqa: F401
    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object

    import crawler.spiders.site  # noqa: F401
    from crawler.fetch import scrapy_settings

    settings = Settings(scrapy_settings(cfg.crawler, cfg.dns))
    paths = [settings[key] for key in ("SCHEDULER", "STATS_CLASS", "DUPEFILTER_CLASS", "DOWNLOADER",
                                       "SCHEDULER_PRIORITY_QUEUE", "SCHEDULER_MEMORY_QUEUE", "LOG_FORMATTER")]
    for key in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "DOWNLOAD_HANDLERS", "ITEM_PIPELINES"):
        # switched-off ones too: Scrapy imports every key to match the settings' entries with the base's
        paths += [path for path in settings.getwithbase(key) if isinstance(path, str)]
    for path in paths:
        with contextlib.suppress(Exception):  # an optional component whose import fails: Scrapy skips it too
            load_object(path)


# -- the parent ------------------------------------------------------------------------------------------------
def run_child(kind: str, spec: dict[str, Any], tmp: Path, tree: Path = ROOT) -> dict[str, Any]:
    """Run one child to its end; its result line plus its own CPU time and peak RSS (``os.wait4``).
    ``tree``: the source tree whose ``bench/crawl.py`` (and hydrawatch) the child runs (``--baseline``)."""
    stem = tmp / f"{kind}-{uuid.uuid4().hex[:8]}"
    spec_file, out_file, err_file = (stem.with_suffix(s) for s in (".json", ".out", ".err"))
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    with out_file.open("wb") as out, err_file.open("wb") as err:
        proc = subprocess.Popen([sys.executable, str(tree / "bench" / "crawl.py"), kind, str(spec_file)], cwd=tree,
                                stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = out_file.read_text(encoding="utf-8").strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{kind} failed ({proc.returncode}): {err_file.read_text(encoding='utf-8')[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["child_cpu"] = usage.ru_utime + usage.ru_stime
    result["maxrss_kib"] = usage.ru_maxrss
    return result


def pg_schema() -> tuple[str, str]:
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    schema = f"crawlbench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


def drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def hydrawatch_config(tmp: Path, overrides: dict[str, Any], url: str, page_workers: int = 1) -> Path:
    from hydrawatch.config import to_toml

    data = {k: dict(v) for k, v in overrides.items()}
    data["crawler"] = {**data.get("crawler", {}), "page_workers": page_workers}
    data["storage"] = {"url": url}
    data["log"] = {"level": "ERROR"}
    path = tmp / f"hw-{uuid.uuid4().hex[:8]}.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def machine() -> str:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import scrapy

    load = os.getloadavg()
    return (f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"Scrapy {scrapy.__version__}; load average at start {load[0]:.1f}")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from hydrawatch.config import from_mapping
    from sandbox.net import Sandbox

    world, delays, page_bytes = make_world(args.sites, args.latency_ms)
    mode = "direct" if os.geteuid() == 0 and not args.proxy else "proxy"
    served = Served(delays)
    results: dict[str, list[dict[str, Any]]] = {}
    workers = args.page_workers
    contenders = ["scrapy"] + [f"hydrawatch-{s}" + (f"-w{w}" if len(workers) > 1 else "") + side
                               for s in args.stores for w in workers
                               for side in ([""] + ([BASELINE] if args.baseline else []))]
    started = time.monotonic()
    with Sandbox.start(world, "live", mode=mode) as sb, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for state in sb.view.domains.values():  # every site's certificate made once, before any timing
            if state.site is not None and state.site.tls is not None:
                sb.ca.context_for(state.site.tls)
        served.install(sb)
        overrides = sb.config_overrides()
        concurrency = from_mapping({}, source="(bench)").crawler.concurrency
        domains = sorted(sb.view.domains)
        base = {"domains": domains, "dns": f"127.0.0.1:{sb.ports['dns']}", "concurrency": concurrency,
                "proxy": overrides["crawler"]["proxy"], "page_workers": args.page_workers[0]}
        print(f"{len(domains)} sites, {page_bytes / 1e6:.0f} MB of home pages, sandbox in {mode} mode, "
              f"latency median {args.latency_ms} ms; {args.repeat} repetitions of {', '.join(contenders)}",
              flush=True)
        for rep in range(args.repeat):
            order = contenders[rep % len(contenders):] + contenders[:rep % len(contenders)]
            for name in order:
                results.setdefault(name, []).append(one_run(name, base, overrides, tmp, served, rep,
                                                            args.baseline))
        profile_text = ""
        if args.profile:
            url = f"sqlite:///{tmp / 'profile.db'}"
            prof = tmp / "observe.prof"
            spec = {**base, "config": str(hydrawatch_config(tmp, overrides, url, args.page_workers[-1])),
                    "profile": str(prof)}
            served.take()
            run_child("child-hydrawatch", spec, tmp)
            served.take()
            profile_text = summarise_profile(prof)
            kept = Path(tempfile.gettempdir()) / "crawl-observe.prof"
            kept.write_bytes(prof.read_bytes())
            print(profile_text, f"\n(raw profile kept in {kept})", flush=True)
    return {"results": results, "contenders": contenders, "mode": mode, "sites": len(domains),
            "page_bytes": page_bytes, "profile": profile_text, "seconds": time.monotonic() - started}


def one_run(name: str, base: dict[str, Any], overrides: dict[str, Any], tmp: Path, served: Served,
            rep: int, baseline: Path | None = None) -> dict[str, Any]:
    served.take()
    server_cpu = time.process_time()
    schema = ""
    if name == "scrapy":
        result = run_child("child-scrapy", base, tmp)
    else:
        tree = baseline if name.endswith(BASELINE) and baseline is not None else ROOT
        name_ = name.removesuffix(BASELINE)
        store = name_.split("-")[1]
        page_workers = int(name_.split("-w")[1]) if "-w" in name_ else base["page_workers"]
        if store == "sqlite":
            url = f"sqlite:///{tmp / f'store-{uuid.uuid4().hex[:8]}.db'}"
        else:
            schema, url = pg_schema()
        try:
            config = hydrawatch_config(tmp, overrides, url, page_workers)
            result = run_child("child-hydrawatch", {**base, "config": str(config)}, tmp, tree)
            result["child_cpu"] += result.get("workers_cpu", 0.0)
        finally:
            if schema:
                drop_schema(schema)
    result["pages"] = served.take()
    result["server_cpu"] = time.process_time() - server_cpu
    result["pages_per_s"] = result["pages"] / result["wall"]
    result["cpu_per_1k"] = result["cpu"] / result["pages"] * 1000
    print(f"rep {rep + 1} {name:22s} {result['pages']:6d} pages in {result['wall']:6.1f} s = "
          f"{result['pages_per_s']:7.1f} pages/s, CPU {result['cpu']:6.1f} s in the call "
          f"({result.get('child_cpu', 0):.1f} s whole child), peak RSS {result.get('maxrss_kib', 0) / 1024:.0f} MiB, "
          f"server CPU {result['server_cpu']:.1f} s"
          + (f", results {result['results_digest']}" if result.get("results_digest") else ""), flush=True)
    for what, wall, cpu in result.get("stages", []):
        print(f"      {what:55s} {wall:6.1f} s wall {cpu:6.1f} s CPU", flush=True)
    return result


def summarise_profile(path: Path, top: int = 25) -> str:
    """cProfile of the observe call: own time by package area, then the functions with most own time."""
    import pstats

    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    areas: dict[str, float] = {}
    for (file, _line, _func), (_cc, _nc, tt, _ct, _callers) in raw.items():
        areas[_area(file)] = areas.get(_area(file), 0.0) + tt
    lines = [f"cProfile of one observe call (SQLite): {total:.1f} s of own time (profiling inflates it)", "",
             "| where (own time) | seconds | share |", "|---|---:|---:|"]
    lines += [f"| {a} | {t:.1f} | {t / total:.0%} |" for a, t in sorted(areas.items(), key=lambda x: -x[1])[:14]]
    lines += ["", "| function (file:line) | own s | cumulative s | calls |", "|---|---:|---:|---:|"]
    for (file, line, func), (_cc, nc, tt, ct, _callers) in sorted(raw.items(), key=lambda x: -x[1][2])[:top]:
        lines.append(f"| `{func}` ({_short(file)}:{line}) | {tt:.2f} | {ct:.2f} | {nc} |")
    return "\n".join(lines)


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def _area(file: str) -> str:
    short = _short(file)
    if short.startswith(("~", "<")):
        return "builtins / C calls"
    if "site-packages/" in file:
        return short.split("/", 1)[0]
    if str(ROOT) in file:
        return short.split("/", 1)[0] + "/ (hydrawatch)"
    return "python stdlib"


def median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results if key in r)


def markdown(data: dict[str, Any], argv: list[str], machine_line: str) -> str:
    res = data["results"]
    bare = median(res["scrapy"], "pages_per_s")
    out = ["", "## Crawl: bare Scrapy vs hydrawatch's observe step (`bench/crawl.py`, issue 16 item 2)", "",
           f"Command: `.venv/bin/python bench/crawl.py {' '.join(argv)}`", "",
           (f"Machine: {machine_line}. Shared with other agents' test runs and benchmarks the whole time: "
           "absolute figures move between runs, ratios of the same run much less."), "",
           (f"{data['sites']} sites ({data['page_bytes'] / 1e6:.0f} MB of home pages), sandbox in {data['mode']} mode; "
           f"{len(res['scrapy'])} alternating repetitions, medians; {data['seconds'] / 60:.0f} minutes in all."), "",
           ("| contender | pages | pages/s | × bare Scrapy | CPU-s / 1k pages (call, page workers included) "
            "| of it, page workers | CPU-s whole child | peak RSS (main process) |"),
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in data["contenders"]:
        runs = res[name]
        pps = median(runs, "pages_per_s")
        each = ", ".join(f"{r['pages_per_s']:.0f}" for r in runs)
        out.append(f"| {name} | {int(median(runs, 'pages'))} | {pps:.0f} ({each}) "
                   f"| {pps / bare:.2f}× | {median(runs, 'cpu_per_1k'):.2f} "
                   f"| {median(runs, 'workers_cpu') / median(runs, 'pages') * 1000 if name != 'scrapy' else 0:.2f} "
                   f"| {median(runs, 'child_cpu'):.1f} | "
                   f"{median(runs, 'maxrss_kib') / 1024:.0f} MiB |")
    out.append("")
    for name in data["contenders"][1:]:
        staged = [r["stages"] for r in res[name] if r.get("stages")]
        if not staged:
            continue
        out += [(f"Where {name}'s observe call goes (unprofiled runs, medians; the gap after the crawl is the "
                "fingerprints and per-site store writes):"), "", "| step | wall s | CPU s |", "|---|---:|---:|"]
        for i, (what, _w, _c) in enumerate(staged[0]):
            walls = [s[i][1] for s in staged if len(s) > i]
            cpus = [s[i][2] for s in staged if len(s) > i]
            out.append(f"| {what} | {statistics.median(walls):.1f} | {statistics.median(cpus):.1f} |")
        out.append("")
    out += [f"Bare Scrapy's call: {median(res['scrapy'], 'cpu'):.1f} CPU-s, {median(res['scrapy'], 'wall'):.1f} s wall.", ""]
    if data["profile"]:
        out += [data["profile"], ""]
    return "\n".join(out)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] in ("child-scrapy", "child-hydrawatch"):
        spec = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
        result = child_scrapy(spec) if sys.argv[1] == "child-scrapy" else child_hydrawatch(spec)
        print(json.dumps(result), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=40.0, help="median time to first byte; 0 = none")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--page-workers", default="1",
                        help="[crawler] page_workers of hydrawatch; several (0,1) run side by side")
    parser.add_argument("--proxy", action="store_true", help="through the sandbox proxy even as root")
    parser.add_argument("--profile", action="store_true", help="one extra cProfile run of hydrawatch on SQLite")
    parser.add_argument("--write", type=Path)
    parser.add_argument("--baseline", type=Path,
                        help="another source tree (e.g. a clean checkout of main): its hydrawatch runs as "
                             "'<contender>-base' beside this tree's, alternating, same sandbox and Scrapy")
    args = parser.parse_args()
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    try:
        args.page_workers = [int(w) for w in args.page_workers.split(",") if w.strip()]
    except ValueError:
        parser.error("--page-workers: whole numbers, e.g. 0,1")
    for store in args.stores:
        if store not in ("sqlite", "postgresql"):
            parser.error(f"--stores: unknown store {store!r} (known: sqlite, postgresql)")
    if args.sites < 1 or args.repeat < 1:
        parser.error("--sites and --repeat must be at least 1")
    machine_line = machine()
    data = bench(args)
    text = markdown(data, sys.argv[1:], machine_line)
    print(text)
    if args.write:
        with args.write.open("a", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child-scrapy":
        SandboxResolver = _sandbox_resolver()
    raise SystemExit(main())
