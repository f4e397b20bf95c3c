"""SSRF: hostile names that resolve to internal addresses, and redirects to them, are never fetched
(allow_private_addresses = false). In proxy mode the crawler refuses *before* the proxy: the proxy's
request log never names them, and a loopback listener they point at counts no connection."""

from __future__ import annotations

from pathlib import Path

from sandbox.net import Sandbox
from tests.hostile.harness import SECRET, assert_batch_intact, run_cycle
from tests.hostile.trap import Trap
from tests.hostile.worlds import SSRF_NAMES

INTERNAL = {"127.0.0.1", "10.20.30.40", "169.254.169.254", "::1", "loopback.info", "private.info",
            "metadata.info", "v6loop.info"}


def _host(target: str) -> str:
    """Host of a proxy request target: "host:443" (CONNECT) or "http://host:port/path"."""
    from urllib.parse import urlsplit

    return (urlsplit(target if "://" in target else f"//{target}").hostname or "").lower()


def _proxied_targets(sb: Sandbox) -> list[str]:
    return [target for _, target, _ in sb.proxy_requests]


def _internal(targets: list[str]) -> list[str]:
    return [t for t in targets if _host(t) in INTERNAL]


def test_names_resolving_to_internal_addresses_are_not_fetched(hsb: Sandbox, tmp_path: Path, trap: Trap) -> None:
    names = [*SSRF_NAMES, "v6loop.info"]
    out = run_cycle(hsb, tmp_path, names)
    assert_batch_intact(out)
    for name in names:
        http = out.observations(name, "http")
        assert http and {o["error_kind"] for o in http} == {"blocked_private"}, (name, http)
        assert all(name in o["error"] for o in http)
    targets = _proxied_targets(hsb)
    assert targets and not _internal(targets), targets
    assert trap.connections == 0


def test_redirects_to_internal_addresses_are_not_followed(hsb: Sandbox, tmp_path: Path, trap: Trap) -> None:
    names = ["to-loopback.info", "to-metadata.info", "to-trap.info", "to-v6trap.info", "to-private.info"]
    out = run_cycle(hsb, tmp_path, names)
    assert_batch_intact(out)
    for name in names:
        http = out.observations(name, "http")
        assert http and "blocked_private" in {o["error_kind"] for o in http}, (name, http)
        assert {o["error_kind"] for o in http} <= {"blocked_private"}, (name, http)
    targets = _proxied_targets(hsb)
    # the redirecting sites themselves were fetched: tunnelled to their address, named in Host
    assert any(t.startswith("185.10.5.3:") for t in targets), targets
    assert any(h.get("host") == "to-trap.info" for *_, h in hsb.site_requests)
    assert not _internal(targets), targets
    assert trap.connections == 0


def test_no_secret_leaves_the_process(hsb: Sandbox, tmp_path: Path) -> None:
    """The crawler sends nothing of the config's secrets (SMTP password, serve token) to sites."""
    out = run_cycle(hsb, tmp_path, ["inject.info", "to-loopback.info"])
    assert_batch_intact(out)
    sent = repr(hsb.proxy_requests) + repr(hsb.site_requests)  # the proxy sees CONNECTs, the sites the rest
    assert hsb.proxy_requests and any(h.get("host") == "inject.info" for *_, h in hsb.site_requests)
    assert SECRET not in sent
    assert "authorization" not in sent.lower() and "cookie" not in sent.lower()
