"""Near-duplicate signatures of a page (MinHash of text shingles, TLSH of the markup skeleton, the DOM
hash as Lookyloo and AIL compute it) and the pairwise measures scoring uses on them and on labels.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
from collections.abc import Collection, Mapping

import numpy as np
import tlsh  # type: ignore[import-not-found]

from detect.minhash import Lean, minhash32

NUM_PERM = 128
SHINGLE_WORDS = 5
MIN_SHINGLES = 10  # fewer than this and the signature says nothing: None
MAX_WORDS = 50_000
MAX_TLSH_INPUT = 1_000_000
_WORD = re.compile(r"\w+")


def normalise_text(text: str) -> list[str]:
    """Words of the visible text: NFKC, lower case, punctuation dropped, capped at MAX_WORDS."""
    return _WORD.findall(unicodedata.normalize("NFKC", text[: MAX_WORDS * 20]).lower())[:MAX_WORDS]


@functools.lru_cache(maxsize=32)
def minhash_of_text(text: str) -> bytes | None:
    """Serialised LeanMinHash (num_perm=128, fixed seed) of word 5-shingles; None if too little text.

    Remembers the last texts: a site often serves the same page on https:// and http://, and the
    signature is a pure function of the text."""
    words = normalise_text(text)
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}
    if len(shingles) < MIN_SHINGLES:
        return None
    # datasketch's default hash (sha1_hash32: the first 4 bytes of SHA-1, little-endian) computed in one
    # comprehension; the MinHash and its serialisation are datasketch 2.x's (detect.minhash, without SciPy)
    hashes = [int.from_bytes(hashlib.sha1(s.encode("utf-8")).digest()[:4], "little") for s in shingles]
    return minhash32(hashes, NUM_PERM, seed=1).serialize()


@functools.lru_cache(maxsize=4096)
def _lean(data: bytes) -> Lean | None:
    try:
        return Lean.deserialize(data)
    except (ValueError, TypeError, OverflowError, MemoryError, IndexError, struct.error):
        return None


def minhash_jaccard(a: bytes | None, b: bytes | None) -> float | None:
    """Estimated Jaccard similarity of two serialised signatures; None when either is missing/unreadable."""
    if not a or not b:
        return None
    ma, mb = _lean(bytes(a)), _lean(bytes(b))
    if ma is None or mb is None or len(ma.hashvalues) != len(mb.hashvalues) or ma.seed != mb.seed:
        return None
    return float(np.count_nonzero(ma.hashvalues == mb.hashvalues)) / float(len(ma.hashvalues))


class TextCrowd:
    """The MinHash signatures of stored pages as one matrix, to ask how many of them sit at least as
    close to a page as a given network page does: page text that many strangers share that closely
    (one language's stock phrases, one template's menus) is commodity, however close it is."""

    def __init__(self, signatures: Mapping[str, bytes]) -> None:
        names: list[str] = []
        rows: list[np.ndarray] = []
        for name, data in signatures.items():
            try:
                lean = Lean.deserialize(bytes(data))
            except (ValueError, TypeError, OverflowError, MemoryError, IndexError, struct.error):
                continue
            if len(lean.hashvalues) == NUM_PERM:
                names.append(name)
                rows.append(np.asarray(lean.hashvalues))
        self.names = tuple(names)
        self.matrix = np.vstack(rows) if rows else np.zeros((0, NUM_PERM), dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.names)

    def similarities(self, data: bytes | None, exclude: Collection[str] = ()) -> np.ndarray:
        """Estimated Jaccard of ``data`` with every stored page but those of ``exclude``, sorted."""
        lean = _lean(bytes(data)) if data else None
        if lean is None or len(lean.hashvalues) != NUM_PERM or not self.names:
            return np.zeros(0)
        sims = (self.matrix == np.asarray(lean.hashvalues)).mean(axis=1)
        if exclude:
            keep = np.array([n not in exclude for n in self.names], dtype=bool)
            sims = sims[keep]
        return np.sort(sims)

    @staticmethod
    def count_at_least(sorted_sims: np.ndarray, jaccard: float) -> int:
        return int(len(sorted_sims) - np.searchsorted(sorted_sims, jaccard - 1e-9, side="left"))


def minhash_similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two serialised signatures (0.0 when either is unreadable)."""
    return minhash_jaccard(a, b) or 0.0


def tlsh_of_skeleton(skeleton: str) -> str | None:
    """TLSH of the markup skeleton (tags, attribute names, classes; no text or digits), or None when
    TLSH cannot hash it (under 50 bytes or too little variety)."""
    data = skeleton.encode("utf-8", "replace")[:MAX_TLSH_INPUT]
    if len(data) < 50:
        return None
    digest = tlsh.hash(data)
    return digest if digest and digest != "TNULL" else None


def tlsh_diff(a: str | None, b: str | None) -> int | None:
    """TLSH difference score (0 = identical, < 50 near copy, > 200 unrelated); None if not computable."""
    if not a or not b or a == "TNULL" or b == "TNULL":
        return None
    try:
        return int(tlsh.diff(a, b))
    except (ValueError, TypeError):
        return None


def tlsh_distance(a: str, b: str) -> int:
    """TLSH distance (0 = identical, ~<100 similar, several hundred unrelated); 10_000 if unreadable."""
    diff = tlsh_diff(a, b)
    return 10_000 if diff is None else diff


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


def dom_hash(tags: tuple[str, ...]) -> str:
    """SHA-256 (hex) of the tag-name sequence joined by commas: identical page templates collide."""
    return hashlib.sha256(",".join(tags).encode("utf-8", "replace")).hexdigest()
