"""Find stored pages whose text is near-identical to a new one, without scanning every stored page.

Pages carry a MinHash of their text (detect.fingerprints: a serialised datasketch ``LeanMinHash``,
num_perm=128). :class:`SimilarityIndex` bands them as datasketch's ``MinHashLSH`` does (a lookup is a few
dozen probes, whatever the number of pages) in compact NumPy tables, then re-ranks the LSH candidates by
their exact MinHash Jaccard estimate and drops those under the threshold. :class:`PairwiseScan` is the same interface
done by comparing with every stored signature: the reference for tests and ``bench/simindex.py``.

Pure and in memory: the lead rebuilds the index from the store at start (``from_items``) and keeps it
current with ``add``/``remove``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Collection, Hashable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from detect.minhash import Lean, optimal_param

log = logging.getLogger(__name__)

NUM_PERM = 128
DEFAULT_THRESHOLD = 0.5
QUERY_CHUNK = 4096  # query_each: queries whose band keys are looked up at once (4 MiB of signatures)
RECALL_WEIGHTS = (0.1, 0.9)
"""datasketch's (false positive, false negative) weights for choosing bands: missing a near-duplicate costs
more than a spurious candidate, which the exact re-ranking drops (b=32 bands of r=4 at t=0.5, num_perm 128)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)

_MAX32 = 0xFFFFFFFF
Values = npt.NDArray[np.unsignedinteger[Any]]  # a signature's hash values (32- or 64-bit), or rows of them
Key = Hashable  # (domain, observation id) for the lead; anything hashable for the index
Signature = npt.NDArray[np.generic]


class BadSignature(ValueError):
    """Bytes that are not a serialised LeanMinHash of the index's num_perm."""


def decode(minhash_bytes: bytes, num_perm: int = NUM_PERM) -> Lean:
    """A serialised LeanMinHash read back; BadSignature when the bytes are not one of ``num_perm``."""
    try:
        lean = Lean.deserialize(minhash_bytes)
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as exc:  # any garbage
        raise BadSignature(f"not a serialised LeanMinHash: {exc}") from None
    if len(lean.hashvalues) != num_perm:
        raise BadSignature(f"num_perm {len(lean.hashvalues)}, expected {num_perm}")
    return lean


def signature(minhash_bytes: bytes, num_perm: int = NUM_PERM) -> Signature:
    """The hash values of a serialised LeanMinHash (what the exact Jaccard estimate compares)."""
    return np.asarray(decode(minhash_bytes, num_perm).hashvalues)


def _narrow(rows: Values) -> Values:
    """32-bit rows when every value fits (a legacy-layout signature is read as 64-bit, values < 2³²)."""
    if rows.dtype != np.uint32 and (not rows.size or int(rows.max()) <= _MAX32):
        return rows.astype(np.uint32)
    return rows


