"""Pairwise similarity measures used by scoring: label edit distance, MinHash Jaccard, TLSH distance.

Each returns None when it cannot be computed (missing or malformed input), never raises.
"""

from __future__ import annotations

import functools
import logging

import tlsh  # type: ignore[import-not-found]
from datasketch import LeanMinHash  # type: ignore[import-untyped]

log = logging.getLogger(__name__)


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


@functools.lru_cache(maxsize=4096)
def _minhash(data: bytes) -> LeanMinHash | None:
    try:
        return LeanMinHash.deserialize(data)
    except Exception as exc:  # noqa: BLE001 - datasketch raises assorted errors on bad buffers
        log.debug("unreadable minhash (%d bytes): %s", len(data), exc)
        return None


def minhash_jaccard(a: bytes | None, b: bytes | None) -> float | None:
    """Estimated Jaccard similarity of two serialised LeanMinHash sketches with the same seed/size."""
    if not a or not b:
        return None
    ma, mb = _minhash(bytes(a)), _minhash(bytes(b))
    if ma is None or mb is None or len(ma.hashvalues) != len(mb.hashvalues) or ma.seed != mb.seed:
        return None
    return float(ma.jaccard(mb))


def tlsh_distance(a: str | None, b: str | None) -> int | None:
    """TLSH difference score (0 = identical, < 50 near copy, > 200 unrelated)."""
    if not a or not b or a == "TNULL" or b == "TNULL":
        return None
    try:
        return int(tlsh.diff(a, b))
    except (ValueError, TypeError):
        return None
