"""The bulk sweep engine (crawler/dnsfast.py) before and after a change, side by side on one NSD.

Run by hand from the repository root (needs `apt-get install nsd`; not part of the test suite):

    .venv/bin/python bench/dns_engine_ab.py --before <git revision> [--repeat 7]

The engine as it was at ``--before`` is read with ``git show`` into a module of its own; each round
sweeps the same dnstwist candidate list (bench/dns_sweep.py's names and zones: ~34,000 names, 15 % of
them existing) with both engines, one after the other, in an order that alternates from round to round,
seven record types and then A only. Reported: each engine's median wall and CPU seconds, and the
median of the per-round ratios (after / before: below 1 is faster). Both must find the same names.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def engine_at(revision: str, work: Path) -> ModuleType:
    source = subprocess.run(["git", "show", f"{revision}:crawler/dnsfast.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = work / "dnsfast_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("dnsfast_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(engine: ModuleType, names: list[str], port: int, types: list[str]) -> tuple[float, float, set[str]]:
    from crawler.dnstypes import check_types
    from crawler.settings import Nameserver
    from detect.model import Rcode

    kinds = check_types(types)
    started, used = time.perf_counter(), cpu()
    found = {row[0] for rows in engine.sweep([Nameserver("127.0.0.1", port)], kinds, iter(names), timeout=3.0,
                                              retries=2, concurrency=512) for row in rows if row[1] is Rcode.NOERROR}
    return time.perf_counter() - started, cpu() - used, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the git revision whose crawler/dnsfast.py is 'before'")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import dns_sweep

    from crawler import dnsfast
    from detect.model import RECORD_TYPES

    nsd = dns_sweep.find_nsd()
    with tempfile.TemporaryDirectory(prefix="hydrawatch-ab-") as tmp:
        work = Path(tmp)
        before = engine_at(args.before, work)
        names = dns_sweep.candidates()
        existing = dns_sweep.write_zones(work, names)
        port = dns_sweep.free_port()
        proc = dns_sweep.start_nsd(nsd, work, port, existing)
        try:
            for label, types in (("seven types", list(RECORD_TYPES)), ("A only", ["A"])):
                wall: dict[str, list[float]] = {"before": [], "after": []}
                used: dict[str, list[float]] = {"before": [], "after": []}
                ratios: list[float] = []
                for round_ in range(args.repeat):
                    order = [("before", before), ("after", dnsfast)]
                    if round_ % 2:
                        order.reverse()
                    seen: dict[str, set[str]] = {}
                    for who, engine in order:
                        seconds, cpu_s, found = run(engine, names, port, types)
                        wall[who].append(seconds)
                        used[who].append(cpu_s)
                        seen[who] = found
                    if seen["before"] != seen["after"]:
                        sys.exit(f"{label}: the engines found different names "
                                 f"({len(seen['before'])} before, {len(seen['after'])} after)")
                    ratios.append(wall["after"][-1] / wall["before"][-1])
                print(f"{label}: {len(names)} names, {len(seen['after'])} found by both, {args.repeat} rounds")
                for who in ("before", "after"):
                    print(f"  {who:6}  wall median {statistics.median(wall[who]):.2f} s "
                          f"(min {min(wall[who]):.2f}, max {max(wall[who]):.2f})  "
                          f"CPU median {statistics.median(used[who]):.2f} s")
                print(f"  after/before wall, median of per-round ratios: {statistics.median(ratios):.3f} "
                      f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})")
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
