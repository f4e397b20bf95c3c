"""Newly-registered-domain feeds as publishers serve them.

A feed is a file path or an http(s) address, maybe a template with the day in it: ``{date}``
(``2026-12-05``), ``{date:%Y%m%d}`` (any strftime format) or ``{date_base64:%Y-%m-%d.zip}`` (the
base64 of the formatted day, as WhoisDS addresses its daily files). A dated feed is read for the days
since the one last read (kept in crawler/sourcestate.py; the last one is checked again, as publishers
update the day's file), or for yesterday and today the first time, at most ``max_days`` of them.

The body may be plain text, gzip, or a zip holding one or several text files; the format is told by
its first bytes, not its name. One domain a line (crawler/feeds.py ``parse_line``: comments, CSV-ish
lines, garbage counted and skipped). An http feed is fetched with a conditional GET (the ETag and
Last-Modified of its last complete read): an unchanged file costs a 304 and nothing more.

A feed that is cut short, corrupt, over ``max_bytes`` (downloaded or decompressed) or not UTF-8 text
is reported (:attr:`NrdRead.errors`, with its address) and the reader goes on with the next file; the
names read before the fault are kept, and the file is fetched whole again next time.
"""

from __future__ import annotations

import asyncio
import tempfile
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO

from crawler.feeds import parse_line
from crawler.nrd_dates import days_to_read, expand, is_dated
from crawler.sources import Retry, SourceError, open_stream, retry_after_seconds
from crawler.sourcestate import SourceMemo, SourceMemory
from detect.model import ErrorKind

_MAX_LINE = 4096
_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP = b"PK\x05\x06"


@dataclass
class NrdRead:
    """What reading one configured feed did (filled while streaming)."""

    source: str
    files: int = 0              # files read (200)
    unchanged: int = 0          # answered 304 Not Modified
    missing: list[str] = field(default_factory=list)   # days not published (404)
    names: int = 0
    skipped: int = 0            # garbage lines
    errors: list[str] = field(default_factory=list)    # one line per failed file, with its address

    def note(self) -> str:
        parts = [f"nrd {self.source}: {self.files} read, {self.unchanged} not modified"]
        if self.missing:
            parts.append(f"not published: {', '.join(self.missing)}")
        parts.append(f"{self.names} names, {self.skipped} lines skipped")
        if self.errors:
            parts.append(f"{len(self.errors)} failed")
        return "; ".join(parts)


@dataclass(frozen=True)
class NrdLimits:
    max_days: int = 7
    max_bytes: int = 200_000_000
    timeout: float = 60.0
    retry: Retry = field(default_factory=lambda: Retry(attempts=2, backoff=5.0, max_wait=60.0))


async def read(template: str, memory: SourceMemory, *, today: date, limits: NrdLimits,
               stats: NrdRead | None = None) -> AsyncIterator[str]:
    """Every valid name of the feed's files due today, in order (duplicates kept: the caller dedups)."""
    stats = stats if stats is not None else NrdRead(template)
    if not is_dated(template):
        async for name in _read_file(template, memory, limits, stats):
            yield name
        return
    feed_key = f"nrd-feed {template}"
    memo = memory.recall(feed_key)
    last = _parse_day(memo.last_date) if memo else None
    newest: date | None = None
    for day in days_to_read(today, last, limits.max_days):
        outcome = _Outcome()
        async for name in _read_file(expand(template, day), memory, limits, stats, outcome, day):
            yield name
        if outcome.ok:
            newest = day
    if newest is not None and (last is None or newest > last):
        memory.remember(feed_key, SourceMemo(last_date=newest.isoformat(), updated_at=None))


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass
class _Outcome:
    ok: bool = False


async def _read_file(address: str, memory: SourceMemory, limits: NrdLimits, stats: NrdRead,
                     outcome: _Outcome | None = None, day: date | None = None) -> AsyncIterator[str]:
    outcome = outcome or _Outcome()
    try:
        if address.startswith(("http://", "https://")):
            async for name in _read_http(address, memory, limits, stats, outcome, day):
                yield name
        elif day is not None and not await asyncio.to_thread(Path(address).exists):
            stats.missing.append(day.isoformat())  # a dated file not there (yet): as a 404
        else:
            async for name in _names(_file_chunks(address), address, limits, stats):
                yield name
            stats.files += 1
            outcome.ok = True
    except SourceError as exc:
        stats.errors.append(f"nrd {address}: {exc.kind.value}: {exc}")


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    try:
        handle = await asyncio.to_thread(Path(path).open, "rb")
    except FileNotFoundError:
        raise SourceError(ErrorKind.OTHER, f"{path}: no such file") from None
    except OSError as exc:
        raise SourceError(ErrorKind.OTHER, f"{path}: cannot open feed: {exc}") from None
    with handle:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            yield chunk


