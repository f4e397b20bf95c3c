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


def _set_sizes(matrix: np.ndarray) -> np.ndarray:
    """Estimated number of distinct shingles behind each row of MinHash values (affine32: each value the
    minimum of the set's hashes under one permutation, roughly uniform over 2^32). The minima of n uniforms
    are about Exp(n)-distributed, so (k - 1) / sum(values / 2^32) is an unbiased estimate of n, with a
    relative error of about 1/sqrt(k - 2) (9 % at k = 128)."""
    totals = (matrix.astype(np.float64) / 4294967296.0).sum(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(totals > 0, (matrix.shape[1] - 1) / np.where(totals > 0, totals, 1.0), 0.0)


def _set_size(values: np.ndarray) -> float:
    """:func:`_set_sizes` of one signature."""
    return float(_set_sizes(values.reshape(1, -1))[0])


def _overlap(jaccard: np.ndarray | float, union: np.ndarray | float, smaller: np.ndarray | float,
             k: int = NUM_PERM) -> np.ndarray:
    """The overlap coefficient from the Jaccard and the estimated union and smaller set sizes, taken at one
    standard error below the Jaccard (sqrt(J(1-J)/k)): a page much smaller than the other has its few
    shared values multiplied by a large union/smaller ratio, so the estimate is kept on the low side.
    Never below the Jaccard, never above 1."""
    j = np.asarray(jaccard, dtype=np.float64)
    low = np.maximum(0.0, j - np.sqrt(j * (1.0 - j) / k))
    small = np.asarray(smaller, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ov = np.where(small > 0, low * np.asarray(union, dtype=np.float64) / np.where(small > 0, small, 1.0), j)
    return np.clip(np.maximum(ov, j), 0.0, 1.0)


def minhash_overlap(a: bytes | None, b: bytes | None) -> float | None:
    """Estimated overlap coefficient |A∩B| / min(|A|, |B|) of two serialised affine32 signatures: the
    share of the smaller text found in the larger. A page that keeps some of another's articles and adds
    its own shares little by Jaccard (the union grows with what it adds) but most of its copied part by
    this measure. |A∪B| is estimated from the union's signature (the element-wise minimum) and |A∩B| as
    Jaccard × |A∪B| (see :func:`_overlap`). None when either signature is missing or unreadable; the
    Jaccard itself when the set sizes cannot be estimated (not affine32)."""
    j = minhash_jaccard(a, b)
    if j is None:
        return None
    ma, mb = _lean(bytes(a)), _lean(bytes(b))  # type: ignore[arg-type]
    if ma is None or mb is None or ma.scheme != "affine32" or mb.scheme != "affine32":
        return j
    va, vb = np.asarray(ma.hashvalues), np.asarray(mb.hashvalues)
    return float(_overlap(j, _set_size(np.minimum(va, vb)), min(_set_size(va), _set_size(vb)), len(va)))


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
        self._sizes: np.ndarray | None = None  # estimated shingle count of every row, made on first use

    def __len__(self) -> int:
        return len(self.names)

    def overlaps(self, data: bytes | None, exclude: Collection[str] = ()) -> np.ndarray:
        """Estimated overlap coefficient (:func:`minhash_overlap`) of ``data`` with every stored page but
        those of ``exclude``, sorted: how many strangers hold as much of the text (or it of theirs)."""
        lean = _lean(bytes(data)) if data else None
        if lean is None or len(lean.hashvalues) != NUM_PERM or not self.names:
            return np.zeros(0)
        query = np.asarray(lean.hashvalues)
        if self._sizes is None:
            self._sizes = _set_sizes(self.matrix)
        sims = (self.matrix == query).mean(axis=1)
        ov = _overlap(sims, _set_sizes(np.minimum(self.matrix, query)), np.minimum(self._sizes, _set_size(query)))
        if exclude:
            keep = np.array([n not in exclude for n in self.names], dtype=bool)
            ov = ov[keep]
        return np.sort(ov)

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


def osa_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), or ``limit + 1`` once it exceeds ``limit``.

    The common prefix and suffix are stripped first and only the diagonal band ``|i - j| <= limit`` is
    computed: what remains is a few dozen cells for the labels compared here.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    start, end_a, end_b = 0, len(a), len(b)
    while start < end_a and start < end_b and a[start] == b[start]:
        start += 1
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if not a or not b:
        return min(max(len(a), len(b)), limit + 1)
    big = limit + 1
    width = len(b)
    prev2: list[int] = []
    prev = [j if j <= limit else big for j in range(width + 1)]
    for i in range(1, len(a) + 1):
        cur = [big] * (width + 1)
        if i <= limit:
            cur[0] = i
        ca = a[i - 1]
        row_min = cur[0]
        for j in range(max(1, i - limit), min(width, i + limit) + 1):
            cb = b[j - 1]
            best = prev[j - 1] if ca == cb else prev[j - 1] + 1
            best = min(best, prev[j] + 1)
            best = min(best, cur[j - 1] + 1)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and prev2[j - 2] + 1 < best:
                best = prev2[j - 2] + 1
            cur[j] = min(big, best)
            row_min = min(row_min, best)
        if row_min > limit:
            return big
        prev2, prev = prev, cur
    return min(prev[width], big)


def dom_hash(tags: tuple[str, ...]) -> str:
    """SHA-256 (hex) of the tag-name sequence joined by commas: identical page templates collide."""
    return hashlib.sha256(",".join(tags).encode("utf-8", "replace")).hexdigest()
