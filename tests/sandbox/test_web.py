"""HTTP and HTTPS through the forward proxy, virtual-hosted by Host and SNI, per phase."""

from __future__ import annotations

import gzip
import socket
import ssl
import urllib.error

import pytest

from sandbox.net import Sandbox
from tests.sandbox.helpers import fetch

pytestmark = pytest.mark.sandbox


def test_archived_page_is_served_over_http_and_https(sandbox: Sandbox) -> None:
    world_page = sandbox.view.domains["rrn.media"].site.pages["/about/"]  # type: ignore[union-attr]
    for url in ("http://rrn.media/about/", "https://rrn.media/about/", "https://www.rrn.media/about/"):
        status, headers, body = fetch(sandbox, url)
        assert status == 200 and body == world_page.body, url
        assert headers["Content-Type"].startswith("text/html")


def test_every_site_root_answers_what_the_world_says(sandbox: Sandbox) -> None:
    for phase in sandbox.phases:
        sandbox.set_phase(phase)
        for name, state in sandbox.view.domains.items():
            if not state.resolves or not state.site or not state.a:
                continue
            site = state.site
            expected = site.pages.get("/") or site.catch_all
            status, _, body = fetch(sandbox, f"https://{name}/" if site.tls else f"http://{name}/", follow=False)
            if expected is None:
                assert status == 404, (phase, name)
            else:
                assert (status, body) == (expected.status, expected.body), (phase, name)


def test_seizure_banner_and_image_banner(sandbox: Sandbox) -> None:
    sandbox.set_phase("seizure")
    _, _, text = fetch(sandbox, "https://washingtonpost.pm/any/article/")
    assert b"<title>This domain has been seized</title>" in text and b"Federal Bureau of Investigation" in text
    _, _, image_page = fetch(sandbox, "https://fox-news.top/")
    assert b"<title>This domain has been seized</title>" in image_page and b'<img src="/seized.gif"' in image_page
    status, headers, gif = fetch(sandbox, "https://fox-news.top/seized.gif")
    assert status == 200 and gif.startswith(b"GIF89a") and headers["Content-Type"] == "image/gif"


def test_replacement_copies_its_predecessor(sandbox: Sandbox) -> None:
    _, _, old = fetch(sandbox, "https://rrn.media/about/")
    _, _, old_icon = fetch(sandbox, "https://rrn.media/favicon.ico")
    sandbox.set_phase("seizure")
    status, _, new = fetch(sandbox, "https://rrn.so/about/")
    assert status == 200 and new == old.replace(b"rrn.media", b"rrn.so")
    assert fetch(sandbox, "https://rrn.so/favicon.ico")[2] == old_icon


def test_unknown_and_vanished_hosts_get_502_from_the_proxy(sandbox: Sandbox) -> None:
    assert fetch(sandbox, "http://no-such-site.example/")[0] == 502
    with pytest.raises(urllib.error.URLError):
        fetch(sandbox, "https://no-such-site.example/")
    sandbox.set_phase("seizure")
    assert fetch(sandbox, "http://artichoc.io/")[0] == 502


def test_legitimate_outlet_redirects_to_https(sandbox: Sandbox) -> None:
    status, headers, _ = fetch(sandbox, "http://washingtonpost.com/", follow=False)
    assert status == 301 and headers["Location"] == "https://washingtonpost.com/"


