"""Crawls against real hostile loopback servers: every bad case ends as a typed HttpFetch."""

from __future__ import annotations

import gc
import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from crawler.fetch import SiteCrawler, roomy_gc
from crawler.pagework import CRAWL_GC_THRESHOLD
from crawler.resolver import GuardedResolver
from crawler.run import run
from crawler.settings import CrawlerSettings, DnsSettings
from detect.model import ErrorKind, HttpFetch
from tests.crawler.servers import ICON, PAGE, ForwardProxy, HostileSite, TinyDns, self_signed

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def config(dns: TinyDns, *, private: bool = True, **crawler: Any) -> tuple[CrawlerSettings, DnsSettings]:
    """The [crawler] and [dns] sections of a crawl against ``dns``."""
    keys = {"allow_private_addresses": private, "timeout": 2.0, "retries": 0, "max_page_bytes": 200_000, **crawler}
    return (CrawlerSettings.from_mapping(keys),
            DnsSettings.from_mapping({"nameservers": [dns.nameserver], "timeout": 2.0}))


def page(crawler: SiteCrawler, url: str) -> HttpFetch:
    """Fetch one URL through the site spider (the home fetch of a one-path crawl)."""
    async def go() -> HttpFetch:
        return (await crawler.crawl([url], now=NOW))[0].fetches[1]  # the http:// fetch
    return run(go)


def test_ok_site_records_status_headers_body_ip_favicon_and_extra_paths() -> None:
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns, extra_paths=["/about/", "nothing-here"]))
            (crawl,) = await crawler.crawl([f"site.test:{site.port}"], now=NOW)
            https, http, about, missing = crawl.fetches
            assert https.url == f"https://site.test:{site.port}/" and https.error_kind is not None
            assert http.ok and http.status == 200 and http.body == PAGE and http.ip == "127.0.0.1"
            assert http.header("x-test") == "yes" and http.observed_at == NOW
            assert http.favicon == ICON and crawl.home is http
            assert about.url.endswith("/about/") and about.status == 200
            assert missing.status == 404 and missing.ok
            assert "site.test" in dns.queries
    run(main)


def test_two_crawl_rounds_in_one_process() -> None:
    async def main() -> list[int | None]:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns))
            first = await crawler.crawl([f"site.test:{site.port}"], now=NOW)
            second = await crawler.crawl([f"site.test:{site.port}"], now=NOW)
            return [first[0].fetches[1].status, second[0].fetches[1].status]
    assert run(main) == [200, 200]
    assert run(main) == [200, 200]  # and again in a later run() of the same process


def test_hostile_cases_end_as_typed_fetches_and_the_batch_goes_on() -> None:
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns, max_redirects=10))
            base = f"site.test:{site.port}"
            cases = {
                "chain": "/redirect/chain/3", "loop": "/loop/a", "long": "/redirect/chain/50",
                "huge": "/huge", "bomb": "/gzip-bomb", "drip": "/drip", "reset": "/reset",
                "garbage": "/garbage", "ok": "/ok",
            }
            crawler_x = SiteCrawler.from_settings(*config(dns, extra_paths=list(cases.values())))
            (crawl,) = await crawler_x.crawl([base], now=NOW)
            got = dict(zip(cases, crawl.fetches[2:]))
            chain = got["chain"]
            assert chain.status == 200 and chain.final_url.endswith("/ok")
            assert [h.status for h in chain.redirects] == [302, 302, 302]
            assert chain.redirects[0].url.endswith("/redirect/chain/3")
            assert chain.redirects[0].location == "/redirect/chain/2"
            assert got["loop"].error_kind is ErrorKind.REDIRECT_LOOP and len(got["loop"].redirects) == 2
            assert got["long"].error_kind is ErrorKind.TOO_MANY_REDIRECTS and len(got["long"].redirects) == 11
            huge = got["huge"]
            assert huge.error_kind is ErrorKind.TOO_LARGE and huge.truncated
            assert huge.status == 200 and len(huge.body) == 200_000 and huge.body[:1] == b"A"
            assert got["bomb"].error_kind is ErrorKind.TOO_LARGE
            assert got["drip"].error_kind is ErrorKind.TIMEOUT
            assert got["reset"].error_kind is ErrorKind.CONNECTION
            assert got["garbage"].error_kind in (ErrorKind.MALFORMED, ErrorKind.CONNECTION)
            assert got["ok"].ok and got["ok"].body == PAGE
            assert crawler is not None
    run(main)


def test_nxdomain_and_unresolvable_sites_are_dns_errors_in_input_order() -> None:
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns))
            crawls = await crawler.crawl(["gone.test", f"site.test:{site.port}"], now=NOW)
            assert [c.domain for c in crawls] == ["gone.test", f"site.test:{site.port}"]
            assert {f.error_kind for f in crawls[0].fetches} == {ErrorKind.DNS}
            assert "NXDOMAIN" in crawls[0].fetches[0].error
            assert crawls[1].fetches[1].ok
    run(main)


