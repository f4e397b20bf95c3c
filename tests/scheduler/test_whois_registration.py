"""The public scenario with the registries as they are: RDAP only for the TLDs IANA's bootstrap lists,
port-43 WHOIS for the others (.so). Every replacement is still found, and a registration date that came
from WHOIS says so in the evidence, "(WHOIS, port 43)"; one from RDAP does not."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from crawler import run as reactor_run
from crawler.rdap import load_bootstrap
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from sandbox.net import Sandbox
from scheduler import cycle
from scheduler.components import Components
from storage import export, watchlist
from storage.store import Store
from tests.daemon.conftest import QUICK_SWEEP, world_tlds

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_replacements_on_tlds_without_rdap_are_dated_by_whois_and_marked(sandbox: Sandbox, tmp_path: Path) -> None:
    answers = tomllib.loads(resources.files("sandbox.worlds").joinpath("doppelganger-2024/answers.toml")
                            .read_text(encoding="utf-8"))
    over = sandbox.config_overrides()
    bootstrap = load_bootstrap()
    rdap = dict(over["rdap"])
    rdap["servers"] = {tld: url for tld, url in over["rdap"]["servers"].items() if tld == "*" or tld in bootstrap}
    # the sweep tld-swap only over the world's suffixes (QUICK_SWEEP): the same candidates resolve
    discovery = {**over["discovery"], "tlds": world_tlds(sandbox), **QUICK_SWEEP}
    cfg = from_mapping({**over, "rdap": rdap, "discovery": discovery, "storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"}},
                       source="(test)")
    store = Store.from_url(cfg.storage.url)
    store.init()
    with store.transaction() as session:
        watchlist.add_domains(session, sandbox.seeds, campaign=sandbox.campaign, origin="seed", now=sandbox.clock())
    parts = Components.from_settings(cfg, store, load_signatures())

    def one_cycle() -> dict[str, Any]:
        async def main() -> dict[str, Any]:
            return (await cycle.run_cycle(parts, now=sandbox.clock())).stats()
        return reactor_run.run(main)

    try:
        one_cycle()
        sandbox.set_phase("seizure")
        seizure = one_cycle()
        with store.transaction() as session:
            snap = export.to_json(export.snapshot(session), sandbox.clock())
    finally:
        reactor_run.run(parts.close)
        store.close()
    found = {(e["from"], e["to"]): e for e in snap["edges"]}
    expected = {(r["from"], r["to"]) for r in answers["phases"]["seizure"]["replacements"]}
    assert expected <= set(found), f"missed: {sorted(expected - set(found))}"
    whois_only = {k for k in expected if k[1].rsplit(".", 1)[-1] not in bootstrap}
    assert {to for _, to in whois_only} == {"truthgate.so", "ukrlm.so", "50statesoflie.so", "rrn.so"}
    asked = set(sandbox.whois_queries)
    assert seizure["rdap_whois"] >= len(whois_only) and seizure["rdap_rate_limited"] == 0, seizure
    assert {to for _, to in whois_only} <= asked
    assert all(name.rsplit(".", 1)[-1] not in bootstrap for name in asked)  # RDAP wherever it exists
    for key in expected:
        dated = [e for e in found[key]["evidence"] if e["kind"].startswith("registered") or e["kind"] == "registration_burst"]
        assert dated, (key, found[key]["evidence"])
        marked = [e for e in dated if "(WHOIS, port 43)" in e.get("detail", "")]
        if key in whois_only:
            assert marked == dated, (key, dated)
        else:
            assert not marked, (key, dated)
