"""How much page text candidates share with the seeded network, by what they really are (issue 13's
worlds, kept by ``bench/detection.py --keep-all DIR``). Run by hand, not in the tests:

    .venv/bin/python bench/detection.py --seeds 1-30 --jobs 2 --keep-all /tmp/keep
    .venv/bin/python bench/text_overlap.py /tmp/keep [--csv out.csv]

For every scored candidate of every kept seed: the exact word 5-shingle sets (the ones the MinHash
sketches) of its own latest page and of every seed's pages, and against the seed page it shares most
with: the Jaccard, the containment of the smaller set in the larger (overlap coefficient), the number of
shared shingles, and how many of those no other stored domain (outside the seeds and the candidate) has.
Rows are grouped by truth: a replacement (by copy style), a decoy (by class), or neither. The answer key
is read here only, as in bench/detection.py.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import sqlite3
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detect.minhash import minhash32
from detect.page_parse import parse
from detect.similarity import SHINGLE_WORDS, minhash_overlap, normalise_text


def sketch(sh: frozenset[str]) -> bytes | None:
    """The product's signature (detect.similarity.minhash_of_text) of a shingle set."""
    if len(sh) < 10:
        return None
    return minhash32([int.from_bytes(hashlib.sha1(s.encode("utf-8")).digest()[:4], "little") for s in sh]).serialize()


def shingles(body: bytes) -> frozenset[str]:
    words = normalise_text(parse(body).text)
    return frozenset(" ".join(words[i: i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1))


def pages_by_domain(db: sqlite3.Connection) -> dict[str, list[tuple[str, frozenset[str]]]]:
    """Every domain's own pages (redirect targets' pages left out), oldest first: (observed_at, shingles)."""
    out: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
    cache: dict[str, frozenset[str]] = {}
    rows = db.execute(
        "SELECT d.name, o.observed_at, b.sha256, b.body_gz FROM pages p JOIN observations o ON o.id = p.observation_id "
        "JOIN domains d ON d.id = p.domain_id JOIN bodies b ON b.sha256 = p.body_sha256 "
        "WHERE NOT o.off_site ORDER BY o.observed_at").fetchall()
    for name, at, sha, gz in rows:
        if sha not in cache:
            cache[sha] = shingles(gzip.decompress(gz))
        out[name].append((at, cache[sha]))
    return out


def analyse(folder: Path) -> list[dict[str, object]]:
    key = json.loads((folder / "answers.json").read_text())
    seeds = set(key["seeds"])
    truth: dict[str, str] = {r["to"]: f"replacement/{r['copy']}/{r['route']}" for r in key["replacements"]}
    truth.update({d["domain"]: f"decoy/{d['class']}" for d in key["decoys"]})
    db = sqlite3.connect(folder / "store.db")
    pages = pages_by_domain(db)
    scored = dict(db.execute("SELECT name, score FROM candidates WHERE score IS NOT NULL").fetchall())
    # how many stored domains (each counted once, over all their pages) carry each shingle
    carriers: Counter[str] = Counter()
    for name, seen in pages.items():
        carriers.update(frozenset().union(*(s for _, s in seen)))
    seed_pages = [(name, s) for name in seeds for _, s in pages.get(name, []) if s]
    seed_carry: Counter[str] = Counter()
    for name in seeds:
        seed_carry.update(frozenset().union(*(s for _, s in pages.get(name, [])), frozenset()))
    out = []
    for name, score in scored.items():
        if name in seeds or not pages.get(name):
            continue
        own = pages[name][-1][1]
        if not own:
            continue
        best = max(((len(own & s), n, s) for n, s in seed_pages), default=(0, "", frozenset()))
        shared, net, theirs = best
        union = len(own | theirs) or 1
        common = own & theirs
        # shingles of the shared part no stored domain outside the seeds and this candidate carries
        rare = sum(1 for sh in common if carriers[sh] - seed_carry[sh] - 1 <= 0)
        out.append({"seed": key["seed"], "domain": name, "truth": truth.get(name, "other"), "score": score,
                    "net": net, "own": len(own), "theirs": len(theirs), "shared": shared,
                    "jaccard": round(shared / union, 3),
                    "cont_own": round(shared / len(own), 3),
                    "overlap": round(shared / (min(len(own), len(theirs)) or 1), 3),
                    "rare": rare,
                    "est_overlap": round(minhash_overlap(sketch(own), sketch(theirs)) or 0.0, 3)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", help="the --keep-all folder of bench/detection.py")
    ap.add_argument("--csv", help="write every row here")
    args = ap.parse_args()
    rows = [r for d in sorted(Path(args.folder).glob("seed-*")) if (d / "answers.json").exists()
            for r in analyse(d)]
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        t = str(r["truth"])
        groups["/".join(t.split("/")[:2])].append(r)
    print(f"{'truth':32} {'n':>4} {'jaccard p50/max':>16} {'overlap p50/max':>16} {'rare p50/max':>13} {'est p50/max':>13}")
    for t, rs in sorted(groups.items()):
        def pm(k: str, rs: list[dict[str, object]] = rs) -> str:
            vals = [float(r[k]) for r in rs]  # type: ignore[arg-type]
            return f"{statistics.median(vals):.2f}/{max(vals):.2f}"
        print(f"{t:32} {len(rs):4} {pm('jaccard'):>16} {pm('overlap'):>16} {pm('rare'):>13} {pm('est_overlap'):>13}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