def test_each_site_is_handed_over_as_its_crawl_ends() -> None:
    """on_crawled(site) once per domain, before crawl() returns, with the SiteCrawl crawl() returns."""
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns))
            handed: list[Any] = []
            crawls = await crawler.crawl(["gone.test", f"site.test:{site.port}"], now=NOW, on_crawled=handed.append)
            assert sorted(handed, key=lambda c: c.domain) == sorted(crawls, key=lambda c: c.domain)
            assert len(handed) == 2
    run(main)


def test_tls_certificate_is_recorded_with_sans_and_sha256() -> None:
    async def main() -> None:
        ctx, der = self_signed(["tls.test", "www.tls.test"])
        async with TinyDns({"tls.test": ["127.0.0.1"]}) as dns, HostileSite(tls=ctx) as site:
            crawler = SiteCrawler.from_settings(*config(dns))
            (crawl,) = await crawler.crawl([f"tls.test:{site.port}"], now=NOW)
            https = crawl.fetches[0]
            assert https.ok and https.status == 200 and https.body == PAGE
            assert https.cert is not None
            assert https.cert.sans == ("tls.test", "www.tls.test")
            assert https.cert.sha256 == hashlib.sha256(der).hexdigest()
            assert https.cert.self_signed and "CN=tls.test" in https.cert.subject
            assert https.favicon == ICON
            assert crawl.fetches[1].error_kind is not None  # plain HTTP to a TLS port fails, typed
    run(main)


def test_a_crawl_runs_with_the_roomy_young_generation_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns))
            await crawler.crawl([f"site.test:{site.port}"], now=NOW,
                                on_crawled=lambda _site: seen.append(gc.get_threshold()))
    run(main)
    assert seen == [(max(before[0], CRAWL_GC_THRESHOLD), *before[1:])]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), roomy_gc():
        raise RuntimeError("a failed crawl restores it too")
    assert gc.get_threshold() == before


def test_tls_cert_reads_each_certificate_once_by_its_der() -> None:
    """A site's pages show one certificate: read once, the same TlsCert as reading it afresh; another
    certificate is read on its own."""
    from cryptography import x509
    from OpenSSL.crypto import X509
    from twisted.internet.ssl import Certificate

    from crawler.outcome import _cert_of, tls_cert

    _ctx, der = self_signed(["once.test", "10.0.0.7"])
    _ctx, other_der = self_signed(["other.test"])
    wrapped = Certificate(X509.from_cryptography(x509.load_der_x509_certificate(der)))
    first = tls_cert(wrapped)
    assert first == _cert_of(x509.load_der_x509_certificate(der))
    assert first is not None and first.sans == ("once.test", "10.0.0.7")
    assert first.sha256 == hashlib.sha256(der).hexdigest()
    again = tls_cert(Certificate(X509.from_cryptography(x509.load_der_x509_certificate(der))))
    assert again is first  # the cache answered
    other = tls_cert(Certificate(X509.from_cryptography(x509.load_der_x509_certificate(other_der))))
    assert other is not None and other.sans == ("other.test",) and other.sha256 == hashlib.sha256(other_der).hexdigest()
    assert tls_cert(None) is None


def test_guard_blocks_private_targets_and_redirects_to_them() -> None:
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"], "public.test": ["93.184.215.14"],
                            "meta.test": ["169.254.169.254"], "lan.test": ["10.1.2.3"],
                            "mixed.test": ["93.184.215.14", "192.168.1.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns, private=False))
            crawls = await crawler.crawl([f"site.test:{site.port}", "meta.test", "lan.test", "mixed.test"],
                                         now=NOW)
            for crawl, ip in zip(crawls, ["127.0.0.1", "169.254.169.254", "10.1.2.3", "192.168.1.1"]):
                for fetch in crawl.fetches:
                    assert fetch.error_kind is ErrorKind.BLOCKED_PRIVATE, fetch
                    assert ip in fetch.error
            assert site.requests == []  # nothing was sent to the loopback site
    run(main)


def test_redirect_to_private_address_is_blocked_when_private_is_not_allowed() -> None:
    """A public-looking site (allowed as a trusted proxy-less test via allow list) redirecting inward."""
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns, private=False))
            from crawler.spiders.site import SiteSpider
            assert SiteSpider  # the redirect hop goes through the same guard as the first request:
            for target in ("http://127.0.0.1/", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/",
                           "http://[::1]/", "http://[::ffff:127.0.0.1]/"):
                # Allow the first hop by trusting the site host, so only the redirect is judged.
                crawls = await _crawl_trusting(config(dns, private=False), f"site.test:{site.port}",
                                               f"/to?url={target}")
                fetch = crawls
                assert fetch.redirects and fetch.redirects[0].status == 302
                assert fetch.error_kind is ErrorKind.BLOCKED_PRIVATE, (target, fetch)
            assert crawler is not None
    run(main)


