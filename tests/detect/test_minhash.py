"""detect.minhash is datasketch 2.x byte for byte (what stored signatures were made with), without its import.

datasketch stays a dev dependency for these comparisons: signatures, deserialisation, Jaccard estimates and
the LSH banding must come out identical, and garbage must be refused the same way.
"""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash
from datasketch.lsh import _optimal_param

from detect import similarity
from detect.minhash import AFFINE64, LEGACY, Lean, minhash32, optimal_param, permutations
from detect.simindex import BadSignature, SimilarityIndex, decode

_ERRORS = (ValueError, TypeError, OverflowError, MemoryError, IndexError, struct.error)


def datasketch_bytes(hashes: list[int], num_perm: int = 128, seed: int = 1) -> bytes:
    mh = MinHash(num_perm=num_perm, seed=seed, hashfunc=int)
    mh.update_batch(hashes)
    lean = LeanMinHash(mh)
    buf = bytearray(lean.bytesize())
    lean.serialize(buf)
    return bytes(buf)


def hash_sets(rng: random.Random) -> list[list[int]]:
    edges = [[0], [2**32 - 1], [0, 2**32 - 1], list(range(10)), [7] * 5, list(range(2**32 - 300, 2**32))]
    return edges + [[rng.getrandbits(32) for _ in range(rng.choice((1, 2, 9, 10, 50, 400, 3000)))]
                    for _ in range(150)]


def test_permutations_are_datasketchs() -> None:
    for num_perm, seed in ((128, 1), (64, 1), (1, 1), (256, 7)):
        assert np.array_equal(permutations(num_perm, seed), MinHash(num_perm=num_perm, seed=seed).permutations)
        assert permutations(num_perm, seed).dtype == MinHash(num_perm=num_perm, seed=seed).permutations.dtype


def test_signatures_serialise_byte_for_byte() -> None:
    rng = random.Random(11)
    for hashes in hash_sets(rng):
        for num_perm, seed in ((128, 1), (64, 1), (128, 3)):
            ours = minhash32(hashes, num_perm, seed).serialize()
            assert ours == datasketch_bytes(hashes, num_perm, seed)
    assert minhash32([], 128).serialize() == datasketch_bytes([], 128)  # no update: all 2^32-1


def test_minhash_of_text_is_datasketchs_of_the_shingles() -> None:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(300)] + ["Ünïcode", "ﬁne", "日本語"]
    for n_words in (14, 15, 40, 1000, 20_000):
        text = " ".join(rng.choice(vocab) for _ in range(n_words))
        words = similarity.normalise_text(text)
        shingles = {" ".join(words[i: i + 5]) for i in range(len(words) - 4)}
        if len(shingles) < similarity.MIN_SHINGLES:
            assert similarity.minhash_of_text(text) is None
            continue
        reference = MinHash(num_perm=128, seed=1)  # datasketch's default: sha1_hash32, affine32
        reference.update_batch([s.encode("utf-8") for s in shingles])
        lean = LeanMinHash(reference)
        buf = bytearray(lean.bytesize())
        lean.serialize(buf)
        assert similarity.minhash_of_text(text) == bytes(buf)


def datasketch_made(rng: random.Random) -> list[bytes]:
    """Serialised LeanMinHashes of every scheme, as datasketch writes them (legacy: pre-2.0 stores)."""
    out = []
    for scheme in ("affine32", "affine64", "legacy"):
        for num_perm in (1, 2, 64, 128):
            mh = MinHash(num_perm=num_perm, seed=rng.choice((1, 2, 42)), scheme=scheme)
            mh.update_batch([str(rng.random()).encode() for _ in range(rng.randint(1, 40))])
            lean = LeanMinHash(mh)
            buf = bytearray(lean.bytesize())
            lean.serialize(buf)
            out.append(bytes(buf))
    return out


def test_datasketch_bytes_deserialise_to_the_same_values() -> None:
    for data in datasketch_made(random.Random(2)):
        theirs, ours = LeanMinHash.deserialize(data), Lean.deserialize(data)
        assert (ours.seed, ours.scheme) == (theirs.seed, theirs.scheme)
        assert ours.hashvalues.dtype == theirs.hashvalues.dtype
        assert np.array_equal(ours.hashvalues, theirs.hashvalues)
        assert ours.serialize() == data
    assert Lean.deserialize(datasketch_made(random.Random(2))[4]).scheme == AFFINE64
    assert Lean.deserialize(datasketch_made(random.Random(2))[-1]).scheme == LEGACY


