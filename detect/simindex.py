"""Find stored pages whose text is near-identical to a new one, without scanning every stored page.

Pages carry a MinHash of their text (detect.fingerprints: a serialised datasketch ``LeanMinHash``,
num_perm=128). :class:`SimilarityIndex` puts those in a datasketch ``MinHashLSH`` (banding: a lookup is a
few dozen hash-table probes, whatever the number of pages), then re-ranks the LSH candidates by their exact
MinHash Jaccard estimate and drops those under the threshold. :class:`PairwiseScan` is the same interface
done by comparing with every stored signature: the reference for tests and ``bench/simindex.py``.

Pure and in memory: the lead rebuilds the index from the store at start (``from_items``) and keeps it
current with ``add``/``remove``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Hashable, Iterable
from typing import Protocol

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHashLSH  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

NUM_PERM = 128
DEFAULT_THRESHOLD = 0.5
RECALL_WEIGHTS = (0.1, 0.9)
"""datasketch's (false positive, false negative) weights for choosing bands: missing a near-duplicate costs
more than a spurious candidate, which the exact re-ranking drops (b=32 bands of r=4 at t=0.5, num_perm 128)."""

Key = Hashable  # (domain, observation id) for the lead; anything hashable for the index
Signature = npt.NDArray[np.generic]


class BadSignature(ValueError):
    """Bytes that are not a serialised LeanMinHash of the index's num_perm."""


def decode(minhash_bytes: bytes, num_perm: int = NUM_PERM) -> LeanMinHash:
    """A serialised LeanMinHash read back; BadSignature when the bytes are not one of ``num_perm``."""
    try:
        lean = LeanMinHash.deserialize(minhash_bytes)
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as exc:  # any garbage
        raise BadSignature(f"not a serialised LeanMinHash: {exc}") from None
    if len(lean.hashvalues) != num_perm:
        raise BadSignature(f"num_perm {len(lean.hashvalues)}, expected {num_perm}")
    return lean


def signature(minhash_bytes: bytes, num_perm: int = NUM_PERM) -> Signature:
    """The hash values of a serialised LeanMinHash (what the exact Jaccard estimate compares)."""
    return np.asarray(decode(minhash_bytes, num_perm).hashvalues)


def _top(keys: list[Key], scores: npt.NDArray[np.float64], threshold: float,
         top: int) -> list[tuple[Key, float]]:
    order = np.argsort(-scores, kind="stable")
    out: list[tuple[Key, float]] = []
    for i in order[:top]:
        score = float(scores[i])
        if score < threshold:
            break
        out.append((keys[i], score))
    return out


def _ranked(query: Signature, keys: list[Key], rows: list[Signature], threshold: float,
            top: int) -> list[tuple[Key, float]]:
    if not keys:
        return []
    return _top(keys, (np.vstack(rows) == query).mean(axis=1), threshold, top)


class Index(Protocol):
    def add(self, key: Key, minhash_bytes: bytes) -> None: ...
    def remove(self, key: Key) -> None: ...
    def query(self, minhash_bytes: bytes, top: int = 10) -> list[tuple[Key, float]]: ...
    def __len__(self) -> int: ...


class SimilarityIndex:
    """MinHash LSH over page signatures, keyed by e.g. (domain, observation id).

    ``query`` returns up to ``top`` stored keys whose estimated Jaccard with the query is at least
    ``threshold``, best first. LSH is probabilistic: a true pair at the threshold is found with high but not
    certain probability (bench/RESULTS.md measures recall), and pairs well above it almost surely.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = NUM_PERM,
                 weights: tuple[float, float] = RECALL_WEIGHTS) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
        self._signatures: dict[Key, Signature] = {}

    @classmethod
    def from_items(cls, items: Iterable[tuple[Key, bytes]], threshold: float = DEFAULT_THRESHOLD,
                   num_perm: int = NUM_PERM) -> SimilarityIndex:
        """An index of every (key, minhash bytes); undecodable signatures are logged and skipped."""
        index = cls(threshold=threshold, num_perm=num_perm)
        for key, blob in items:
            try:
                index.add(key, blob)
            except BadSignature as exc:
                log.warning("similarity index: skipping %r: %s", key, exc)
        return index

    def add(self, key: Key, minhash_bytes: bytes) -> None:
        """Store (or replace) the signature under ``key``."""
        lean = decode(minhash_bytes, self.num_perm)
        if key in self._signatures:
            self.remove(key)
        self._lsh.insert(key, lean, check_duplication=False)
        self._signatures[key] = np.asarray(lean.hashvalues)

    def remove(self, key: Key) -> None:
        """Forget ``key``; unknown keys are ignored (removal is idempotent)."""
        if self._signatures.pop(key, None) is not None:
            self._lsh.remove(key)

    def query(self, minhash_bytes: bytes, top: int = 10) -> list[tuple[Key, float]]:
        """Stored keys near-identical to the signature: [(key, estimated Jaccard)], best first."""
        lean = decode(minhash_bytes, self.num_perm)
        sig = np.asarray(lean.hashvalues)
        keys = list(self._lsh.query(lean))
        return _ranked(sig, keys, [self._signatures[k] for k in keys], self.threshold, top)

    def __contains__(self, key: object) -> bool:
        return key in self._signatures

    def __len__(self) -> int:
        return len(self._signatures)


class PairwiseScan:
    """The exact reference: every query compares with every stored signature (O(n) per lookup).

    Signatures are kept as one matrix (rebuilt after a change) so the scan is a single vectorised
    comparison: the fastest honest scan, which is what the benchmark compares the LSH index with.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = NUM_PERM) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self._signatures: dict[Key, Signature] = {}
        self._matrix: tuple[list[Key], Signature] | None = None

    @classmethod
    def from_items(cls, items: Iterable[tuple[Key, bytes]], threshold: float = DEFAULT_THRESHOLD,
                   num_perm: int = NUM_PERM) -> PairwiseScan:
        scan = cls(threshold=threshold, num_perm=num_perm)
        for key, blob in items:
            scan.add(key, blob)
        return scan

    def add(self, key: Key, minhash_bytes: bytes) -> None:
        self._signatures[key] = signature(minhash_bytes, self.num_perm)
        self._matrix = None

    def remove(self, key: Key) -> None:
        if self._signatures.pop(key, None) is not None:
            self._matrix = None

    def query(self, minhash_bytes: bytes, top: int = 10) -> list[tuple[Key, float]]:
        sig = signature(minhash_bytes, self.num_perm)
        if not self._signatures:
            return []
        if self._matrix is None:
            self._matrix = (list(self._signatures), np.vstack(list(self._signatures.values())))
        keys, matrix = self._matrix
        return _top(keys, (matrix == sig).mean(axis=1), self.threshold, top)

    def __len__(self) -> int:
        return len(self._signatures)
