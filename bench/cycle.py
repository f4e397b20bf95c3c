"""Daemon speed and memory on the sandbox internet (issue 6). Run by hand, not in the tests:

    .venv/bin/python bench/cycle.py once [--repeat 3]
    .venv/bin/python bench/cycle.py rss [--cycles 500] [--every 10] [--flip 25] [--tracemalloc]
    .venv/bin/python bench/cycle.py all [--write bench/RESULTS.md]

``once``: wall time of the real `hydrawatch run --once` (a subprocess, interpreter start included) on the
demo world doppelganger-2024: a fresh store watching the 25 seeds, one cycle on phase "before" (timed
too), then the timed cycle on phase "seizure" (the takedown, the hunt over every TLD, scoring, the alert
mails). Median over ``--repeat`` fresh stores. Target: ≤ 60 s.

``rss``: resident memory of one long-lived process running ``--cycles`` short cycles (the daemon's own
jobs from scheduler.cycle in its proportions — probe + alerts every cycle, crawl every 5th, discovery
every 25th; ``--mode cycle``: a full run_cycle each time — on one Components, one event loop) against
the sandbox, with a
small watchlist (3 seeds) and discovery over 12 TLDs so that a cycle takes well under a second. The
sandbox flips between "before" and "seizure" every ``--flip`` cycles, so takedowns, hunts, new edges and
alert mails keep happening. The sandbox runs in the parent process; the cycles run in a child whose
VmRSS (/proc/self/status) is sampled every ``--every`` cycles, with CPython's live small-object blocks
(``sys.getallocatedblocks()``) and their peak since the previous sample (a task samples them every 5 ms):
transient peaks are what grows pymalloc's arenas for good. Target: growth ≤ 10 % between the 50th and the
last cycle.

``--tracemalloc`` (rss, diagnosis only: tracing slows the cycles and inflates VmRSS): the child traces
Python allocations from the 50th cycle on and prints to stderr, after the last cycle and a full
collection, the ``TRACE_TOP`` sites whose live memory grew most in between, with their tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL_SEEDS = ("rrn.media", "artichoc.io", "lavirgule.news")
SMALL_TLDS = ["com", "net", "org", "info", "cc", "so", "pw", "to", "press", "io", "media", "news"]
TRACE_FROM = 50
TRACE_TOP = 25
TRACE_FRAMES = 6


def write_config(path: Path, overrides: dict[str, Any], url: str, **sections: dict[str, Any]) -> Path:
    data = {k: dict(v) for k, v in overrides.items()}
    data["storage"] = {"url": url}
    data["log"] = {"level": "WARNING"}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    from hydrawatch.config import to_toml

    path.write_text(to_toml(data), encoding="utf-8")
    return path


def prepare_store(url: str, seeds: tuple[str, ...], campaign: str) -> None:
    from storage import watchlist
    from storage.store import Store

    store = Store.from_url(url)
    try:
        store.init()
        with store.transaction() as session:
            watchlist.add_domains(session, seeds, campaign=campaign, origin="seed", now=datetime.now(UTC))
    finally:
        store.close()


def run_once(config: Path) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), "run", "--once",
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=900, check=False)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"run --once failed ({done.returncode}): {done.stderr[-2000:]}")
    return took, json.loads(done.stdout)


def bench_once(repeat: int) -> dict[str, Any]:
    from sandbox.net import Sandbox

    before, seizure, edges = [], [], []
    with Sandbox.start("doppelganger-2024", "before") as sb, tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            sb.reset("before")
            url = f"sqlite:///{Path(tmp) / f'once{i}.db'}"
            prepare_store(url, sb.seeds, sb.campaign)
            config = write_config(Path(tmp) / f"once{i}.toml", sb.config_overrides(), url)
            took, _ = run_once(config)
            before.append(took)
            sb.set_phase("seizure")
            took, stats = run_once(config)
            seizure.append(took)
            edges.append(stats["new_edges"])
            print(f"run {i + 1}: before {before[-1]:.1f} s, seizure {took:.1f} s, {stats['new_edges']} new edges, "
                  f"{stats['alerts_sent']} mails, {stats['candidates_generated']} candidates", flush=True)
    return {"before": before, "seizure": seizure, "edges": edges,
            "median_before": statistics.median(before), "median_seizure": statistics.median(seizure)}


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class Growth:
    """Python allocations made after the TRACE_FROM-th cycle and still alive at the last (``--tracemalloc``):
    what a leak looks like from inside, as opposed to the allocator's own growth that only VmRSS shows.
    Tracing starts at TRACE_FROM (it slows a cycle some twenty times), so the warm-up runs at full speed."""

    def __init__(self) -> None:
        self.first: tracemalloc.Snapshot | None = None

    @staticmethod
    def _snapshot() -> tracemalloc.Snapshot:
        gc.collect()
        return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])

    def mark(self, cycle: int) -> None:
        if cycle == TRACE_FROM:
            tracemalloc.start(TRACE_FRAMES)
            self.first = self._snapshot()

    def report(self, cycle: int) -> None:
        if self.first is None:
            print(f"tracemalloc: cycle {TRACE_FROM} was never reached", file=sys.stderr)
            return
        diff = self._snapshot().compare_to(self.first, "traceback")
        grown = sum(d.size_diff for d in diff)
        print(f"tracemalloc: Python heap {grown / 1024:+.0f} KiB between cycle {TRACE_FROM} and {cycle}; "
              f"top {TRACE_TOP} growers:", file=sys.stderr)
        for d in sorted(diff, key=lambda d: d.size_diff, reverse=True)[:TRACE_TOP]:
            print(f"\n{d.size_diff / 1024:+9.1f} KiB {d.count_diff:+7d} blocks", file=sys.stderr)
            print("\n".join("    " + line for line in d.traceback.format(most_recent_first=True)), file=sys.stderr)


def rss_child(config: Path, cycles: int, every: int, flip: int, mode: str, trace: bool) -> None:
    """The measured process: ``cycles`` short cycles on one Components and one loop."""
    from crawler import run as reactor_run
    from hydrawatch import logs
    from hydrawatch.bundled import load_signatures
    from hydrawatch.config import load
    from hydrawatch.wiring import utcnow
    from scheduler import cycle
    from scheduler.components import Components
    from storage.store import Store

    cfg = load(config)
    logs.setup("text", "ERROR")
    store = Store.from_url(cfg.storage.url)
    parts = Components.from_settings(cfg, store, load_signatures())
    growth = Growth() if trace else None

    def ask_phase(name: str) -> None:
        print(f"PHASE {name}", flush=True)
        if sys.stdin.readline().strip() != "ok":
            raise SystemExit("parent did not switch the phase")

    peak = {"blocks": 0}

    async def sample_blocks() -> None:  # the transient peaks that make pymalloc grow its arenas
        while True:
            peak["blocks"] = max(peak["blocks"], sys.getallocatedblocks())
            await asyncio.sleep(0.005)

    async def main() -> None:
        phase = "before"
        started = time.monotonic()
        sampler = asyncio.ensure_future(sample_blocks())
        for n in range(1, cycles + 1):
            if n > 1 and (n - 1) % flip == 0:
                phase = "seizure" if phase == "before" else "before"
                ask_phase(phase)
            if mode == "cycle":
                report = await cycle.run_cycle(parts, now=utcnow())
            else:  # the daemon's jobs in its proportions: probe + alerts, crawl every 5th, discovery every 25th
                report = await cycle.probe_job(parts, now=utcnow())
                if n % 5 == 0:
                    report = await cycle.crawl_job(parts, now=utcnow())
                if n % 25 == 0:
                    report = await cycle.discovery_job(parts, now=utcnow())
                report.delivery = await cycle.alert_job(parts, now=utcnow())
            if n % every == 0 or n == 1:
                print(json.dumps({"cycle": n, "rss_kib": rss_kib(), "seconds": round(time.monotonic() - started, 1),
                                  "phase": phase, "last_cycle_s": round(report.seconds, 3),
                                  "sent": report.delivery.sent, "blocks": sys.getallocatedblocks(),
                                  "peak_blocks": peak["blocks"]}), flush=True)
                peak["blocks"] = 0
            if growth is not None:
                growth.mark(n)
        if growth is not None:
            growth.report(cycles)
        sampler.cancel()
        await parts.close()

    reactor_run.run(main)
    reactor_run.shutdown()
    store.close()


def bench_rss(cycles: int, every: int, flip: int, mode: str, trace: bool) -> dict[str, Any]:
    from sandbox.net import Sandbox

    samples: list[dict[str, Any]] = []
    with Sandbox.start("doppelganger-2024", "before") as sb, tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rss.db'}"
        prepare_store(url, SMALL_SEEDS, sb.campaign)
        config = write_config(Path(tmp) / "rss.toml", sb.config_overrides(), url,
                              discovery={"tlds": SMALL_TLDS}, alerts={"retry_backoff": 1.0})
        child = subprocess.Popen([sys.executable, __file__, "rss-child", str(config), "--cycles", str(cycles),
                                  "--every", str(every), "--flip", str(flip), "--mode", mode]
                                 + (["--tracemalloc"] if trace else []), cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert child.stdin is not None and child.stdout is not None
        for line in child.stdout:
            if line.startswith("PHASE "):
                sb.set_phase(line.split()[1])
                child.stdin.write("ok\n")
                child.stdin.flush()
                continue
            sample = json.loads(line)
            samples.append(sample)
            print(f"cycle {sample['cycle']:4d}  RSS {sample['rss_kib'] / 1024:7.1f} MiB  "
                  f"{sample['seconds']:7.1f} s  ({sample['phase']}, last cycle {sample['last_cycle_s']} s)  "
                  f"blocks {sample['blocks'] / 1e3:.0f} k, peak {sample['peak_blocks'] / 1e3:.0f} k", flush=True)
        if child.wait() != 0:
            raise SystemExit(f"the measured process failed ({child.returncode})")
        mails = len(sb.messages)
    by = {s["cycle"]: s["rss_kib"] for s in samples}
    at50, last = by.get(50, samples[0]["rss_kib"]), samples[-1]["rss_kib"]
    return {"samples": samples, "rss50": at50, "rss_last": last, "growth": (last - at50) / at50,
            "cycles": samples[-1]["cycle"], "seconds": samples[-1]["seconds"], "mails": mails}


def markdown(once: dict[str, Any] | None, rss: dict[str, Any] | None, argv: list[str]) -> str:
    out = ["", "## Daemon: `run --once` wall time and resident memory over many cycles (`bench/cycle.py`)", "",
           (f"Command: `.venv/bin/python bench/cycle.py {' '.join(argv)}` — python {platform.python_version()}, "
            f"{os.cpu_count()} cores, {platform.machine()}; sandbox in proxy mode on loopback."), ""]
    if once is not None:
        out += [(f"**`hydrawatch run --once` on doppelganger-2024** (fresh SQLite store, 25 seeds, discovery over "
                 f"every TLD; wall time of the subprocess, interpreter start included; {len(once['seizure'])} runs):"), "",
                "| cycle | median | runs |", "|---|---:|---|",
                (f"| phase before (first look) | {once['median_before']:.1f} s | "
                 f"{', '.join(f'{x:.1f}' for x in once['before'])} |"),
                (f"| phase seizure (takedown, hunt, scoring, {once['edges'][0]} edges, mails) | "
                 f"**{once['median_seizure']:.1f} s** | {', '.join(f'{x:.1f}' for x in once['seizure'])} |"), "",
                f"Target ≤ 60 s: {'met' if once['median_seizure'] <= 60 else 'NOT met'}.", ""]
    if rss is not None:
        pick = [s for s in rss["samples"] if s["cycle"] in (1, 50, 100, 200, 300, 400, 500) or s is rss["samples"][-1]]
        what = ("`scheduler.cycle.run_cycle`" if rss.get("mode") == "cycle" else
                "the daemon's jobs from `scheduler.cycle`: `probe_job` + `alert_job` each cycle, `crawl_job` every "
                "5th, `discovery_job` every 25th")
        out += [(f"**Resident memory over {rss['cycles']} short cycles** (one process, {what} "
                 f"on one Components and one event loop; 3 seeds, discovery over {len(SMALL_TLDS)} TLDs; phase flipped every "
                 f"{rss.get('flip', 25)} cycles; {rss['seconds']:.0f} s in all, {rss['mails']} mails):"), "",
                "| cycle | VmRSS | blocks | peak blocks |", "|---:|---:|---:|---:|"]
        out += [f"| {s['cycle']} | {s['rss_kib'] / 1024:.1f} MiB | {s['blocks'] / 1e3:.0f} k | "
                f"{s['peak_blocks'] / 1e3:.0f} k |" for s in pick]
        out += ["", (f"Growth between the 50th and the {rss['cycles']}th cycle: **{rss['growth'] * 100:+.1f} %** "
                     f"(target ≤ 10 %: {'met' if rss['growth'] <= 0.10 else 'NOT met'})."), ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("once", "rss", "all", "rss-child"))
    parser.add_argument("config", nargs="?")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--flip", type=int, default=25)
    parser.add_argument("--mode", choices=("jobs", "cycle"), default="jobs",
                        help="rss: a short cycle is the daemon's jobs (default) or a full run_cycle")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="rss: print the Python allocations that grew between the 50th and the last cycle")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    if args.what == "rss-child":
        rss_child(Path(args.config), args.cycles, args.every, args.flip, args.mode, args.tracemalloc)
        return 0
    once = bench_once(args.repeat) if args.what in ("once", "all") else None
    rss = (bench_rss(args.cycles, args.every, args.flip, args.mode, args.tracemalloc)
           if args.what in ("rss", "all") else None)
    if rss is not None:
        rss["flip"], rss["mode"] = args.flip, args.mode
    text = markdown(once, rss, sys.argv[1:])
    print(text)
    if args.write:
        with args.write.open("a", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
