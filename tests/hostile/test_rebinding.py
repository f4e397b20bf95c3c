"""DNS rebinding through the forward proxy (issue 14, item 2).

The rebinding name server answers ``rebind.info`` with its world address (185.10.8.1, allowed by the
private-address guard) the first time and with 127.0.0.1 afterwards. The proxy here resolves the names
it is handed itself, as squid or tinyproxy do, and its loopback holds an internal admin page. A crawl
that hands the proxy the *name* lets the proxy resolve it again and reach that page, the address the
guard would have refused; hydrawatch hands the proxy the *address it checked and pinned*
(``CONNECT 185.10.8.1:443``), with the name only in the Host header and the TLS SNI.

These drive ``SiteCrawler.crawl`` (what the cycle calls for its crawl) with the hostile world's sandbox
behind the rebinding name server and the resolving proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.fetch import SiteCrawl, SiteCrawler
from crawler.run import run
from detect.model import ErrorKind
from sandbox.net import Sandbox
from tests.hostile.harness import GOOD, NOW, config_for
from tests.hostile.rebind import INTERNAL_PAGE, InternalService, RebindingDns, ResolvingProxy

PUBLIC = "185.10.8.1"  # rebind.info's world address: what the guard checks and pins


@pytest.fixture(scope="module")
def internal() -> Iterator[InternalService]:
    service = InternalService()
    yield service
    service.close()


@pytest.fixture(scope="module")
def rebinder(hostile_world_sb: Sandbox) -> Iterator[RebindingDns]:
    server = RebindingDns(("127.0.0.1", hostile_world_sb.ports["dns"]), {"rebind.info": PUBLIC})
    yield server
    server.close()


@pytest.fixture(scope="module")
def resolving_proxy(hostile_world_sb: Sandbox, rebinder: RebindingDns,
                    internal: InternalService) -> Iterator[ResolvingProxy]:
    proxy = ResolvingProxy(("127.0.0.1", rebinder.port),
                           {80: hostile_world_sb.ports["http"], 443: hostile_world_sb.ports["https"]}, internal)
    yield proxy
    proxy.close()


@pytest.fixture
def fresh(hsb: Sandbox, rebinder: RebindingDns, resolving_proxy: ResolvingProxy, internal: InternalService) -> None:
    rebinder.reset()
    rebinder.public_answers = 1
    resolving_proxy.reset()
    internal.connections = 0


def crawl(hsb: Sandbox, tmp_path: Path, rebinder: RebindingDns, proxy: ResolvingProxy,
          names: Sequence[str]) -> list[SiteCrawl]:
    cfg = config_for(hsb, tmp_path / "unused.db", dns={"nameservers": [rebinder.nameserver]},
                     crawler={"proxy": proxy.url})
    crawler = SiteCrawler.from_settings(cfg.crawler, cfg.dns)

    async def go() -> list[SiteCrawl]:
        return await crawler.crawl(names, now=NOW)

    return run(go)


def _target_host(target: str) -> str:
    """Host of a proxy target: "CONNECT host:port" or "GET http://host:port/path"."""
    what = target.split(" ", 1)[1]
    return urlsplit(what if "://" in what else f"//{what}").hostname or ""


def assert_only_addresses_handed_to_the_proxy(proxy: ResolvingProxy) -> None:
    assert proxy.targets, "nothing went through the proxy"
    for target in proxy.targets:
        assert target.startswith("CONNECT "), target
        ipaddress.ip_address(_target_host(target))  # an address literal, never a name


@pytest.mark.usefixtures("fresh")
def test_a_rebinding_name_does_not_reach_the_proxys_network(
        hsb: Sandbox, tmp_path: Path, rebinder: RebindingDns, resolving_proxy: ResolvingProxy,
        internal: InternalService) -> None:
    (site,) = crawl(hsb, tmp_path, rebinder, resolving_proxy, ["rebind.info"])
    https, http = site.fetches[:2]
    assert rebinder.answers["rebind.info"][0] == PUBLIC  # what the guard checked (and pinned)
    for fetch in (https, http):
        assert fetch.status == 200 and fetch.error_kind is None, fetch
        assert b"Rebind public site" in fetch.body and INTERNAL_PAGE not in fetch.body
        assert fetch.ip == PUBLIC  # the address the page came from, not the proxy's
    assert https.cert is not None and "rebind.info" in https.cert.sans  # SNI carried the name
    assert internal.connections == 0
    assert_only_addresses_handed_to_the_proxy(resolving_proxy)
    assert f"CONNECT {PUBLIC}:443" in resolving_proxy.targets and f"CONNECT {PUBLIC}:80" in resolving_proxy.targets


@pytest.mark.usefixtures("fresh")
def test_a_redirect_to_a_rebinding_name_reaches_the_checked_address_only(
        hsb: Sandbox, tmp_path: Path, rebinder: RebindingDns, resolving_proxy: ResolvingProxy,
        internal: InternalService) -> None:
    for name in ("to-rebind.info", "to-rebind-tls.info"):  # one crawl each: pins are per crawl
        rebinder.reset()
        (site,) = crawl(hsb, tmp_path, rebinder, resolving_proxy, [name])
        assert rebinder.answers["rebind.info"][0] == PUBLIC
        for fetch in site.fetches[:2]:
            assert fetch.redirects and fetch.redirects[0].status == 302, fetch
            assert fetch.status == 200 and fetch.error_kind is None, fetch
            assert urlsplit(fetch.final_url).hostname == "rebind.info"
            assert b"Rebind public site" in fetch.body and INTERNAL_PAGE not in fetch.body
    assert internal.connections == 0
    assert_only_addresses_handed_to_the_proxy(resolving_proxy)


@pytest.mark.usefixtures("fresh")
def test_a_name_that_is_private_at_the_check_is_still_refused(
        hsb: Sandbox, tmp_path: Path, rebinder: RebindingDns, resolving_proxy: ResolvingProxy,
        internal: InternalService) -> None:
    rebinder.public_answers = 0  # 127.0.0.1 from the first answer on
    (site,) = crawl(hsb, tmp_path, rebinder, resolving_proxy, ["rebind.info"])
    assert {f.error_kind for f in site.fetches} == {ErrorKind.BLOCKED_PRIVATE}
    assert resolving_proxy.targets == [] and internal.connections == 0


@pytest.mark.usefixtures("fresh")
def test_ordinary_fetches_through_a_resolving_proxy_still_work(
        hsb: Sandbox, tmp_path: Path, rebinder: RebindingDns, resolving_proxy: ResolvingProxy) -> None:
    (site,) = crawl(hsb, tmp_path, rebinder, resolving_proxy, [GOOD])
    https, http = site.fetches[:2]
    assert https.status == 200 and http.status == 200, site.fetches
    assert b"Good News Daily" in https.body and https.ip == "185.10.0.1"
    assert site.home is https
    assert_only_addresses_handed_to_the_proxy(resolving_proxy)
