"""Benchmark: MinHash LSH lookup (detect.simindex.SimilarityIndex, compact NumPy band tables) against
datasketch's own MinHashLSH with the same banding (what the index was before issue 16) and an exact
pairwise scan, side by side on the same pages in one run.

Synthetic stored pages: shingle counts drawn like news articles (log-normal, median ~400 five-word
shingles, 50–3,000), a shared pool of template boilerplate (every page carries 20–60 shingles of it), and
10 % of the pages in near-duplicate clusters of 2–5 copies (each keeps 60–95 % of its original's
shingles). Probes: near-copies of stored cluster originals (keeping 55–95 %) and unrelated pages.

Shingles are random 32-bit values standing for datasketch's sha1_hash32 of the text; signatures are
computed by datasketch (default scheme, update_batch) and stored as serialised LeanMinHash bytes, as
detect.fingerprints stores them.

Run by hand (not in tests):  .venv/bin/python bench/simindex.py [--sizes 1000,10000,100000] [--queries 300]
                             [--reference-max 100000]   (datasketch's MinHashLSH only up to this size)
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from detect.simindex import NUM_PERM, RECALL_WEIGHTS, PairwiseScan, SimilarityIndex, _ranked, decode


class DatasketchLSH:
    """The reference: datasketch's MinHashLSH (per-bucket Python sets), same banding, same re-ranking."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=RECALL_WEIGHTS)
        self._sigs: dict[object, np.ndarray] = {}

    @classmethod
    def from_items(cls, items: list[tuple[object, bytes]], threshold: float) -> DatasketchLSH:
        index = cls(threshold)
        for key, blob in items:
            lean = decode(blob)
            index._lsh.insert(key, lean, check_duplication=False)
            index._sigs[key] = np.asarray(lean.hashvalues)
        return index

    def query(self, blob: bytes, top: int = 10) -> list[tuple[object, float]]:
        lean = decode(blob)
        keys = list(self._lsh.query(lean))
        return _ranked(np.asarray(lean.hashvalues), keys, [self._sigs[k] for k in keys], self.threshold, top)

Sets = list[np.ndarray]


class Pages:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.boilerplate = self.rng.integers(0, 2**32, 2000, dtype=np.uint64)

    def fresh(self) -> np.ndarray:
        n = int(np.clip(self.rng.lognormal(np.log(400), 0.6), 50, 3000))
        own = self.rng.integers(0, 2**32, n, dtype=np.uint64)
        template = self.rng.choice(self.boilerplate, int(self.rng.integers(20, 61)), replace=False)
        return np.unique(np.concatenate([own, template]))

    def near_copy(self, shingles: np.ndarray, keep: float) -> np.ndarray:
        kept = shingles[self.rng.random(len(shingles)) < keep]
        new = self.rng.integers(0, 2**32, len(shingles) - len(kept), dtype=np.uint64)
        return np.unique(np.concatenate([kept, new]))

    def minhash_bytes(self, shingles: np.ndarray) -> bytes:
        # datasketch's default scheme and permutations; the shingle values stand in for hashes of text.
        minhash = MinHash(num_perm=NUM_PERM, hashfunc=int)
        minhash.update_batch(shingles.tolist())
        lean = LeanMinHash(minhash)
        buf = bytearray(lean.bytesize())
        lean.serialize(buf)
        return bytes(buf)


def make_store(pages: Pages, n: int) -> tuple[list[tuple[tuple[str, int], bytes]], list[np.ndarray]]:
    """n stored pages; returns the items and the shingle sets of the cluster originals."""
    items: list[tuple[tuple[str, int], bytes]] = []
    originals: list[np.ndarray] = []
    while len(items) < n:
        base = pages.fresh()
        if pages.rng.random() < 0.04:  # ~10 % of pages end up in clusters of 2–5
            originals.append(base)
            copies = [base] + [pages.near_copy(base, float(pages.rng.uniform(0.6, 0.95)))
                               for _ in range(int(pages.rng.integers(1, 5)))]
        else:
            copies = [base]
        for shingles in copies:
            if len(items) < n:
                items.append(((f"site{len(items)}.example", len(items)), pages.minhash_bytes(shingles)))
    return items, originals


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def built_with_memory(build: Callable[[], object]) -> tuple[object, float, float]:
    gc.collect()
    tracemalloc.start()
    obj, seconds = timed(build)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return obj, seconds, current / 2**20


