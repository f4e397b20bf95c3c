"""Both DNS engines against a resolver that drops what it cannot take. Run by hand, not in the tests:

    .venv/bin/python bench/dns_drop.py [--runs 5] [--queue 32] [--service 0.004]

A loopback resolver (tests/crawler/nanodns.py) answers one question every ``service`` seconds and drops
any question that finds ``queue`` others waiting; 300 names are asked 256 at a time with a 0.4 s timeout
and 2 retries, by the asyncio engine (crawler/dnsengine.py, through the prober) and by the bulk sweep
(crawler/dnsfast.py). Printed per run: names not answered, questions the resolver dropped, wall seconds,
and how often the window narrowed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detect.model import Rcode
from tests.crawler import nanodns
from tests.crawler.nanodns import NanoServer
from tests.crawler.test_dnsfast import bulk_sweep, by_loop, prober_for


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--queue", type=int, default=32)
    ap.add_argument("--service", type=float, default=0.004)
    args = ap.parse_args()
    zone: nanodns.Zone = {f"n{i}.drop.test": {"A": [f"192.0.2.{i % 250 + 1}"]} for i in range(300)}
    names = sorted(zone)
    for _ in range(args.runs):
        with NanoServer(nanodns.answers_everything(zone), service=args.service, queue=args.queue) as server:
            t0 = time.monotonic()
            results = by_loop(prober_for(server, timeout=0.4, retries=2, concurrency=256), names, ["A"])
            failed = sum(1 for r in results.values() if r.rcode is not Rcode.NOERROR)
            print(f"asyncio engine: {failed} of 300 not answered, {server.dropped} dropped, "
                  f"{time.monotonic() - t0:.2f} s")
        with NanoServer(nanodns.answers_everything(zone), service=args.service, queue=args.queue) as server:
            t0 = time.monotonic()
            failed_names, sweep = bulk_sweep(server, names, 0.4)
            print(f"bulk sweep:     {len(failed_names)} of 300 not answered, {server.dropped} dropped, "
                  f"{time.monotonic() - t0:.2f} s, window narrowed {sweep.window.narrowed} times")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
