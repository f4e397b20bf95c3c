"""Near-duplicate signatures of a page: MinHash of text shingles, TLSH of the markup skeleton, and
the DOM hash (hash of the tag-name sequence, as Lookyloo and AIL compute it).
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata

import numpy as np
import tlsh  # type: ignore[import-not-found]
from datasketch import LeanMinHash, MinHash  # type: ignore[import-untyped]

NUM_PERM = 128
SHINGLE_WORDS = 5
MIN_SHINGLES = 10  # fewer than this and the signature says nothing: None
MAX_WORDS = 50_000
MAX_TLSH_INPUT = 1_000_000
_WORD = re.compile(r"\w+")


def normalise_text(text: str) -> list[str]:
    """Words of the visible text: NFKC, lower case, punctuation dropped, capped at MAX_WORDS."""
    return _WORD.findall(unicodedata.normalize("NFKC", text[: MAX_WORDS * 20]).lower())[:MAX_WORDS]


def minhash_of_text(text: str) -> bytes | None:
    """Serialised LeanMinHash (num_perm=128, fixed seed) of word 5-shingles; None if too little text."""
    words = normalise_text(text)
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}
    if len(shingles) < MIN_SHINGLES:
        return None
    mh = MinHash(num_perm=NUM_PERM, seed=1)
    mh.update_batch([s.encode("utf-8") for s in shingles])
    lean = LeanMinHash(mh)
    buf = bytearray(lean.bytesize())
    lean.serialize(buf)
    return bytes(buf)


def minhash_similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two serialised signatures (0.0 when either is unreadable)."""
    try:
        ma = LeanMinHash.deserialize(a)
        mb = LeanMinHash.deserialize(b)
        if len(ma.hashvalues) != len(mb.hashvalues) or ma.seed != mb.seed:
            return 0.0
        return float(np.count_nonzero(ma.hashvalues == mb.hashvalues)) / float(len(ma.hashvalues))
    except (ValueError, TypeError, OverflowError, MemoryError, IndexError, struct.error):
        return 0.0


def tlsh_of_skeleton(skeleton: str) -> str | None:
    """TLSH of the markup skeleton (tags, attribute names, classes; no text or digits), or None when
    TLSH cannot hash it (under 50 bytes or too little variety)."""
    data = skeleton.encode("utf-8", "replace")[:MAX_TLSH_INPUT]
    if len(data) < 50:
        return None
    digest = tlsh.hash(data)
    return digest if digest and digest != "TNULL" else None


def tlsh_distance(a: str, b: str) -> int:
    """TLSH distance (0 = identical, ~<100 similar, several hundred unrelated); 10_000 if unreadable."""
    try:
        return int(tlsh.diff(a, b))
    except (ValueError, TypeError):
        return 10_000


def dom_hash(tags: tuple[str, ...]) -> str:
    """SHA-256 (hex) of the tag-name sequence joined by commas: identical page templates collide."""
    return hashlib.sha256(",".join(tags).encode("utf-8", "replace")).hexdigest()