def test_certificate_names_and_wrong_name(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    world = {"phases": {"one": {"clock": "2024-09-03T12:00:00Z"}},
             "domains": {"good.test": {"a": ["185.1.1.1"], "web": {"pages": {"/": {"html": "ok"}}}},
                         "wrong.test": {"a": ["185.1.1.2"], "web": {"pages": {"/": {"html": "x"}},
                                                                     "tls": {"names": ["other.test"]}}},
                         "old.test": {"a": ["185.1.1.3"], "web": {"pages": {"/": {"html": "x"}},
                                                                   "tls": {"expired": True}}},
                         "self.test": {"a": ["185.1.1.4"], "web": {"pages": {"/": {"html": "x"}},
                                                                    "tls": {"self_signed": True}}}}}
    sb = make_sandbox(world, "one")
    assert fetch(sb, "https://good.test/")[2] == b"ok"
    for host in ("wrong.test", "old.test", "self.test"):
        with pytest.raises(urllib.error.URLError) as err:
            fetch(sb, f"https://{host}/")
        assert isinstance(err.value.reason, ssl.SSLCertVerificationError), host


def _raw(sb: Sandbox, host: str, path: str = "/") -> bytes:
    with socket.create_connection(("127.0.0.1", sb.ports["http"]), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return out + b"<RESET>"
            if not chunk:
                return out
            out += chunk


def test_hostile_behaviours(sandbox: Sandbox) -> None:
    site = "lavirgule.news"
    sandbox.set_behaviour(site, "garbage")
    assert not _raw(sandbox, site).startswith(b"HTTP/")
    sandbox.set_behaviour(site, "reset")
    assert _raw(sandbox, site).endswith(b"<RESET>")
    sandbox.set_behaviour(site, "redirect-loop")
    assert fetch(sandbox, f"http://{site}/")[0] == 302  # urllib gives up: "infinite loop"
    assert fetch(sandbox, f"http://{site}/__loop/a", follow=False)[1]["Location"].endswith("/__loop/b")
    sandbox.set_behaviour(site, "redirect-chain")
    assert fetch(sandbox, f"http://{site}/__hop/49", follow=False)[1]["Location"].endswith("/__hop/50")
    assert b"end of the chain" in fetch(sandbox, f"http://{site}/__hop/50")[2]
    sandbox.set_behaviour(site, "wrong-content-type")
    assert fetch(sandbox, f"http://{site}/")[1]["Content-Type"] == "image/png"
    sandbox.set_behaviour(site, "non-utf8")
    with pytest.raises(UnicodeDecodeError):
        fetch(sandbox, f"http://{site}/")[2].decode("utf-8")
    sandbox.set_behaviour(site, "huge-body")
    head = _raw_head(sandbox, site)
    assert b"Content-Length: 52428800" in head
    sandbox.set_behaviour(site, "tls-garbage")
    with pytest.raises(urllib.error.URLError):
        fetch(sandbox, f"https://{site}/")
    sandbox.set_behaviour(site, None)
    assert fetch(sandbox, f"https://{site}/")[0] == 200


def _raw_head(sb: Sandbox, host: str) -> bytes:
    with socket.create_connection(("127.0.0.1", sb.ports["http"]), timeout=5) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return s.recv(4096)


@pytest.mark.slow
def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(sandbox: Sandbox) -> None:
    sandbox.set_behaviour("notrepays.today", "gzip-bomb")
    _, headers, body = fetch(sandbox, "http://notrepays.today/", timeout=30)
    assert headers["Content-Encoding"] == "gzip" and len(body) < 2_000_000
    inflater = gzip.GzipFile(fileobj=__import__("io").BytesIO(body))
    assert inflater.read(10_000_000) == bytes(10_000_000)


def test_slow_drip_sends_headers_then_a_trickle(sandbox: Sandbox) -> None:
    sandbox.set_behaviour("notrepays.today", "slow-drip")
    with socket.create_connection(("127.0.0.1", sandbox.ports["http"]), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: notrepays.today\r\n\r\n")
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 100000" in head
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            while True:
                if len(s.recv(10)) > 2:
                    break


def test_the_proxy_routes_connect_by_address_and_the_front_by_sni(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    """What the crawler sends (crawler/tunnel.py): CONNECT <address>:443, the site named only in SNI/Host.
    An address shared by a plain-HTTP site (listed first) and a TLS site still reaches the TLS site."""
    world = {"phases": {"one": {"clock": "2024-09-03T12:00:00Z"}},
             "domains": {"plain.test": {"a": ["185.1.2.3"], "web": {"pages": {"/": {"html": "plain"}}, "https": False}},
                         "tls.test": {"a": ["185.1.2.3"], "web": {"pages": {"/": {"html": "secure"}}}}}}
    sb = make_sandbox(world, "one")
    ctx = ssl.create_default_context(cadata=sb.ca_pem)

    def tunnel(target: str) -> tuple[socket.socket, bytes]:
        conn = socket.create_connection(("127.0.0.1", sb.ports["proxy"]), timeout=5)
        conn.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        return conn, conn.recv(4096)

    conn, answer = tunnel("185.1.2.3:443")
    assert answer.startswith(b"HTTP/1.1 200")
    with ctx.wrap_socket(conn, server_hostname="tls.test") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: tls.test\r\nConnection: close\r\n\r\n")
        assert b"secure" in b"".join(iter(lambda: tls.recv(65536), b""))
    conn, answer = tunnel("185.1.2.3:80")
    with conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: plain.test\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200") and b"plain" in b"".join(iter(lambda: conn.recv(65536), b""))
    for unknown in ("185.9.9.9:443", "185.1.2.3:8080"):
        conn, answer = tunnel(unknown)
        conn.close()
        assert answer.startswith(b"HTTP/1.1 502"), unknown
