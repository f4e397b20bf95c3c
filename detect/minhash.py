"""The part of datasketch 2.x hydrawatch uses, without importing datasketch: its package ``__init__``
loads ``datasketch.lsh`` and through it SciPy (0.7 s of a 0.8 s import, paid by every process that
fingerprints or indexes a page). Pure, NumPy only.

Byte for byte what datasketch 2.0 does (tests/detect/test_minhash.py compares with it):

- ``MinHash(num_perm, seed=1)``'s default scheme ``affine32``: permutations ``a`` (odd) and ``b`` drawn by
  ``np.random.RandomState(seed)``, inputs pre-mixed by the MurmurHash3 32-bit finalizer, ``a*h + b`` mod 2^32,
  the minimum per permutation (``update_batch``);
- ``LeanMinHash.serialize``/``deserialize`` in native byte order: ``@qi`` (seed, number of values) then the
  values as ``I`` for the pre-2.0 ``legacy`` layout, or ``@qiB`` (seed, minus the number, scheme code) then
  the values aligned, ``I`` for affine32 and ``Q`` for affine64; garbage raises what datasketch raises
  (struct.error, ValueError, ...);
- ``datasketch.lsh._optimal_param``: the (bands, rows) minimising the weighted false positive and false
  negative areas. datasketch integrates with SciPy's ``quad``; the integrands are polynomials of degree
  at most ``num_perm``, which Gauss-Legendre quadrature with enough nodes integrates exactly.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

LEGACY, AFFINE32, AFFINE64 = "legacy", "affine32", "affine64"
_CODES = {AFFINE32: 1, AFFINE64: 2}
_CODES_INV = {code: scheme for scheme, code in _CODES.items()}
_VALUE_FMT = {LEGACY: "I", AFFINE32: "I", AFFINE64: "Q"}
_DTYPE = {LEGACY: np.uint64, AFFINE32: np.uint32, AFFINE64: np.uint64}
_MAX32 = np.uint32(0xFFFFFFFF)


class Lean:
    """A frozen MinHash as ``datasketch.LeanMinHash`` holds it: seed, scheme and hash values."""

    __slots__ = ("hashvalues", "scheme", "seed")

    def __init__(self, seed: int, hashvalues: Iterable[int] | npt.NDArray[np.generic], scheme: str) -> None:
        if scheme not in _VALUE_FMT:
            raise ValueError(f"scheme must be one of {', '.join(_VALUE_FMT)}, got {scheme!r}")
        self.seed = seed
        self.scheme = scheme
        values = hashvalues if isinstance(hashvalues, np.ndarray) else tuple(hashvalues)
        self.hashvalues: npt.NDArray[np.generic] = np.array(values, dtype=_DTYPE[scheme])
        if scheme != LEGACY and len(self.hashvalues) == 0:
            raise ValueError("hashvalues must not be empty")

    def __len__(self) -> int:
        return len(self.hashvalues)

    def serialize(self) -> bytes:
        """datasketch's ``LeanMinHash.serialize`` with the default (native) byte order."""
        n = len(self.hashvalues)
        if self.scheme == LEGACY:
            fmt = f"@qi{n}I"
            buf = bytearray(struct.calcsize(fmt))
            struct.pack_into(fmt, buf, 0, self.seed, n, *self.hashvalues.tolist())
        else:
            fmt = f"@qiB{n}{_VALUE_FMT[self.scheme]}"
            buf = bytearray(struct.calcsize(fmt))
            struct.pack_into(fmt, buf, 0, self.seed, -n, _CODES[self.scheme], *self.hashvalues.tolist())
        return bytes(buf)

    @classmethod
    def deserialize(cls, buf: bytes | bytearray | memoryview) -> Lean:
        """datasketch's ``LeanMinHash.deserialize`` (native byte order), the same exceptions on garbage."""
        seed, num_perm = struct.unpack_from("@qi", buf, 0)
        if num_perm >= 0:
            scheme = LEGACY
            offset = struct.calcsize("@qi")
        else:
            num_perm = -num_perm
            (code,) = struct.unpack_from("@B", buf, struct.calcsize("@qi"))
            if code not in _CODES_INV:
                raise ValueError(f"Unknown permutation scheme code: {code}")
            scheme = _CODES_INV[code]
            offset = struct.calcsize(f"@qiB0{_VALUE_FMT[scheme]}")
        values = struct.unpack_from(f"@{num_perm}{_VALUE_FMT[scheme]}", buf, offset)
        return cls(seed, values, scheme)

    def jaccard(self, other: Lean) -> float:
        """Estimated Jaccard similarity: the share of equal hash values (datasketch's ``jaccard``)."""
        if other.scheme != self.scheme or other.seed != self.seed or len(other) != len(self):
            raise ValueError("cannot compare MinHashes of different schemes, seeds or sizes")
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / float(len(self))


@functools.cache
def permutations(num_perm: int = 128, seed: int = 1) -> npt.NDArray[np.uint32]:
    """The (a, b) rows datasketch's ``MinHash(num_perm, seed)`` draws for the affine32 scheme."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    perms = np.array([a, b])
    perms.setflags(write=False)
    return perms


def _fmix32(hv: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's 32-bit finalizer (datasketch's pre-mix of every input), wrapping mod 2^32."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def minhash32(hashes: Iterable[int], num_perm: int = 128, seed: int = 1) -> Lean:
    """``MinHash(num_perm, seed, hashfunc=int)`` (scheme affine32) after ``update_batch(hashes)``: the
    minimum of every permutation over the 32-bit input hashes (all 2^32-1 when there are none)."""
    a, b = permutations(num_perm, seed)
    values = np.full(num_perm, _MAX32, dtype=np.uint32)
    hv = np.array(list(hashes), dtype=np.uint32).reshape(-1, 1)
    if len(hv):
        with np.errstate(over="ignore"):
            values = np.minimum(values, (_fmix32(hv) * a + b).min(axis=0))
    return Lean(seed, values, AFFINE32)


def _false_positive(threshold: float, b: int, r: int, nodes: npt.NDArray[np.float64],
                    weights: npt.NDArray[np.float64]) -> float:
    s = nodes * (threshold / 2.0) + threshold / 2.0  # [-1, 1] -> [0, threshold]
    return float(np.dot(weights, 1.0 - (1.0 - s ** float(r)) ** float(b)) * threshold / 2.0)


def _false_negative(threshold: float, b: int, r: int, nodes: npt.NDArray[np.float64],
                    weights: npt.NDArray[np.float64]) -> float:
    half = (1.0 - threshold) / 2.0
    s = nodes * half + (threshold + half)  # [-1, 1] -> [threshold, 1]
    return float(np.dot(weights, (1.0 - s ** float(r)) ** float(b)) * half)


@functools.lru_cache(maxsize=64)
def optimal_param(threshold: float, num_perm: int, false_positive_weight: float,
                  false_negative_weight: float) -> tuple[int, int]:
    """datasketch's ``lsh._optimal_param``: the (bands, rows), bands*rows <= num_perm, minimising
    fp_weight * (area under the candidate curve below the threshold) + fn_weight * (area above it
    missed). The integrands have degree b*r <= num_perm; Gauss-Legendre with n nodes is exact to 2n-1."""
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 8)
    min_error = float("inf")
    opt = (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _false_positive(threshold, b, r, nodes, weights)
            fn = _false_negative(threshold, b, r, nodes, weights)
            error = fp * false_positive_weight + fn * false_negative_weight
            if error < min_error:
                min_error = error
                opt = (b, r)
    return opt