def test_jaccard_estimates_are_identical() -> None:
    rng = random.Random(9)
    base = [rng.getrandbits(32) for _ in range(300)]
    sigs = [datasketch_bytes(base[: rng.randint(1, 300)] + [rng.getrandbits(32) for _ in range(rng.randint(0, 300))])
            for _ in range(40)]
    for a in sigs[:10]:
        for b in sigs:
            expected = LeanMinHash.deserialize(a).jaccard(LeanMinHash.deserialize(b))
            assert Lean.deserialize(a).jaccard(Lean.deserialize(b)) == expected
            assert similarity.minhash_jaccard(a, b) == expected


@pytest.mark.parametrize(("threshold", "num_perm", "weights"), [
    (0.5, 128, (0.1, 0.9)), (0.5, 128, (0.5, 0.5)), (0.3, 128, (0.1, 0.9)), (0.8, 128, (0.1, 0.9)),
    (0.9, 256, (0.5, 0.5)), (0.1, 64, (0.9, 0.1)), (0.65, 32, (0.2, 0.8)), (0.5, 1, (0.5, 0.5)),
])
def test_lsh_banding_is_datasketchs(threshold: float, num_perm: int, weights: tuple[float, float]) -> None:
    assert optimal_param(threshold, num_perm, *weights) == _optimal_param(threshold, num_perm, *weights)


def test_index_banding_unchanged() -> None:
    index = SimilarityIndex()
    assert (index.bands, index.rows) == (32, 4) == _optimal_param(0.5, 128, 0.1, 0.9)


def test_garbage_is_refused_as_datasketch_refuses_it() -> None:
    good = datasketch_bytes(list(range(50)))
    legacy = datasketch_made(random.Random(3))[-1]
    bad_code = good[:12] + b"\x09" + good[13:]
    garbage = [b"", b"xx", b"\x00garbage", good[:100], good[:13], legacy[:20], bad_code,
               struct.pack("@qi", 1, -(2**31)) + b"\x01", struct.pack("@qiB", 1, 0, 1), b"\xff" * 600]
    for data in garbage:
        try:
            LeanMinHash.deserialize(data)
        except _ERRORS as exc:
            with pytest.raises(type(exc)):
                Lean.deserialize(data)
            with pytest.raises(BadSignature):
                decode(data)
            assert similarity.minhash_jaccard(data, good) is None
        else:
            theirs = LeanMinHash.deserialize(data)
            assert np.array_equal(Lean.deserialize(data).hashvalues, theirs.hashvalues)
    with pytest.raises(BadSignature, match="num_perm 64"):
        decode(datasketch_bytes(list(range(50)), num_perm=64))
    assert similarity.minhash_jaccard(good, datasketch_bytes(list(range(50)), num_perm=64)) is None
    assert similarity.minhash_jaccard(good, datasketch_bytes(list(range(50)), seed=2)) is None
    assert similarity.minhash_jaccard(None, good) is None


def test_text_crowd_reads_the_same_rows() -> None:
    rng = random.Random(4)
    sigs = {f"p{i}": datasketch_bytes([rng.getrandbits(32) for _ in range(rng.randint(1, 200))]) for i in range(30)}
    crowd = similarity.TextCrowd({**sigs, "junk": b"xx", "small": datasketch_bytes([1, 2], num_perm=64)})
    assert crowd.names == tuple(sigs)
    assert np.array_equal(crowd.matrix, np.vstack([LeanMinHash.deserialize(d).hashvalues for d in sigs.values()]))
    assert crowd.matrix.dtype == LeanMinHash.deserialize(sigs["p0"]).hashvalues.dtype


def test_overlap_estimate_follows_the_exact_overlap_coefficient() -> None:
    """The overlap coefficient estimated from two signatures (set sizes from the minima, the union from
    their element-wise minimum) stays near the exact one across sizes and shares."""
    import random

    rng = random.Random(7)
    errors = []
    for _ in range(60):
        a_size, shared, b_extra = rng.randint(40, 400), 0, rng.randint(20, 600)
        shared = rng.randint(0, a_size)
        a = [rng.getrandbits(32) for _ in range(a_size)]
        b = a[:shared] + [rng.getrandbits(32) for _ in range(b_extra)]
        exact = shared / min(len(a), len(b))
        est = similarity.minhash_overlap(datasketch_bytes(a), datasketch_bytes(b))
        assert est is not None and est >= (similarity.minhash_jaccard(datasketch_bytes(a), datasketch_bytes(b)) or 0)
        errors.append(est - exact)
    # kept on the low side (one standard error below the Jaccard): rarely above the truth, never far
    over = sorted(e for e in errors if e > 0)
    assert len(over) <= len(errors) // 4 and (not over or over[-1] < 0.2), over
    assert sorted(abs(e) for e in errors)[len(errors) // 2] < 0.1, sorted(errors)


def test_overlap_of_unreadable_or_missing_signatures_is_none() -> None:
    assert similarity.minhash_overlap(None, datasketch_bytes([1, 2, 3])) is None
    assert similarity.minhash_overlap(b"garbage", datasketch_bytes(list(range(20)))) is None
