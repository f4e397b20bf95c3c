"""Takedown classification: from the latest DNS, HTTP and RDAP observations, one status and a
one-line reason naming the evidence. Pure; the clock is the observations' own timestamps.

Rules, first match wins (docs/fingerprints.md explains each):
 1. a law-enforcement seizure NS (DNS delegation or RDAP)             → seized
 2. a seizure banner on a short page (strong phrase, or image-only)   → seized
    (a CUII-style block notice is never a seizure: status kept)
    the very takedown page a seized domain shows (name masked),
    or, on an image-only page, the very banner picture it shows       → seized
 3. a sinkhole NS                                                     → suspended ("sinkholed by …")
 4. RDAP client/server hold and the name does not resolve             → suspended
    a registrar's or host's suspension notice on a short page         → suspended
 5. NXDOMAIN: expired / redemption / pending delete → dead (lapse);
    after the domain was live → suspended; never live → dead
 6. DNS failure (SERVFAIL, timeout …) and no HTTP answer              → previous status kept
 7. parking NS, or a for-sale page                                    → parked
 8. final URL on another registrable domain (HTTP, meta refresh, JS)  → redirecting
 9. an HTTP answer                                                    → active
    (but 404/410/421 on every home fetch: the server holds no site by that name → dead)
10. resolves but no HTTP answer at all (a gateway's 502/504/52x is not one)  → dead
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from detect.model import Classification, DnsResult, ErrorKind, HttpFetch, Rcode, RdapRecord, Status
from detect.names import host_of
from detect.page_parse import ParsedPage, parse
from detect.page_signals import (
    IMAGE_BANNER_CHARS,
    banner_picture_key,
    block_notice,
    client_redirect,
    for_sale,
    seizure_banner,
    suspension_notice,
    takedown_page_key,
)
from detect.signatures import Signatures
from detect.trackers import absolute

_HOLDS = {"clienthold": "client hold", "serverhold": "server hold"}
_LAPSE = {"redemptionperiod": "redemption period", "pendingdelete": "pending delete"}
_DNS_FAILURES = (Rcode.SERVFAIL, Rcode.TIMEOUT, Rcode.REFUSED, Rcode.ERROR)


def _squash(status: str) -> str:
    return "".join(ch for ch in status.lower() if ch.isalpha())


def _ns_hosts(dns: DnsResult | None, rdap: RdapRecord | None) -> list[tuple[str, str]]:
    """(host, where) for every NS seen: the DNS delegation first, then the registry's record."""
    hosts = [(h.strip().rstrip(".").lower(), "NS") for h in (dns.get("NS") if dns else ())]
    hosts += [(h.strip().rstrip(".").lower(), "RDAP NS") for h in (rdap.nameservers if rdap else ())]
    return hosts


def _now(dns: DnsResult | None, rdap: RdapRecord | None, fetches: Sequence[HttpFetch]) -> datetime | None:
    times = [o.observed_at for o in (dns, rdap, *fetches) if o is not None and o.observed_at is not None]
    return max(times) if times else None


# Answers from a gateway that could not reach the site (a forward proxy's or a CDN's "bad gateway",
# "gateway timeout", Cloudflare's 52x "origin down"): the site itself did not answer. 503 is not here:
# it is also a live site's maintenance page or bot challenge.
GATEWAY_FAILURES = frozenset({502, 504, 520, 521, 522, 523, 524, 525, 526, 530})
# Answers by which a web server says it has no site for the name asked: Not Found on the home page,
# Gone, Misdirected Request. 401/403/429/503 are not here: live sites answer them to bots.
NO_SITE = frozenset({404, 410, 421})


def site_answered(fetch: HttpFetch) -> bool:
    """Did the site itself answer ``fetch`` (a status, no error but ``rate_limited``, not a gateway's
    failure)? Only such a fetch's body is ever read by :func:`classify`: a store may leave the others'
    bodies unread."""
    failed = fetch.error_kind is not None and fetch.error_kind is not ErrorKind.RATE_LIMITED
    return fetch.status is not None and not failed and fetch.status not in GATEWAY_FAILURES


def _answered(fetches: Sequence[HttpFetch], dns: DnsResult | None) -> list[HttpFetch]:
    """Fetches that the site itself answered, and not before the DNS observation (older news loses). A page
    still rate-limited after the crawl's retries (429, or 503 with Retry-After: ``rate_limited`` with its
    status) was answered by a live server, as it was before the crawl retried them."""
    out = []
    for f in fetches:
        if not site_answered(f):
            continue
        if dns and dns.observed_at and f.observed_at and f.observed_at < dns.observed_at and not dns.resolves:
            continue
        out.append(f)
    return out


