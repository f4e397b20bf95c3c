"""Hostile pages never raise and cost bounded time; the other fingerprinters read observations right."""

from __future__ import annotations

import base64
import os
import time
from datetime import UTC, datetime

import mmh3
import pytest

from detect.fingerprints import (
    INDICATOR_KINDS,
    UnknownIndicatorKind,
    cert_indicators,
    dns_indicators,
    favicon_mmh3,
    fingerprint_page,
    http_indicators,
    minhash_similarity,
    rdap_indicators,
    tlsh_distance,
)
from detect.indicator_kinds import indicator, tidy
from detect.model import DnsResult, HttpFetch, Indicator, Rcode, RdapRecord, TlsCert


def page(body: bytes, content_type: str = "text/html") -> HttpFetch:
    return HttpFetch(domain="hostile.example", url="https://hostile.example/", status=200,
                     headers=(("Content-Type", content_type),), body=body)


HOSTILE = {
    "binary garbage": os.urandom(200_000),
    "nested divs": b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000,
    "20 MB of text": b"<html><body><p>" + b"word " * 4_000_000 + b"</p></body></html>",
    "invalid utf-8": b"<html><head><title>\xff\xfe\xc3(</title></head><body>\xe2\x28\xa1 text</body></html>",
    "lying charset": b'<meta charset="utf-16"><title>x</title>' + b"a" * 1000,
    "unknown charset": b'<meta charset="no-such-codec"><title>ok</title>',
    "nul bytes": b"<html>\x00<title>a\x00b</title>\x00</html>",
    "empty": b"",
    "only a comment": b"<!-- -->",
    "unclosed everything": b"<html><head><title>t<script>var a='<" + b"<a href='" * 10_000,
    "huge attribute": b'<a href="http://' + b"a" * 3_000_000 + b'.com/">x</a>',
    "many links": b"".join(b'<a href="https://s%d.example%d.com/">l</a>' % (i, i) for i in range(20_000)),
    "regex bait": b"<script>" + b"ym(" * 200_000 + b"fbq('init', " * 50_000 + b"</script>",
    "xml declaration": b'<?xml version="1.0" encoding="ISO-8859-1"?><html><title>caf\xe9</title></html>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pages_never_raise_and_are_bounded_in_time(name: str) -> None:
    # CPU seconds, not wall: the bound is against runaway parsing (catastrophic regex backtracking takes
    # minutes), and a loaded machine stretches the wall time of a page that takes 1-2 s of CPU
    start = time.process_time()
    fp = fingerprint_page(page(HOSTILE[name]))
    assert time.process_time() - start < 5.0
    assert fp.text_length <= 1_000_000 and len(fp.outlinks) <= 5_000
    assert all(i.kind in INDICATOR_KINDS for i in fp.indicators)


def test_hostile_titles_come_out_as_one_line_without_control_characters() -> None:
    title = b"<title>Hi\r\nX-Injected: 1\x1b[31mRED\x07 <script>alert(1)</script> &lt;b&gt;</title>"
    fp = fingerprint_page(page(b"<html><head>" + title + b"</head><body>x</body></html>"))
    assert "\r" not in fp.title and "\n" not in fp.title and "\x1b" not in fp.title and "\x07" not in fp.title
    assert fp.title.startswith("Hi X-Injected: 1 [31mRED")
    assert "<b>" in fp.title  # entities decoded: rendering must escape it, as for any page text
    (value,) = [i.value for i in fp.indicators if i.kind == "title"]
    assert value == value.lower() and "\n" not in value


def test_latin1_page_declared_in_the_header_is_decoded() -> None:
    fp = fingerprint_page(page("<title>Café société</title>".encode("latin-1"), "text/html; charset=ISO-8859-1"))
    assert fp.title == "Café société"


def test_ids_in_article_text_are_not_taken_for_tracking_ids() -> None:
    fp = fingerprint_page(page(b"<html><body><p>The code G-ABCDEF1234 and UA-1234567-1 and GTM-ABCDE</p></body></html>"))
    assert not [i for i in fp.indicators if i.kind in ("ga", "gtm")]


def test_tracker_snippets_give_their_ids() -> None:
    html = b"""<html><head>
    <meta name="yandex-verification" content="abc123"><meta name="msvalidate.01" content="B1C2">
    <meta name="facebook-domain-verification" content="fbv"><meta name="p:domain_verify" content="pv">
    <script>fbq('init', '1234567890123');(function(h,o,t,j,a,r){h._hjSettings={hjid:3456789,hjsv:6};})();
    (function(c,l,a,r,i,t,y){})(window, document, "clarity", "script", "k3x9abcd12");
    var _tmr = window._tmr || (window._tmr = []); _tmr.push({id: "3181264", type: "pageView"});
    gtag('config', 'AW-987654321'); var _paq=[]; var u="//stats.example.org/"; _paq.push(['setSiteId', '7']);
    </script><script async src="https://www.googletagmanager.com/gtm.js?id=GTM-W5K8ZQ"></script>
    <ins data-ad-client="ca-pub-1234567890123456"></ins>
    <img src="//counter.yadro.ru/hit;mysite?t52.6"><img src="https://mc.yandex.ru/watch/55555555">
    </head><body><a href="https://www.youtube.com/@SomeChannel">yt</a><a href="https://vk.com/club123">vk</a>
    <a href="https://vk.com/wall-1_2">post</a><a href="https://www.facebook.com/sharer/sharer.php?u=x">share</a>
    <a href="https://x.com/intent/tweet">tweet</a><a href="https://twitter.com/SomeHandle">tw</a>
    <link rel="stylesheet" href="/wp-content/themes/twentytwentyfour/style.css"></body></html>"""
    found = set(fingerprint_page(page(html)).indicators)
    assert {
        Indicator("facebook_pixel", "1234567890123"), Indicator("hotjar", "3456789"),
        Indicator("clarity", "k3x9abcd12"), Indicator("mailru_top", "3181264"),
        Indicator("google_ads", "AW-987654321"), Indicator("matomo", "stats.example.org#7"),
        Indicator("gtm", "GTM-W5K8ZQ"), Indicator("adsense", "pub-1234567890123456"),
        Indicator("liveinternet", "mysite"), Indicator("yandex_metrica", "55555555"),
        Indicator("site_verification", "yandex-verification:abc123"),
        Indicator("site_verification", "msvalidate.01:B1C2"),
        Indicator("site_verification", "facebook-domain-verification:fbv"),
        Indicator("site_verification", "p:domain_verify:pv"),
        Indicator("social", "youtube.com/@somechannel"), Indicator("social", "vk.com/club123"),
        Indicator("social", "x.com/somehandle"),
    } <= found
    socials = {i.value for i in found if i.kind == "social"}
    assert socials == {"youtube.com/@somechannel", "vk.com/club123", "x.com/somehandle"}
    assert not [i for i in found if i.kind == "wp_theme"]  # a stock theme links nobody


def test_meta_refresh_target_is_an_outlink() -> None:
    fp = fingerprint_page(page(b'<meta http-equiv="refresh" content="0; url=https://next.example.org/">'))
    assert fp.outlinks == ("example.org",)


def test_little_text_gives_no_minhash_and_tiny_markup_no_tlsh() -> None:
    fp = fingerprint_page(page(b"<title>This domain has been seized</title><img src=seized.gif>"))
    assert fp.minhash is None and fp.tlsh is None and fp.text_length == 0


def test_similarity_functions_survive_garbage() -> None:
    assert minhash_similarity(b"junk", b"\x00" * 10) == 0.0
    assert tlsh_distance("T1junk", "nonsense") >= 1000


def test_favicon_hash_is_shodan_compatible() -> None:
    data = bytes(range(256)) * 10
    assert favicon_mmh3(data) == str(mmh3.hash(base64.encodebytes(data)))
    assert favicon_mmh3(b"") == "0"


def test_dns_indicators() -> None:
    dns = DnsResult("x.example", Rcode.NOERROR, {
        "A": ("203.0.113.7", "not-an-ip"), "AAAA": ("2001:db8:1:2::1",),
        "NS": ("ns1.provider.co.uk", "NS2.Provider.co.uk."), "MX": ("10 mx.mail.example.net", "0 ."),
        "TXT": ("v=spf1 include:_spf.google.com include:mailgun.org ~all",),
    })
    got = set(dns_indicators(dns))
    assert got == {
        Indicator("ip", "203.0.113.7"), Indicator("ip_prefix", "203.0.113.0/24"),
        Indicator("ip", "2001:db8:1:2::1"), Indicator("ip_prefix", "2001:db8:1::/48"),
        Indicator("ns", "ns1.provider.co.uk"), Indicator("ns", "ns2.provider.co.uk"),
        Indicator("ns_domain", "provider.co.uk"), Indicator("mx", "mx.mail.example.net"),
        Indicator("mx_domain", "example.net"), Indicator("spf_include", "_spf.google.com"),
        Indicator("spf_include", "mailgun.org"),
    }


def test_cert_rdap_and_http_indicators() -> None:
    cert = TlsCert("CN=x", "CN=R3,O=Let's Encrypt", ("x.example", "*.x.example"), None, None, "AB:CD")
    assert set(cert_indicators(cert)) == {
        Indicator("cert_san", "x.example"), Indicator("cert_san", "*.x.example"),
        Indicator("cert_issuer", "CN=R3,O=Let's Encrypt"), Indicator("cert_sha256", "abcd")}
    rdap = RdapRecord("x.example", 200, registrar="Example Registrar GmbH", nameservers=("NS1.A.EXAMPLE.",),
                      observed_at=datetime(2024, 9, 5, tzinfo=UTC))
    assert rdap_indicators(rdap) == (Indicator("rdap_ns", "ns1.a.example"), Indicator("registrar", "Example Registrar GmbH"))
    fetch = HttpFetch("x.example", "https://x.example/", status=200, favicon=b"\x00\x01icon",
                      headers=(("Server", "nginx"), ("Set-Cookie", "PHPSESSID=1; path=/"), ("Content-Type", "text/html")))
    got = http_indicators(fetch)
    import hashlib
    hhh = "hhh:1:" + hashlib.sha256(b"Server:Set-Cookie:Content-Type").hexdigest()
    assert set(got) == {Indicator("hhhash", hhh), Indicator("server", "nginx"), Indicator("cookie", "PHPSESSID"),
                        Indicator("favicon_mmh3", favicon_mmh3(b"\x00\x01icon"))}
    assert http_indicators(HttpFetch("x.example", "https://x.example/")) == ()


def test_unknown_indicator_kinds_are_an_error() -> None:
    with pytest.raises(UnknownIndicatorKind):
        indicator("no_such_kind", "x")
    with pytest.raises(UnknownIndicatorKind):
        tidy([Indicator("no_such_kind", "x")])
    assert {k.tier for k in INDICATOR_KINDS.values()} == {"unique", "infrastructure", "structure"}
