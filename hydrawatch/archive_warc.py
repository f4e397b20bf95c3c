"""WARC files read in bounded memory for `hydrawatch archive import`: warcio parses the records, but its
reader is capped (each record's header lines, the decompressed bytes of the whole import) and a page's
payload is de-chunked and decoded here with every step capped at the page size, so a small hostile
file (a 400 MB header line, a brotli or gzip bomb, one huge chunk) costs the caps, never its bomb."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.bufferedreaders import DecompressingBufferedReader  # type: ignore[import-untyped]

BLOCK = 4096  # compressed bytes per read: a gzip member inflates at most ~1032× (≈ 4 MB) per block
PAYLOAD_BLOCK = 65536
MAX_HEADER_BYTES = 256 * 1024  # WARC + HTTP header lines of one record (real ones are a few kB)


class LimitExceeded(ValueError):
    """An archive went over a cap; the text says which (one line, without the file name)."""


@dataclass
class Budget:
    """Decompressed bytes one import may read in all (``--max-total-bytes``)."""

    limit: int
    used: int = 0

    def take(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise LimitExceeded(f"more than {self.limit} bytes read in this import (--max-total-bytes)")


class _BoundedReader(DecompressingBufferedReader):  # type: ignore[misc]
    """warcio's reader, with every line of a record's headers counted against MAX_HEADER_BYTES (a line
    is never read past the cap) and every byte against the import's budget."""

    def __init__(self, stream: Any, budget: Budget) -> None:
        super().__init__(stream, block_size=BLOCK)
        self.budget = budget
        self.header_bytes = 0

    def new_record(self) -> None:
        self.header_bytes = 0

    def readline(self, length: int | None = None) -> bytes:
        room = MAX_HEADER_BYTES - self.header_bytes + 1
        line: bytes = super().readline(room if length is None or length > room else length)
        self.header_bytes += len(line)
        if self.header_bytes > MAX_HEADER_BYTES:
            raise LimitExceeded(f"a record's header lines are longer than {MAX_HEADER_BYTES} bytes")
        self.budget.take(len(line))
        return line

    def read(self, length: int | None = None) -> bytes:
        data: bytes = super().read(PAYLOAD_BLOCK if length is None or length > PAYLOAD_BLOCK else length)
        self.budget.take(len(data))
        return data


class BoundedArchiveIterator(ArchiveIterator):  # type: ignore[misc]
    def __init__(self, fileobj: Any, budget: Budget) -> None:
        super().__init__(fileobj, block_size=BLOCK)
        self.reader = _BoundedReader(self.fh, budget)

    def _next_record(self, next_line: Any) -> Any:
        self.reader.new_record()
        return super()._next_record(next_line)


def _raw_blocks(stream: Any) -> Iterator[bytes]:
    while block := stream.read(PAYLOAD_BLOCK):
        yield block


def _chunks(stream: Any) -> Iterator[bytes]:
    """HTTP chunked transfer coding undone, in blocks of at most PAYLOAD_BLOCK (a chunk declared 1 GB
    long is streamed, not read whole); a body that is not chunked after all is passed through."""
    first = True
    while True:
        line = stream.readline(64)
        try:
            size = int(line.split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            if first:  # warcio does the same: a "chunked" body that is not is read as it is
                yield line
                yield from _raw_blocks(stream)
            return
        first = False
        if size <= 0:
            return
        while size > 0:
            block = stream.read(min(size, PAYLOAD_BLOCK))
            if not block:
                return
            size -= len(block)
            yield block
        stream.readline(64)  # the CRLF after the chunk


def _decoder(encoding: str) -> Callable[[bytes, int], bytes] | None:
    """A function (compressed block, room) → at most ``room`` decoded bytes, or None for identity."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        z = zlib.decompressobj(47 if encoding != "deflate" else zlib.MAX_WBITS)

        def inflate(block: bytes, room: int) -> bytes:
            return z.decompress(z.unconsumed_tail + block, room)

        return inflate
    if encoding == "br":
        import brotli  # type: ignore[import-untyped]

        dec = brotli.Decompressor()

        def unbrotli(block: bytes, room: int) -> bytes:
            out = dec.process(block, output_buffer_limit=room)
            while len(out) < room and not dec.can_accept_more_data():
                out += dec.process(b"", output_buffer_limit=room - len(out))
            return bytes(out)

        return unbrotli
    return None


def page_body(record: Any, max_bytes: int) -> tuple[bytes, bool]:
    """A response record's page: de-chunked and decoded (gzip, deflate, br), at most ``max_bytes``
    kept; (body, truncated). A body that does not decode is kept as it is, like warcio does."""
    headers = record.http_headers
    raw = record.raw_stream
    chunked = "chunked" in (headers.get_header("Transfer-Encoding") or "").lower()
    blocks = _chunks(raw) if chunked else _raw_blocks(raw)
    decode = _decoder(headers.get_header("Content-Encoding") or "")
    out = bytearray()
    for block in blocks:
        if decode is None:
            out += block[: max_bytes + 1 - len(out)]
        else:
            try:
                out += decode(block, max_bytes + 1 - len(out))
            except Exception:  # noqa: BLE001 - zlib.error, brotli.error (a bare Exception subclass)
                if out:
                    break  # garbage after good data: keep what decoded
                decode = None  # not compressed after all
                out += block[: max_bytes + 1 - len(out)]
        if len(out) > max_bytes:
            break
    return bytes(out[:max_bytes]), len(out) > max_bytes
