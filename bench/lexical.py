"""Benchmark: NRD feed lines through detect.lexical (LabelIndex.match) against a network's labels.

Labels: the registrable labels of the shipped Doppelganger seed list, topped up with synthetic
pronounceable labels to --labels. Feed: --names synthetic pronounceable domains on common TLDs
(a day of a real NRD feed is 10^5–10^6 lines), with 0.1 % planted lookalikes.

Run by hand:  .venv/bin/python bench/lexical.py [--names 1000000] [--labels 300]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from importlib import resources
from pathlib import Path

from detect.lexical import LabelIndex
from detect.names import host_of, split

SYLLABLES = ["ka", "ro", "mi", "ne", "to", "sa", "li", "po", "de", "an", "er", "in", "st", "on", "re", "ma",
             "tr", "el", "us", "go", "ba", "ver", "sch", "ou", "ai", "lo", "ti", "za", "pe", "qu"]
TLDS = ["com", "net", "org", "xyz", "shop", "online", "de", "fr", "top", "site", "store", "info"]


def seed_labels() -> list[str]:
    path = Path(str(resources.files("hydrawatch.resources").joinpath("seeds/doppelganger.csv")))
    with path.open(encoding="utf-8") as fh:
        return sorted({split(d).label for row in csv.DictReader(fh) if (d := host_of(row["domain"]))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=300)
    args = parser.parse_args(argv)
    rng = random.Random(20240905)
    labels = seed_labels()
    while len(labels) < args.labels:
        labels.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 6))))
    feed = []
    for _ in range(args.names):
        if rng.random() < 0.001:
            base = rng.choice(labels)
            feed.append(f"{base[:-1] + rng.choice('xyz')}.{rng.choice(TLDS)}")
        else:
            feed.append(f"{''.join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 6)))}.{rng.choice(TLDS)}")
    start = time.perf_counter()
    index = LabelIndex(labels)
    built = time.perf_counter() - start
    start = time.perf_counter()
    hits = sum(1 for name in feed if index.match(name) is not None)
    seconds = time.perf_counter() - start
    print(f"| {len(feed):,} names | {len(index.labels)} labels | index built in {built * 1e3:.0f} ms | "
          f"{seconds:.2f} s ({seconds / len(feed) * 1e6:.1f} µs a name) | {hits:,} matches |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
