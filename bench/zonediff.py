"""Benchmark: a day's zone-file difference, sorted merge (crawler/zonefile.py) against an in-memory set.

Two synthetic CZDS-layout ``.txt.gz`` zones of ``--lines`` lines each (two NS records a name, a DS record
for one name in eight, names in no particular order): day 2 drops 0.5 % of day 1's names and adds 1 %.
Yesterday's state (the sorted ``net.names`` the merge keeps) is made once, unmeasured. Each measured step
is what a sweep does each day, in its own process started by ``/usr/bin/time`` (wall seconds ``%e``, CPU
seconds ``%U`` + ``%S``, peak RSS ``%M``):

- **merge**: ``ZoneState.absorb`` of day 2: parse, sort in runs of 10⁶ names, merge into today's
  ``net.names``, merge-diff against yesterday's;
- **set**: yesterday's names (the same ``net.names``) into a Python set, day 2 parsed through the same
  parser, the names not in the set collected (a set) and written sorted.

Both must give the same added names (checked). Methods interleaved, ``--repeat`` runs each, medians.

Run by hand:  .venv/bin/python bench/zonediff.py --lines 10000000 --repeat 3 [--lines 30000000 --repeat 1]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crawler import zonefile
from crawler.zonestate import ZoneSpec, ZoneState

SYLLABLES = ["ka", "ro", "mi", "ne", "to", "sa", "li", "po", "de", "an", "er", "in", "st", "on", "re", "ma",
             "tr", "el", "us", "go", "ba", "ver", "sch", "ou", "ai", "lo", "ti", "za", "pe", "qu"]
LINES_PER_NAME = 2 + 1 / 8
NOW = datetime(2025, 3, 11, tzinfo=UTC)


def name(i: int) -> str:
    """A pronounceable .net name, distinct for distinct i < 2^32 (odd multiplier: a bijection mod 2^32)."""
    x = (i * 2654435761 + 12345) & 0xFFFFFFFF
    parts = []
    while True:
        x, d = divmod(x, 30)
        parts.append(SYLLABLES[d])
        if not x:
            break
    return "-".join(parts) if i % 5 == 0 else "".join(parts)


def write_zone(path: Path, names_count: int, day: int) -> None:
    """Day 1: names 0..N-1 in a permuted order; day 2: without i % 200 == 7, plus N/100 new names."""
    step = 7_919  # prime, coprime to N unless N is a multiple of it
    while names_count % step == 0:
        step += 2
    with gzip.open(path, "wt", compresslevel=1, encoding="ascii", newline="\n") as out:
        out.write("net.\t86400\tin\tsoa\ta.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400\n"
                  "net.\t172800\tin\tns\ta.gtld-servers.net.\n")
        batch: list[str] = []
        for j in range(names_count):
            i = (j * step) % names_count
            owners = []
            if not (day == 2 and i % 200 == 7):
                owners.append(name(i))
            if day == 2 and j % 100 == 0:
                owners.append(name(names_count + j // 100))
            for owner in owners:
                batch.append(f"{owner}.net.\t172800\tin\tns\tns1.{owner}.net.\n"
                             f"{owner}.net.\t172800\tin\tns\tns2.dns-host.com.\n")
                if i % 8 == 3:
                    batch.append(f"{owner}.net.\t86400\tin\tds\t{i % 65536} 13 2 {'AB' * 32}\n")
            if len(batch) >= 10_000:
                out.write("".join(batch))
                batch = []
        out.write("".join(batch))


def step_merge(work: Path, day2: Path) -> int:
    read = ZoneState(work, ZoneSpec("net", path=str(day2))).absorb(day2, 0, NOW)
    return read.added_count


def step_set(work: Path, day2: Path) -> int:
    yesterday = set(zonefile._read_names(work / "net.names"))
    added = {n for n in zonefile.ns_owners(zonefile.read_lines(day2), "net") if n not in yesterday}
    with (work / "net.added").open("wb") as out:
        out.writelines(n + b"\n" for n in sorted(added))
    return len(added)


def run_step(method: str, work: Path, day2: Path) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MB, added, CPU s) of one step in its own process under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
        done = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", timing.name, sys.executable, __file__,
                               "--step", method, "--work", str(work), "--day2", str(day2)],
                              capture_output=True, text=True, check=True)
        wall, rss_kb, user, system = timing.read().split()[-4:]
    return float(wall), int(rss_kb) / 1024, int(done.stdout.strip()), float(user) + float(system)


def measure(lines: int, repeat: int, root: Path) -> None:
    names_count = int(lines / LINES_PER_NAME)
    day1, day2 = root / "day1.txt.gz", root / "day2.txt.gz"
    start = time.perf_counter()
    write_zone(day1, names_count, 1)
    write_zone(day2, names_count, 2)
    base = root / "base"
    ZoneState(base, ZoneSpec("net", path=str(day1))).absorb(day1, 0, NOW)
    made = time.perf_counter() - start
    real_lines = sum(1 for _ in zonefile.read_lines(day2))
    results: dict[str, list[tuple[float, float, int, float]]] = {"merge": [], "set": []}
    for _ in range(repeat):
        for method, runs in results.items():
            work = root / f"work-{method}"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(base, work)
            runs.append(run_step(method, work, day2))
            if method == "set":
                assert (work / "net.added").read_bytes() == (root / "work-merge" / "net.added").read_bytes()
    added = {r[2] for rs in results.values() for r in rs}
    assert len(added) == 1, added
    med = {m: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs),
               statistics.median(r[3] for r in rs)) for m, rs in results.items()}
    state_mb = (base / "net.names").stat().st_size / 2**20
    print(f"| {real_lines:,} | {names_count:,} | {added.pop():,} | {med['merge'][0]:.1f} | {med['set'][0]:.1f} | "
          f"{med['merge'][0] / med['set'][0]:.2f}× | {med['merge'][2]:.1f} | {med['set'][2]:.1f} | "
          f"{med['merge'][1]:.0f} | {med['set'][1]:.0f} | "
          f"{med['merge'][1] / med['set'][1]:.2f}× | {state_mb:.0f} | {day2.stat().st_size / 2**20:.0f} |",
          flush=True)
    print(f"  (zones made and base state sorted in {made:.0f} s; runs: "
          + "; ".join(f"{m} " + ", ".join(f"{w:.1f} s ({c:.1f} s CPU)/{r:.0f} MB" for w, r, _, c in rs)
                      for m, rs in results.items())
          + ")", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, action="append", help="zone lines (repeatable)")
    parser.add_argument("--repeat", type=int, action="append", help="runs of each method, per --lines")
    parser.add_argument("--dir", default="", help="scratch directory (default: a temporary one)")
    parser.add_argument("--step", choices=["merge", "set"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--day2", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        fn = step_merge if args.step == "merge" else step_set
        print(fn(Path(args.work), Path(args.day2)))
        return 0
    sizes = args.lines or [1_000_000]
    repeats = args.repeat or [3]
    print("| zone lines | names | added | merge wall s | set wall s | merge/set | merge CPU s | set CPU s | "
          "merge peak MB | set peak MB | merge/set | state MB | zone gz MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, lines in enumerate(sizes):
        with tempfile.TemporaryDirectory(prefix="zonediff-", dir=args.dir or None) as tmp:
            measure(lines, repeats[min(k, len(repeats) - 1)], Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
