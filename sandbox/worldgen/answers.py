"""The answer key of a generated world (what the benchmark expects; product code never reads it)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sandbox.worldgen.builder import Builder, iso
from sandbox.worldgen.network import Network


@cache
def rdap_bootstrap_tlds() -> frozenset[str]:
    """TLDs of hydrawatch's bundled IANA RDAP bootstrap (only to say which replacements have RDAP)."""
    try:
        text = resources.files("hydrawatch.resources").joinpath("rdap/dns.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        text = (Path(__file__).resolve().parents[2] / "config" / "rdap" / "dns.json").read_text(encoding="utf-8")
    return frozenset(t for service in json.loads(text)["services"] for t in service[0])


def tld(domain: str) -> str:
    return domain.rsplit(".", 1)[1]


def build_answers(b: Builder, net: Network, seed: int, legitimate: list[str]) -> dict[str, Any]:
    rdap = rdap_bootstrap_tlds()
    reps = [{**r, "rdap": tld(r["to"]) in rdap} for r in b.replacements]
    by_seed = {r["from"]: [] for r in reps}
    for r in reps:
        by_seed[r["from"]].append(r["to"])
    operators = [{"name": op.name, "domains": op.domains + [t for d in op.domains for t in by_seed.get(d, [])]}
                 for op in net.operators]
    keys = ("to", "from", "route", "copy", "ties", "rdap", "relations")
    return {
        "seed": seed, "campaign": b.campaign, "seeds": list(b.seeds),
        "tlds": sorted({tld(d) for d in b.domains}),
        "brands_legitimate": legitimate,
        "takedown": {"T": iso(b.T), "status": {d: b.status[d] for d in b.seeds}},
        "replacements": [{k: r[k] for k in keys} for r in reps],
        "decoys": list(b.decoys),
        "operators": operators,
    }