def run(n: int, queries: int, threshold: float, seed: int, reference: bool) -> dict[str, float]:
    pages = Pages(seed)
    items, originals = make_store(pages, n)
    # Build times without tracemalloc (it slows allocation); memory from a second, traced build.
    lsh, lsh_build = timed(lambda: SimilarityIndex.from_items(items, threshold=threshold))
    scan, scan_build = timed(lambda: PairwiseScan.from_items(items, threshold=threshold))
    _, _, lsh_mib = built_with_memory(lambda: SimilarityIndex.from_items(items, threshold=threshold))
    ref = ref_build = ref_mib = None
    if reference:
        ref, ref_build = timed(lambda: DatasketchLSH.from_items(items, threshold))
        _, _, ref_mib = built_with_memory(lambda: DatasketchLSH.from_items(items, threshold))
    assert isinstance(lsh, SimilarityIndex) and isinstance(scan, PairwiseScan)
    near = [pages.minhash_bytes(pages.near_copy(originals[int(pages.rng.integers(len(originals)))],
                                                float(pages.rng.uniform(0.55, 0.95)))) for _ in range(queries)]
    unrelated = [pages.minhash_bytes(pages.fresh()) for _ in range(queries)]
    scan.query(near[0])  # builds the scan's matrix once (counted as build, not lookup)
    lsh_t: list[float] = []
    ref_t: list[float] = []
    scan_t: list[float] = []
    found = truth = found_strong = truth_strong = same_as_ref = 0
    for probe in near + unrelated:
        got, dt = timed(lambda probe=probe: lsh.query(probe, top=50))
        lsh_t.append(dt)
        if ref is not None:
            ref_got, dt = timed(lambda probe=probe: ref.query(probe, top=50))  # type: ignore[union-attr]
            ref_t.append(dt)
            same_as_ref += sorted(map(repr, got)) == sorted(map(repr, ref_got))  # type: ignore[call-overload]
        want, dt = timed(lambda probe=probe: scan.query(probe, top=50))
        scan_t.append(dt)
        got_keys = {k for k, _ in got}  # type: ignore[attr-defined]
        for key, score in want:  # type: ignore[attr-defined]
            truth += 1
            found += key in got_keys
            if score >= threshold + 0.2:
                truth_strong += 1
                found_strong += key in got_keys
    lsh_ms, scan_ms = statistics.median(lsh_t) * 1e3, statistics.median(scan_t) * 1e3
    nan = float("nan")
    return {"n": n, "lsh_ms": lsh_ms, "lsh_p95_ms": float(np.percentile(lsh_t, 95) * 1e3), "scan_ms": scan_ms,
            "ratio": scan_ms / lsh_ms, "recall": found / truth if truth else nan, "pairs": truth,
            "recall_strong": found_strong / truth_strong if truth_strong else nan,
            "lsh_build_s": lsh_build, "scan_build_s": scan_build, "lsh_mib": lsh_mib,
            "ref_ms": statistics.median(ref_t) * 1e3 if ref_t else nan,
            "ref_build_s": ref_build if ref_build is not None else nan,
            "ref_mib": ref_mib if ref_mib is not None else nan,
            "same_as_ref": same_as_ref / len(ref_t) if ref_t else nan,
            "sig_mib": n * NUM_PERM * 8 / 2**20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=300, help="near-duplicate probes (as many unrelated)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=20240905)
    parser.add_argument("--reference-max", type=int, default=100000,
                        help="run datasketch's MinHashLSH side by side up to this many pages")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"threshold {args.threshold}, num_perm {NUM_PERM}, {2 * args.queries} lookups per size "
          f"(half near-duplicates)\n")
    print("| stored pages | lookup median (p95) | datasketch LSH lookup | scan lookup | build | datasketch "
          "build | memory | datasketch memory | same answers as datasketch | recall vs scan (J≥t) | "
          "recall (J≥t+0.2) | true pairs |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = run(size, args.queries, args.threshold, args.seed, reference=size <= args.reference_max)
        ref = r["ref_ms"] == r["ref_ms"]
        print(f"| {r['n']:,} | {r['lsh_ms']:.3f} ms ({r['lsh_p95_ms']:.3f}) | "
              + (f"{r['ref_ms']:.3f} ms | " if ref else "not run | ")
              + f"{r['scan_ms']:.3f} ms | {r['lsh_build_s']:.2f} s | "
              + (f"{r['ref_build_s']:.2f} s | " if ref else "not run | ")
              + f"{r['lsh_mib']:.0f} MiB | "
              + (f"{r['ref_mib']:.0f} MiB | {r['same_as_ref']:.3f} | " if ref else "not run | – | ")
              + f"{r['recall']:.3f} | {r['recall_strong']:.3f} | {r['pairs']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
