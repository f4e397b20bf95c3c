"""The one inline world every hostile case runs in: a healthy site plus one domain per case."""

from __future__ import annotations

from typing import Any

from tests.hostile.harness import domain, site, world

MALFORMED_HTML = ("<html><head><title>Broken <b>page</title><meta charset=><<>><body><p <p>< div class='x"
                  "<table><tr><td>cell</table></i></b></html></html><script>if (a < b && c > d) {</script>"
                  "<p>unterminated <!-- comment <a href='http://[::1'>bad url</a>")
NESTED_HTML = "<html><head><title>Deep</title></head><body>" + "<div><span>" * 60_000 + "x" + "</body></html>"
INJECTED_TITLE = ("<script>alert('title')</script>\x1b[2J\x1b]0;pwned\x07\x1b[31mRED\r\n"
                  "Bcc: victim@evil.example\r\n=cmd|' /C calc'!A0")
INJECTED_HTML = ("<html><head><title>" + INJECTED_TITLE.replace("<", "&lt;").replace(">", "&gt;")
                 + "</title></head><body><h1 onclick=\"alert(1)\">\x1b[5mblink</h1>"
                 "<img src=x onerror=alert(document.cookie)><script>fetch('/api/domains')</script>"
                 "<p>Body\r\nX-Injected: yes</p></body></html>")

HTTP_CASES: dict[str, dict[str, Any]] = {
    "malformed.info": domain("185.10.1.1", html=MALFORMED_HTML),
    "nested.info": domain("185.10.1.2", html=NESTED_HTML),
    "huge.info": domain("185.10.1.3", behaviours=["huge-body"]),
    "gzipbomb.info": domain("185.10.1.4", behaviours=["gzip-bomb"]),
    "brotlibomb.info": domain("185.10.1.5", behaviours=["brotli-bomb"]),
    "loop.info": domain("185.10.1.6", behaviours=["redirect-loop"]),
    "chain.info": domain("185.10.1.7", behaviours=["redirect-chain"]),
    "drip.info": domain("185.10.1.8", behaviours=["slow-drip"]),
    "reset.info": domain("185.10.1.9", behaviours=["reset"]),
    "garbage.info": domain("185.10.1.10", behaviours=["garbage"]),
    "tlsgarbage.info": domain("185.10.1.11", behaviours=["tls-garbage"]),
    "expired.info": domain("185.10.1.12", web=site(tls={"expired": True})),
    "selfsigned.info": domain("185.10.1.13", web=site(tls={"self_signed": True})),
    "wrongname.info": domain("185.10.1.14", web=site(tls={"names": ["someone-else.info"]})),
    "wrongtype.info": domain("185.10.1.15", behaviours=["wrong-content-type"]),
    "nonutf8.info": domain("185.10.1.16", behaviours=["non-utf8"]),
    "headers.info": domain("185.10.1.17", behaviours=["header-endless"]),
    "headerflood.info": domain("185.10.1.18", behaviours=["header-flood"]),
}

DNS_CASES: dict[str, dict[str, Any]] = {
    "dnstimeout.info": domain("185.10.2.1", behaviours=["dns-timeout"]),
    "servfail.info": domain("185.10.2.2", behaviours=["dns-servfail"]),
    "refused.info": domain("185.10.2.3", behaviours=["dns-refused"]),
    "dnsgarbage.info": domain("185.10.2.4", behaviours=["dns-garbage"]),
    "truncated.info": domain("185.10.2.5", behaviours=["dns-truncated"]),
    "cnameloop.info": domain("185.10.2.6", behaviours=["dns-cname-loop"]),
    "hugetxt.info": domain("185.10.2.7", behaviours=["dns-huge-txt"]),
    # gооd-news.info with Cyrillic о (U+043E): a homograph of the healthy site
    "xn--gd-news-9iga.info": domain("185.10.2.8"),
}

RDAP_CASES: dict[str, dict[str, Any]] = {
    "rdapbad.info": domain("185.10.3.1", behaviours=["rdap-malformed"]),
    "rdap429.info": domain("185.10.3.2", behaviours=["rdap-429"]),
    "rdap500.info": domain("185.10.3.3", behaviours=["rdap-500"]),
    "rdapheaders.info": domain("185.10.3.4", behaviours=["rdap-header-flood"]),
}

SSRF_NAMES = {"loopback.info": "127.0.0.1", "private.info": "10.20.30.40", "metadata.info": "169.254.169.254"}


def ssrf_cases(trap_port: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {name: domain(ip) for name, ip in SSRF_NAMES.items()}
    out["v6loop.info"] = {**domain("185.10.4.9"), "a": [], "aaaa": ["::1"]}
    redirects = {
        "to-loopback.info": "http://loopback.info/admin",
        "to-metadata.info": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "to-trap.info": f"http://127.0.0.1:{trap_port}/",
        "to-v6trap.info": f"http://[::1]:{trap_port}/",
        "to-private.info": "https://private.info/",
    }
    for i, (name, target) in enumerate(redirects.items()):
        out[name] = domain(f"185.10.5.{i + 1}", web={"pages": {"/": {"redirect": target, "status": 302}}})
    return out


LOCAL_SCHEME_HTML = ('<html><head><title>pictures</title><link rel="icon" href="file:///etc/passwd"></head><body>'
                     '<img src="data:image/png;base64,cm9vdDp4OjA6MA=="><img src="file:///etc/passwd"></body></html>')
SCHEME_CASES: dict[str, dict[str, Any]] = {
    "tofile.info": domain("185.10.7.1", web={"pages": {"/": {"redirect": "file:///etc/passwd", "status": 302}}}),
    "todata.info": domain("185.10.7.2", web={"pages": {"/": {"redirect": "data:text/html,root:x:0:0",
                                                             "status": 302}}}),
    "filelinks.info": domain("185.10.7.3", html=LOCAL_SCHEME_HTML),
}

INJECTION_CASES: dict[str, dict[str, Any]] = {"inject.info": domain("185.10.6.1", html=INJECTED_HTML)}

# DNS rebinding (test_rebinding.py): the rebinding name server answers rebind.info with its world address
# first and with 127.0.0.1 afterwards; to-rebind.info redirects to it.
REBIND_HTML = "<html><head><title>Rebind public site</title></head><body><p>the public page</p></body></html>"
REBIND_CASES: dict[str, dict[str, Any]] = {
    "rebind.info": domain("185.10.8.1", html=REBIND_HTML),
    "to-rebind.info": domain("185.10.8.2", web={"pages": {"/": {"redirect": "http://rebind.info/", "status": 302}}}),
    "to-rebind-tls.info": domain("185.10.8.3", web={"pages": {"/": {"redirect": "https://rebind.info/",
                                                                    "status": 302}}}),
}


def hostile_world(trap_port: int) -> dict[str, Any]:
    return world({**HTTP_CASES, **DNS_CASES, **RDAP_CASES, **ssrf_cases(trap_port), **SCHEME_CASES,
                  **INJECTION_CASES, **REBIND_CASES})