async def _read_http(url: str, memory: SourceMemory, limits: NrdLimits, stats: NrdRead, outcome: _Outcome,
                     day: date | None) -> AsyncIterator[str]:
    key = f"nrd {url}"
    memo = memory.recall(key)
    conditional = {}
    if memo is not None and memo.etag:
        conditional["If-None-Match"] = memo.etag
    if memo is not None and memo.last_modified:
        conditional["If-Modified-Since"] = memo.last_modified
    for attempt in range(1, limits.retry.attempts + 1):
        head, body = await open_stream(url, timeout=limits.timeout, max_bytes=limits.max_bytes,
                                       headers=conditional)
        if head.status in limits.retry.statuses and attempt < limits.retry.attempts:
            await asyncio.sleep(limits.retry.wait(attempt, retry_after_seconds(head.header("retry-after"))))
            continue
        break
    if head.status == 304:
        stats.unchanged += 1
        outcome.ok = True
        return
    if head.status == 404 and day is not None:
        stats.missing.append(day.isoformat())
        return
    if not 200 <= head.status < 300:
        kind = ErrorKind.RATE_LIMITED if head.status == 429 else ErrorKind.HTTP
        raise SourceError(kind, f"{url}: HTTP {head.status}", head.status)
    async for name in _names(body, url, limits, stats):
        yield name
    stats.files += 1
    outcome.ok = True
    memory.remember(key, SourceMemo(etag=head.header("etag"), last_modified=head.header("last-modified")))


async def _names(chunks: AsyncIterator[bytes], source: str, limits: NrdLimits, stats: NrdRead) -> AsyncIterator[str]:
    """The names of one file, whatever its format (told by its first bytes)."""
    first = b""
    async for chunk in chunks:
        first = chunk
        break
    if first.startswith((ZIP_MAGIC, EMPTY_ZIP)):
        blocks = _unzip(first, chunks, source, limits)
    elif first.startswith(GZIP_MAGIC):
        blocks = _gunzip(first, chunks, source, limits)
    else:
        blocks = _plain(first, chunks, source, limits)
    async for name in _lines(blocks, source, stats):
        yield name


async def _plain(first: bytes, rest: AsyncIterator[bytes], source: str, limits: NrdLimits) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


async def _gunzip(first: bytes, rest: AsyncIterator[bytes], source: str, limits: NrdLimits) -> AsyncIterator[bytes]:
    inflater = zlib.decompressobj(wbits=47)  # gzip (and zlib) headers
    total = 0
    chunk = first
    while True:
        try:
            out = inflater.decompress(chunk, _CHUNK)
            while True:
                total += len(out)
                if total > limits.max_bytes:
                    raise SourceError(ErrorKind.TOO_LARGE, f"{source}: over {limits.max_bytes} bytes once decompressed")
                if out:
                    yield out
                if not inflater.unconsumed_tail:
                    break
                out = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
        except zlib.error as exc:
            raise SourceError(ErrorKind.MALFORMED, f"{source}: corrupt gzip: {exc}") from None
        if inflater.eof:
            return  # a second gzip member or trailing bytes are not a feed's
        nxt = await anext(rest, None)
        if nxt is None:
            raise SourceError(ErrorKind.MALFORMED, f"{source}: gzip cut short (truncated download?)")
        chunk = nxt


async def _unzip(first: bytes, rest: AsyncIterator[bytes], source: str, limits: NrdLimits) -> AsyncIterator[bytes]:
    """A zip's central directory is at its end: the file is spooled to disk (capped), then each text
    member is read in chunks."""
    with tempfile.TemporaryFile() as spool:
        spool.write(first)
        size = len(first)
        async for chunk in rest:
            size += len(chunk)
            if size > limits.max_bytes:
                raise SourceError(ErrorKind.TOO_LARGE, f"{source}: over {limits.max_bytes} bytes")
            await asyncio.to_thread(spool.write, chunk)
        spool.seek(0)
        try:
            archive = zipfile.ZipFile(spool)
        except zipfile.BadZipFile as exc:
            raise SourceError(ErrorKind.MALFORMED, f"{source}: corrupt zip: {exc}") from None
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > limits.max_bytes:
                raise SourceError(ErrorKind.TOO_LARGE, f"{source}: over {limits.max_bytes} bytes once decompressed")
            for member in members:
                try:
                    with archive.open(member) as handle:
                        for block in _member_blocks(handle, source, member.filename, limits.max_bytes):
                            yield block
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    raise SourceError(ErrorKind.MALFORMED, f"{source}: corrupt zip member {member.filename}: {exc}") from None
                yield b"\n"  # a member not ending in a newline does not run into the next one


def _member_blocks(handle: IO[bytes], source: str, name: str, cap: int) -> Iterator[bytes]:
    total = 0
    while block := handle.read(_CHUNK):
        total += len(block)
        if total > cap:  # the directory may lie about sizes
            raise SourceError(ErrorKind.TOO_LARGE, f"{source}: {name} over {cap} bytes once decompressed")
        yield block


async def _lines(blocks: AsyncIterator[bytes], source: str, stats: NrdRead) -> AsyncIterator[str]:
    rest = b""
    checked = False
    async for block in blocks:
        if not block:
            continue
        if not checked:
            checked = True
            if block.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in block[:4096]:
                raise SourceError(ErrorKind.MALFORMED, f"{source}: not UTF-8 text (UTF-16 or binary)")
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        if len(rest) > _MAX_LINE:
            rest = rest[:_MAX_LINE]
        for raw in lines:
            if (name := _name(raw, stats)) is not None:
                yield name
    if rest.strip() and (name := _name(rest, stats)) is not None:
        yield name


def _name(raw: bytes, stats: NrdRead) -> str | None:
    try:
        line = raw[:_MAX_LINE].decode("utf-8")
    except UnicodeDecodeError:
        stats.skipped += 1
        return None
    name = parse_line(line)
    if name is None:
        stats.skipped += 1
        return None
    if name:
        stats.names += 1
        return name
    return None


def today_of(now: datetime) -> date:
    """The publishers' day: UTC."""
    return now.date()