def _chunks(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
    ``threshold``, best first (ties in insertion order). LSH is probabilistic: a true pair at the threshold
    is found with high but not certain probability (bench/RESULTS.md measures recall), pairs well above it
    almost surely.

    The banding is datasketch's (``lsh._optimal_param``, ported in detect.minhash: 32 bands of 4 rows at
    t=0.5, num_perm 128), so the candidates are the ones datasketch's ``MinHashLSH`` would give, but kept
    compactly: every band of every
    page is one 64-bit key (the band's values mixed with the band number) in one sorted NumPy array with
    the page's slot beside it, signatures are rows of one matrix, and a lookup is one ``searchsorted`` of
    the query's band keys. Pages added since the last merge sit in a small dict until it grows past an
    eighth of the sorted part; removal marks the slot dead (compacted when half are). About 0.9 KiB a
    page at num_perm 128 (a signature's 128 values in 32 bits while they fit, 32 band keys of 64 bits and
    their 32-bit slots), against ~10 KiB in datasketch's per-bucket sets. A band-key collision (2⁻⁶⁴)
    only adds a candidate, which the exact re-ranking drops.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = NUM_PERM,
                 weights: tuple[float, float] = RECALL_WEIGHTS) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = optimal_param(threshold, num_perm, weights[0], weights[1])
        self._keys: list[Key] = []  # by slot; a dead slot keeps its key until compaction
        self._slot: dict[Key, int] = {}  # live keys only
        # 32-bit rows while every signature's values fit (datasketch's affine32 and legacy schemes, all
        # hydrawatch stores): half the memory of 64-bit ones; widened if an affine64 signature comes
        self._sigs: Values = np.zeros((0, num_perm), dtype=np.uint32)
        self._alive: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._table_keys: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)  # sorted band keys
        self._table_slots: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._recent: dict[int, list[int]] = {}  # band key -> slots added since the last merge
        self._recent_pages = 0
        self._layouts: dict[tuple[int, bytes], tuple[np.dtype, int]] = {}  # see _hashvalues

    @classmethod
    def from_items(cls, items: Iterable[tuple[Key, bytes]], threshold: float = DEFAULT_THRESHOLD,
                   num_perm: int = NUM_PERM) -> SimilarityIndex:
        """An index of every (key, minhash bytes); undecodable signatures are logged and skipped."""
        index = cls(threshold=threshold, num_perm=num_perm)
        latest: dict[Key, Values] = {}
        for key, blob in items:
            try:
                latest[key] = index._hashvalues(blob)
            except BadSignature as exc:
                log.warning("similarity index: skipping %r: %s", key, exc)
        index._rebuild(list(latest), _narrow(np.vstack(list(latest.values())) if latest
                                             else np.zeros((0, num_perm), dtype=np.uint32)))
        return index

    def add(self, key: Key, minhash_bytes: bytes) -> None:
        """Store (or replace) the signature under ``key``."""
        sig = self._hashvalues(minhash_bytes)
        self.remove(key)
        slot = len(self._keys)
        if slot == len(self._sigs):  # grow by doubling
            grown = np.zeros((max(16, 2 * slot), self.num_perm), dtype=self._sigs.dtype)
            grown[:slot] = self._sigs[:slot]
            self._sigs = grown
            self._alive = np.concatenate([self._alive, np.zeros(len(grown) - len(self._alive), dtype=bool)])
        if self._sigs.dtype != np.uint64 and sig.dtype.itemsize > self._sigs.dtype.itemsize and sig.max() > _MAX32:
            self._sigs = self._sigs.astype(np.uint64)  # an affine64 signature: every row 64-bit from now on
        self._sigs[slot] = sig
        self._alive[slot] = True
        self._keys.append(key)
        self._slot[key] = slot
        for band_key in self._band_keys(sig[None, :])[0].tolist():
            self._recent.setdefault(band_key, []).append(slot)
        self._recent_pages += 1
        if self._recent_pages > max(1024, len(self._slot) // 8):
            self._merge()

    def remove(self, key: Key) -> None:
        """Forget ``key``; unknown keys are ignored (removal is idempotent)."""
        slot = self._slot.pop(key, None)
        if slot is None:
            return
        self._alive[slot] = False
        if len(self._keys) > 1024 and len(self._slot) < len(self._keys) // 2:
            self._merge()

    def query(self, minhash_bytes: bytes, top: int = 10) -> list[tuple[Key, float]]:
        """Stored keys near-identical to the signature: [(key, estimated Jaccard)], best first."""
        sig = self._hashvalues(minhash_bytes)
        band_keys = self._band_keys(sig[None, :])[0]
        lo = np.searchsorted(self._table_keys, band_keys, side="left")
        hi = np.searchsorted(self._table_keys, band_keys, side="right")
        return self._lookup(sig, band_keys, lo, hi, self._table_slots, self._recent, self._alive, top)

    def query_each(self, queries: Iterable[bytes], top: int = 10, *,
                   exclude: Collection[Key] = ()) -> Iterator[list[tuple[Key, float]]]:
        """``query`` of each signature, among the stored keys not in ``exclude``: up to ``top`` of those.

        The excluded keys are taken out of the band table once, before the first lookup (linear in the
        table), not dropped from each result: a query whose best matches are all excluded (a network of
        near-identical pages asking for pages like its own) would otherwise get nothing, and would gather
        and rank every excluded look-alike each time (quadratic in the excluded). The queries' band keys
        are looked up QUERY_CHUNK at a time, so a query that meets no bucket costs no Python step. A
        signature that cannot be read gives an empty list."""
        gone = [self._slot[k] for k in exclude if k in self._slot]
        keep = self._alive
        if gone:
            keep = keep.copy()
            keep[np.array(gone, dtype=np.int64)] = False
            mask = keep[self._table_slots]
            table_keys, table_slots = self._table_keys[mask], self._table_slots[mask]
            recent = {band: kept for band, slots in self._recent.items() if (kept := [s for s in slots if keep[s]])}
        else:
            table_keys, table_slots, recent = self._table_keys, self._table_slots, self._recent
        recent_keys = np.fromiter(recent, dtype=np.uint64, count=len(recent))
        for chunk in _chunks(queries, QUERY_CHUNK):
            sigs: list[Values | None] = []
            for blob in chunk:
                try:
                    sigs.append(self._hashvalues(blob))
                except BadSignature as exc:
                    log.warning("similarity index: skipping a query: %s", exc)
                    sigs.append(None)
            good = [sig for sig in sigs if sig is not None]
            if not good:
                yield from ([] for _ in sigs)
                continue
            bands = self._band_keys(np.vstack(good))
            lo = np.searchsorted(table_keys, bands.ravel(), side="left").reshape(bands.shape)
            hi = np.searchsorted(table_keys, bands.ravel(), side="right").reshape(bands.shape)
            met = np.asarray((hi > lo).any(axis=1) | np.isin(bands, recent_keys).any(axis=1), dtype=bool).tolist()
            row = 0
            for sig in sigs:
                if sig is None:
                    yield []
                    continue
                yield (self._lookup(sig, bands[row], lo[row], hi[row], table_slots, recent, keep, top)
                       if met[row] else [])
                row += 1

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def __len__(self) -> int:
        return len(self._slot)

    # -- internals ----------------------------------------------------------------------------------

    def _hashvalues(self, minhash_bytes: bytes) -> Values:
        """The signature's hash values. The first blob of each (length, header) is read by detect.minhash,
        which also says where the values sit and their width; later blobs of that layout (every page of
        one store: one seed, one scheme) are read straight from the bytes, 20× faster."""
        layout = self._layouts.get((len(minhash_bytes), bytes(minhash_bytes[:16])))
        if layout is None:
            values = np.asarray(decode(minhash_bytes, self.num_perm).hashvalues)
            offset = len(minhash_bytes) - values.nbytes
            if offset >= 0 and len(self._layouts) < 64 and np.array_equal(
                    np.frombuffer(minhash_bytes, dtype=values.dtype, count=self.num_perm, offset=offset), values):
                self._layouts[(len(minhash_bytes), bytes(minhash_bytes[:16]))] = (values.dtype, offset)
            return values
        dtype, offset = layout
        return np.frombuffer(minhash_bytes, dtype=dtype, count=self.num_perm, offset=offset)

    def _lookup(self, sig: Values, band_keys: npt.NDArray[np.uint64], lo: npt.NDArray[np.intp],
                hi: npt.NDArray[np.intp], table_slots: npt.NDArray[np.int32], recent: dict[int, list[int]],
                alive: npt.NDArray[np.bool_], top: int) -> list[tuple[Key, float]]:
        """The live slots in the query's buckets (``lo``/``hi``: their ranges in the sorted table, and the
        recent dict), ranked by estimated Jaccard."""
        parts = [table_slots[a:b] for a, b in zip(lo.tolist(), hi.tolist()) if b > a]
        if recent:
            parts.extend(np.array(recent[k], dtype=np.int64) for k in band_keys.tolist() if k in recent)
        if not parts:
            return []
        slots = np.unique(np.concatenate(parts))
        slots = slots[alive[slots]]
        if not len(slots):
            return []
        scores = (self._sigs[slots] == sig).mean(axis=1)
        return _top([self._keys[i] for i in slots.tolist()], scores, self.threshold, top)

    def _band_keys(self, sigs: Values) -> npt.NDArray[np.uint64]:
        """(pages, bands) 64-bit keys: each band's ``rows`` values and the band number, mixed."""
        with np.errstate(over="ignore"):
            cut = sigs[:, : self.bands * self.rows].reshape(len(sigs), self.bands, self.rows)
            acc = np.broadcast_to(np.arange(self.bands, dtype=np.uint64) * _GOLDEN, (len(sigs), self.bands)).copy()
            for j in range(self.rows):
                acc ^= cut[:, :, j]
                acc *= _MIX
                acc ^= acc >> np.uint64(29)
        return acc

    def _rebuild(self, keys: list[Key], sigs: Values) -> None:
        self._keys = list(keys)
        self._slot = {key: i for i, key in enumerate(self._keys)}
        self._sigs = np.ascontiguousarray(sigs)
        self._alive = np.ones(len(keys), dtype=bool)
        band_keys = self._band_keys(self._sigs).ravel()
        order = np.argsort(band_keys, kind="stable")
        self._table_keys = band_keys[order]
        self._table_slots = (order // self.bands).astype(np.int32)
        self._recent = {}
        self._recent_pages = 0

    def _merge(self) -> None:
        """Fold recent pages into the sorted table and drop dead slots (a rebuild of the live pages)."""
        live = [slot for slot in range(len(self._keys)) if self._alive[slot]]
        self._rebuild([self._keys[i] for i in live], self._sigs[np.array(live, dtype=np.int64)]
                      if live else np.zeros((0, self.num_perm), dtype=self._sigs.dtype))


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
