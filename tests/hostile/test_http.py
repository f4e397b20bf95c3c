"""Hostile web sites, through the real cycle: each case is recorded with its error kind (or, for bad
certificates and odd bodies, recorded as a successful fetch), and the healthy site of the batch is
still observed and classified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.hostile.harness import assert_batch_intact, run_cycle

# domain -> (error kinds expected on its HTTP observations (any of), extra config)
FAILING: dict[str, tuple[set[str], dict[str, Any]]] = {
    "huge.info": ({"too_large"}, {}),
    "gzipbomb.info": ({"too_large"}, {}),
    "brotlibomb.info": ({"too_large"}, {}),
    "loop.info": ({"redirect_loop"}, {}),
    "chain.info": ({"too_many_redirects"}, {}),
    "drip.info": ({"timeout"}, {"crawler": {"timeout": 1.5}}),
    "reset.info": ({"connection"}, {}),
    "garbage.info": ({"malformed", "connection"}, {}),
}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_failing_fetch_is_recorded_and_batch_survives(hsb: Sandbox, tmp_path: Path, name: str) -> None:
    kinds, extra = FAILING[name]
    out = run_cycle(hsb, tmp_path, [name], **extra)
    assert_batch_intact(out)
    http = out.observations(name, "http")
    assert len(http) >= 2, http  # https and http home fetches, each recorded
    got = out.error_kinds(name, "http")
    assert got and got <= kinds, (got, [(o["url"], o["error"]) for o in http])
    assert out.status(name) == "dead"


def test_huge_body_keeps_the_first_bytes_only(hsb: Sandbox, tmp_path: Path) -> None:
    out = run_cycle(hsb, tmp_path, ["huge.info"])
    sizes = out.rows("SELECT p.truncated, b.size FROM pages p JOIN domains d ON d.id = p.domain_id "
                     "JOIN bodies b ON b.sha256 = p.body_sha256 WHERE d.name = 'huge.info'")
    assert sizes and all(t == 1 for t, _ in sizes), sizes
    assert all(o["http_status"] == 200 for o in out.observations("huge.info", "http"))


def test_tls_garbage_fails_https_only(hsb: Sandbox, tmp_path: Path) -> None:
    out = run_cycle(hsb, tmp_path, ["tlsgarbage.info"])
    assert_batch_intact(out)
    https = [o for o in out.observations("tlsgarbage.info", "http") if o["url"].startswith("https:")]
    assert https and {o["error_kind"] for o in https} == {"tls"}, https
    plain = [o for o in out.observations("tlsgarbage.info", "http") if o["url"].startswith("http:")]
    assert plain and plain[0]["http_status"] == 200  # the plain site still counts
    assert out.status("tlsgarbage.info") == "active"


@pytest.mark.parametrize("name", ["expired.info", "selfsigned.info", "wrongname.info"])
def test_bad_certificate_is_recorded_not_fatal(hsb: Sandbox, tmp_path: Path, name: str) -> None:
    out = run_cycle(hsb, tmp_path, [name])
    assert_batch_intact(out)
    https = [o for o in out.observations(name, "http") if o["url"].startswith("https:")]
    assert https and https[0]["http_status"] == 200 and https[0]["error_kind"] is None, https
    assert https[0]["cert_sha256"], "the certificate is recorded"
    cert = https[0]["raw"]
    if name == "selfsigned.info":
        assert '"self_signed": true' in cert
    if name == "wrongname.info":
        assert "someone-else.info" in cert
    assert out.status(name) == "active"


@pytest.mark.parametrize("name", ["malformed.info", "nested.info", "wrongtype.info", "nonutf8.info"])
def test_odd_bodies_are_observed(hsb: Sandbox, tmp_path: Path, name: str) -> None:
    out = run_cycle(hsb, tmp_path, [name])
    assert_batch_intact(out)
    http = out.observations(name, "http")
    assert any(o["http_status"] == 200 for o in http), http
    assert out.error_kinds(name, "http") <= {"decode"}
    assert out.status(name) in {"active", "parked"}