def _failure(fetch: HttpFetch) -> str:
    if fetch.error_kind is not None:
        return fetch.error_kind.value
    return f"gateway HTTP {fetch.status}" if fetch.status in GATEWAY_FAILURES else "no status"


def _page(fetch: HttpFetch, parse_of: Callable[[HttpFetch], ParsedPage | None] | None = None) -> ParsedPage:
    if parse_of is not None and (page := parse_of(fetch)) is not None:
        return page
    try:
        return parse(fetch.body, fetch.header("content-type"))
    except Exception:  # noqa: BLE001 - parse is already defensive; a page must never stop classification
        return ParsedPage()


def _redirect(fetch: HttpFetch, page: ParsedPage | None) -> tuple[str, str]:
    """(registrable target, how) when the fetch ends on another registrable domain, else ("", "")."""
    own = host_of(fetch.domain) or host_of(fetch.url)
    hops = [absolute(h.url, h.location) for h in fetch.redirects if h.location]
    for url, how in ((fetch.final_url, "HTTP redirect"), (hops[-1] if hops else "", "HTTP redirect")):
        dest = host_of(url) if url else None
        if dest is not None and dest != own:
            return dest, how
    if page is not None:
        url, how = client_redirect(page)
        dest = host_of(absolute(fetch.final_url or fetch.url, url)) if url else None
        if dest is not None and dest != own:
            return dest, how
    return "", ""


