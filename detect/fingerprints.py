"""Fingerprints of a site: what its page, DNS, certificate, RDAP record and HTTP headers reveal.

Pure functions: observations in, indicators out. ``fingerprint_page`` takes any bytes (malformed,
nested without end, not UTF-8, huge) and never raises; work is bounded by detect.page_parse's caps.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import mmh3

from detect.indicator_kinds import (
    INDICATOR_KINDS,
    IndicatorKind,
    UnknownIndicatorKind,
    bounded,
    indicator,
    tidy,
)
from detect.model import DnsResult, HttpFetch, Indicator, RdapRecord, TlsCert
from detect.names import host_of
from detect.page_parse import ParsedPage, clean_text, parse
from detect.page_signals import placeholder
from detect.similarity import dom_hash, minhash_of_text, minhash_similarity, tlsh_distance, tlsh_of_skeleton
from detect.trackers import (
    absolute,
    id_indicators,
    link_host,
    meta_indicators,
    script_indicators,
    social_indicators,
)

__all__ = [
    "INDICATOR_KINDS", "FetchPrint", "IndicatorKind", "PageFingerprint", "UnknownIndicatorKind", "cert_indicators",
    "dns_indicators", "favicon_mmh3", "fetch_print", "fingerprint_page", "http_indicators", "minhash_similarity",
    "normalise_title", "rdap_indicators", "tlsh_distance",
]

log = logging.getLogger(__name__)

_OUTLINK_TAGS = frozenset({"a", "area", "link", "script", "iframe", "form", "meta"})
_SPF_INCLUDE = re.compile(r"\binclude:([A-Za-z0-9._-]{1,253})")


@dataclass(frozen=True)
class PageFingerprint:
    title: str  # as shown (controls removed, whitespace collapsed, at most 500 characters)
    indicators: tuple[Indicator, ...]  # de-duplicated, sorted by (kind, value)
    outlinks: tuple[str, ...]  # registrable domains linked from the page, own domain excluded, sorted
    canonical: str  # host of <link rel=canonical> or og:url, "" if none
    minhash: bytes | None  # serialised LeanMinHash of word 5-shingles; None if too little text
    tlsh: str | None  # TLSH of the markup skeleton; None if too short
    text_length: int  # characters of visible text (after whitespace collapsing)
    language: str  # <html lang>, else og:locale, else Content-Language, as found


@dataclass(frozen=True)
class FetchPrint:
    """What one fetch tells, as the store keeps it: every indicator of the fetch (headers, certificate,
    page, outlinks as ``outlink``), bounded per kind as the store bounds them, the page's sketch parts
    (title, MinHash, TLSH), and, when asked for, the page's parse (for classification)."""

    indicators: tuple[Indicator, ...]
    title: str = ""
    minhash: bytes | None = None
    tlsh: str | None = None
    parsed: ParsedPage | None = None


def fetch_print(fetch: HttpFetch, *, with_parse: bool = False) -> FetchPrint:
    """The indicators and sketch of one fetch; ``with_parse`` also returns its page's parse (free: the
    fingerprint just made it and parse() remembers it)."""
    inds: list[Indicator] = list(http_indicators(fetch))
    if fetch.cert is not None:
        inds.extend(cert_indicators(fetch.cert))
    if not fetch.body:
        return FetchPrint(bounded(inds)[0])
    fp = fingerprint_page(fetch)
    inds.extend(fp.indicators)
    inds.extend(Indicator("outlink", d) for d in fp.outlinks)
    parsed = None
    if with_parse:
        try:
            parsed = parse(fetch.body, fetch.header("content-type"))
        except Exception:  # noqa: BLE001 - classification parses (defensively) on its own
            parsed = None
    return FetchPrint(bounded(inds)[0], fp.title, fp.minhash, fp.tlsh, parsed)


def normalise_title(title: str) -> str:
    """Title as an indicator value: NFKC, lower case, controls gone, whitespace collapsed."""
    return clean_text(unicodedata.normalize("NFKC", title), 300).lower()


def _own_domain(fetch: HttpFetch) -> str | None:
    return host_of(fetch.final_url) or host_of(fetch.url) or host_of(fetch.domain)


def fingerprint_page(fetch: HttpFetch) -> PageFingerprint:
    """Fingerprint the body of one fetch. Never raises: an unexpected failure is logged and gives an
    empty fingerprint (the page is hostile input; the batch must go on)."""
    try:
        return _fingerprint(fetch)
    except Exception:
        log.exception("fingerprinting %s failed; recording an empty fingerprint", fetch.url)
        return PageFingerprint("", (), (), "", None, None, 0, "")


