"""The similarity index's memory at 10⁵ pages (issue 17: the index is in every process): traced Python
allocations held after ``SimilarityIndex.from_items`` and their peak during it, and the index's arrays.

Run by hand:  PYTHONPATH=. .venv/bin/python bench/simindex_memory.py [--pages 100000]
For the code before a change, put an older detect/ first on the path (bench/RESULTS.md says how).
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc

import numpy as np

from bench.similar_network import _blob
from detect.simindex import NUM_PERM, SimilarityIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    items = [(f"site{i}.example", _blob(rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64)))
             for i in range(args.pages)]
    gc.collect()
    tracemalloc.start()
    index = SimilarityIndex.from_items(items)
    held, peak = tracemalloc.get_traced_memory()
    arrays = index._sigs.nbytes + index._table_keys.nbytes + index._table_slots.nbytes + index._alive.nbytes
    print(f"{args.pages:,} pages: {held / 2**20:.1f} MiB held (peak {peak / 2**20:.1f} MiB while built), "
          f"arrays {arrays / 2**20:.1f} MiB, signatures {index._sigs.dtype}")


if __name__ == "__main__":
    main()
