"""Hostile DNS and RDAP answers through the real cycle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.net import Sandbox
from tests.hostile.harness import GOOD, assert_batch_intact, run_cycle

FAILING_DNS = ["dnstimeout.info", "servfail.info", "refused.info", "dnsgarbage.info"]


@pytest.mark.parametrize("name", FAILING_DNS)
def test_failing_dns_is_recorded_and_batch_survives(hsb: Sandbox, tmp_path: Path, name: str) -> None:
    out = run_cycle(hsb, tmp_path, [name])
    assert_batch_intact(out)
    dns = out.observations(name, "dns")
    assert dns and dns[0]["error_kind"] == "dns", dns
    assert dns[0]["error"] or dns[0]["rcode"] in {"SERVFAIL", "REFUSED", "TIMEOUT"}
    assert not out.observations(name, "http")  # nothing to crawl without an address
    assert out.status(name) not in {"active", "parked", "redirecting"}


def test_truncated_answers_fall_back_to_tcp(hsb: Sandbox, tmp_path: Path) -> None:
    out = run_cycle(hsb, tmp_path, ["truncated.info"])
    assert_batch_intact(out)
    dns = out.observations("truncated.info", "dns")
    assert dns[0]["error_kind"] is None and dns[0]["rcode"] == "NOERROR", dns
    assert "185.10.2.5" in dns[0]["raw"]
    assert out.status("truncated.info") == "active"


def test_huge_txt_set_is_read_whole_over_tcp(hsb: Sandbox, tmp_path: Path) -> None:
    out = run_cycle(hsb, tmp_path, ["hugetxt.info"])
    assert_batch_intact(out)
    dns = out.observations("hugetxt.info", "dns")
    assert dns[0]["error_kind"] is None, dns
    txt = json.loads(dns[0]["raw"])["records"]["TXT"]
    assert len(txt) > 100, len(txt)
    assert out.status("hugetxt.info") == "active"


def test_cname_loop_ends(hsb: Sandbox, tmp_path: Path) -> None:
    out = run_cycle(hsb, tmp_path, ["cnameloop.info"])
    assert_batch_intact(out)
    dns = out.observations("cnameloop.info", "dns")
    assert dns, "the loop is recorded"
    # a CNAME loop has no address: recorded (as the rcode/records the resolver saw), never crawled as live
    assert out.status("cnameloop.info") != "active", (out.status("cnameloop.info"), dns)


def test_idn_homograph_is_stored_as_punycode_and_observed(hsb: Sandbox, tmp_path: Path) -> None:
    from detect.names import registrable_domain  # the normaliser `seed add` uses

    homograph = registrable_domain("g\u043e\u043ed-news.info")
    assert homograph == "xn--gd-news-9iga.info"
    out = run_cycle(hsb, tmp_path, [homograph])
    assert_batch_intact(out)
    assert out.status(homograph) == "active"
    names = {r[0] for r in out.rows("SELECT name FROM domains")}
    assert homograph in names and GOOD in names and all(n.isascii() for n in names)


@pytest.mark.parametrize(("name", "kind"), [("rdapbad.info", "malformed"), ("rdap429.info", "rate_limited"),
                                            ("rdap500.info", "http")])
def test_rdap_failures_are_recorded(hsb: Sandbox, tmp_path: Path, name: str, kind: str) -> None:
    out = run_cycle(hsb, tmp_path, [name])
    assert_batch_intact(out)
    rdap = out.observations(name, "rdap")
    assert rdap and rdap[0]["error_kind"] == kind, rdap
    assert out.status(name) == "active"  # a registry hiccup never changes what the site is