def _fingerprint(fetch: HttpFetch) -> PageFingerprint:
    page = parse(fetch.body, fetch.header("content-type"))
    base = fetch.final_url or fetch.url
    if page.base_href:
        base = absolute(base, page.base_href) or base
    own = _own_domain(fetch)
    canonical = _canonical_host(page, base)
    found: list[Indicator] = [*id_indicators(page), *meta_indicators(page), *social_indicators(page, base)]
    found.extend(script_indicators(page, base, own))
    if page.tags:
        found.append(indicator("dom_hash", dom_hash(page.tags)))
    if title := normalise_title(page.title):
        found.append(indicator("title", title))
    if canonical:
        found.append(indicator("canonical_host", canonical))
    if stock := placeholder(page):
        found.append(indicator("placeholder", stock))
    return PageFingerprint(
        title=page.title,
        indicators=tidy(found),
        outlinks=_outlinks(page, base, own),
        canonical=canonical,
        minhash=minhash_of_text(page.text),
        tlsh=tlsh_of_skeleton(page.skeleton),
        text_length=len(page.text),
        language=_language(page, fetch),
    )


def _canonical_host(page: ParsedPage, base: str) -> str:
    for link in page.links:
        if link.tag == "link" and "canonical" in link.rel.split() and (host := link_host(base, link.url)):
            return host
    for key, content in page.metas:
        if key == "og:url" and (host := link_host(base, content)):
            return host
    return ""


def _outlinks(page: ParsedPage, base: str, own: str | None) -> tuple[str, ...]:
    domains: set[str] = set()
    for link in page.links:
        if link.tag not in _OUTLINK_TAGS:
            continue
        host = link_host(base, link.url)
        if host and (domain := host_of(host)) and domain != own:
            domains.add(domain)
    return tuple(sorted(domains))


def _language(page: ParsedPage, fetch: HttpFetch) -> str:
    if page.html_lang:
        return page.html_lang
    metas = dict(page.metas)
    for key in ("og:locale", "content-language", "language"):
        if value := clean_text(metas.get(key, ""), 40):
            return value
    return clean_text(fetch.header("content-language"), 40)


def favicon_mmh3(data: bytes) -> str:
    """Shodan-compatible favicon hash: signed 32-bit mmh3 of the base64 (MIME lines) of the bytes."""
    return str(mmh3.hash(base64.encodebytes(data)))


def _ip_prefix(address: str) -> str:
    ip = ipaddress.ip_address(address)
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def _host_and_domain(host: str, kind: str) -> Iterator[Indicator]:
    host = host.strip().rstrip(".").lower()
    if host:
        yield indicator(kind, host)
        if domain := host_of(host):
            yield indicator(f"{kind}_domain", domain)


def dns_indicators(dns: DnsResult) -> tuple[Indicator, ...]:
    """ip, ip_prefix (/24, /48), ns and ns_domain, mx and mx_domain, spf_include."""
    found: list[Indicator] = []
    for address in (*dns.get("A"), *dns.get("AAAA")):
        try:
            found.append(indicator("ip_prefix", _ip_prefix(address)))
        except ValueError:
            continue  # a garbage answer is not an address
        found.append(indicator("ip", str(ipaddress.ip_address(address))))
    for ns in dns.get("NS"):
        found.extend(_host_and_domain(ns, "ns"))
    for mx in dns.get("MX"):
        host = mx.split()[-1] if mx.split() else ""
        if host and host != ".":
            found.extend(_host_and_domain(host, "mx"))
    for txt in dns.get("TXT"):
        if txt.lower().startswith("v=spf1"):
            found.extend(indicator("spf_include", inc.lower()) for inc in _SPF_INCLUDE.findall(txt))
    return tidy(found)


def cert_indicators(cert: TlsCert) -> tuple[Indicator, ...]:
    """cert_san (each SAN name as written, lower case), cert_issuer, cert_sha256."""
    found = [indicator("cert_san", san.strip().lower()[:253]) for san in cert.sans]
    found.append(indicator("cert_issuer", clean_text(cert.issuer, 300)))
    found.append(indicator("cert_sha256", cert.sha256.strip().lower().replace(":", "")))
    return tidy(found)


def rdap_indicators(rdap: RdapRecord) -> tuple[Indicator, ...]:
    """registrar and rdap_ns (the registry's view of the name servers)."""
    found = [indicator("rdap_ns", ns.strip().rstrip(".").lower()) for ns in rdap.nameservers]
    found.append(indicator("registrar", clean_text(rdap.registrar, 200)))
    return tidy(found)


def hhhash(header_names: list[str]) -> str:
    """Lookyloo's HHHash: "hhh:1:" + SHA-256 of the response header names joined by ":"."""
    return "hhh:1:" + hashlib.sha256(":".join(header_names).encode("utf-8", "replace")).hexdigest()


def http_indicators(fetch: HttpFetch) -> tuple[Indicator, ...]:
    """hhhash, server, cookie names, favicon_mmh3. Nothing for a fetch that got no answer."""
    if fetch.status is None and not fetch.headers:
        return ()
    found = [indicator("hhhash", hhhash([name for name, _ in fetch.headers]))]
    if server := clean_text(fetch.header("server"), 200):
        found.append(indicator("server", server))
    for name, value in fetch.headers:
        if name.lower() == "set-cookie" and "=" in value and (cookie := clean_text(value.split("=", 1)[0], 100)):
            found.append(indicator("cookie", cookie))
    if fetch.favicon:
        found.append(indicator("favicon_mmh3", favicon_mmh3(fetch.favicon)))
    return tidy(found)
