"""The detect/ work of one observe on the crawl bench's pages: a git revision's detect/ vs this tree's, one run.

Run by hand from the repository root (not part of the test suite):

    .venv/bin/python bench/crawl_detect.py --before c893705 [--sites 300] [--repeat 3]

The pages are bench/crawl.py's home pages (same generator, same seed). Per site, as observe does it: the
crawler's banner check parses the home page; the https:// and http:// homes (the same bytes in two
fetches) are fingerprinted; after every site is crawled, classification parses both again. Each side
runs in a child process of its own with its detect/ first on sys.path (the before side from
``git archive``), alternating, and reports CPU seconds (``time.process_time``) per step; medians.
Both sides' fingerprints are compared (a digest of all of them), so a speed-up that changes a result
shows here as well as in tests/detect/test_golden_fingerprints.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(tree: str, sites: int) -> dict[str, Any]:
    import hashlib

    sys.path.insert(0, str(ROOT / "bench"))
    from crawl import make_world

    sys.path.insert(0, tree)
    from detect import fingerprints
    from detect.model import HttpFetch
    from detect.page_parse import parse

    if not fingerprints.__file__ or not fingerprints.__file__.startswith(tree):
        raise SystemExit(f"detect imported from {fingerprints.__file__}, not {tree}")
    world, _, _ = make_world(sites, 0)
    pairs = []
    for name, spec in world["domains"].items():
        body = spec["web"]["pages"]["/"]["html"].encode()
        headers = (("Content-Type", "text/html; charset=utf-8"),)
        pairs.append((HttpFetch(domain=name, url=f"https://{name}/", final_url=f"https://{name}/", status=200,
                                headers=headers, body=body),
                       HttpFetch(domain=name, url=f"http://{name}/", final_url=f"http://{name}/", status=200,
                                 headers=headers, body=bytes(bytearray(body)))))
    out: dict[str, Any] = {}
    digest = hashlib.sha256()
    t = time.process_time()
    for https, _http in pairs:
        parse(https.body, https.header("content-type"))
    out["crawler banner check"] = time.process_time() - t
    t = time.process_time()
    for https, http in pairs:
        for fetch in (https, http):
            digest.update(repr(fingerprints.fingerprint_page(fetch)).encode())
    out["fingerprints"] = time.process_time() - t
    t = time.process_time()
    for https, http in pairs:
        parse(https.body, https.header("content-type"))
        parse(http.body, http.header("content-type"))
    out["classification parses"] = time.process_time() - t
    out["total"] = sum(out.values())
    out["digest"] = digest.hexdigest()
    return out


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="git revision whose detect/ is the reference")
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "detect"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {f"before ({args.before})": tmp, "after (this tree)": str(ROOT)}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for rep in range(args.repeat):
            order = list(trees) if rep % 2 == 0 else list(reversed(trees))
            for name in order:
                done = subprocess.run([sys.executable, __file__, "child", trees[name], str(args.sites)],
                                      check=True, capture_output=True, text=True, cwd=ROOT)
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"rep {rep + 1} {name}: {runs[name][-1]}", flush=True)
    steps = ["crawler banner check", "fingerprints", "classification parses", "total"]
    before, after = runs.values()
    same = {r["digest"] for r in before} == {r["digest"] for r in after} and len({r["digest"] for r in before}) == 1
    print(f"\n{args.sites} sites, {args.repeat} alternating repetitions, CPU seconds, medians; "
          f"fingerprints {'identical' if same else 'DIFFERENT'} on both sides\n")
    print("| step | " + " | ".join(trees) + " | after / before |")
    print("|---|---:|---:|---:|")
    for step in steps:
        b = statistics.median(r[step] for r in before)
        a = statistics.median(r[step] for r in after)
        print(f"| {step} | {b:.2f} | {a:.2f} | {a / b:.2f} |")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
