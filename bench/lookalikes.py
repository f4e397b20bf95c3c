"""Benchmark: the lookalike stream (detect.lookalike.lookalikes) against the way it was computed before
and against dnstwist's own generation, side by side in one run, on the same seeds.

Three arms, each on every seed with every fuzzer (tld-swap over all ICANN TLDs, typo labels crossed
with --typo-tlds):

- ``dnstwist``: dnstwist's ``Fuzzer.generate()`` with its own fuzzers, as its CLI generates names
  (no TLD swap list, no crossing: fewer names; a reference for the cost of generation alone);
- ``before``: what hydrawatch did before this benchmark's change: dnstwist's ``generate`` per fuzzer
  (Permutation objects, idna on every name) and every name normalised by walking the suffix list;
- ``now``: ``lookalikes()`` as shipped.

``before`` and ``now`` must give the same candidates in the same order (checked each round).
Rounds alternate the arms; medians are reported with the ratio. Run by hand:

    .venv/bin/python bench/lookalikes.py [--rounds 5] [--seeds a.com,b.info]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator

import dnstwist  # type: ignore[import-untyped]
import idna

from detect import lookalike, names
from detect.model import Candidate

SEEDS = ("holylandherald.com", "quill-courier.info", "spiegel.ltd", "washingtonpost.pm", "bild.co.uk", "rrn.media",
         "reliable-recent-news.org", "tribunebeacon360.to")
TYPO_TLDS = ("com", "net", "info", "pm", "ltd", "media", "org")


def _before_generate(name: str, target: lookalike.FuzzTarget) -> list[str]:
    parts = target.split
    try:
        fuzzer = dnstwist.Fuzzer(parts.registrable, dictionary=list(target.dictionary), tld_dictionary=[])
        fuzzer.domain = idna.decode(parts.label)
    except (idna.IDNAError, UnicodeError, ValueError):
        return []
    fuzzer.subdomain, fuzzer.tld = "", parts.suffix
    fuzzer.generate(fuzzers=[name])
    return sorted(str(p["domain"]) for p in fuzzer.permutations() if p["fuzzer"] == name)


def _slow_split(host: str) -> names.Split:
    parts = names.extractor()(host)
    return names.Split(parts.subdomain, parts.domain, parts.suffix)


def before(seed: str, typo_tlds: tuple[str, ...]) -> Iterator[Candidate]:
    """The stream as computed before: same rules, the slow paths."""
    registrable = names._registrable_slow(seed)
    target = lookalike.FuzzTarget(_slow_split(registrable), lookalike.resolve_tlds("all"))
    seen = {registrable}
    for fuzzer in lookalike.GENERATORS:
        raw = lookalike._tld_swap(target) if fuzzer == "tld-swap" else _before_generate(fuzzer, target)
        for text in raw:
            try:
                found = names._registrable_slow(text)
            except names.InvalidDomain:
                continue
            variants = [found]
            if fuzzer not in lookalike.NOT_CROSSED:
                parts = _slow_split(found)
                variants += [f"{parts.label}.{tld}" for tld in typo_tlds if tld != parts.suffix]
            for variant in variants:
                if variant not in seen:
                    seen.add(variant)
                    yield Candidate(domain=variant, source=lookalike.SOURCE, via=fuzzer, seed=registrable)


def dnstwist_own(seed: str) -> list[str]:
    fuzzer = dnstwist.Fuzzer(seed)
    fuzzer.generate()
    return [str(p["domain"]) for p in fuzzer.permutations()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seeds", default=",".join(SEEDS))
    args = parser.parse_args(argv)
    seeds = [s for s in args.seeds.split(",") if s]
    list(lookalike.lookalikes("warm-up.com"))  # suffix list and dnstwist tables loaded outside the timing
    times: dict[str, list[float]] = {"dnstwist": [], "before": [], "now": []}
    counts: dict[str, int] = {}
    for _ in range(args.rounds):
        start = time.perf_counter()
        counts["dnstwist"] = sum(len(dnstwist_own(s)) for s in seeds)
        times["dnstwist"].append(time.perf_counter() - start)
        start = time.perf_counter()
        old = [c for s in seeds for c in before(s, TYPO_TLDS)]
        times["before"].append(time.perf_counter() - start)
        start = time.perf_counter()
        new = [c for s in seeds for c in lookalike.lookalikes(s, typo_tlds=TYPO_TLDS)]
        times["now"].append(time.perf_counter() - start)
        if old != new:
            print("before and now differ", file=sys.stderr)
            return 1
        counts["before"] = counts["now"] = len(new)
    now = statistics.median(times["now"])
    print(f"{len(seeds)} seeds, {args.rounds} rounds, medians; `before` and `now` gave the same {len(new):,} candidates")
    print("| arm | names | median s | names/s | ratio to now |")
    print("|---|---:|---:|---:|---:|")
    for arm in ("dnstwist", "before", "now"):
        med = statistics.median(times[arm])
        print(f"| {arm} | {counts[arm]:,} | {med:.3f} | {counts[arm] / med:,.0f} | {med / now:.2f}× the time |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
