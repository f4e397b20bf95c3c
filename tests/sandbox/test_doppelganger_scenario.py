"""The doppelganger-2024 world shows what its answer file expects (tests may read answers.toml;
product code never does)."""

from __future__ import annotations

import tomllib

import dns.rcode
import pytest

from sandbox.net import Sandbox
from sandbox.world import packaged_world
from tests.sandbox.helpers import fetch, get_json, query, values

pytestmark = pytest.mark.sandbox
SEIZURE_NS = ["ns1.fbi.seized.gov.", "ns2.fbi.seized.gov."]


@pytest.fixture(scope="module")
def answers() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((packaged_world("doppelganger-2024") / "answers.toml").read_text())


def test_watch_list_is_the_answer_files_domains(sandbox: Sandbox, answers: dict) -> None:  # type: ignore[type-arg]
    assert set(sandbox.seeds) == set(answers["phases"]["before"]["status"])


@pytest.mark.parametrize("phase", ["before", "seizure"])
def test_network_shows_each_expected_status(sandbox: Sandbox, answers: dict, phase: str) -> None:  # type: ignore[type-arg]
    sandbox.set_phase(phase)
    rdap = sandbox.config_overrides()["rdap"]["servers"]["*"]
    for domain, status in answers["phases"][phase]["status"].items():
        r = query(sandbox, domain, "NS")
        _, record = get_json(f"{rdap}domain/{domain}")
        if status == "active":
            assert r.rcode() == dns.rcode.NOERROR and values(r, "NS") != SEIZURE_NS, domain
            assert fetch(sandbox, f"https://{domain}/")[0] == 200, domain
        elif status == "seized":
            assert values(r, "NS") == SEIZURE_NS, domain
            assert "server transfer prohibited" in record["status"], domain
        elif status == "suspended":
            assert r.rcode() == dns.rcode.NXDOMAIN, domain
            assert {"client hold", "server hold"} & set(record["status"]), domain
        else:
            pytest.fail(f"unexpected status {status}")


def test_replacements_appear_only_at_seizure_with_new_registration(sandbox: Sandbox, answers: dict) -> None:  # type: ignore[type-arg]
    pairs = answers["phases"]["seizure"]["replacements"]
    assert len(pairs) == 12
    for pair in pairs:
        assert query(sandbox, pair["to"], "A").rcode() == dns.rcode.NXDOMAIN
    sandbox.set_phase("seizure")
    feed = set(sandbox.view.nrd)
    for pair in pairs:
        old, new = pair["from"], pair["to"]
        assert old.split(".")[0] == new.split(".")[0] and pair["relation"] == "replacement"
        state = sandbox.view.domains[new]
        assert state.rdap and state.rdap.registered.date().isoformat() in ("2024-09-05", "2024-09-06")
        assert state.rdap.registrar != sandbox.world.views["before"].domains[old].rdap.registrar  # type: ignore[union-attr]
        assert new in feed
        assert fetch(sandbox, f"https://{new}/")[0] == 200


def test_replacements_vary_in_analytics_and_hosting(sandbox: Sandbox, answers: dict) -> None:  # type: ignore[type-arg]
    sandbox.set_phase("seizure")
    same_id = same_24 = 0
    for pair in answers["phases"]["seizure"]["replacements"]:
        old = sandbox.world.views["before"].domains[pair["from"]].site.pages["/"].body  # type: ignore[union-attr]
        new = sandbox.view.domains[pair["to"]].site.pages["/"].body  # type: ignore[union-attr]
        ids = lambda body: {w for w in body.decode().replace("'", '"').split('"') if w.startswith("G-")}
        same_id += bool(ids(old) & ids(new))
        old_ip = sandbox.world.views["before"].domains[pair["from"]].a[0]
        same_24 += old_ip.rsplit(".", 1)[0] == sandbox.view.domains[pair["to"]].a[0].rsplit(".", 1)[0]
    assert 0 < same_id < 12 and 0 < same_24 < 12


def test_decoys_exist_in_both_phases(sandbox: Sandbox, answers: dict) -> None:  # type: ignore[type-arg]
    for phase in sandbox.phases:
        for decoy in answers["decoys"]:
            if decoy == "artichoke.shop" and phase == "before":
                continue
            assert decoy in sandbox.world.views[phase].domains, (phase, decoy)
    sandbox.set_phase("seizure")
    assert b"may be for sale" in fetch(sandbox, "http://rrn.to/")[2]
    assert values(query(sandbox, "washingtonpost.so", "NS"), "NS") == ["ns1.sedoparking.com.", "ns2.sedoparking.com."]
