"""Detection quality on generated worlds (issue 13). Run by hand, not in the tests:

    .venv/bin/python bench/detection.py --seeds 1-30 [--jobs 2] [--json out.jsonl] [--write bench/RESULTS.md]
    .venv/bin/python bench/detection.py --seeds 7 --keep /tmp/seed7      # one world, store and config kept

Each seed is a world from ``sandbox.worldgen.generate(seed)`` (a network of 2–4 operators, a takedown,
10–20 replacements reached by every discovery route, every decoy class). The benchmark drives the real
CLI exactly as a user would, through the public interface only: a fresh SQLite store, ``init``, ``seed
add``, ``run --once`` on phase "before", the sandbox switched to "takedown", ``run --once`` again,
``export --format json``, and the mails the sandbox's SMTP server received. The config is the shipped
default (every ICANN TLD, all ten fuzzers, threshold 0.6) pointed at the sandbox, with RDAP **as in
reality**: a server only for the TLDs the bundled IANA bootstrap lists (no registration date for
``.de``, ``.eu``, ``.io``, ``.so`` … names), and ``[brands] legitimate`` as the world says (sometimes
empty). The answer key is read here only, never by product code.

Figures per seed and overall: precision and recall of the reported clones (every edge's ``to`` that is
not a seed), predecessor accuracy (the edge's ``from`` and relation as the key says, over found
replacements), alert correctness (each true clone mailed exactly once, no mail naming a decoy), recall
per discovery route and false positives per decoy class.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN_TIMEOUT = 900


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.extend(range(int(lo), int(hi) + 1))
        elif part.strip():
            out.append(int(part))
    return out


def realistic_rdap(overrides: dict[str, Any]) -> dict[str, str]:
    """RDAP servers only for the suffixes whose TLD the bundled IANA bootstrap lists (no ``*``)."""
    from crawler.rdap import load_bootstrap

    bootstrap = load_bootstrap()
    servers = overrides["rdap"]["servers"]
    return {suffix: url for suffix, url in servers.items() if suffix != "*" and suffix.rsplit(".", 1)[-1] in bootstrap}


def _cli(config: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    done = subprocess.run([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"hydrawatch {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(done.stdout) if "json" in args else done.stdout


def run_seed(seed: int, keep: str | None = None) -> dict[str, Any]:
    from hydrawatch.config import to_toml
    from sandbox.net import Sandbox
    from sandbox.worldgen import generate

    gw = generate(seed, datetime.now(UTC))
    key = gw.answers
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix=f"hw-detect-{seed}-"))
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with Sandbox.start(gw.world, "before") as sb:
        data: dict[str, dict[str, Any]] = {k: dict(v) for k, v in sb.config_overrides().items()}
        data["rdap"]["servers"] = realistic_rdap(data)
        data["storage"] = {"url": f"sqlite:///{work / 'store.db'}"}
        data["brands"] = {"legitimate": list(key["brands_legitimate"])}
        data["log"] = {"level": "WARNING"}
        config = work / "hydrawatch.toml"
        config.write_text(to_toml(data), encoding="utf-8")
        _cli(config, "init")
        _cli(config, "seed", "add", *key["seeds"], "--campaign", key["campaign"])
        t0 = time.monotonic()
        _cli(config, "run", "--once", "--format", "json")
        timings["before"] = time.monotonic() - t0
        sb.set_phase("takedown")
        t0 = time.monotonic()
        _cli(config, "run", "--once", "--format", "json")
        timings["takedown"] = time.monotonic() - t0
        export = _cli(config, "export", "--format", "json")
        statuses = {row["domain"]: row["status"] for row in _cli(config, "status", "--format", "json")}
        time.sleep(1.0)
        subjects = [str(m.get("Subject", "")) for m in sb.messages]
    row = score_seed(seed, key, export, statuses, subjects, timings)
    row["decoy_scores"] = decoy_scores(work / "store.db", key)
    if keep:
        (work / "answers.json").write_text(json.dumps(key, default=str), encoding="utf-8")
    return row


def decoy_scores(store: Path, key: dict[str, Any]) -> list[tuple[float, str, str]]:
    """(confidence, decoy, class) of the five decoys that came closest to the threshold: the margin."""
    import sqlite3

    cls = {d["domain"]: d["class"] for d in key["decoys"]}
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT name, score FROM candidates WHERE score IS NOT NULL").fetchall()
    scored = sorted(((float(s), n, cls[n]) for n, s in rows if n in cls), reverse=True)
    return scored[:5]


def _mailed(subjects: Iterable[str]) -> Counter[str]:
    """How many alert mails name each domain in their subject (the clone is the subject's domain)."""
    counts: Counter[str] = Counter()
    for s in subjects:
        for name in set(re.findall(r"[a-z0-9][a-z0-9.-]*\.[a-z]{2,}", s.lower())):
            counts[name] += 1
    return counts


def score_seed(seed: int, key: dict[str, Any], export: dict[str, Any], statuses: dict[str, str],
               subjects: list[str], timings: dict[str, float]) -> dict[str, Any]:
    seeds = set(key["seeds"])
    want = {r["to"]: r for r in key["replacements"]}
    decoy_class = {d["domain"]: d["class"] for d in key["decoys"]}
    edges: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in export["edges"]:
        edges[e["to"]].append(e)
    reported = {to for to in edges if to not in seeds}
    tp = reported & set(want)
    fp = sorted(reported - set(want))
    fn = sorted(set(want) - reported)
    pred_ok = 0
    wrong_pred: list[str] = []
    for to in sorted(tp):
        r = want[to]
        if any(e["from"] == r["from"] and e["relation"] in r["relations"] for e in edges[to]):
            pred_ok += 1
        else:
            wrong_pred.append(f"{to}: got {[(e['from'], e['relation']) for e in edges[to]]}, want {r['from']}")
    mailed = _mailed(subjects)
    mailed_once = sum(1 for to in tp if mailed.get(to, 0) == 1)
    mail_decoys = sorted(d for d in mailed if d in decoy_class or (d not in want and d not in seeds and d in reported))
    status_want = key["takedown"]["status"]
    status_wrong = {d: (statuses.get(d), s) for d, s in status_want.items() if statuses.get(d) != s}
    by_route: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for to, r in want.items():
        by_route[r["route"]][1] += 1
        by_route[r["route"]][0] += to in tp
    by_copy: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for to, r in want.items():
        by_copy[r.get("copy", "?")][1] += 1
        by_copy[r.get("copy", "?")][0] += to in tp
    fp_class = Counter(decoy_class.get(d, "undeclared") for d in fp)
    decoys_present = Counter(decoy_class.values())
    return {
        "seed": seed, "replacements": len(want), "reported": len(reported), "tp": len(tp),
        "precision": len(tp) / len(reported) if reported else 1.0,
        "recall": len(tp) / len(want) if want else 1.0,
        "predecessor": pred_ok / len(tp) if tp else 1.0,
        "mailed_once": mailed_once, "mail_decoys": mail_decoys,
        "fp": [f"{d} ({decoy_class.get(d, 'undeclared')}; from {[e['from'] for e in edges[d]]})" for d in fp],
        "fn": [f"{d} ({want[d]['route']}, {want[d].get('copy')}, from {want[d]['from']})" for d in fn],
        "wrong_predecessor": wrong_pred, "status_wrong": status_wrong,
        "by_route": dict(by_route), "by_copy": dict(by_copy), "fp_class": dict(fp_class),
        "decoys_present": dict(decoys_present), "timings": timings,
    }


def summarise(rows: list[dict[str, Any]]) -> str:
    tp = sum(r["tp"] for r in rows)
    reported = sum(r["reported"] for r in rows)
    want = sum(r["replacements"] for r in rows)
    pred = sum(round(r["predecessor"] * r["tp"]) for r in rows)
    once = sum(r["mailed_once"] for r in rows)
    lines = [f"{len(rows)} seeds; {want} replacements, {reported} reported, {tp} right",
             "",
             "| figure | overall | worst seed |",
             "|---|---:|---:|",
             (f"| precision | {tp / reported if reported else 1:.3f} | "
              f"{min(r['precision'] for r in rows):.3f} (seed {min(rows, key=lambda r: r['precision'])['seed']}) |"),
             (f"| recall | {tp / want if want else 1:.3f} | "
              f"{min(r['recall'] for r in rows):.3f} (seed {min(rows, key=lambda r: r['recall'])['seed']}) |"),
             f"| predecessor right | {pred / tp if tp else 1:.3f} | {min(r['predecessor'] for r in rows):.3f} |",
             f"| true clones mailed exactly once | {once}/{tp} | |",
             f"| mails naming a decoy | {sum(len(r['mail_decoys']) for r in rows)} | |",
             f"| seeds with a takedown status wrong | {sum(1 for r in rows if r['status_wrong'])} | |",
             (f"| highest decoy confidence (threshold 0.6) | "
              f"{max((d[0] for r in rows for d in r.get('decoy_scores', [])), default=0):.2f} | |"),
             "", "| route | found / planted |", "|---|---:|"]
    routes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    copies: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        for k, (a, b) in r["by_route"].items():
            routes[k][0] += a
            routes[k][1] += b
        for k, (a, b) in r["by_copy"].items():
            copies[k][0] += a
            copies[k][1] += b
    lines += [f"| {k} | {a}/{b} ({a / b:.2f}) |" for k, (a, b) in sorted(routes.items())]
    lines += ["", "| copy style | found / planted |", "|---|---:|"]
    lines += [f"| {k} | {a}/{b} ({a / b:.2f}) |" for k, (a, b) in sorted(copies.items())]
    fp_class: Counter[str] = Counter()
    present: Counter[str] = Counter()
    for r in rows:
        fp_class.update(r["fp_class"])
        present.update(r["decoys_present"])
    lines += ["", "| decoy class | decoys planted | reported as clones |", "|---|---:|---:|"]
    lines += [f"| {k} | {present.get(k, 0)} | {fp_class.get(k, 0)} |" for k in sorted(set(present) | set(fp_class))]
    lines += ["", "| seed | planted | reported | precision | recall | predecessor | time (s) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: r["seed"]):
        t = sum(r["timings"].values())
        lines.append(f"| {r['seed']} | {r['replacements']} | {r['reported']} | {r['precision']:.2f} | "
                     f"{r['recall']:.2f} | {r['predecessor']:.2f} | {t:.0f} |")
    times = [sum(r["timings"].values()) for r in rows]
    lines += ["", f"median seconds per seed (both cycles): {statistics.median(times):.0f}"]
    return "\n".join(lines)


def _one(seed: int, keep_root: str | None = None) -> dict[str, Any]:
    try:
        return run_seed(seed, f"{keep_root}/seed-{seed}" if keep_root else None)
    except Exception as exc:  # noqa: BLE001 - a failing seed is reported, the others go on
        return {"seed": seed, "error": f"{type(exc).__name__}: {exc}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1-30", help="e.g. 1-30 or 3,7,11")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="write one JSON line per seed here")
    ap.add_argument("--keep", help="(one seed) keep the store and config in this folder")
    ap.add_argument("--keep-all", help="keep every seed's store, config and answer key in FOLDER/seed-N "
                    "(for offline analysis, e.g. bench/text_overlap.py)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print misses and false alerts per seed")
    args = ap.parse_args()
    seeds = parse_seeds(args.seeds)
    rows: list[dict[str, Any]] = []
    if args.keep:
        rows = [run_seed(seeds[0], args.keep)]
    else:
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for row in pool.map(functools.partial(_one, keep_root=args.keep_all), seeds):
                rows.append(row)
                if "error" in row:
                    print(f"seed {row['seed']}: ERROR {row['error']}", file=sys.stderr, flush=True)
                    continue
                print(f"seed {row['seed']}: precision {row['precision']:.2f} recall {row['recall']:.2f} "
                      f"predecessor {row['predecessor']:.2f} ({row['tp']}/{row['replacements']} found, "
                      f"{row['reported'] - row['tp']} false)", file=sys.stderr, flush=True)
                if args.verbose:
                    for what in ("fn", "fp", "wrong_predecessor", "mail_decoys"):
                        for item in row[what]:
                            print(f"    {what}: {item}", file=sys.stderr)
                    for conf, name, klass in row.get("decoy_scores", [])[:3]:
                        print(f"    decoy: {conf:.2f} {name} ({klass})", file=sys.stderr)
                    if row["status_wrong"]:
                        print(f"    status (got, want): {row['status_wrong']}", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")
    good = [r for r in rows if "error" not in r]
    if good:
        print(summarise(good))
    return 0 if len(good) == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
