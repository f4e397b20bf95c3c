"""Proxied fetches go to the address the guard checked, never to a name the proxy resolves again.

With ``[crawler] proxy`` every fetch, HTTP and HTTPS alike, is ``CONNECT <address>:<port>`` to the
proxy, where ``<address>`` is the one GuardMiddleware resolved, checked and pinned for the crawl
(``request.meta["hw_addresses"]``). The name travels only inside the tunnel: in the Host header (set
by Twisted's Agent from the URL) and, for https, in the TLS SNI. A proxy handed the name
(absolute-URI ``GET http://name/`` or ``CONNECT name:443``, what Scrapy does) resolves it again
itself, and a rebinding name server can then answer it with an address on the proxy's own network
that the guard never saw (tests/hostile/test_rebinding.py).

A proxied request without a checked address is refused (:class:`UnpinnedRequest`), so nothing reaches
the proxy that did not pass the guard. The proxy must allow CONNECT to the ports fetched (80 and 443,
and any port a redirect names); squid's default ``http_access deny CONNECT !SSL_ports`` does not.

Built on Scrapy's HTTP/1.1 handler (scrapy/core/downloader/handlers/http11.py): its private
``_ScrapyAgent`` / ``_TunnelingAgent`` choose and build the agent, as ``headcap`` reuses its parser.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlparse

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import TunnelError, _ScrapyAgent, _TunnelingAgent
from scrapy.utils._download_handlers import normalize_bind_address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer

MAX_PROXY_HEAD = 16_384  # bytes of the proxy's answer to CONNECT read at most


class UnpinnedRequest(Exception):
    """A proxied request came without the address the guard checked; it is not sent."""


def connect_request(address: str, port: int) -> bytes:
    """``CONNECT 185.1.2.3:443`` (``[2001:db8::1]:443`` for IPv6), with its Host header."""
    host = f"[{address}]" if ":" in address else address
    target = f"{host}:{port}".encode("ascii")
    return b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n\r\n"


@implementer(IStreamClientEndpoint)
class PinnedTunnelEndpoint:
    """Connect to the proxy, open ``CONNECT address:port``, then (https) start TLS with SNI = the name."""

    def __init__(self, reactor: Any, proxy: tuple[str, int], address: str, port: int, *,
                 tls_creator: Any = None, timeout: float = 30, bind_address: Any = None) -> None:
        self._proxy_endpoint = TCP4ClientEndpoint(reactor, proxy[0], proxy[1], timeout, bind_address)
        self._proxy = proxy
        self.address, self.port = address, port
        self._tls_creator = tls_creator

    def connect(self, protocolFactory: Factory) -> Deferred[Protocol]:
        connecting = self._proxy_endpoint.connect(protocolFactory)
        state: dict[str, Any] = {}

        def cancel(_: Deferred[Protocol]) -> None:
            protocol = state.get("protocol")
            if protocol is not None and protocol.transport is not None:
                protocol.transport.abortConnection()
            else:
                connecting.cancel()

        ready: Deferred[Protocol] = Deferred(cancel)

        def connected(protocol: Protocol) -> None:
            state["protocol"] = protocol
            self._open(protocol, ready)

        def failed(failure: Any) -> None:
            if not ready.called:
                ready.errback(failure)

        connecting.addCallbacks(connected, failed)
        return ready

    def _open(self, protocol: Protocol, ready: Deferred[Protocol]) -> None:
        assert protocol.transport is not None
        transport = protocol.transport
        original, original_lost = protocol.dataReceived, protocol.connectionLost
        buffer = bytearray()

        def restore() -> None:
            protocol.dataReceived = original  # type: ignore[method-assign]
            protocol.connectionLost = original_lost  # type: ignore[method-assign]

        def lost(reason: Any) -> None:  # the proxy hung up before answering the CONNECT
            restore()
            if not ready.called:
                ready.errback(TunnelError(f"proxy {self._where()} closed the connection before answering "
                                          f"CONNECT {self.address}:{self.port}"))
            original_lost(reason)

        def proxy_answer(data: bytes) -> None:
            buffer.extend(data)
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_PROXY_HEAD:
                    restore()
                    transport.abortConnection()
                    ready.errback(TunnelError(f"proxy {self._where()}: answer to CONNECT too long"))
                return
            restore()
            status_line = bytes(buffer[: buffer.find(b"\r\n")]).decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
                transport.abortConnection()
                ready.errback(TunnelError(f"proxy {self._where()} refused CONNECT "
                                          f"{self.address}:{self.port}: {status_line[:200]!r}"))
                return
            if self._tls_creator is not None:
                transport.startTLS(self._tls_creator)
            ready.callback(protocol)
            rest = bytes(buffer[end + 4:])
            if rest and self._tls_creator is None:  # bytes of the site's answer already in
                original(rest)

        protocol.dataReceived = proxy_answer  # type: ignore[method-assign]
        protocol.connectionLost = lost  # type: ignore[method-assign]
        transport.write(connect_request(self.address, self.port))

    def _where(self) -> str:
        return f"{self._proxy[0]}:{self._proxy[1]}"


class PinnedTunnelAgent(_TunnelingAgent):
    """Scrapy's tunnelling agent for http and https, tunnelling to one checked address.

    Pooled connections are keyed by that address too, so a connection is never reused for another one.
    """

    def __init__(self, *, address: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._address = address

    def _getEndpoint(self, uri: Any) -> PinnedTunnelEndpoint:  # type: ignore[override]
        https = uri.scheme == b"https"
        creator = self._contextFactory.creatorForNetloc(uri.host, uri.port) if https else None  # type: ignore[call-arg,misc]
        host, port, _ = self._proxyConf
        return PinnedTunnelEndpoint(self._reactor, (host, port), self._address, uri.port, tls_creator=creator,
                                    timeout=self._endpointFactory._connectTimeout,
                                    bind_address=self._endpointFactory._bindAddress)

    def _requestWithEndpoint(self, key: Any, endpoint: Any, *args: Any, **kwargs: Any) -> Any:
        return super()._requestWithEndpoint(key + (b"pinned", self._address), endpoint, *args, **kwargs)


def tunnel_address(request: Request) -> str:
    """The address a proxied request is tunnelled to: the first one the guard checked for its host."""
    addresses = request.meta.get("hw_addresses") or ()
    if not addresses:
        raise UnpinnedRequest(f"{request.url[:200]}: no checked address to hand the proxy; not sent")
    return str(ipaddress.ip_address(addresses[0]))


class PinnedScrapyAgent(_ScrapyAgent):
    """Scrapy's per-request agent: through a proxy, always a :class:`PinnedTunnelAgent`."""

    def _get_agent(self, request: Request, timeout: float) -> Any:
        proxy = request.meta.get("proxy")
        if not proxy:
            return super()._get_agent(request, timeout)
        from twisted.internet import reactor

        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        if parsed.scheme != "http" or not parsed.hostname:
            raise UnpinnedRequest(f"proxy {proxy!r}: only http://host:port proxies are supported")
        address = tunnel_address(request)
        request.meta["hw_tunnel"] = address
        return PinnedTunnelAgent(reactor=reactor, proxyConf=(parsed.hostname, parsed.port or 80, None),
                                 address=address, contextFactory=self._contextFactory, connectTimeout=timeout,
                                 bindAddress=normalize_bind_address(request.meta.get("bindaddress")
                                                                    or self._bindAddress),
                                 pool=self._pool)