async def _crawl_trusting(sections: tuple[CrawlerSettings, DnsSettings], domain: str, path: str) -> HttpFetch:
    """Crawl ``domain`` + ``path`` with ``domain``'s host trusted as a target, so only what follows
    (a redirect) is judged by the guard."""
    crawler_settings, dns = replace(sections[0], extra_paths=[path]), sections[1]
    host = domain.split(":")[0]

    class SiteTrusted(GuardedResolver):
        async def resolve(self, name: str, *, target: bool = False) -> tuple[str, ...]:
            # a proxy host is trusted only as a connection, never as a target: trust the site here
            return await super().resolve(name, target=target and name.strip("[]").rstrip(".").lower() != host)

    def trusting(reactor: Any) -> GuardedResolver:
        resolver = SiteTrusted.from_settings(crawler_settings, dns, reactor=reactor)
        resolver.trusted_hosts.add(host)
        return resolver

    crawler = SiteCrawler(crawler_settings, dns, resolver=trusting)
    (crawl,) = await crawler.crawl([domain], now=NOW)
    return crawl.fetches[2]


def test_proxy_carries_http_and_connect_and_target_is_still_guarded() -> None:
    async def main() -> None:
        ctx, _ = self_signed(["tls.test"])
        async with TinyDns({"site.test": ["127.0.0.1"], "tls.test": ["127.0.0.1"],
                            "meta.test": ["169.254.169.254"]}) as dns, \
                HostileSite() as site, HostileSite(tls=ctx) as tls, ForwardProxy() as proxy:
            crawler = SiteCrawler.from_settings(*config(dns, proxy=proxy.url))
            plain, secure = await crawler.crawl([f"site.test:{site.port}", f"tls.test:{tls.port}"], now=NOW)
            assert plain.fetches[1].status == 200 and plain.fetches[1].body == PAGE
            assert secure.fetches[0].status == 200 and secure.fetches[0].cert is not None
            # both schemes are tunnelled to the address the guard checked, never handed the name
            assert f"CONNECT 127.0.0.1:{site.port}" in proxy.seen
            assert f"CONNECT 127.0.0.1:{tls.port}" in proxy.seen
            assert all(s.startswith("CONNECT 127.0.0.1:") for s in proxy.seen), proxy.seen
            assert plain.fetches[1].ip == "127.0.0.1"
            guarded = SiteCrawler.from_settings(*config(dns, private=False, proxy=proxy.url))
            (blocked,) = await guarded.crawl(["meta.test"], now=NOW)
            assert all(f.error_kind is ErrorKind.BLOCKED_PRIVATE for f in blocked.fetches)
            assert not any("meta.test" in s for s in proxy.seen)  # never handed to the proxy
    run(main)


async def _stream(*names: str) -> Any:
    for name in names:
        yield name


def test_a_pinned_answer_is_used_without_asking_dns_and_is_what_the_crawl_connects_to() -> None:
    """Sites streamed in with their addresses already looked up (the round's probe): no second lookup, and
    the connection goes to the pinned answer even when DNS would now say otherwise (no rebinding)."""
    async def main() -> None:
        async with TinyDns({"site.test": ["10.9.9.9"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns))
            (crawl,) = await crawler.crawl(_stream(f"site.test:{site.port}"), now=NOW, expected=1,
                                           pins={f"site.test:{site.port}": ("127.0.0.1",)})
            http = crawl.fetches[1]
            assert crawl.domain == f"site.test:{site.port}"
            assert http.ok and http.status == 200 and http.body == PAGE and http.ip == "127.0.0.1"
            assert "site.test" not in dns.queries  # the pin answered
            assert site.requests  # the pinned address was reached
    run(main)


def test_the_guard_refuses_a_pinned_private_answer() -> None:
    """A pin is no exemption: a forbidden pinned address is refused like a fresh answer (and DNS, which
    would give a public address, is not asked instead), and nothing is sent."""
    async def main() -> None:
        async with TinyDns({"lan.test": ["93.184.215.14"], "mixed.test": ["93.184.215.14"]}) as dns, \
                HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns, private=False))
            lan, mixed, loop = await crawler.crawl(
                _stream("lan.test", "mixed.test", f"site.test:{site.port}"), now=NOW, expected=3,
                pins={"lan.test": ("10.1.2.3",), "mixed.test": ("93.184.215.14", "fd00::1"),
                      f"site.test:{site.port}": ("127.0.0.1",)})
            for crawl, ip in ((lan, "10.1.2.3"), (mixed, "fd00::1"), (loop, "127.0.0.1")):
                assert crawl.fetches, crawl
                for fetch in crawl.fetches:
                    assert fetch.error_kind is ErrorKind.BLOCKED_PRIVATE, fetch
                    assert ip in fetch.error
            assert not {"lan.test", "mixed.test", "site.test"} & set(dns.queries)
            assert site.requests == []
    run(main)


def test_a_streamed_crawl_gives_the_same_fetches_as_a_listed_one() -> None:
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site:
            crawler = SiteCrawler.from_settings(*config(dns, extra_paths=["/about/"]))
            name = f"site.test:{site.port}"
            (listed,) = await crawler.crawl([name], now=NOW)
            (streamed,) = await crawler.crawl(_stream(name), now=NOW, expected=1, pins={name: ("127.0.0.1",)})
            assert streamed.domain == listed.domain
            for a, b in zip(listed.fetches, streamed.fetches, strict=True):
                assert replace(a, error="") == replace(b, error="")
    run(main)
