"""Capped HTTP/1.1 response heads for every Twisted HTTP client of hydrawatch.

Twisted's response parser keeps every header line it is sent until the blank line that ends the
head: ``max_page_bytes`` (and Scrapy's DOWNLOAD_MAXSIZE) count only the body, so a site answering
with endless header lines grew one crawl to gigabytes. Here the parser counts the head's lines and
bytes (status line, header and continuation lines, 1xx heads included) and gives up past
:class:`HeadLimits` with :class:`HeadersTooLarge`, which carries the status and the headers read so
far (a bounded subset), so the fetch is recorded as ``too_large`` with evidence.

Used by the crawl's download handler (:class:`CappedHTTP11DownloadHandler`, Scrapy's
``DOWNLOAD_HANDLERS`` for http/https) and by the data sources' Agent (``capped_pool``). The parser is
swapped in the way Scrapy itself swaps in its lenient parser (``HTTP11ClientProtocol.request``
hard-codes the class), see scrapy/core/downloader/handlers/http11.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from scrapy.exceptions import ResponseDataLossError
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.web._newclient import HTTP11ClientProtocol, HTTPClientParser
from twisted.web.client import HTTPConnectionPool, _HTTP11ClientFactory

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# Twisted's own per-line limit (LineReceiver.MAX_LENGTH) stays in force: one line over it is too large too.


@dataclass(frozen=True)
class HeadLimits:
    """The most a response head may hold: header lines (continuations count) and bytes (status line included)."""

    max_headers: int = 200
    max_header_bytes: int = 65_536


class HeadersTooLarge(Exception):
    """A response head went past its limits; nothing more of it was read."""

    def __init__(self, reason: str, status: int | None, headers: tuple[tuple[str, str], ...]) -> None:
        super().__init__(f"response head too large: {reason}")
        self.status, self.headers = status, headers


class _HeadCap:
    """Mixin for a Twisted HTTPClientParser: counts the head and raises HeadersTooLarge past the limits.

    Raising inside ``lineReceived`` makes HTTP11ClientProtocol drop the connection and fail the
    response with ResponseFailed([HeadersTooLarge]); nothing further is buffered.
    """

    hw_limits: HeadLimits = HeadLimits()
    _hw_lines = 0
    _hw_bytes = 0

    def lineReceived(self, line: bytes) -> None:
        self._hw_lines += 1
        self._hw_bytes += len(line) + 1
        limits = self.hw_limits
        if self._hw_lines - 1 > limits.max_headers:
            raise self._too_large(f"more than {limits.max_headers} header lines")
        if self._hw_bytes > limits.max_header_bytes:
            raise self._too_large(f"more than {limits.max_header_bytes} bytes of headers")
        super().lineReceived(line)  # type: ignore[misc]

    def lineLengthExceeded(self, line: bytes) -> None:
        raise self._too_large(f"a header line over {len(line)} bytes")

    def _too_large(self, reason: str) -> HeadersTooLarge:
        response = getattr(self, "response", None)
        status = getattr(response, "code", None)
        kept: list[tuple[str, str]] = []
        size = 0
        for headers in (getattr(self, "headers", None), getattr(self, "connHeaders", None)):
            for name, values in headers.getAllRawHeaders() if headers is not None else ():
                for value in values:
                    size += len(name) + len(value) + 4
                    if len(kept) >= self.hw_limits.max_headers or size > self.hw_limits.max_header_bytes:
                        break
                    kept.append((name.decode("latin-1"), value.decode("latin-1")))
        return HeadersTooLarge(reason, status, tuple(kept))


class _CappedLenientParser(_HeadCap, _LenientHTTPClientParser):
    """Scrapy's lenient parser (bad header lines skipped), with the head capped."""


class _CappedParser(_HeadCap, HTTPClientParser):
    """Twisted's parser with the head capped."""


def _swap_parser(protocol: HTTP11ClientProtocol, cls: type, limits: HeadLimits) -> None:
    # request() always creates a parser (the pool reuses QUIESCENT protocols only); the capped
    # classes add no state of their own beyond class defaults, so the swap is safe.
    parser = protocol._parser
    assert parser is not None
    parser.__class__ = cls
    parser.hw_limits = limits


class _CappedScrapyProtocol(_LenientHTTP11ClientProtocol):
    hw_limits: HeadLimits = HeadLimits()

    def request(self, request: Any) -> Any:
        d = super().request(request)
        _swap_parser(self, _CappedLenientParser, self.hw_limits)
        return d


class _CappedProtocol(HTTP11ClientProtocol):
    hw_limits: HeadLimits = HeadLimits()

    def request(self, request: Any) -> Any:
        d = super().request(request)
        if self._parser is not None:  # None when the request was refused (RequestNotSent)
            _swap_parser(self, _CappedParser, self.hw_limits)
        return d


class _CappedScrapyFactory(_LenientHTTP11ClientFactory):
    def __init__(self, quiescentCallback: Any, metadata: Any, limits: HeadLimits = HeadLimits()) -> None:
        super().__init__(quiescentCallback, metadata)
        self.hw_limits = limits

    def buildProtocol(self, addr: Any) -> HTTP11ClientProtocol:
        protocol = _CappedScrapyProtocol(self._quiescentCallback)
        protocol.hw_limits = self.hw_limits
        return protocol


class _CappedFactory(_HTTP11ClientFactory):
    noisy = False

    def __init__(self, quiescentCallback: Any, metadata: Any, limits: HeadLimits = HeadLimits()) -> None:
        super().__init__(quiescentCallback, metadata)
        self.hw_limits = limits

    def buildProtocol(self, addr: Any) -> HTTP11ClientProtocol:
        protocol = _CappedProtocol(self._quiescentCallback)
        protocol.hw_limits = self.hw_limits
        return protocol


def capped_pool(reactor: Any, limits: HeadLimits = HeadLimits(), *, persistent: bool = False) -> HTTPConnectionPool:
    """An HTTPConnectionPool (for twisted.web.client.Agent) whose responses have capped heads."""
    pool = HTTPConnectionPool(reactor, persistent=persistent)
    pool._factory = partial(_CappedFactory, limits=limits)
    return pool


class CappedHTTP11DownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler with capped response heads (HYDRAWATCH_MAX_HEADERS / _MAX_HEADER_BYTES),
    and proxied fetches tunnelled to the checked address (crawler/tunnel.py)."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        limits = HeadLimits(max_headers=settings.getint("HYDRAWATCH_MAX_HEADERS", HeadLimits.max_headers),
                            max_header_bytes=settings.getint("HYDRAWATCH_MAX_HEADER_BYTES",
                                                             HeadLimits.max_header_bytes))
        self._pool._factory = partial(_CappedScrapyFactory, limits=limits)


    async def download_request(self, request: Request) -> Response:
        # HTTP11DownloadHandler.download_request with tunnel.PinnedScrapyAgent for its _ScrapyAgent.
        from crawler.tunnel import PinnedScrapyAgent

        agent = PinnedScrapyAgent(
            contextFactory=self._contextFactory, bindAddress=self._bind_address, pool=self._pool,
            maxsize=self._default_maxsize, warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss, crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging)
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
