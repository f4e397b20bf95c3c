"""Hostile web behaviours for reliability tests, each named for what it does to a client."""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib

from sandbox.model import Page
from sandbox.tcp import Request, response_head, send_response

HUGE_BODY_BYTES = 50 * 1024 * 1024
GZIP_BOMB_ZEROS = 1024 * 1024 * 1024       # 1 GiB of zeros, about 1 MB on the wire
BROTLI_BOMB_ZEROS = 1024 * 1024 * 1024     # 1 GiB of zeros, about 1 KB on the wire
REDIRECT_CHAIN_HOPS = 50
HEADER_LINE_BYTES = 8 * 1024                # one "X-Filler-N: aaa…" header line
HEADER_FLOOD_BYTES = 100 * 1024 * 1024     # header-flood: 100 MB of header lines, then a body
GARBAGE = b"\x00\xff\xfeSSH-2.0-garbage\r\n\x13\x37" * 64


class Payloads:
    """Big payloads built once per sandbox, on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bomb: bytes | None = None
        self._brotli_bomb: bytes | None = None
        self._asked: set[str] = set()  # pages asked once already (the rate-limit-once behaviours)

    def first_ask(self, key: str) -> bool:
        """True the first time ``key`` (a page: scheme, host, path) is asked since the last :meth:`forget`."""
        with self._lock:
            if key in self._asked:
                return False
            self._asked.add(key)
            return True

    def forget(self) -> None:
        with self._lock:
            self._asked.clear()

    def gzip_bomb(self) -> bytes:
        with self._lock:
            if self._bomb is None:
                self._bomb = _gzip_of_zeros(GZIP_BOMB_ZEROS)
            return self._bomb

    def brotli_bomb(self) -> bytes:
        with self._lock:
            if self._brotli_bomb is None:
                self._brotli_bomb = _brotli_of_zeros(BROTLI_BOMB_ZEROS)
            return self._brotli_bomb


def _gzip_of_zeros(total: int) -> bytes:
    """gzip of `total` zero bytes without compressing them all: after a full flush each 1 MiB block
    compresses to the same bytes, so the stream is header + first block + repeats + trailer."""
    block = bytes(1024 * 1024)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    steady = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    blocks = total // len(block)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    body = first + steady * (blocks - 1) + comp.flush()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", crc, total & 0xFFFFFFFF)


def _brotli_of_zeros(total: int) -> bytes:
    """brotli of `total` zero bytes, streamed in 1 MiB blocks (quality 0: fast; zeros compress anyway)."""
    import brotli

    comp = brotli.Compressor(quality=0)
    block = bytes(1024 * 1024)
    out = [comp.process(block) for _ in range(total // len(block))]
    out.append(comp.finish())
    return b"".join(out)


SLOW_ANSWER = 0.3
"""Seconds the ``slow-answer`` behaviour holds each answer back."""
RETRY_AFTER = 1
"""Seconds the rate-limit behaviours ask a client to wait (``Retry-After``)."""
RATE_LIMITED = b"<html><head><title>429 Too Many Requests</title></head><body>Too many requests</body></html>"


def _http_date(seconds_ahead: float) -> str:
    from email.utils import formatdate

    return formatdate(time.time() + seconds_ahead, usegmt=True)


def serve_hostile(conn: socket.socket, behaviour: str, request: Request, page: Page | None, scheme: str,
                  payloads: Payloads, stopping: threading.Event) -> bool:
    """Answer per `behaviour`; False when the behaviour does not change this request."""
    path = request.path
    head_only = request.method == "HEAD"
    if behaviour == "slow-answer":
        time.sleep(SLOW_ANSWER)
        return False
    if behaviour == "garbage":
        conn.sendall(GARBAGE)
        return True
    if behaviour == "http-429":
        send_response(conn, 429, [("Content-Type", "text/html"), ("Retry-After", str(RETRY_AFTER))], RATE_LIMITED,
                      head_only)
        return True
    if behaviour in ("http-429-once", "http-503-date-once"):
        if not payloads.first_ask(f"{scheme}://{request.host}{path}"):
            return False
        if behaviour == "http-429-once":
            send_response(conn, 429, [("Content-Type", "text/html"), ("Retry-After", str(RETRY_AFTER))],
                          RATE_LIMITED, head_only)
        else:  # the date form, RETRY_AFTER + 1 s ahead (an HTTP date has whole seconds)
            send_response(conn, 503, [("Content-Type", "text/html"), ("Retry-After", _http_date(RETRY_AFTER + 1))],
                          b"<html><title>503 Service Unavailable</title></html>", head_only)
        return True
    if behaviour == "redirect-loop":
        target = "/__loop/b" if path == "/__loop/a" else "/__loop/a"
        send_response(conn, 302, [("Location", f"{scheme}://{request.host}{target}")], b"", head_only)
        return True
    if behaviour == "redirect-chain":
        hop = int(path.rsplit("/", 1)[-1]) if path.startswith("/__hop/") and path[7:].isdigit() else 0
        if hop < REDIRECT_CHAIN_HOPS:
            send_response(conn, 302, [("Location", f"{scheme}://{request.host}/__hop/{hop + 1}")], b"", head_only)
        else:
            send_response(conn, 200, [("Content-Type", "text/html; charset=utf-8")],
                          b"<html><title>end of the chain</title></html>", head_only)
        return True
    if behaviour in ("header-endless", "header-flood"):
        send_header_flood(conn, endless=behaviour == "header-endless", stopping=stopping)
        return True
    if behaviour == "huge-body":
        conn.sendall(response_head(200, [("Content-Type", "text/html; charset=utf-8")], HUGE_BODY_BYTES))
        chunk = (b"<p>" + b"a" * 1017 + b"</p>\n") * 64
        sent = 0
        while sent < HUGE_BODY_BYTES and not head_only and not stopping.is_set():
            part = chunk[: HUGE_BODY_BYTES - sent]
            conn.sendall(part)
            sent += len(part)
        return True
    if behaviour == "gzip-bomb":
        send_response(conn, 200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
                      payloads.gzip_bomb(), head_only)
        return True
    if behaviour == "brotli-bomb":
        send_response(conn, 200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "br")],
                      payloads.brotli_bomb(), head_only)
        return True
    if behaviour == "slow-drip":
        conn.sendall(response_head(200, [("Content-Type", "text/html; charset=utf-8")], 100_000))
        for _ in range(100_000):
            if head_only or stopping.wait(1.0):
                break
            conn.sendall(b"a")
        return True
    if behaviour == "reset":
        conn.sendall(response_head(200, [("Content-Type", "text/html; charset=utf-8")], 100_000) + b"<html>" * 200)
        time.sleep(0.05)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return True
    if page is None:
        return False
    if behaviour == "wrong-content-type":
        send_response(conn, page.status, [("Content-Type", "image/png")], page.body, head_only)
        return True
    if behaviour == "non-utf8":
        text = page.body.decode("utf-8", "replace") if page.body else "<html><body>caf\u00e9</body></html>"
        body = b"\xff\xfe\xc3\x28" + text.encode("cp1252", "replace") + b"\x80\x81\xfe"
        send_response(conn, page.status, [("Content-Type", "text/html; charset=utf-8")], body, head_only)
        return True
    return False


def send_header_flood(conn: socket.socket, *, endless: bool, stopping: threading.Event) -> None:
    """A 200 status line, then 8 kB header lines: forever (``endless``, until the client goes) or
    HEADER_FLOOD_BYTES of them followed by a blank line and a small, ordinary body."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nServer: nginx\r\n")
    filler = b"a" * (HEADER_LINE_BYTES - 32)
    batch = 32  # lines a sendall
    sent = n = 0
    while (endless or sent < HEADER_FLOOD_BYTES) and not stopping.is_set():
        chunk = b"".join(b"X-Filler-%d: %s\r\n" % (n + i, filler) for i in range(batch))
        conn.sendall(chunk)
        sent += len(chunk)
        n += batch
    body = b"<html><head><title>after the flood</title></head><body>made it</body></html>"
    conn.sendall(b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
