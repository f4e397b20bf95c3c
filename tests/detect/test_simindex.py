"""The MinHash LSH similarity index finds near-duplicate pages and only those, like the exact scan."""

from __future__ import annotations

import random

import pytest
from datasketch import LeanMinHash, MinHash

from detect.simindex import BadSignature, PairwiseScan, SimilarityIndex


def minhash(shingles: list[str]) -> bytes:
    m = MinHash(num_perm=128)
    for s in shingles:
        m.update(s.encode())
    lean = LeanMinHash(m)
    buf = bytearray(lean.bytesize())
    lean.serialize(buf)
    return bytes(buf)


def page(rng: random.Random, n: int = 400) -> list[str]:
    return [f"w{rng.randrange(10**9)}" for _ in range(n)]


def near_copy(rng: random.Random, shingles: list[str], keep: float) -> list[str]:
    kept = [s for s in shingles if rng.random() < keep]
    return kept + page(rng, len(shingles) - len(kept))


@pytest.fixture(scope="module")
def world() -> tuple[dict[tuple[str, int], bytes], list[str]]:
    rng = random.Random(3)
    base = page(rng)
    pages = {(f"site{i}.example", i): minhash(page(rng)) for i in range(300)}
    pages[("rrn.media", 1000)] = minhash(base)
    return pages, base


def test_a_near_duplicate_finds_its_original_and_nothing_unrelated(world: tuple[dict, list[str]]) -> None:
    pages, base = world
    index = SimilarityIndex.from_items(pages.items(), threshold=0.5)
    copy = minhash(near_copy(random.Random(5), base, keep=0.85))
    hits = index.query(copy)
    assert [k for k, _ in hits] == [("rrn.media", 1000)]
    assert 0.6 < hits[0][1] < 0.95
    assert index.query(minhash(page(random.Random(9)))) == []
    assert len(index) == 301 and ("rrn.media", 1000) in index


def test_lsh_agrees_with_the_pairwise_scan(world: tuple[dict, list[str]]) -> None:
    pages, base = world
    index = SimilarityIndex.from_items(pages.items())
    scan = PairwiseScan.from_items(pages.items())
    for seed in range(5):
        probe = minhash(near_copy(random.Random(seed), base, keep=0.9))
        assert index.query(probe) == scan.query(probe)


def test_results_are_ranked_and_capped() -> None:
    rng = random.Random(1)
    base = page(rng)
    items = [((f"c{i}.example", i), minhash(near_copy(rng, base, keep=0.95 - i * 0.03))) for i in range(8)]
    index = SimilarityIndex.from_items(items)
    hits = index.query(minhash(base), top=3)
    assert len(hits) == 3 and [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)
    assert hits[0][0] == ("c0.example", 0)


def test_remove_and_replace_keep_the_index_current() -> None:
    rng = random.Random(2)
    a, b = page(rng), page(rng)
    index = SimilarityIndex()
    index.add(("x.example", 1), minhash(a))
    index.add(("x.example", 1), minhash(b))  # replaced: a is gone
    assert index.query(minhash(a)) == [] and index.query(minhash(b))[0][0] == ("x.example", 1)
    index.remove(("x.example", 1))
    index.remove(("x.example", 1))  # idempotent
    assert len(index) == 0 and index.query(minhash(b)) == []


def test_garbage_signatures_are_rejected_and_skipped_on_rebuild() -> None:
    with pytest.raises(BadSignature):
        SimilarityIndex().add("k", b"\x00garbage")
    small = MinHash(num_perm=64)
    lean = LeanMinHash(small)
    buf = bytearray(lean.bytesize())
    lean.serialize(buf)
    with pytest.raises(BadSignature, match="num_perm 64"):
        SimilarityIndex().query(bytes(buf))
    good = minhash(page(random.Random(4)))
    assert len(SimilarityIndex.from_items([("bad", b"xx"), ("good", good)])) == 1


def test_threshold_is_validated() -> None:
    with pytest.raises(ValueError):
        SimilarityIndex(threshold=1.5)


def datasketch_query(pages: dict, probe: bytes, threshold: float = 0.5) -> set:
    """What datasketch's own MinHashLSH (same banding) returns above the threshold: the reference."""
    from datasketch import MinHashLSH

    from detect.simindex import RECALL_WEIGHTS, decode

    lsh = MinHashLSH(threshold=threshold, num_perm=128, weights=RECALL_WEIGHTS)
    for key, blob in pages.items():
        lsh.insert(key, decode(blob))
    lean = decode(probe)
    return {k for k in lsh.query(lean) if decode(pages[k]).jaccard(lean) >= threshold}


def test_compact_tables_give_datasketchs_candidates() -> None:
    rng = random.Random(11)
    bases = [page(rng) for _ in range(20)]
    pages = {(f"s{i}.example", i): minhash(near_copy(rng, bases[i % 20], keep=rng.uniform(0.3, 1.0)))
             for i in range(400)}
    index = SimilarityIndex.from_items(pages.items())
    for base in bases[:8]:
        probe = minhash(near_copy(rng, base, keep=0.7))
        assert {k for k, _ in index.query(probe, top=1000)} == datasketch_query(pages, probe)


