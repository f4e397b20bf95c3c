"""Bounded HTTP GETs for the configured data sources (RDAP, CT search, NRD feeds).

Response heads are capped (crawler/headcap.py) like the crawl's. These URLs are trusted configuration, so the private-address guard does not apply (the sandbox
and tests serve them on loopback) and names resolve through the system resolver. They do NOT go
through ``[crawler] proxy``: that proxy exists to hide the crawler from hostile sites, and the
data sources are services we chose. Every GET has a timeout, a size cap and typed failures;
429/503 with Retry-After are retried once after a bounded wait.

Runs on the shared reactor loop (Twisted's Agent), like the crawler; see crawler/run.py.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crawler.headcap import HeadersTooLarge, capped_pool
from crawler.run import ensure_reactor
from detect.errors import HydrawatchError
from detect.model import ErrorKind

logger = logging.getLogger(__name__)

USER_AGENT = "hydrawatch/0.1 (+research; data sources)"


class SourceError(HydrawatchError):
    """A data-source request failed; ``kind`` says how, ``status`` is the HTTP status if any."""

    def __init__(self, kind: ErrorKind, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.status = kind, status


@dataclass(frozen=True)
class SourceResponse:
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str:
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), "")


class _Sink:
    """A Twisted body protocol feeding an asyncio queue, pausing the producer when it fills."""

    def __init__(self, queue: asyncio.Queue[bytes | BaseException | None], high_water: int) -> None:
        self.queue, self.high_water, self.buffered, self.transport = queue, high_water, 0, None
        self.paused = False

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport

    def dataReceived(self, data: bytes) -> None:
        self.buffered += len(data)
        self.queue.put_nowait(data)
        if self.buffered > self.high_water and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pauseProducing()

    def taken(self, n: int) -> None:
        self.buffered -= n
        if self.paused and self.buffered <= self.high_water // 2 and self.transport is not None:
            self.paused = False
            self.transport.resumeProducing()

    def connectionLost(self, reason: Any) -> None:
        from twisted.web.client import ResponseDone
        from twisted.web.http import PotentialDataLoss

        if reason.check(ResponseDone, PotentialDataLoss):
            self.queue.put_nowait(None)
        else:
            self.queue.put_nowait(SourceError(ErrorKind.CONNECTION, f"body cut short: {reason.getErrorMessage()}"))


def _kind_of(exc: BaseException) -> ErrorKind:
    name = type(exc).__name__
    if isinstance(exc, HeadersTooLarge):
        return ErrorKind.TOO_LARGE
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or "Timeout" in name:
        return ErrorKind.TIMEOUT
    if "DNS" in name:
        return ErrorKind.DNS
    if "SSL" in name or "TLS" in name or "Verification" in name:
        return ErrorKind.TLS
    return ErrorKind.CONNECTION


@dataclass(frozen=True)
class Retry:
    """How a GET retries a source that is busy: ``attempts`` in all, waiting ``backoff`` seconds doubled
    each time (or the answer's Retry-After, whichever is longer, capped at ``max_wait``) after a status in
    ``statuses`` or a timeout."""

    attempts: int = 3
    backoff: float = 2.0
    max_wait: float = 60.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    timeouts: bool = True

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = self.backoff * (2 ** (attempt - 1))
        return min(self.max_wait, max(base, retry_after or 0.0))


async def _open(url: str, timeout: float,
                extra: Mapping[str, str] | None = None) -> tuple[Any, SourceResponse]:
    ensure_reactor()
    from twisted.internet import reactor
    from twisted.web.client import Agent
    from twisted.web.http_headers import Headers

    # A capped pool: a source answering with endless header lines costs at most HeadLimits() of them.
    agent = Agent(reactor, connectTimeout=timeout, pool=capped_pool(reactor))
    headers = Headers({b"User-Agent": [USER_AGENT.encode()],
                       b"Accept": [b"application/rdap+json, application/json, text/plain, */*"]})
    for name, value in (extra or {}).items():
        headers.setRawHeaders(name.encode("latin-1"), [value.encode("latin-1")])
    try:
        d = agent.request(b"GET", url.encode("ascii"), headers)
        tx = await asyncio.wait_for(d.asFuture(asyncio.get_running_loop()), timeout)
    except TimeoutError:
        raise SourceError(ErrorKind.TIMEOUT, f"{url}: no answer within {timeout:g}s") from None
    except Exception as exc:  # noqa: BLE001 - any transport failure becomes a typed SourceError below
        detail = getattr(exc, "reasons", None)
        msg = "; ".join(r.getErrorMessage() for r in detail) if detail else str(exc) or type(exc).__name__
        inner = detail[0].value if detail else exc
        if isinstance(inner, HeadersTooLarge):
            msg = str(inner)
        raise SourceError(_kind_of(inner), f"{url}: {type(exc).__name__}: {msg}") from None
    hdrs = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, vs in tx.headers.getAllRawHeaders() for v in vs)
    return tx, SourceResponse(url=url, status=tx.code, headers=hdrs, body=b"")


async def stream(url: str, *, timeout: float = 30.0, max_bytes: int = 0,
                 chunk_timeout: float | None = None,
                 headers: Mapping[str, str] | None = None) -> AsyncIterator[bytes]:
    """The body of ``url`` in chunks, with bounded memory; raises SourceError on failure.

    ``timeout`` bounds connecting and each wait for the next chunk; ``max_bytes`` (0 = no cap)
    ends the stream with a TOO_LARGE error once exceeded. Non-2xx answers are SourceError(HTTP).
    """
    head, body = await open_stream(url, timeout=timeout, max_bytes=max_bytes, chunk_timeout=chunk_timeout,
                                   headers=headers)
    if not 200 <= head.status < 300:
        raise SourceError(ErrorKind.HTTP, f"{url}: HTTP {head.status}", head.status)
    async for chunk in body:
        yield chunk


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def open_stream(url: str, *, timeout: float = 30.0, max_bytes: int = 0,
                      chunk_timeout: float | None = None, headers: Mapping[str, str] | None = None,
                      ) -> tuple[SourceResponse, AsyncIterator[bytes]]:
    """The answer's head and, for a 2xx, its body in chunks (bounded memory); any other status comes
    back with an empty body (its bytes are dropped), so a caller sees 304 Not Modified or 429 itself.
    ``headers`` are sent as well (If-None-Match, If-Modified-Since …)."""
    tx, head = await _open(url, timeout, headers)
    if not 200 <= head.status < 300:
        tx.deliverBody(_Sink(asyncio.Queue(), 1 << 16))  # read and drop so the connection can close
        return head, _nothing()
    return head, _body(tx, url, timeout, max_bytes, chunk_timeout)


async def _body(tx: Any, url: str, timeout: float, max_bytes: int,
                chunk_timeout: float | None) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    sink = _Sink(queue, 1 << 20)
    tx.deliverBody(sink)
    total = 0
    finished = False
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), chunk_timeout or timeout)
            except TimeoutError:
                raise SourceError(ErrorKind.TIMEOUT, f"{url}: body stalled for {chunk_timeout or timeout:g}s") from None
            if item is None:
                finished = True
                return
            if isinstance(item, BaseException):
                finished = True
                raise item
            sink.taken(len(item))
            total += len(item)
            if max_bytes and total > max_bytes:
                raise SourceError(ErrorKind.TOO_LARGE, f"{url}: body over {max_bytes} bytes")
            yield item
    finally:
        if not finished and sink.transport is not None:  # consumer stopped early, or an error
            try:
                sink.transport.stopProducing()
            except Exception:  # noqa: BLE001 - the transport is already gone
                logger.debug("stopProducing on a finished body of %s", url)


def retry_after_seconds(value: str, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def get(url: str, *, timeout: float = 30.0, max_bytes: int = 2_000_000,
              max_retry_after: float = 10.0, retry: Retry | None = None,
              headers: Mapping[str, str] | None = None) -> SourceResponse:
    """GET ``url`` whole (any status), capped at ``max_bytes``.

    Without ``retry``: one bounded Retry-After retry of a 429/503 (``max_retry_after`` = 0: none, the caller
    handles 429/503 itself, as crawler/rdap.py does). With it: up to ``retry.attempts``
    tries with exponential back-off on its statuses and (if asked) timeouts; the last answer (or the
    last timeout's SourceError) is what the caller gets."""
    if retry is None:
        return await _get_once_retry_after(url, timeout, max_bytes, max_retry_after, headers)
    for attempt in range(1, max(1, retry.attempts) + 1):
        last = attempt >= retry.attempts
        try:
            response = await _get_whole(url, timeout, max_bytes, headers)
        except SourceError as exc:
            if last or not (retry.timeouts and exc.kind is ErrorKind.TIMEOUT):
                raise
            wait = retry.wait(attempt, None)
            logger.info("%s: %s; try %d of %d after %.1fs", url, exc, attempt + 1, retry.attempts, wait)
            await asyncio.sleep(wait)
            continue
        if last or response.status not in retry.statuses:
            return response
        wait = retry.wait(attempt, retry_after_seconds(response.header("retry-after")))
        logger.info("%s answered %d; try %d of %d after %.1fs", url, response.status, attempt + 1,
                    retry.attempts, wait)
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


async def _get_once_retry_after(url: str, timeout: float, max_bytes: int, max_retry_after: float,
                                headers: Mapping[str, str] | None) -> SourceResponse:
    for attempt in (1, 2):
        response = await _get_whole(url, timeout, max_bytes, headers)
        wait = retry_after_seconds(response.header("retry-after"))
        if attempt == 1 and max_retry_after > 0 and response.status in (429, 503) and wait is not None:
            wait = min(wait, max_retry_after)
            logger.info("%s answered %d; retrying after %.1fs", url, response.status, wait)
            await asyncio.sleep(wait)
            continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


async def _get_whole(url: str, timeout: float, max_bytes: int,
                     headers: Mapping[str, str] | None) -> SourceResponse:
    """One GET, the whole body read (capped), any status."""
    tx, head = await _open(url, timeout, headers)
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    sink = _Sink(queue, 1 << 20)
    tx.deliverBody(sink)
    parts: list[bytes] = []
    total = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), max(0.01, deadline - loop.time()))
        except TimeoutError:
            if sink.transport is not None:
                sink.transport.stopProducing()
            raise SourceError(ErrorKind.TIMEOUT, f"{url}: body not complete within {timeout:g}s") from None
        if item is None:
            break
        if isinstance(item, BaseException):
            raise item
        sink.taken(len(item))
        total += len(item)
        if total > max_bytes:
            if sink.transport is not None:
                sink.transport.stopProducing()
            raise SourceError(ErrorKind.TOO_LARGE, f"{url}: body over {max_bytes} bytes", head.status)
        parts.append(item)
    return SourceResponse(url, head.status, head.headers, b"".join(parts))
