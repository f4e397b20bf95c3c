"""Newly-registered-domain feeds: a file path or an http(s) URL, one domain a line.

Streamed with bounded memory (10^6-line feeds are fine): ``#`` comments and blank lines are
ignored, garbage lines are skipped and counted, a CSV-ish line keeps its first field.
Source failures raise crawler.sources.SourceError (typed: timeout, http, connection …).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from crawler.sources import SourceError, stream
from detect.model import ErrorKind

_NAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_MAX_LINE = 4096


@dataclass
class FeedStats:
    """Counts for one read (mutable on purpose: filled while streaming)."""

    source: str
    names: int = 0
    skipped: int = 0
    comments: int = 0
    examples: list[str] = field(default_factory=list)


def parse_line(line: str) -> str | None:
    """The domain on a feed line, "" for a comment/blank line, None for garbage (pure)."""
    text = line.strip().lstrip("\ufeff")
    if not text or text.startswith("#"):
        return ""
    token = re.split(r"[\s,;]", text, maxsplit=1)[0].strip().strip('"').lower().rstrip(".")
    return token if _NAME.match(token) else None


async def _chunks(source: str, timeout: float) -> AsyncIterator[bytes]:
    if source.startswith(("http://", "https://")):
        async for chunk in stream(source, timeout=timeout):
            yield chunk
        return
    path = Path(source)
    try:
        handle = await asyncio.to_thread(path.open, "rb")
    except OSError as exc:
        raise SourceError(ErrorKind.OTHER, f"{source}: cannot open feed: {exc}") from None
    with handle:
        while chunk := await asyncio.to_thread(handle.read, 1 << 20):
            yield chunk


async def read_feed(source: str, *, stats: FeedStats | None = None, timeout: float = 60.0) -> AsyncIterator[str]:
    """Each valid domain of the feed, in order (duplicates kept: the caller dedups)."""
    stats = stats if stats is not None else FeedStats(source)
    rest = b""

    def handle(raw: bytes) -> str | None:
        line = raw[:_MAX_LINE].decode("utf-8", "replace")
        name = parse_line(line)
        if name is None:
            stats.skipped += 1
            if len(stats.examples) < 5:
                stats.examples.append(line[:80])
        elif name == "":
            stats.comments += 1
        else:
            stats.names += 1
        return name or None

    async for chunk in _chunks(source, timeout):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        if len(rest) > _MAX_LINE:  # an endless line: keep only what a line may hold
            rest = rest[:_MAX_LINE]
        for raw in lines:
            if (name := handle(raw)) is not None:
                yield name
    if rest.strip() and (name := handle(rest)) is not None:
        yield name


async def read_feed_batches(source: str, *, batch_size: int = 10_000, stats: FeedStats | None = None,
                            timeout: float = 60.0) -> AsyncIterator[tuple[str, ...]]:
    """The same names in tuples of up to ``batch_size`` (for bulk DNS sweeps)."""
    batch: list[str] = []
    async for name in read_feed(source, stats=stats, timeout=timeout):
        batch.append(name)
        if len(batch) >= batch_size:
            yield tuple(batch)
            batch = []
    if batch:
        yield tuple(batch)
