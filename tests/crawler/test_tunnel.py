"""crawler/tunnel.py: proxied fetches are CONNECTs to the checked address (the rebinding attack itself
is in tests/hostile/test_rebinding.py)."""

from __future__ import annotations

import asyncio
from typing import Self

import pytest
from scrapy import Request

from crawler.fetch import SiteCrawler
from crawler.run import run
from crawler.tunnel import UnpinnedRequest, connect_request, tunnel_address
from detect.model import ErrorKind
from tests.crawler.servers import HostileSite, TinyDns
from tests.crawler.test_fetch import NOW, config


def test_connect_request_names_the_address_with_brackets_for_ipv6() -> None:
    assert connect_request("185.1.2.3", 443) == b"CONNECT 185.1.2.3:443 HTTP/1.1\r\nHost: 185.1.2.3:443\r\n\r\n"
    assert connect_request("2001:db8::1", 80).startswith(b"CONNECT [2001:db8::1]:80 HTTP/1.1\r\n")


def test_a_proxied_request_without_a_checked_address_is_refused() -> None:
    with pytest.raises(UnpinnedRequest, match="no checked address"):
        tunnel_address(Request("http://site.test/", meta={"proxy": "http://127.0.0.1:1"}))
    assert tunnel_address(Request("http://site.test/", meta={"hw_addresses": ("185.1.2.3", "::1")})) == "185.1.2.3"


class RefusingProxy:
    """A proxy that answers every CONNECT with 403 (as squid does for CONNECT to a port not in SSL_ports),
    or with ``hang_up`` closes the connection without an answer."""

    def __init__(self, hang_up: bool = False) -> None:
        self.hang_up = hang_up
        self.seen: list[bytes] = []
        self.port = 0

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.seen.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0])
            if not self.hang_up:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize(("hang_up", "said"), [(False, "refused CONNECT 127.0.0.1:"),
                                               (True, "closed the connection before answering CONNECT 127.0.0.1:")])
def test_a_proxy_refusing_the_connect_is_a_connection_failure(hang_up: bool, said: str) -> None:
    async def main() -> None:
        async with TinyDns({"site.test": ["127.0.0.1"]}) as dns, HostileSite() as site, \
                RefusingProxy(hang_up) as proxy:
            crawler = SiteCrawler.from_settings(*config(dns, proxy=f"http://127.0.0.1:{proxy.port}"))
            (crawl,) = await crawler.crawl([f"site.test:{site.port}"], now=NOW)
            https, http = crawl.fetches
            for fetch in (https, http):
                assert fetch.error_kind is ErrorKind.CONNECTION, fetch
                # the proxy's status line, not a "403" inside a random port number (40387 failed CI once)
                assert said in fetch.error and ("403 Forbidden" in fetch.error) is not hang_up
            assert proxy.seen == [f"CONNECT 127.0.0.1:{site.port} HTTP/1.1".encode()] * 2
            assert site.requests == []
    run(main)
