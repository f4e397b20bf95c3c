"""Takedown classification: each rule, and the caveats of the signature data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path

import pytest

from detect.classify import classify
from detect.model import Classification, DnsResult, ErrorKind, Hop, HttpFetch, Rcode, RdapRecord, Status
from detect.page_parse import parse
from detect.page_signals import banner_picture_key, takedown_page_key
from detect.signatures import Signatures
from hydrawatch.bundled import load_signatures

T0 = datetime(2024, 9, 4, 12, tzinfo=UTC)
DOMAIN = "washingtonpost.pm"
ARTICLE = Path(str(resources.files("sandbox.worlds").joinpath("doppelganger-2024/pages"))) / "rrn.media" / "__1694608541.html"


@cache
def sig() -> Signatures:
    return load_signatures()


def dns(rcode: Rcode = Rcode.NOERROR, ns: tuple[str, ...] = ("ns1.host.example",), a: tuple[str, ...] = ("203.0.113.5",),
        error: str = "") -> DnsResult:
    records = {"NS": ns, "A": a} if rcode is Rcode.NOERROR else {}
    return DnsResult(DOMAIN, rcode, records, error=error, observed_at=T0)


def fetch(body: bytes = b"<html><title>News</title><body>" + b"<p>story text</p>" * 50 + b"</body></html>",
          status: int | None = 200, final_url: str = f"https://{DOMAIN}/", redirects: tuple[Hop, ...] = (),
          error_kind: ErrorKind | None = None) -> HttpFetch:
    return HttpFetch(DOMAIN, f"https://{DOMAIN}/", final_url=final_url, status=status, redirects=redirects,
                     body=body, error_kind=error_kind, observed_at=T0 + timedelta(seconds=5))


def run(d: DnsResult | None = None, fetches: tuple[HttpFetch, ...] = (), rdap: RdapRecord | None = None,
        previous: Status = Status.ACTIVE, was_live: bool = True) -> Classification:
    return classify(dns=d, fetches=fetches, rdap=rdap, previous=previous, was_live=was_live, signatures=sig())


def test_fbi_name_servers_mean_seized_and_the_reason_names_them() -> None:
    got = run(dns(ns=("ns1.fbi.seized.gov", "ns2.fbi.seized.gov"), a=()), (fetch(),))
    assert got == Classification(Status.SEIZED, "NS ns1.fbi.seized.gov (FBI seizure name server)")


def test_seizure_delegation_seen_only_in_rdap_still_counts() -> None:
    rdap = RdapRecord(DOMAIN, 200, nameservers=("NS1.USSSDOMAINSEIZURE.COM",))
    got = run(dns(), (fetch(),), rdap)
    assert got.status is Status.SEIZED and "usssdomainseizure" in got.reason and "RDAP NS" in got.reason


def test_image_only_banner_is_a_seizure() -> None:
    page = b"<html><head><title>This domain has been seized</title></head><body><img src=seizure.gif></body></html>"
    got = run(dns(), (fetch(page),))
    assert got.status is Status.SEIZED and "this domain has been seized" in got.reason


def test_weak_title_on_an_image_page_is_a_seizure() -> None:
    page = b"<title>Domain Seizure</title><body><img src=seized.png></body>"
    assert run(dns(), (fetch(page),)).status is Status.SEIZED


def test_banner_said_only_in_the_pictures_alt_text_is_a_seizure() -> None:
    # The BKA page: an untitled page whose whole banner is one picture; only its alt text says it.
    page = (b'<html><head><title>BKA</title></head><body><img src="banner.jpg" alt="Die Plattform und der '
            b'kriminelle Inhalt wurden beschlagnahmt durch das Bundeskriminalamt"></body></html>')
    got = run(dns(), (fetch(page),))
    assert got.status is Status.SEIZED and "image alt text" in got.reason and "BKA" in got.reason


def test_a_weak_phrase_in_alt_text_counts_only_on_an_image_only_page() -> None:
    image_only = b'<title>Notice</title><body><img src=a.png alt="Domain Seizure"></body>'
    assert run(dns(), (fetch(image_only),)).status is Status.SEIZED
    with_text = (b'<title>Notice</title><body><img src=a.png alt="Domain Seizure"><p>'
                 + b"An essay on asset forfeiture law and its history. " * 20 + b"</p></body>")
    assert run(dns(), (fetch(with_text),)).status is Status.ACTIVE


def test_a_news_photo_captioned_with_a_banner_phrase_stays_active() -> None:
    body = ARTICLE.read_bytes().replace(
        b"<body", b'<body><img src="/fbi.jpg" alt="This domain has been seized by the FBI"', 1)
    got = run(dns(), (fetch(body),))
    assert got.status is Status.ACTIVE, got.reason


EAGLE = ("<html><head><title>Notice</title></head><body><img src='https://banners.agency.example/eagle.jpg'>"
         "<p>{domain}</p></body></html>")


def _key(html: str, domain: str) -> str:
    return takedown_page_key(parse(html.encode()), domain)


def test_the_wordless_banner_a_seized_domain_shows_seizes_another_domain_showing_it() -> None:
    banners = {_key(EAGLE.format(domain="rrn.media"), "rrn.media"): "rrn.media"}
    page = EAGLE.format(domain=DOMAIN).encode()  # the banner names the domain it stands on
    got = classify(dns=dns(), fetches=(fetch(page),), rdap=None, previous=Status.ACTIVE, was_live=True,
                   signatures=sig(), takedown_pages=banners)
    assert got.status is Status.SEIZED and "the takedown page seized rrn.media shows" in got.reason
    assert run(dns(), (fetch(page),)).status is Status.ACTIVE  # nothing learned: no word says it


def test_other_pictures_error_pages_and_long_pages_are_never_a_learned_banner() -> None:
    banners = {_key(EAGLE.format(domain="rrn.media"), "rrn.media"): "rrn.media"}
    other = EAGLE.replace("eagle.jpg", "holiday.jpg").format(domain=DOMAIN).encode()
    got = classify(dns=dns(), fetches=(fetch(other),), rdap=None, previous=Status.ACTIVE, was_live=True,
                   signatures=sig(), takedown_pages=banners)
    assert got.status is Status.ACTIVE
    for stock in ("<title>Welcome to nginx!</title><body><h1>Welcome to nginx!</h1></body>",
                  "<title>404 Not Found</title><body><h1>Not Found</h1></body>", "<html><body></body></html>"):
        assert _key(stock, DOMAIN) == ""
    assert _key(ARTICLE.read_text(encoding="utf-8", errors="replace"), DOMAIN) == ""
    same_page_on_a_404 = fetch(EAGLE.format(domain=DOMAIN).encode(), status=404)
    got = classify(dns=dns(), fetches=(same_page_on_a_404,), rdap=None, previous=Status.ACTIVE, was_live=True,
                   signatures=sig(), takedown_pages=banners)
    assert got.status is Status.DEAD and "holds no site" in got.reason  # never a seizure


def test_the_banner_picture_a_seized_domain_shows_seizes_an_image_only_page_showing_it() -> None:
    banners = {banner_picture_key("ab" * 32): "rrn.media"}
    other_markup = fetch(b"<title>Avis</title><body><img src='/b.jpg'></body>")
    got = classify(dns=dns(), fetches=(dataclasses.replace(other_markup, banner_sha256="ab" * 32),), rdap=None,
                   previous=Status.ACTIVE, was_live=True, signatures=sig(), takedown_pages=banners)
    assert got.status is Status.SEIZED and "the banner picture seized rrn.media shows" in got.reason
    with_text = fetch(b"<title>Avis</title><body><img src='/b.jpg'><p>" + b"A real article about the port. " * 20
                      + b"</p></body>")
    got = classify(dns=dns(), fetches=(dataclasses.replace(with_text, banner_sha256="ab" * 32),), rdap=None,
                   previous=Status.ACTIVE, was_live=True, signatures=sig(), takedown_pages=banners)
    assert got.status is Status.ACTIVE  # a news page illustrated with the banner is not a banner


def test_banner_text_on_a_short_page_is_a_seizure() -> None:
    page = (b"<title>Notice</title><body><h1>THIS SERVER HAS BEEN SEIZED</h1><p>By order of the court.</p>"
            b"<img src=logo.png></body>")
    got = run(dns(), (fetch(page),))
    assert got.status is Status.SEIZED and "LKA" in got.reason


def test_a_news_article_saying_seized_by_the_fbi_stays_active() -> None:
    body = ARTICLE.read_bytes().replace(
        b"<body", b"<p>The domain was seized by the FBI, the Department of Justice said: "
        b"this domain has been seized.</p><body", 1)
    headline = body.replace(b"<title>", b"<title>Domains seized by the FBI: ", 1)
    for page in (body, headline):
        got = run(dns(), (fetch(page),))
        assert got.status is Status.ACTIVE, got.reason


def test_weak_phrases_alone_never_seize_even_a_short_page() -> None:
    page = b"<title>Press</title><body><p>The site was seized, law enforcement and the department of justice said.</p></body>"
    assert run(dns(), (fetch(page),)).status is Status.ACTIVE


def test_cloudflare_seizure_weak_ns_alone_is_not_a_seizure() -> None:
    got = run(dns(ns=("jocelyn.ns.cloudflare.com", "plato.ns.cloudflare.com")), (fetch(),))
    assert got.status is Status.ACTIVE


def test_cloudflare_seizure_weak_ns_with_a_weak_banner_is_a_seizure() -> None:
    page = b"<title>Notice</title><body><p>This site was seized by the authorities.</p><img src=x.png></body>"
    got = run(dns(ns=("jocelyn.ns.cloudflare.com",)), (fetch(page),))
    assert got.status is Status.SEIZED and "jocelyn.ns.cloudflare.com" in got.reason


def test_cuii_block_notice_is_not_a_seizure() -> None:
    page = ("<title>CUII</title><body><p>Diese Webseite ist aus urheberrechtlichen Gründen nicht verfügbar. "
            "This domain has been seized?</p></body>").encode()
    got = run(dns(), (fetch(page),), previous=Status.ACTIVE)
    assert got.status is Status.ACTIVE and "not a seizure" in got.reason


def test_sinkhole_is_suspended_not_seized() -> None:
    sinkhole = next(ns for ns in sig().nameservers if ns.kind == "sinkhole")
    got = run(dns(ns=(sinkhole.host,)), (fetch(),))
    assert got.status is Status.SUSPENDED and "sinkholed" in got.reason and "not a seizure" in got.reason


@pytest.mark.parametrize("rcode", [Rcode.NXDOMAIN, Rcode.NOANSWER])
def test_registry_hold_without_resolution_is_suspended(rcode: Rcode) -> None:
    rdap = RdapRecord(DOMAIN, 200, statuses=("client transfer prohibited", "server hold"), observed_at=T0)
    got = run(dns(rcode), (), rdap)
    assert got == Classification(Status.SUSPENDED, f"RDAP server hold; DNS {rcode.value}")
    assert run(dns(rcode), (), RdapRecord(DOMAIN, 200, statuses=("clientHold",))).status is Status.SUSPENDED


def test_nxdomain_after_being_live_is_suspended() -> None:
    assert run(dns(Rcode.NXDOMAIN), was_live=True) == Classification(Status.SUSPENDED, "NXDOMAIN after the domain was live")


def test_nxdomain_with_an_expired_registration_is_a_lapse() -> None:
    rdap = RdapRecord(DOMAIN, 200, expires=T0 - timedelta(days=3), observed_at=T0)
    got = run(dns(Rcode.NXDOMAIN), rdap=rdap, was_live=True)
    assert got.status is Status.DEAD and "expired" in got.reason
    pending = RdapRecord(DOMAIN, 200, statuses=("pending delete",))
    assert run(dns(Rcode.NXDOMAIN), rdap=pending).status is Status.DEAD


def test_a_name_that_never_resolved_is_dead() -> None:
    got = run(dns(Rcode.NXDOMAIN), previous=Status.UNKNOWN, was_live=False)
    assert got == Classification(Status.DEAD, "NXDOMAIN: the name has never resolved")


@pytest.mark.parametrize("rcode", [Rcode.SERVFAIL, Rcode.TIMEOUT])
def test_resolver_trouble_keeps_the_previous_status(rcode: Rcode) -> None:
    got = run(dns(rcode, error="3 tries"), (fetch(status=None, error_kind=ErrorKind.DNS),), previous=Status.ACTIVE)
    assert got.status is Status.ACTIVE and rcode.value in got.reason and "kept" in got.reason
    assert run(dns(rcode), previous=Status.UNKNOWN).status is Status.UNKNOWN


def test_parking_name_servers_mean_parked() -> None:
    got = run(dns(ns=("ns1.sedoparking.com", "ns2.sedoparking.com")), (fetch(),))
    assert got == Classification(Status.PARKED, "NS ns1.sedoparking.com (Sedo parking)")


def test_for_sale_page_means_parked_but_not_in_a_long_article() -> None:
    got = run(dns(), (fetch(b"<title>rrn.so</title><body><h1>This domain is for sale!</h1><a>Buy now</a></body>"),))
    assert got.status is Status.PARKED and "this domain is for sale" in got.reason
    long_story = ARTICLE.read_bytes().replace(b"<body", b"<p>domain parking is a business</p><body", 1)
    assert run(dns(), (fetch(long_story),)).status is Status.ACTIVE


@pytest.mark.parametrize("page", [
    "<title>Domain kaufen</title><body><h1>Diese Domain steht zum Verkauf!</h1><a>Jetzt anfragen</a></body>",
    "<title>rrn.so</title><body><h2>Ce nom de domaine est à vendre</h2></body>",
    "<title>rrn.so</title><body><h2>Этот домен продаётся</h2><p>Купить</p></body>",
])
def test_for_sale_pages_in_other_languages_mean_parked(page: str) -> None:
    got = run(dns(), (fetch(page.encode()),))
    assert got.status is Status.PARKED, got.reason


@pytest.mark.parametrize("page, phrase", [
    (("<title>Account Suspended</title><body><h1>This Account has been suspended.</h1>"
      "<p>Contact your hosting provider for more information.</p></body>"), "this account has been suspended"),
    ("<title>rrn.so</title><body><p>This domain has been suspended by the registrar for abuse.</p></body>",
     "this domain has been suspended"),
    ("<html lang=ru><title>rrn.so</title><body><p>Действие домена приостановлено регистратором.</p></body>",
     "действие домена приостановлено"),
])
def test_a_registrar_or_host_suspension_page_is_suspended(page: str, phrase: str) -> None:
    got = run(dns(), (fetch(page.encode()),))
    assert got.status is Status.SUSPENDED and phrase in got.reason, got.reason


def test_a_suspension_page_under_a_registry_hold_names_both() -> None:
    rdap = RdapRecord(DOMAIN, 200, statuses=("client hold",), observed_at=T0)
    got = run(dns(), (fetch(b"<title>Domain suspended</title><body>Domain suspended.</body>"),), rdap)
    assert got.status is Status.SUSPENDED and "client hold" in got.reason


def test_a_news_story_about_suspended_accounts_stays_active() -> None:
    body = ARTICLE.read_bytes().replace(b"<title>", b"<title>Account suspended: ", 1)
    body = body.replace(b"<body", b"<body><p>This account has been suspended, the platform said.</p", 1)
    assert len(body) > 3 * 3_000
    got = run(dns(), (fetch(body),))
    assert got.status is Status.ACTIVE, got.reason


def test_a_seizure_banner_that_also_says_suspended_is_a_seizure() -> None:
    page = b"<title>This domain has been seized</title><body>This domain has been suspended.</body>"
    assert run(dns(), (fetch(page),)).status is Status.SEIZED


def test_http_redirect_to_another_domain_is_redirecting() -> None:
    hops = (Hop(f"https://{DOMAIN}/", 301, "https://www.washingtonpost.com/"),)
    got = run(dns(), (fetch(final_url="https://www.washingtonpost.com/", redirects=hops),))
    assert got.status is Status.REDIRECTING and "washingtonpost.com" in got.reason


def test_redirect_within_the_site_is_not_redirecting() -> None:
    hops = (Hop(f"http://{DOMAIN}/", 301, f"https://www.{DOMAIN}/"),)
    assert run(dns(), (fetch(final_url=f"https://www.{DOMAIN}/", redirects=hops),)).status is Status.ACTIVE


def test_redirect_to_a_dead_target_is_still_redirecting() -> None:
    hops = (Hop(f"https://{DOMAIN}/", 302, "https://next.example.org/x"),)
    got = run(dns(), (fetch(status=None, final_url="", redirects=hops, error_kind=ErrorKind.TIMEOUT),))
    assert got.status is Status.REDIRECTING and "example.org" in got.reason


@pytest.mark.parametrize("body, how", [
    (b'<meta http-equiv="refresh" content="0;URL=\'https://rrn.so/\'">', "meta refresh"),
    (b"<script>window.location.href = 'https://rrn.so/';</script>", "JavaScript location"),
])
def test_client_side_redirects_are_redirecting(body: bytes, how: str) -> None:
    got = run(dns(), (fetch(body),))
    assert got == Classification(Status.REDIRECTING, f"redirects to rrn.so ({how} from https://{DOMAIN}/)")


def test_serving_content_is_active() -> None:
    assert run(dns(), (fetch(ARTICLE.read_bytes()),), previous=Status.UNKNOWN) == Classification(
        Status.ACTIVE, f"HTTP 200 from https://{DOMAIN}/")


def test_resolving_without_any_http_answer_is_dead() -> None:
    fetches = (fetch(status=None, error_kind=ErrorKind.TIMEOUT), fetch(status=None, error_kind=ErrorKind.CONNECTION))
    got = run(dns(), fetches)
    assert got.status is Status.DEAD and "timeout" in got.reason and "connection" in got.reason


def test_dns_only_observation_keeps_a_live_status() -> None:
    assert run(dns(), (), previous=Status.ACTIVE).status is Status.ACTIVE
    assert run(dns(), (), previous=Status.DEAD).status is Status.UNKNOWN


def test_garbage_pages_never_break_classification() -> None:
    for body in (b"\xff" * 1000, b"<div>" * 50_000, b""):
        assert run(dns(), (fetch(body),)).status is Status.ACTIVE


def test_a_gateway_error_is_not_the_site_answering() -> None:
    """A proxy's or CDN's 502/504/52x means the site did not answer: resolving + only that = dead;
    a 503 (maintenance, bot challenge) is the site answering."""
    for status in (502, 504, 522):
        verdict = run(dns(), (fetch(b"<html>502 Bad Gateway</html>", status=status),))
        assert verdict.status is Status.DEAD and f"gateway HTTP {status}" in verdict.reason, verdict
    live = run(dns(), (fetch(b"<html><title>Maintenance</title></html>", status=503),))
    assert live.status is Status.ACTIVE


def test_a_name_with_name_servers_and_mail_but_no_address_is_dead() -> None:
    """The operator dropped the A record (the site is gone) while NS, MX and TXT remain."""
    got = run(dns(a=()), (), previous=Status.ACTIVE)
    assert got.status is Status.DEAD and "no address records" in got.reason


def test_a_home_page_the_server_does_not_hold_is_dead_but_a_bot_wall_is_active() -> None:
    """After the site is removed from a shared host, the default vhost answers 404 for its name."""
    gone = (fetch(b"<title>404 Not Found</title><h1>Not Found</h1>", status=404),
            fetch(b"<title>410 Gone</title>", status=410))
    got = classify(dns=dns(), fetches=gone, rdap=None, previous=Status.ACTIVE, was_live=True, signatures=sig())
    assert got.status is Status.DEAD and "holds no site" in got.reason and "HTTP 404" in got.reason
    for live in (403, 429, 503, 200):
        got = classify(dns=dns(), fetches=(fetch(b"<title>x</title>", status=live), *gone), rdap=None,
                       previous=Status.ACTIVE, was_live=True, signatures=sig())
        assert got.status is Status.ACTIVE, (live, got)


def test_a_page_the_caller_already_parsed_is_classified_from_that_parse() -> None:
    seized_body = b'<html><body><img src="seized.png" alt="This domain has been seized by the FBI"></body></html>'
    page = fetch()
    held = {page.body: parse(seized_body, "text/html")}
    asked: list[str] = []

    def parse_of(f: HttpFetch):  # type: ignore[no-untyped-def]
        asked.append(f.url)
        return held.get(f.body)

    verdict = classify(dns=dns(), fetches=(page,), rdap=None, previous=Status.ACTIVE, was_live=True,
                       signatures=sig(), parse_of=parse_of)
    assert asked == [page.url]
    assert verdict.status is Status.SEIZED  # the held parse (a banner), not a new parse of the news body
    unknown = classify(dns=dns(), fetches=(page,), rdap=None, previous=Status.ACTIVE, was_live=True,
                       signatures=sig(), parse_of=lambda f: None)
    assert unknown == run(dns(), (page,))  # nothing held: the page is parsed, as without parse_of


def test_a_page_still_rate_limited_after_the_crawls_retries_counts_as_an_answer_not_a_dead_site() -> None:
    limited = fetch(b"<html><title>429 Too Many Requests</title></html>", status=429,
                    error_kind=ErrorKind.RATE_LIMITED)
    got = run(dns(), (limited,), previous=Status.UNKNOWN, was_live=False)
    assert got.status is Status.ACTIVE and "429" in got.reason, got
    # any other failure with a status is no answer: nothing else answered, so the site is dead
    broken = dataclasses.replace(limited, error_kind=ErrorKind.TOO_LARGE)
    assert run(dns(), (broken,), previous=Status.UNKNOWN, was_live=False).status is Status.DEAD
