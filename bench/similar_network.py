"""Benchmark: the sweep's similar-pages source when the network's own pages are near-copies of each other.

Found at 10⁵ domains (bench/RESULTS.md, "The crawl round and the sweep at 10⁵ domains"): the source asked
the similarity index once per network site for its 20 best matches and dropped the network's own after.
Where every network page is a near-copy of the others, each lookup gathered and ranked the whole network
(quadratic: the 10⁵ sweep had not finished after 18 minutes) and the 20 best were all network sites, so
no outside page was ever found. ``SimilarityIndex.query_each(exclude=…)`` takes the network's pages out of
the band table once, then looks each site up among the others.

Side by side in one run, on the same index: the lookup before (``query`` per site, network dropped after)
and ``query_each``, for growing networks. Synthetic signatures, no text: a network template's 128 MinHash
values with 4–10 of them changed per network page (estimated Jaccard 0.92–0.97 between them), outside
near-copies with 30–60 changed (0.53–0.77: what the source is there to find) and unrelated pages.

Run by hand (not in tests):  .venv/bin/python bench/similar_network.py [--sizes 1000,3000,10000,100000]
                             [--before-max 10000] [--outside 1000] [--clones 20]
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time

import numpy as np

from detect.minhash import AFFINE32, Lean
from detect.simindex import NUM_PERM, SimilarityIndex

PER_SITE = 20  # scheduler.hunt_sources.SIMILAR_PER_SITE


def _blob(values: np.ndarray) -> bytes:
    return Lean(1, values, AFFINE32).serialize()


def _edited(rng: np.random.Generator, base: np.ndarray, lo: int, hi: int) -> bytes:
    values = base.copy()
    where = rng.choice(NUM_PERM, size=int(rng.integers(lo, hi + 1)), replace=False)
    values[where] = rng.integers(0, 2**32, size=len(where), dtype=np.uint64)
    return _blob(values)


def world(n: int, outside: int, clones: int, seed: int) -> tuple[dict[str, bytes], SimilarityIndex, set[str]]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64)
    network = {f"net{i}.example": _edited(rng, base, 4, 10) for i in range(n)}
    copies = {f"clone{i}.example": _edited(rng, base, 30, 60) for i in range(clones)}
    others = {f"other{i}.example": _blob(rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64))
              for i in range(outside)}
    return network, SimilarityIndex.from_items([*network.items(), *copies.items(), *others.items()]), set(copies)


def before(index: SimilarityIndex, network: dict[str, bytes]) -> set[str]:
    found: set[str] = set()
    for blob in network.values():
        found.update(str(k) for k, _ in index.query(blob, top=PER_SITE) if k not in network)
    return found


def after(index: SimilarityIndex, network: dict[str, bytes]) -> set[str]:
    return {str(k) for hits in index.query_each(network.values(), top=PER_SITE, exclude=network) for k, _ in hits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,3000,10000,100000")
    parser.add_argument("--before-max", type=int, default=10000, help="run the lookup before up to this size")
    parser.add_argument("--outside", type=int, default=1000, help="unrelated stored pages")
    parser.add_argument("--clones", type=int, default=20, help="outside near-copies of the network's template")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the new lookup a size (median)")
    parser.add_argument("--seed", type=int, default=20241208)
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}; "
          f"{args.outside} unrelated and {args.clones} near-copy outside pages, top {PER_SITE} a site\n")
    print("| network sites | before: wall | before: outside copies found | query_each: wall (median) | "
          "query_each: found | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        network, index, copies = world(n, args.outside, args.clones, args.seed)
        walls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            got = after(index, network)
            walls.append(time.perf_counter() - start)
        new = statistics.median(walls)
        row = f"| {n:,} | "
        if n <= args.before_max:
            start = time.perf_counter()
            old_got = before(index, network)
            old = time.perf_counter() - start
            row += f"{old:.2f} s | {len(old_got & copies)} of {len(copies)} | "
        else:
            old = float("nan")
            row += "not run | – | "
        row += f"{new:.2f} s | {len(got & copies)} of {len(copies)} | "
        row += "– |" if math.isnan(old) else f"{old / new:.0f}× |"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