def classify(
    *,
    dns: DnsResult | None,
    fetches: Sequence[HttpFetch],
    rdap: RdapRecord | None,
    previous: Status,
    was_live: bool,
    signatures: Signatures,
    takedown_pages: Mapping[str, str] | None = None,
    parse_of: Callable[[HttpFetch], ParsedPage | None] | None = None,
) -> Classification:
    """Decide a domain's status from its latest observations (see the module docstring).

    ``takedown_pages``: takedown_page_key → a seized domain whose page it is (the banners seen so far).
    ``parse_of``: the caller's parse of a fetch's body, if it holds one (``detect.page_parse.parse`` of the
    same body and content type: the same page), so the page is not parsed again; None → parse it."""
    ns_hosts = _ns_hosts(dns, rdap)
    answered = _answered(fetches, dns)
    pages = [(f, _page(f, parse_of)) for f in answered if f.body]

    # 1. law-enforcement name servers
    weak_ns = ""
    for host, where in ns_hosts:
        entry = signatures.nameserver(host)
        if entry is not None and entry.kind == "seizure":
            return Classification(Status.SEIZED, f"{where} {host} ({entry.agency} seizure name server)")
        if entry is not None and entry.kind == "seizure_weak" and not weak_ns:
            weak_ns = host

    # 2. seizure banner (a block notice is not one: keep what we knew)
    for fetch, page in pages:
        notice = block_notice(page, signatures)
        if notice is not None:
            return Classification(previous, f"block notice instead of the site at {fetch.url} "
                                  f"({notice.agency}); not a seizure, status kept")
        match = seizure_banner(page, signatures, corroborated=bool(weak_ns))
        if match is not None:
            also = f" with NS {weak_ns} (used by law enforcement)" if weak_ns else ""
            return Classification(Status.SEIZED, f"seizure banner in page {match.where} at {fetch.final_url or fetch.url}: "
                                  f"\"{match.phrase.text}\" ({match.phrase.agency}){also}")
    for fetch, page in pages if takedown_pages else ():
        if not 200 <= (fetch.status or 0) < 300:
            continue
        seized = takedown_pages.get(takedown_page_key(page, fetch.domain)) if takedown_pages else None
        if seized and seized != fetch.domain:
            return Classification(Status.SEIZED, f"the takedown page seized {seized} shows, at "
                                  f"{fetch.final_url or fetch.url}")
        picture = banner_picture_key(fetch.banner_sha256) if len(page.text) <= IMAGE_BANNER_CHARS else ""
        seized = takedown_pages.get(picture) if takedown_pages and picture else None
        if seized and seized != fetch.domain:
            return Classification(Status.SEIZED, f"the banner picture seized {seized} shows (sha256 "
                                  f"{fetch.banner_sha256[:16]}…), at {fetch.final_url or fetch.url}")

    # 3. sinkholes: out of the owner's hands, but not a seizure
    for host, where in ns_hosts:
        entry = signatures.nameserver(host)
        if entry is not None and entry.kind == "sinkhole":
            return Classification(Status.SUSPENDED, f"sinkholed by {entry.agency or 'unknown operator'}: "
                                  f"{where} {host} (sinkhole, not a seizure)")

    resolves = dns is not None and dns.resolves
    statuses = {_squash(s) for s in (rdap.statuses if rdap else ())}
    rcode = dns.rcode.value if dns else "no DNS answer"

    # 4. registry / registrar hold
    holds = [name for key, name in _HOLDS.items() if key in statuses]
    if holds and not resolves and not answered:
        return Classification(Status.SUSPENDED, f"RDAP {' and '.join(holds)}; DNS {rcode}")
    for fetch, page in pages:
        if phrase := suspension_notice(page, signatures):
            hold = f"; RDAP {' and '.join(holds)}" if holds else ""
            return Classification(Status.SUSPENDED, f"suspension notice at {fetch.final_url or fetch.url}: "
                                  f"\"{phrase}\"{hold}")

    # 5. NXDOMAIN
    if dns is not None and dns.rcode is Rcode.NXDOMAIN and not answered:
        now = _now(dns, rdap, fetches)
        lapse = [name for key, name in _LAPSE.items() if key in statuses]
        if rdap and rdap.expires and now and rdap.expires < now:
            return Classification(Status.DEAD, f"NXDOMAIN; registration expired {rdap.expires:%Y-%m-%d} (lapsed)")
        if lapse:
            return Classification(Status.DEAD, f"NXDOMAIN; RDAP {lapse[0]} (registration lapsing)")
        if was_live:
            return Classification(Status.SUSPENDED, "NXDOMAIN after the domain was live")
        return Classification(Status.DEAD, "NXDOMAIN: the name has never resolved")

    # 6. resolver trouble is not evidence
    if dns is not None and dns.rcode in _DNS_FAILURES and not answered:
        return Classification(previous, f"DNS {dns.rcode.value}{': ' + dns.error if dns.error else ''}; "
                              "no other evidence, status kept")

    # 7. parking
    for host, where in ns_hosts:
        park = signatures.parking(host)
        if park is not None:
            return Classification(Status.PARKED, f"{where} {host} ({park.provider} parking)")
    for fetch, page in pages:
        if phrase := for_sale(page, signatures):
            return Classification(Status.PARKED, f"for-sale/parking page at {fetch.final_url or fetch.url}: \"{phrase}\"")

    # 8. redirects to another registrable domain
    parsed = {id(f): page for f, page in pages}
    for fetch in fetches:
        dest, how = _redirect(fetch, parsed.get(id(fetch)))
        if dest:
            return Classification(Status.REDIRECTING, f"redirects to {dest} ({how} from {fetch.url})")

    # 9. serving — unless every answer is the server saying it holds no site by that name (a shared
    # host's default vhost after the site was removed, a 410 Gone): that is a site that went away
    if answered and all(f.status in NO_SITE for f in answered):
        statuses_seen = ", ".join(sorted({f"HTTP {f.status} on {f.url}" for f in answered}))
        return Classification(Status.DEAD, f"the server holds no site by this name ({statuses_seen})")
    if answered:
        best = min(answered, key=lambda f: (not 200 <= (f.status or 0) < 300, f.url))
        return Classification(Status.ACTIVE, f"HTTP {best.status} from {best.final_url or best.url}")

    # 10. resolves, but nothing answers
    if fetches and (resolves or dns is None):
        failures = ", ".join(f"{_failure(f)} on {f.url}" for f in fetches[:3])
        return Classification(Status.DEAD, f"no HTTP answer ({failures})")
    if dns is not None and dns.rcode is Rcode.NOANSWER:
        return Classification(Status.DEAD, "no address records (DNS NOERROR with no A/AAAA/CNAME)")
    if dns is not None and dns.rcode is Rcode.NOERROR and not resolves and not answered:
        return Classification(Status.DEAD, "no address records: the name has NS/MX/TXT but no A/AAAA/CNAME, "
                              "so no web site can answer")
    if resolves and previous in (Status.ACTIVE, Status.PARKED, Status.REDIRECTING):
        return Classification(previous, "DNS resolves; no page fetched this time, status kept")
    if resolves:
        return Classification(Status.UNKNOWN, "DNS resolves; no page fetched yet")
    return Classification(previous, "no usable observation; status kept")