def test_pages_added_one_by_one_past_the_merge_agree_with_a_rebuild() -> None:
    rng = random.Random(12)
    base = page(rng, 200)
    pages = {(f"p{i}.example", i): minhash(near_copy(rng, base, keep=0.8) if i % 25 in (1, 2) else page(rng, 60))
             for i in range(1500)}
    grown = SimilarityIndex()
    for key, blob in pages.items():
        grown.add(key, blob)
    for i in range(0, 1500, 2):  # half removed: compaction
        grown.remove((f"p{i}.example", i))
    kept = {k: v for k, v in pages.items() if k[1] % 2}
    rebuilt = SimilarityIndex.from_items(kept.items())
    probe = minhash(base)
    assert len(grown) == len(rebuilt) == 750
    assert grown.query(probe, top=100) == rebuilt.query(probe, top=100)
    hits = grown.query(probe, top=100)
    assert len(hits) == 60 and all(k[1] % 2 for k, _ in hits)


def test_query_each_leaves_the_excluded_out_before_ranking_so_they_crowd_nothing_out() -> None:
    """A network of near-identical pages asking for pages like its own: each of its sites' best matches are
    its own sites, so ranking all and dropping them after left nothing; the outsider is found by each."""
    rng = random.Random(13)
    base = page(rng)
    network = {f"net{i}.example": minhash(near_copy(rng, base, keep=0.97)) for i in range(40)}
    outsider = minhash(near_copy(rng, base, keep=0.75))
    others = {f"other{i}.example": minhash(page(rng)) for i in range(100)}
    index = SimilarityIndex.from_items([*network.items(), ("clone.example", outsider), *others.items()])
    crowded = [[k for k, _ in index.query(blob, top=5) if k not in network] for blob in network.values()]
    assert crowded == [[]] * len(network)  # what a drop-after-ranking gives
    found = list(index.query_each(network.values(), top=5, exclude=network))
    assert [[k for k, _ in hits] for hits in found] == [["clone.example"]] * len(network)
    assert all(0.5 <= hits[0][1] < 0.97 for hits in found)
    assert list(index.query_each([minhash(base)], top=50)) == [index.query(minhash(base), top=50)]  # nothing excluded
    assert len(index) == 141 and all(key in index for key in network)  # the index itself is unchanged


def test_query_each_sees_recent_pages_and_skips_unreadable_queries() -> None:
    rng = random.Random(14)
    base = page(rng)
    index = SimilarityIndex.from_items([("net.example", minhash(base))])
    index.add("net2.example", minhash(near_copy(rng, base, keep=0.95)))  # in the recent dict, not the table
    index.add("clone.example", minhash(near_copy(rng, base, keep=0.8)))
    found = list(index.query_each([b"\x00garbage", minhash(base)], exclude={"net.example", "net2.example", "x"}))
    assert found[0] == [] and [k for k, _ in found[1]] == ["clone.example"]


def test_query_each_in_chunks_answers_as_one_query_at_a_time(world: tuple[dict, list[str]],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import detect.simindex

    pages, base = world
    index = SimilarityIndex.from_items(pages.items())
    rng = random.Random(15)
    probes = [minhash(near_copy(rng, base, keep=rng.uniform(0.5, 1.0)) if i % 3 else page(rng)) for i in range(30)]
    monkeypatch.setattr(detect.simindex, "QUERY_CHUNK", 7)  # chunks of 7, the last one short
    assert list(index.query_each([*probes[:10], b"bad", *probes[10:]], top=3)) == [
        *(index.query(p, top=3) for p in probes[:10]), [], *(index.query(p, top=3) for p in probes[10:])]


def test_signatures_are_kept_in_32_bits_and_widened_for_a_64_bit_scheme() -> None:
    """affine32 and legacy signatures (values < 2³²) are held as 32-bit rows, half the memory; an affine64
    signature widens the rows and every page is still found as before."""
    import numpy as np

    from detect.minhash import AFFINE64, LEGACY, Lean

    rng = random.Random(16)
    base = page(rng)
    items = [(f"p{i}.example", minhash(near_copy(rng, base, keep=0.9) if i < 5 else page(rng))) for i in range(40)]
    legacy = Lean(1, np.arange(128, dtype=np.uint64) + 7, LEGACY).serialize()
    index = SimilarityIndex.from_items([*items, ("legacy.example", legacy)])
    assert index._sigs.dtype == np.uint32
    before = [index.query(blob, top=10) for _, blob in items]
    wide_values = np.array([2**40 + i for i in range(128)], dtype=np.uint64)
    wide = Lean(1, wide_values, AFFINE64).serialize()
    index.add("wide.example", wide)
    assert index._sigs.dtype == np.uint64
    assert index.query(wide) == [("wide.example", 1.0)] and index.query(legacy) == [("legacy.example", 1.0)]
    assert [index.query(blob, top=10) for _, blob in items] == before
    assert list(index.query_each([wide, legacy], exclude={"legacy.example"})) == [[("wide.example", 1.0)], []]
    rebuilt = SimilarityIndex.from_items([*items, ("wide.example", wide)])
    assert rebuilt._sigs.dtype == np.uint64 and rebuilt.query(wide) == [("wide.example", 1.0)]
