"""Whole-sandbox properties: loopback only, atomic phase switch, config overrides, direct mode, CLI."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from hydrawatch.config import from_mapping
from sandbox.errors import SandboxStartError
from sandbox.net import Sandbox
from tests.sandbox.helpers import query, values

pytestmark = pytest.mark.sandbox


def _listening(proto: str) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if proto == "tcp" and state != "0A":  # LISTEN
            continue
        addr, port = local.split(":")
        ip = socket.inet_ntoa(bytes.fromhex(addr)[::-1])
        out.setdefault(int(port, 16), set()).add(ip)
    return out


def test_nothing_listens_beyond_loopback(sandbox: Sandbox) -> None:
    tcp, udp = _listening("tcp"), _listening("udp")
    for name, port in sandbox.ports.items():
        assert tcp.get(port) == {"127.0.0.1"}, name
    assert udp[sandbox.ports["dns"]] == {"127.0.0.1"}


def test_config_overrides_make_a_valid_hydrawatch_config(sandbox_config) -> None:  # type: ignore[no-untyped-def]
    assert sandbox_config.dns.nameservers[0].startswith("127.0.0.1:")
    assert sandbox_config.crawler.proxy.startswith("http://127.0.0.1:")
    assert sandbox_config.crawler.allow_private_addresses is False
    assert sandbox_config.alerts.mail_to == ["analysts@sandbox.test"]


def test_clock_seeds_and_campaign(sandbox: Sandbox) -> None:
    assert sandbox.clock().isoformat() == "2024-09-03T12:00:00+00:00"
    sandbox.set_phase("seizure")
    assert sandbox.phase == "seizure" and sandbox.clock().isoformat() == "2024-09-06T18:00:00+00:00"
    assert sandbox.campaign == "doppelganger" and "washingtonpost.pm" in sandbox.seeds
    with pytest.raises(ValueError, match="unknown phase"):
        sandbox.set_phase("later")
    with pytest.raises(ValueError, match="unknown behaviour"):
        sandbox.set_behaviour("rrn.media", "explode")


def test_phase_switch_is_atomic_under_load(sandbox: Sandbox) -> None:
    """Every answer during rapid switching belongs wholly to one phase."""
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            sandbox.set_phase("seizure")
            sandbox.set_phase("before")

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        for _ in range(150):
            r = query(sandbox, "rrn.so", "A")
            assert (r.rcode(), values(r, "A")) in ((dns.rcode.NXDOMAIN, []), (dns.rcode.NOERROR, ["185.172.128.57"]))
            ns = values(query(sandbox, "washingtonpost.pm", "NS"), "NS")
            assert ns in (["amy.ns.cloudflare.com.", "bob.ns.cloudflare.com."],
                          ["ns1.fbi.seized.gov.", "ns2.fbi.seized.gov."])
    finally:
        stop.set()
        flipper.join()


SMALL = {"world": {"seeds": ["site.test"]},
         "phases": {"one": {"clock": "2024-09-03T12:00:00Z"}},
         "domains": {"site.test": {"a": ["185.10.0.1"], "aaaa": ["2a00::1"],
                                   "web": {"pages": {"/": {"html": "<title>direct</title>"}}}},
                     "other.test": {"a": ["185.10.0.2"], "web": {"pages": {"/": {"html": "other"}}}}}}


@pytest.mark.skipif(os.geteuid() != 0, reason="direct mode binds port 80/443 (root only)")
def test_direct_mode_serves_sites_at_the_addresses_dns_gives(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    sb = make_sandbox(SMALL, mode="direct")
    assert sb.config_overrides()["crawler"] == {"proxy": "", "allow_private_addresses": True}
    ips = values(query(sb, "site.test", "A"), "A")
    assert len(ips) == 1 and ips[0].startswith("127.") and ips[0] == sb.ip_map["185.10.0.1"]
    assert values(query(sb, "site.test", "AAAA"), "AAAA") == []
    assert values(query(sb, "other.test", "A"), "A") != ips
    with socket.create_connection((ips[0], 80), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: site.test\r\n\r\n")
        assert s.recv(65536).endswith(b"<title>direct</title>")
    ctx = ssl.create_default_context(cadata=sb.ca_pem)
    with ctx.wrap_socket(socket.create_connection((ips[0], 443), timeout=5), server_hostname="site.test") as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: site.test\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        assert data.endswith(b"<title>direct</title>")


@pytest.mark.skipif(os.geteuid() == 0, reason="as root direct mode can bind")
def test_direct_mode_without_root_is_a_clear_error() -> None:
    with pytest.raises(SandboxStartError, match="direct mode needs root"):
        Sandbox.start(SMALL, mode="direct")


def test_fixed_ports_and_unknown_port_name(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown port name"):
        Sandbox.start(SMALL, ports={"gopher": 70})
    sb = make_sandbox(SMALL)
    taken = sb.ports["http"]
    with pytest.raises(SandboxStartError, match="cannot bind"):
        Sandbox.start(SMALL, ports={"http": taken})


def test_cli_brings_a_world_up_and_switches_phase_from_stdin() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--world", "doppelganger-2024"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("[alerts]"):
                break
        text = "".join(lines)
        assert "dig @127.0.0.1 -p" in text and "[dns]" in text and "curl -x http://127.0.0.1:" in text
        port = int(text.split("dig @127.0.0.1 -p ")[1].split()[0])
        ask = lambda: dns.query.udp(dns.message.make_query("rrn.so", "A"), "127.0.0.1", port=port, timeout=3)
        assert ask().rcode() == dns.rcode.NXDOMAIN
        proc.stdin.write("seizure\n")
        proc.stdin.flush()
        while not (line := proc.stdout.readline()).startswith("# phase"):
            pass
        assert line.startswith("# phase -> seizure")
        assert ask().rcode() == dns.rcode.NOERROR
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_world_on_cli_is_one_line() -> None:
    out = subprocess.run([sys.executable, "-m", "sandbox", "--world", "no-such-world"], capture_output=True,
                         text=True, timeout=30, check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "no such world" in out.stderr


def test_hydrawatch_config_accepts_overrides_in_proxy_mode(sandbox: Sandbox) -> None:
    cfg = from_mapping({**sandbox.config_overrides(), "storage": {"url": "sqlite:///:memory:"}})
    assert cfg.rdap.servers["*"].startswith("http://127.0.0.1:")
    assert "{query}" in cfg.discovery.ct_search_url


@pytest.mark.fast
def test_a_phases_domains_on_an_address_are_indexed_in_the_worlds_order() -> None:
    """The proxy picks the site behind a tunnel to an address from the phase's address index (a scan of
    every domain per connection made a 10^5-site world crawl at the sandbox's pace): the resolving domains
    whose A records name it, in the world's order; a domain that stopped resolving is not among them."""
    from datetime import UTC, datetime
    from types import MappingProxyType

    from sandbox.model import DomainState, PhaseView

    states = {"b.test": DomainState("b.test", a=("192.0.2.7", "192.0.2.7")),
              "gone.test": DomainState("gone.test", resolves=False, a=("192.0.2.7",)),
              "a.test": DomainState("a.test", a=("192.0.2.8", "192.0.2.7"))}
    view = PhaseView(name="p", clock=datetime(2024, 9, 4, tzinfo=UTC), domains=MappingProxyType(states), hosts={},
                     certificates=(), nrd=())
    assert [d.name for d in view.resolving_on("192.0.2.7")] == ["b.test", "a.test"]
    assert [d.name for d in view.resolving_on("192.0.2.8")] == ["a.test"]
    assert view.resolving_on("192.0.2.9") == ()
